"""A version's signature bundle (OpenSSF model signing, as ``bastion sign`` writes it),
checked against the namespace's trusted keys and the uploaded files' SHA-256 digests."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from bastion.errors import BastionError, VerificationError

MAX_BUNDLE = 4 << 20


def check_signature(
    bundle_text: str, files: Mapping[str, str], trusted_keys: Sequence[str]
) -> str | None:
    """None when the bundle is signed by one of ``trusted_keys`` and vouches for exactly
    ``files`` (path -> SHA-256 hex); otherwise why not, in one sentence."""
    from bastion.crypto.keys import load_public
    from bastion.integrity import KeyVerifier
    from bastion.integrity import bundle as _bundle
    from bastion.integrity import statement as _statement

    if len(bundle_text) > MAX_BUNDLE:
        return "the signature bundle is too large"
    try:
        bundle = _bundle.decode(bundle_text.encode("utf-8"))
    except BastionError as exc:
        return f"unreadable signature bundle: {exc.message}"
    if not trusted_keys:
        return "the namespace trusts no signing key"
    for pem in trusted_keys:
        try:
            KeyVerifier(load_public(pem.encode("utf-8"))).verify(bundle)
        except VerificationError:
            continue
        break
    else:
        return "not signed by any of the namespace's trusted keys"
    try:
        manifest = _statement.decode(bundle.payload)
    except BastionError as exc:
        return f"unreadable signed statement: {exc.message}"
    serialization = manifest.serialization
    if serialization.method != "files" or serialization.hash_type != "sha256":
        return "sign with --hash sha256 and no --shard-size: the registry checks per-file SHA-256"
    signed = {r.name: r.digest.hex() for r in manifest.resources}
    ignored = set(serialization.ignore_paths)
    uploaded = {p: d for p, d in files.items() if p not in ignored}
    if signed != uploaded:
        changed = sorted(
            set(signed) ^ set(uploaded)
            | {p for p in signed if uploaded.get(p) not in (None, signed[p])}
        )
        return f"the signed manifest does not match the uploaded files: {', '.join(changed[:5])}"
    return None
