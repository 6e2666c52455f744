"""registry generations (cross-host cache invalidation) and shared rate windows

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-03 07:40:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # One counter per kind of change (keys, aliases, quotas...); every server process on every
    # host reads it to know when its caches are stale.
    op.create_table(
        "generations",
        sa.Column("name", sa.String(length=32), nullable=False),
        sa.Column("value", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("name"),
    )
    # Requests counted per bucket (a key, a tenant) and time window, shared by every API process.
    op.create_table(
        "rate_windows",
        sa.Column("bucket", sa.String(length=120), nullable=False),
        sa.Column("window", sa.BigInteger(), nullable=False),
        sa.Column("count", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("bucket", "window"),
    )


def downgrade() -> None:
    op.drop_table("rate_windows")
    op.drop_table("generations")
