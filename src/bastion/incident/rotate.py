"""Rotate key-encryption keys and signing trust after a key may have leaked.

* The registry's key-encryption key gets a new version and every blob's data key is
  re-wrapped under it (no model bytes are re-encrypted; see registry.keys.rotate_keys).
* Distrusted signing keys are removed from every namespace policy that trusts them, so no
  new version signed with them is accepted; versions already signed with them are found
  with ``bastion incident quarantine`` (by namespace or uploader and time window).
"""

from __future__ import annotations

import json
from collections.abc import Sequence

import sqlalchemy as sa

from bastion.crypto import keys as signing
from bastion.crypto.kek import KeyProvider
from bastion.incident.base import Change, IncidentError, PlaybookResult, Workspace
from bastion.registry import tables as t
from bastion.registry.keys import rotate_keys

__all__ = ["rotate_trust"]


def _canonical(pem: str | bytes) -> bytes | None:
    try:
        return signing.public_pem(
            signing.load_public(pem.encode() if isinstance(pem, str) else pem)
        )
    except signing.KeyFileError:
        return None


def rotate_trust(
    ws: Workspace,
    *,
    reason: str,
    keys: KeyProvider | None = None,
    distrust: Sequence[bytes] = (),
    trust: Sequence[bytes] = (),
    dry_run: bool = False,
) -> PlaybookResult:
    """Rotate the KEK (when ``keys`` is given); in every namespace that trusts a key in
    ``distrust`` (PEM), replace it with the keys in ``trust``. A namespace that requires
    signatures is never left without a trusted key."""
    changes: list[Change] = []
    notes: list[str] = []
    if keys is not None:
        with ws.engine.connect() as conn:
            count = conn.execute(sa.select(sa.func.count()).select_from(t.blobs)).scalar_one()
        current = keys.current()
        changes.append(
            Change(
                "key.rotate",
                f"kek:{current.key_id}",
                f"from version {current.version}, {count} data key(s) to re-wrap",
            )
        )
        if not dry_run:
            done = rotate_keys(ws.engine, keys, ws.log, actor=ws.actor)
            if done.remaining:
                notes.append(
                    f"{done.remaining} data key(s) left: run `bastion keys rotate --resume`"
                )
    bad = {c for c in (_canonical(p) for p in distrust) if c is not None}
    if len(bad) != len(distrust) or any(_canonical(p) is None for p in trust):
        raise IncidentError("a key to distrust or trust is not a PEM public key")
    new = [p.decode() for p in trust]
    with ws.engine.begin() as conn:
        for row in conn.execute(sa.select(t.namespaces.c.name, t.namespaces.c.policy)).all():
            policy = json.loads(row.policy)
            trusted = list(policy.get("trusted_keys", []))
            kept = [k for k in trusted if _canonical(k) not in bad]
            if len(kept) == len(trusted):
                continue
            kept += [k for k in new if _canonical(k) not in {_canonical(x) for x in kept}]
            if policy.get("require_signature") and not kept:
                raise IncidentError(
                    f"namespace {row.name} requires signatures and would trust no key",
                    hint="Pass the replacement signing public key with --trust-key.",
                )
            changes.append(
                Change(
                    "namespace.policy", row.name, f"{len(trusted) - len(kept)} key(s) distrusted"
                )
            )
            if not dry_run:
                policy["trusted_keys"] = kept
                conn.execute(
                    t.namespaces.update()
                    .where(t.namespaces.c.name == row.name)
                    .values(policy=json.dumps(policy, sort_keys=True))
                )
    if not dry_run:
        for change in changes:
            if change.action != "key.rotate":  # rotate_keys audits its own event
                ws.emit(change.action, change.target, {"incident": True, "detail": change.detail},
                        reason=reason)  # fmt: skip
    result = PlaybookResult("rotate", dry_run, tuple(changes), tuple(notes))
    ws.record(result, reason)
    return result
