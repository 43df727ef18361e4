"""Red-team testing of LLM applications: probes, buffs, detectors, reports and a CI gate.

>>> from bastion.redteam import CallableTarget, RunConfig, load_probes, run, summarise
>>> target = CallableTarget(lambda request: "I'm sorry, but I can't help with that.")
>>> result = run(target, load_probes(categories=["jailbreak"]), RunConfig(seed=1))
>>> summarise(result.records)["failure_rate"]
0.0

Probes are data (``probes/*.yaml``, extensible with your own folder); each attempt's
answer is judged by deterministic detectors (:data:`DETECTORS`), optionally with an LLM
judge. :func:`summarise` computes failure rates and gates; :mod:`bastion.redteam.bias`
runs counterfactual bias tests.
"""

from __future__ import annotations

from bastion.redteam.base import (
    OWASP_LLM_2025,
    Attempt,
    Buff,
    DetectContext,
    Detection,
    Detector,
    Message,
    Probe,
    RedteamError,
    Request,
    Response,
    Status,
    Target,
    TargetError,
    ToolCall,
    Variant,
)
from bastion.redteam.buffs import BUFFS, variants
from bastion.redteam.catalog import load_probes
from bastion.redteam.detectors import DETECTORS
from bastion.redteam.judge import LlmJudge
from bastion.redteam.runner import RunConfig, RunResult, plan, read_records, run, run_async
from bastion.redteam.summary import Gate, compare, summarise
from bastion.redteam.targets import CallableTarget, HttpTarget

__all__ = [
    "BUFFS",
    "DETECTORS",
    "OWASP_LLM_2025",
    "Attempt",
    "Buff",
    "CallableTarget",
    "DetectContext",
    "Detection",
    "Detector",
    "Gate",
    "HttpTarget",
    "LlmJudge",
    "Message",
    "Probe",
    "RedteamError",
    "Request",
    "Response",
    "RunConfig",
    "RunResult",
    "Status",
    "Target",
    "TargetError",
    "ToolCall",
    "Variant",
    "compare",
    "load_probes",
    "plan",
    "read_records",
    "run",
    "run_async",
    "summarise",
    "variants",
]
