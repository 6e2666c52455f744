"""the outcome of each logged call in clear: its latency and whether it failed

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-14 09:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # The call's latency on the first logged answer of each call (null on the others): counting the
    # rows that have one counts calls, for the error rate and latency signals, without opening a batch.
    with op.batch_alter_table("prediction_log") as table:
        table.add_column(sa.Column("latency_ms", sa.Float(), nullable=True))
        table.add_column(sa.Column("failed", sa.Boolean(), nullable=False, server_default=sa.false()))


def downgrade() -> None:
    with op.batch_alter_table("prediction_log") as table:
        table.drop_column("failed")
        table.drop_column("latency_ms")
