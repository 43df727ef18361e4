"""The root every feature branch depends on: a table recording when the schema was created.

Revision ID: db_0001
Revises:
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "db_0001"
down_revision = None
branch_labels = ("db",)
depends_on = None


def upgrade() -> None:
    op.create_table(
        "bastion_meta",
        sa.Column("key", sa.String(64), primary_key=True),
        sa.Column("value", sa.Text(), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("bastion_meta")
