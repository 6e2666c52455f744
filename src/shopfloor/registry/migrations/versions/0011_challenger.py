"""challenger modes per model (shadow, canary and its share); longer prediction-log sources

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-12 09:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # One row per model whose challenger runs (no row: off); the challenger is the version behind the
    # model's "challenger" alias, in the aliases table.
    op.create_table(
        "model_challengers",
        sa.Column("tenant", sa.String(length=64), nullable=False),
        sa.Column("model", sa.String(length=100), nullable=False),
        sa.Column("mode", sa.String(length=16), nullable=False),
        sa.Column("share", sa.Float(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.Column("updated_by", sa.String(length=40), nullable=True),
        sa.PrimaryKeyConstraint("tenant", "model"),
    )
    # The comparison logs each answer with its side and whether it was served
    # ("challenger:shadow" is 17 characters): room for them.
    with op.batch_alter_table("prediction_log") as batch:
        batch.alter_column("source", existing_type=sa.String(length=16), type_=sa.String(length=32))


def downgrade() -> None:
    # The comparison's sources do not fit the old width: kept as whether the answer was served or not.
    op.execute(
        "UPDATE prediction_log SET source = CASE WHEN source LIKE '%:served' THEN 'served' ELSE 'shadow' END "
        "WHERE length(source) > 16"
    )
    with op.batch_alter_table("prediction_log") as batch:
        batch.alter_column("source", existing_type=sa.String(length=32), type_=sa.String(length=16))
    op.drop_table("model_challengers")
