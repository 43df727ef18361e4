"""TorchScript archives: a PyTorch zip with ``code/`` (TorchScript source) and
``constants.pkl``; ``torch.load`` hands any zip with ``constants.pkl`` to ``torch.jit.load``.

Their pickles are read by TorchScript's own unpickler, which imports nothing from Python:
``__torch__.*`` names are classes compiled from the archive's ``code/`` members, and
``torch.jit._pickle.build_*`` are list builders it implements natively. Those names are
therefore not findings when the code member they name is in the archive (that code is
scanned as Python on its own); every other global is judged by the policy as usual.
"""

from __future__ import annotations

from collections.abc import Collection

from bastion.models import Location
from bastion.scan._context import ScanContext

#: Globals TorchScript's unpickler implements itself (torch/csrc/jit/serialization/unpickler.cpp).
NATIVE = frozenset(
    f"torch.jit._pickle.{name}"
    for name in ("build_intlist", "build_tensorlist", "build_doublelist", "build_boollist",
                 "build_tensor_from_id", "restore_type_tag")
)  # fmt: skip
_PICKLE_RULES = frozenset({"pickle.dangerous-global", "pickle.unknown-global"})


def archive_prefixes(names: Collection[str]) -> set[str]:
    """The record prefixes (``"net/"``) of TorchScript archives among zip member names."""
    prefixes = {n[: -len("constants.pkl")] for n in names if n.endswith("constants.pkl")}
    return {p for p in prefixes if any(n.startswith(p + "code/") for n in names)}


def refine(names: Collection[str], first: int, location: Location, ctx: ScanContext) -> None:
    """Drop pickle findings (from ``ctx.findings[first:]``) for names TorchScript resolves
    inside the archive; note the format."""
    prefixes = archive_prefixes(names)
    if not prefixes:
        return
    ctx.note_format("torchscript")
    members = set(names)
    kept = ctx.findings[:first]
    for finding in ctx.findings[first:]:
        if not _resolved(finding.rule, finding.details.get("global"), finding.location,
                         location, prefixes, members):  # fmt: skip
            kept.append(finding)
    ctx.findings[:] = kept


def _resolved(
    rule: str,
    name: object,
    where: Location,
    archive: Location,
    prefixes: set[str],
    members: set[str],
) -> bool:
    inside = (
        len(where.members) == len(archive.members) + 1 and where.members[:-1] == archive.members
    )
    if rule not in _PICKLE_RULES or not isinstance(name, str) or not inside:
        return False
    if not any(where.members[-1].startswith(p) for p in prefixes):
        return False
    if name in NATIVE:
        return True
    if not name.startswith("__torch__."):
        return False
    module = name.rsplit(".", 1)[0]
    prefix = next(p for p in prefixes if where.members[-1].startswith(p))
    return f"{prefix}code/{module.replace('.', '/')}.py" in members
