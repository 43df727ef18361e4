"""Evidence bundles: the audit events an investigation needs, each with an inclusion proof
against one signed checkpoint, plus the scan reports and signatures of the versions
involved, sealed by an ``incident.evidence`` event whose own inclusion proof ties the
bundle's manifest to the log. Checkable offline with the log's verifier key only.

Layout::

    BUNDLE/
      checkpoint.txt          the signed checkpoint every event proof refers to
      events/<index>.json     inclusion proof of one event (bastion audit prove format)
      versions/<ns>/<model>/<version>/info.json, scan_report.json, signature.json
      MANIFEST.json           SHA-256 of every file above, and how they were selected
      seal.json               inclusion proof of the incident.evidence event that names
                              the SHA-256 of MANIFEST.json
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from bastion.audit import AuditEvent
from bastion.audit.checkpoint import NoteVerifier
from bastion.audit.proofs import check_proof, latest_checkpoint, prove_inclusion
from bastion.audit.query import Filter, search
from bastion.errors import VerificationError
from bastion.incident.base import IncidentError, Workspace, parse_ref
from bastion.registry import tables as t

__all__ = ["EvidenceReport", "EvidenceResult", "export_evidence", "verify_evidence"]

MAX_EVENTS = 100_000


@dataclass(frozen=True, slots=True)
class EvidenceResult:
    path: Path
    events: int
    versions: int
    checkpoint_size: int


@dataclass(frozen=True, slots=True)
class EvidenceReport:
    events: int
    files: int
    checkpoint_size: int
    sealed_at: int  # the index of the incident.evidence event


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _write(root: Path, rel: str, data: bytes, files: dict[str, str]) -> None:
    path = root / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    files[rel] = _sha(data)


def export_evidence(
    ws: Workspace,
    out: Path,
    *,
    reason: str,
    where: Filter,
    versions: Sequence[str] = (),
    limit: int = MAX_EVENTS,
) -> EvidenceResult:
    """Write an evidence bundle for the events ``where`` selects and ``versions``."""
    if out.exists() and any(out.iterdir()):
        raise IncidentError(f"{out} is not empty", hint="Export into a new directory.")
    out.mkdir(parents=True, exist_ok=True, mode=0o700)
    ws.log.checkpoint()  # every event so far is under the checkpoint the proofs use
    indices = [index for index, _ in search(ws.engine, where, limit=limit)]
    note = latest_checkpoint(ws.engine)
    files: dict[str, str] = {}
    _write(out, "checkpoint.txt", note.encode(), files)
    for index in indices:
        proof = prove_inclusion(ws.engine, index)
        doc = proof.to_json()
        _write(out, f"events/{index}.json", json.dumps(doc, indent=1).encode(), files)
    size = NoteVerifier.from_vkey(ws.log.signer.vkey()).verify(note).size
    for ref in versions:
        _export_version(ws, out, ref, files)
    manifest = {
        "format": "bastion-evidence/1",
        "reason": reason,
        "filter": _filter_dict(where),
        "versions": list(versions),
        "files": files,
    }
    body = json.dumps(manifest, sort_keys=True, indent=1).encode()
    (out / "MANIFEST.json").write_bytes(body)
    event = AuditEvent(
        action="incident.evidence",
        actor=ws.actor,
        source=ws.source,
        reason=reason,
        details={"manifest_sha256": _sha(body), "events": len(indices)},
    )
    sealed = ws.log.append([event])
    ws.log.checkpoint()
    seal = prove_inclusion(ws.engine, sealed.start).to_json()
    (out / "seal.json").write_text(json.dumps(seal, indent=1), encoding="utf-8")
    return EvidenceResult(out, len(indices), len(versions), size)


def _text(value: object) -> str:
    return value.isoformat() if isinstance(value, datetime) else str(value)


def _filter_dict(where: Filter) -> dict[str, str]:
    fields = ("actor", "action", "resource", "outcome", "since", "until")
    return {f: _text(getattr(where, f)) for f in fields if getattr(where, f) is not None}


def _export_version(ws: Workspace, out: Path, ref: str, files: dict[str, str]) -> None:
    namespace, model, version = parse_ref(ref)
    v, m = t.versions.c, t.models.c
    with ws.engine.connect() as conn:
        row = conn.execute(
            sa.select(
                v.id,
                v.state,
                v.state_reason,
                v.scan_report,
                v.signature,
                v.created_by,
                v.created_at,
            )
            .join(t.models, m.id == v.model_id)
            .where(m.namespace == namespace, m.name == model, v.name == version)
        ).first()
        if row is None:
            raise IncidentError(f"no version {ref}")
        listed = conn.execute(
            sa.select(t.files.c.path, t.files.c.size, t.files.c.sha256)
            .where(t.files.c.version_id == row.id)
            .order_by(t.files.c.path)
        ).all()
    base = f"versions/{namespace}/{model}/{version}"
    info: dict[str, Any] = {
        "ref": ref,
        "state": row.state,
        "state_reason": row.state_reason,
        "created_by": row.created_by,
        "created_at": _text(row.created_at),
        "files": [{"path": f.path, "size": f.size, "sha256": f.sha256} for f in listed],
    }
    _write(out, f"{base}/info.json", json.dumps(info, indent=1).encode(), files)
    _write(out, f"{base}/scan_report.json", str(row.scan_report).encode(), files)
    if row.signature:
        _write(out, f"{base}/signature.json", str(row.signature).encode(), files)


def verify_evidence(bundle: Path, *, vkey: str) -> EvidenceReport:
    """Check a bundle offline against the log's verifier key; raises VerificationError."""
    verifier = NoteVerifier.from_vkey(vkey)
    try:
        body = (bundle / "MANIFEST.json").read_bytes()
        manifest = json.loads(body)
        files: dict[str, str] = manifest["files"]
        seal_doc = (bundle / "seal.json").read_bytes()
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise VerificationError(f"not an evidence bundle: {exc}") from None
    seal = check_proof(seal_doc, verifier)
    details = seal["entry"].get("event", {}).get("details", {})
    if seal["entry"]["event"].get("action") != "incident.evidence" or details.get(
        "manifest_sha256"
    ) != _sha(body):
        raise VerificationError("the sealing audit event does not name this MANIFEST.json")
    for rel, digest in sorted(files.items()):
        parts = Path(rel).parts
        if not parts or Path(rel).is_absolute() or ".." in parts:
            raise VerificationError(f"the manifest names a path outside the bundle: {rel!r}")
        try:
            data = (bundle / rel).read_bytes()
        except OSError:
            raise VerificationError(f"{rel} is missing") from None
        if _sha(data) != digest:
            raise VerificationError(f"{rel} does not match its SHA-256 in MANIFEST.json")
    checkpoint = verifier.verify((bundle / "checkpoint.txt").read_text(encoding="utf-8"),
                                 origin=verifier.name)  # fmt: skip
    events = 0
    for rel in sorted(files):
        if rel.startswith("events/"):
            summary = check_proof((bundle / rel).read_bytes(), verifier)
            if summary["size"] != checkpoint.size:
                raise VerificationError(f"{rel} is proven against another checkpoint")
            events += 1
    return EvidenceReport(events, len(files), checkpoint.size, int(seal["index"]))
