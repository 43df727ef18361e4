"""The registry: API tokens, role grants, namespaces, models, versions, files, blobs, uploads.

Revision ID: registry_0001
Revises: db_0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "registry_0001"
down_revision = "db_0001"
branch_labels = ("registry",)
depends_on = None

_TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "api_tokens",
        sa.Column("id", sa.String(12), primary_key=True),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("secret_sha256", sa.LargeBinary(32), nullable=False),
        sa.Column("scope", sa.String(16), nullable=False),
        sa.Column("namespaces", sa.Text(), nullable=False),
        sa.Column("created_by", sa.String(255), nullable=False),
        sa.Column("created_at", _TS, nullable=False),
        sa.Column("expires_at", _TS, nullable=False),
        sa.Column("revoked_at", _TS, nullable=True),
    )
    op.create_table(
        "role_grants",
        sa.Column("principal", sa.String(255), primary_key=True),
        sa.Column("namespace", sa.String(64), primary_key=True),
        sa.Column("role", sa.String(16), primary_key=True),
    )
    op.create_table(
        "registry_namespaces",
        sa.Column("name", sa.String(64), primary_key=True),
        sa.Column("policy", sa.Text(), nullable=False),
        sa.Column("created_by", sa.String(255), nullable=False),
        sa.Column("created_at", _TS, nullable=False),
    )
    op.create_table(
        "registry_models",
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
    op.create_table(
        "registry_versions",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column(
            "model_id",
            sa.Integer(),
            sa.ForeignKey("registry_models.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("name", sa.String(128), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("state_reason", sa.Text(), nullable=False),
        sa.Column("scan_report", sa.Text(), nullable=False),
        sa.Column("signature", sa.Text(), nullable=True),
        sa.Column("created_by", sa.String(255), nullable=False),
        sa.Column("created_at", _TS, nullable=False),
        sa.Column("released_by", sa.String(255), nullable=True),
        sa.Column("released_at", _TS, nullable=True),
        sa.UniqueConstraint("model_id", "name", name="uq_registry_versions_model_id_name"),
    )
    op.create_table(
        "registry_blobs",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("wrapped_key", sa.LargeBinary(), nullable=False),
        sa.Column("key_id", sa.String(128), nullable=False),
        sa.Column("key_version", sa.Integer(), nullable=False),
        sa.Column("created_at", _TS, nullable=False),
    )
    op.create_index(
        "ix_registry_blobs_key_version", "registry_blobs", ["key_version"], unique=False
    )
    op.create_table(
        "registry_files",
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
    op.create_table(
        "registry_uploads",
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
    op.create_table(
        "registry_upload_files",
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
        sa.Column("scan", sa.Text(), nullable=False),
    )


def downgrade() -> None:
    for table in (
        "registry_upload_files",
        "registry_uploads",
        "registry_files",
        "registry_blobs",
        "registry_versions",
        "registry_models",
        "registry_namespaces",
        "role_grants",
        "api_tokens",
    ):
        op.drop_table(table)
