"""Backups of a Bastion server: a consistent, signed, incremental snapshot of the database
(a dialect-neutral logical dump), the encrypted blobs as stored, the audit log with its
latest signed checkpoint, and the key material sealed with a passphrase; its offline
verification; and its restore into an empty data directory and database.

See docs/backup.md for the format and what an operator must keep elsewhere.
"""

from bastion.backup.base import BackupError, BackupVerificationError, Manifest
from bastion.backup.create import CreateResult, create_backup
from bastion.backup.restore import RestoreResult, restore_backup
from bastion.backup.verify import VerifyResult, verify_backup

__all__ = [
    "BackupError",
    "BackupVerificationError",
    "CreateResult",
    "Manifest",
    "RestoreResult",
    "VerifyResult",
    "create_backup",
    "restore_backup",
    "verify_backup",
]
