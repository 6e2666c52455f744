"""per-asset state of streaming anomaly scoring

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-23 17:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "stream_states",
        sa.Column("tenant", sa.String(length=64), nullable=False),
        sa.Column("model", sa.String(length=100), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("asset", sa.String(length=200), nullable=False),
        sa.Column("state", sa.LargeBinary(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("tenant", "model", "version", "asset"),
    )
    with op.batch_alter_table("stream_states", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_stream_states_updated_at"), ["updated_at"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("stream_states", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_stream_states_updated_at"))
    op.drop_table("stream_states")
