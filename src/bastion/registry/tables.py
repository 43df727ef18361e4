"""The registry's tables: namespaces hold models, models hold immutable versions, versions
hold files, files point at encrypted blobs. Uploads stage blobs until a version commits.

Blob bytes live outside the database (``blobs/`` in the data directory), encrypted; the
database holds each blob's wrapped data key, size and SHA-256 of the plaintext.
"""

from __future__ import annotations

import sqlalchemy as sa

from bastion.db import Base

_TS = sa.DateTime(timezone=True)

namespaces = sa.Table(
    "registry_namespaces",
    Base.metadata,
    sa.Column("name", sa.String(64), primary_key=True),
    sa.Column("policy", sa.Text(), nullable=False),  # JSON, see registry.policy
    sa.Column("created_by", sa.String(255), nullable=False),
    sa.Column("created_at", _TS, nullable=False),
)

models = sa.Table(
    "registry_models",
    Base.metadata,
    sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
    sa.Column(
        "namespace",
        sa.String(64),
        sa.ForeignKey("registry_namespaces.name", ondelete="CASCADE"),
        nullable=False,
    ),
    sa.Column("name", sa.String(128), nullable=False),
    sa.Column("created_at", _TS, nullable=False),
    sa.UniqueConstraint("namespace", "name", name="uq_registry_models_namespace_name"),
)

versions = sa.Table(
    "registry_versions",
    Base.metadata,
    sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
    sa.Column(
        "model_id",
        sa.Integer(),
        sa.ForeignKey("registry_models.id", ondelete="CASCADE"),
        nullable=False,
    ),
    sa.Column("name", sa.String(128), nullable=False),
    # committed (passed the policy), quarantined (failed it), released (admin let it out)
    sa.Column("state", sa.String(16), nullable=False),
    sa.Column("state_reason", sa.Text(), nullable=False),
    sa.Column("scan_report", sa.Text(), nullable=False),  # JSON
    sa.Column("signature", sa.Text(), nullable=True),  # the model signing bundle, as uploaded
    sa.Column("created_by", sa.String(255), nullable=False),
    sa.Column("created_at", _TS, nullable=False),
    sa.Column("released_by", sa.String(255), nullable=True),
    sa.Column("released_at", _TS, nullable=True),
    sa.UniqueConstraint("model_id", "name", name="uq_registry_versions_model_id_name"),
)

blobs = sa.Table(
    "registry_blobs",
    Base.metadata,
    sa.Column("id", sa.String(32), primary_key=True),  # random; also the file name on disk
    sa.Column("size", sa.BigInteger(), nullable=False),  # plaintext bytes
    sa.Column("sha256", sa.String(64), nullable=False),  # of the plaintext, hex
    sa.Column("wrapped_key", sa.LargeBinary(), nullable=False),  # WrappedKey.to_bytes()
    sa.Column("key_id", sa.String(128), nullable=False),
    sa.Column("key_version", sa.Integer(), nullable=False, index=True),
    sa.Column("created_at", _TS, nullable=False),
)

files = sa.Table(
    "registry_files",
    Base.metadata,
    sa.Column(
        "version_id",
        sa.Integer(),
        sa.ForeignKey("registry_versions.id", ondelete="CASCADE"),
        primary_key=True,
    ),
    sa.Column("path", sa.String(1024), primary_key=True),
    sa.Column("blob_id", sa.String(32), sa.ForeignKey("registry_blobs.id"), nullable=False),
    sa.Column("size", sa.BigInteger(), nullable=False),
    sa.Column("sha256", sa.String(64), nullable=False),
)

uploads = sa.Table(
    "registry_uploads",
    Base.metadata,
    sa.Column("id", sa.String(32), primary_key=True),
    sa.Column(
        "namespace",
        sa.String(64),
        sa.ForeignKey("registry_namespaces.name", ondelete="CASCADE"),
        nullable=False,
    ),
    sa.Column("model", sa.String(128), nullable=False),
    sa.Column("version", sa.String(128), nullable=False),
    sa.Column("created_by", sa.String(255), nullable=False),
    sa.Column("created_at", _TS, nullable=False),
    sa.Column("expires_at", _TS, nullable=False),
)

upload_files = sa.Table(
    "registry_upload_files",
    Base.metadata,
    sa.Column(
        "upload_id",
        sa.String(32),
        sa.ForeignKey("registry_uploads.id", ondelete="CASCADE"),
        primary_key=True,
    ),
    sa.Column("path", sa.String(1024), primary_key=True),
    sa.Column("blob_id", sa.String(32), sa.ForeignKey("registry_blobs.id"), nullable=False),
    sa.Column("size", sa.BigInteger(), nullable=False),
    sa.Column("sha256", sa.String(64), nullable=False),
    sa.Column("scan", sa.Text(), nullable=False),  # JSON: this file's scan result
)
