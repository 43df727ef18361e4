"""The identity tables: users, their recovery codes and their sessions.

Times are integer Unix seconds (UTC) so that SQLite and PostgreSQL compare them the
same way. Secrets are never stored in the clear: TOTP secrets, which the server must
read to check codes, are sealed with AES-GCM under a key kept outside the database
(secretbox.py); passwords are Argon2id hashes; recovery codes and session tokens are
SHA-256 hashes of high-entropy random values.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    ForeignKey,
    Index,
    Integer,
    String,
    Table,
)

from bastion.db import Base

users = Table(
    "identity_users",
    Base.metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("name", String(64), nullable=False, unique=True),
    Column("password_hash", String(255), nullable=False),
    Column("disabled", Boolean, nullable=False, default=False),
    # bumped by a password change, an MFA reset and a new need for MFA: ends every session
    Column("credential_epoch", Integer, nullable=False, default=0),
    Column("totp_secret", String(128), nullable=True),  # sealed: see secretbox.py
    Column("mfa_enabled", Boolean, nullable=False, default=False),
    # the last TOTP time step accepted: a code for it or an earlier step is refused
    Column("totp_last_step", BigInteger, nullable=True),
    Column("created_at", BigInteger, nullable=False),
)

recovery_codes = Table(
    "identity_recovery_codes",
    Base.metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column(
        "user_id",
        Integer,
        ForeignKey("identity_users.id", ondelete="CASCADE"),
        nullable=False,
        index=True,
    ),
    Column("code_hash", String(64), nullable=False, unique=True),
    Column("used_at", BigInteger, nullable=True),
)

sessions = Table(
    "identity_sessions",
    Base.metadata,
    Column("id", String(32), primary_key=True),  # public id, for listing and revoking
    Column(
        "user_id",
        Integer,
        ForeignKey("identity_users.id", ondelete="CASCADE"),
        nullable=False,
        index=True,
    ),
    Column("token_hash", String(64), nullable=False, unique=True),
    Column("scope", String(16), nullable=False),
    Column("mfa", Boolean, nullable=False),
    Column("epoch", Integer, nullable=False),
    Column("created_at", BigInteger, nullable=False),
    Column("expires_at", BigInteger, nullable=False),
    Column("source", String(255), nullable=True),
    Column("revoked", Boolean, nullable=False, default=False),
)

Index("ix_identity_sessions_expires_at", sessions.c.expires_at)
