"""Probe packs: YAML or JSON files of attack prompts, shipped in ``probes/`` or the user's.

A pack is a mapping with a ``pack`` name, optional defaults (``category``, ``owasp``,
``atlas``, ``detectors``) and a list of ``probes``; each probe needs an ``id``, a
``prompt`` and (from itself or the defaults) a category and at least one detector.
Files are parsed with PyYAML's safe loader (its C version when built) or ``json``;
nothing in them is executed.
Every problem is reported as a :class:`RedteamError` naming the file and the probe.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from importlib import resources
from pathlib import Path
from typing import Any

from bastion.redteam.base import OWASP_LLM_2025, Probe, RedteamError

_ATLAS = re.compile(r"AML\.T\d{4}(?:\.\d{3})?")
_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,79}")
_MAX_FILE = 1 << 20
_SUFFIXES = (".yaml", ".yml", ".json")
_FIELDS = frozenset(
    {
        "id",
        "category",
        "prompt",
        "detectors",
        "owasp",
        "atlas",
        "goal",
        "marker",
        "tools",
        "system",
        "buffable",
    }
)


def builtin_files() -> list[tuple[str, str]]:
    """(name, text) of the packs shipped with Bastion, sorted by name."""
    root = resources.files("bastion.redteam").joinpath("probes")
    items = [p for p in root.iterdir() if p.name.endswith(_SUFFIXES)]
    return [(f"probes/{p.name}", p.read_text(encoding="utf-8")) for p in sorted(items, key=str)]


def user_files(directory: Path) -> list[tuple[str, str]]:
    if not directory.is_dir():
        raise RedteamError(
            f"probe directory {directory} does not exist",
            hint="Pass --probes a folder of .yaml or .json probe packs.",
        )
    out = []
    for path in sorted(directory.iterdir()):
        if path.suffix not in _SUFFIXES or not path.is_file():
            continue
        if path.stat().st_size > _MAX_FILE:
            raise RedteamError(f"probe pack {path} is larger than 1 MiB")
        try:
            out.append((str(path), path.read_text(encoding="utf-8")))
        except (OSError, UnicodeDecodeError) as exc:
            raise RedteamError(f"cannot read probe pack {path}: {exc}") from exc
    return out


def safe_loader(yaml: Any) -> Any:
    """PyYAML's safe loader: the libyaml-backed one when available (ten times faster)."""
    return getattr(yaml, "CSafeLoader", None) or yaml.SafeLoader


def _parse(name: str, text: str) -> Any:
    try:
        if name.endswith(".json"):
            return json.loads(text)
        import yaml  # type: ignore[import-untyped]

        return yaml.load(text, Loader=safe_loader(yaml))  # noqa: S506 - a safe loader
    except ImportError as exc:
        raise RedteamError(
            "YAML probe packs need PyYAML", hint="pip install 'bastion-ml[redteam]'"
        ) from exc
    except Exception as exc:  # yaml.YAMLError, json.JSONDecodeError, RecursionError
        raise RedteamError(f"probe pack {name} is not valid: {exc}") from exc


def _strings(value: Any, where: str, key: str) -> tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise RedteamError(f"{where}: {key} must be a string or a list of strings")
    return tuple(value)


def _probe(
    raw: Any, defaults: Mapping[str, Any], pack: str, where: str, detectors: Iterable[str]
) -> Probe:
    if not isinstance(raw, dict):
        raise RedteamError(f"{where}: each probe must be a mapping")
    unknown = set(raw) - _FIELDS
    if unknown:
        raise RedteamError(f"{where}: unknown field(s) {', '.join(sorted(map(str, unknown)))}")
    merged = {**defaults, **raw}
    pid, prompt, category = merged.get("id"), merged.get("prompt"), merged.get("category")
    if not isinstance(pid, str) or not _ID.fullmatch(pid):
        raise RedteamError(f"{where}: id must be 1-80 letters, digits, '.', '_' or '-'")
    where = f"{where} ({pid})"
    if not isinstance(prompt, str) or not prompt.strip():
        raise RedteamError(f"{where}: prompt must be a non-empty string")
    if not isinstance(category, str) or not _ID.fullmatch(category):
        raise RedteamError(f"{where}: category must be a short name")
    owasp = _strings(merged.get("owasp"), where, "owasp")
    atlas = _strings(merged.get("atlas"), where, "atlas")
    dets = _strings(merged.get("detectors"), where, "detectors")
    bad = [o for o in owasp if o not in OWASP_LLM_2025]
    if bad:
        raise RedteamError(f"{where}: {bad[0]} is not an OWASP LLM Top 10 2025 id (LLM01..LLM10)")
    bad = [a for a in atlas if not _ATLAS.fullmatch(a)]
    if bad:
        raise RedteamError(f"{where}: {bad[0]} is not a MITRE ATLAS technique id (AML.Tnnnn)")
    known = set(detectors)
    if not dets or any(d not in known for d in dets):
        raise RedteamError(f"{where}: detectors must be among {', '.join(sorted(known))}")
    marker, system = merged.get("marker"), merged.get("system")
    for key, value in (("marker", marker), ("system", system), ("goal", merged.get("goal"))):
        if value is not None and not isinstance(value, str):
            raise RedteamError(f"{where}: {key} must be a string")
    buffable = merged.get("buffable", True)
    if not isinstance(buffable, bool):
        raise RedteamError(f"{where}: buffable must be true or false")
    return Probe(
        id=pid,
        category=category,
        prompt=prompt.strip(),
        detectors=dets,
        owasp=owasp,
        atlas=atlas,
        pack=pack,
        goal=str(merged.get("goal") or ""),
        marker=marker or None,
        tools=_strings(merged.get("tools"), where, "tools"),
        system=system,
        buffable=buffable,
    )


def parse_pack(name: str, text: str, detectors: Iterable[str]) -> list[Probe]:
    """The probes of one pack file; ``detectors`` are the names a probe may use."""
    data = _parse(name, text)
    if not isinstance(data, dict) or not isinstance(data.get("probes"), list):
        raise RedteamError(f"probe pack {name} must be a mapping with a 'probes' list")
    pack = data.get("pack") or Path(name).stem
    if not isinstance(pack, str):
        raise RedteamError(f"probe pack {name}: pack must be a string")
    defaults = {k: data[k] for k in ("category", "owasp", "atlas", "detectors") if k in data}
    known = list(detectors)
    return [
        _probe(raw, defaults, pack, f"{name}: probe {i + 1}", known)
        for i, raw in enumerate(data["probes"])
    ]


def load_probes(
    *,
    directories: Iterable[Path] = (),
    builtin: bool = True,
    categories: Iterable[str] = (),
    ids: Iterable[str] = (),
) -> list[Probe]:
    """The shipped packs (unless ``builtin`` is False) and the user's, filtered.

    ``categories`` and ``ids`` keep only probes whose category, pack or id is listed;
    an id may end with ``*`` to match a prefix.
    """
    from bastion.redteam.detectors import DETECTORS

    files = builtin_files() if builtin else []
    for directory in directories:
        files += user_files(Path(directory))
    probes: list[Probe] = []
    seen: dict[str, str] = {}
    for name, text in files:
        for probe in parse_pack(name, text, DETECTORS):
            if probe.id in seen:
                raise RedteamError(f"probe id {probe.id} appears in {seen[probe.id]} and {name}")
            seen[probe.id] = name
            probes.append(probe)
    cats, wanted = set(categories), list(ids)
    if cats:
        probes = [p for p in probes if p.category in cats or p.pack in cats]
    if wanted:
        probes = [p for p in probes if any(_matches(p.id, w) for w in wanted)]
    if not probes:
        raise RedteamError("no probes selected", hint="Check --category and --probe-id.")
    return probes


def _matches(pid: str, pattern: str) -> bool:
    return pid.startswith(pattern[:-1]) if pattern.endswith("*") else pid == pattern
