"""Azure Anomaly Detector multivariate: the Shopfloor model and job behind each Azure modelId and
resultId

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-20 09:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "azure_mv_models",
        sa.Column("tenant", sa.String(length=64), nullable=False),
        sa.Column("model_id", sa.String(length=40), nullable=False),
        sa.Column("model", sa.String(length=100), nullable=False),
        sa.Column("job_id", sa.String(length=40), nullable=False),
        sa.Column("dataset_id", sa.String(length=40), nullable=False),
        sa.Column("info", sa.JSON(), nullable=False),
        sa.Column("variable_states", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("tenant", "model_id"),
    )
    op.create_index("ix_azure_mv_models_created_at", "azure_mv_models", ["created_at"])
    op.create_table(
        "azure_mv_results",
        sa.Column("tenant", sa.String(length=64), nullable=False),
        sa.Column("result_id", sa.String(length=40), nullable=False),
        sa.Column("model_id", sa.String(length=40), nullable=False),
        sa.Column("job_id", sa.String(length=40), nullable=False),
        sa.Column("setup", sa.JSON(), nullable=False),
        sa.Column("variable_states", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("tenant", "result_id"),
    )
    op.create_index("ix_azure_mv_results_model_id", "azure_mv_results", ["model_id"])


def downgrade() -> None:
    op.drop_index("ix_azure_mv_results_model_id", table_name="azure_mv_results")
    op.drop_table("azure_mv_results")
    op.drop_index("ix_azure_mv_models_created_at", table_name="azure_mv_models")
    op.drop_table("azure_mv_models")
