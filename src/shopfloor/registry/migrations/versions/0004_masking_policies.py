"""per-tenant masking policy

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-23 18:45:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "masking_policies",
        sa.Column("tenant", sa.String(length=64), nullable=False),
        sa.Column("policy", sa.LargeBinary(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(["tenant"], ["tenants.id"]),
        sa.PrimaryKeyConstraint("tenant"),
    )


def downgrade() -> None:
    op.drop_table("masking_policies")
