"""Run garak's detectors on the labelled responses; executed with the garak venv's Python.

Reads cases as JSON on stdin ({family, prompt, response, triggers}), writes one score
(or null) per case as JSON on stdout.
"""

from __future__ import annotations

import json
import sys

from garak.attempt import Attempt, Message
from garak.detectors.encoding import DecodeMatch
from garak.detectors.mitigation import MitigationBypass
from garak.detectors.promptinject import AttackRogueString
from garak.detectors.web_injection import XSS, MarkdownExfilBasic

DETECTORS = {
    "marker": AttackRogueString,
    "refusal": MitigationBypass,
    "decoding": DecodeMatch,
    "exfiltration": MarkdownExfilBasic,
    "xss": XSS,
}


def main() -> None:
    cases = json.load(sys.stdin)
    made = {name: cls() for name, cls in DETECTORS.items()}
    scores = []
    for case in cases:
        attempt = Attempt(prompt=Message(text=case["prompt"], lang="en"))
        attempt.notes["triggers"] = case.get("triggers", [])
        attempt.outputs = [Message(text=case["response"], lang="en")]
        result = list(made[case["family"]].detect(attempt))
        scores.append(result[0] if result else None)
    json.dump(
        {
            "detectors": {k: f"{v.__module__}.{v.__name__}" for k, v in DETECTORS.items()},
            "scores": scores,
        },
        sys.stdout,
    )


if __name__ == "__main__":
    main()
