"""Where a data directory keeps its audit log's checkpoint key, and the log's name.

The server, `bastion audit`, `bastion users`, the incident playbooks and backups all sign
into, or check, the same log of a data directory; they take these two names from here
(a module with no imports, so commands that do not serve never load the web stack).
"""

#: The checkpoint signing key (Ed25519, PKCS#8 PEM, 0600) under the data directory.
KEY_FILE = "audit-log.key"
#: The log's origin line in every signed checkpoint (C2SP signed note).
ORIGIN = "bastion.local/audit"
