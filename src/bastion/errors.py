"""Every exception Bastion raises on purpose derives from :class:`BastionError`.

The tree is shallow on purpose::

    BastionError
    ├── ConfigError          bad settings file or environment variable
    ├── PolicyError          a scan policy file that cannot be used
    ├── ScanError            a file that could not be scanned to the end
    │   └── LimitExceeded    a safety bound (size, depth, count) was reached
    └── VerificationError    a check that must pass did not
        └── IntegrityError   encrypted bytes or a wrapped key failed authentication

Each error carries a ``hint``: one sentence that says what the user can do.
Nothing outside ``bastion.cli`` calls ``sys.exit``; the CLI maps these classes
to documented exit codes in one place.
"""

from __future__ import annotations


class BastionError(Exception):
    """Root of Bastion's exceptions."""

    hint: str = ""

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        if hint is not None:
            self.hint = hint

    @property
    def message(self) -> str:
        return str(self.args[0]) if self.args else ""


class ConfigError(BastionError):
    """A settings file or ``BASTION_*`` variable is invalid."""

    hint = "Check the settings file and BASTION_* environment variables."


class PolicyError(BastionError):
    """A scan policy file cannot be loaded."""

    hint = "Check the policy TOML against the shipped default policy."


class ScanError(BastionError):
    """Content that is, or claims to be, a model format could not be read to the end."""

    hint = "The file may be truncated or corrupt; do not load it. Re-download it and scan again."


class LimitExceeded(ScanError):
    """A safety bound (size, nesting depth, member count, ratio) was reached."""

    hint = "The file exceeds a safety limit; treat it as hostile unless you trust its source."


class VerificationError(BastionError):
    """A verification that must pass did not. Verifiers return None or raise this."""

    hint = "Do not use the artefact; find out who changed it."


class IntegrityError(VerificationError):
    """Encrypted data or a wrapped key failed authentication: altered, truncated, reordered,
    or opened with the wrong key or associated data. No unverified plaintext is ever returned."""

    hint = (
        "Do not use the data: restore it from a backup or a trusted copy, "
        "and check that the right key and context were used."
    )
