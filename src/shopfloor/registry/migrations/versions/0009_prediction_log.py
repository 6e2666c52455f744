"""the prediction log (sealed batches and their clear index), sampling rates, retention, feedback

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-10 09:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "prediction_log_rates",
        sa.Column("tenant", sa.String(length=64), nullable=False),
        sa.Column("model", sa.String(length=100), nullable=False),
        sa.Column("rate", sa.Float(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("tenant", "model"),
    )
    op.create_table(
        "prediction_log_retention",
        sa.Column("tenant", sa.String(length=64), nullable=False),
        sa.Column("days", sa.Integer(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("tenant"),
    )
    # One row per flushed batch of one model version: the entries sealed together, so that logging
    # costs one encryption per batch, not per prediction.
    op.create_table(
        "prediction_log_blobs",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("tenant", sa.String(length=64), nullable=False),
        sa.Column("model", sa.String(length=100), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("first_at", sa.DateTime(), nullable=False),
        sa.Column("last_at", sa.DateTime(), nullable=False),
        sa.Column("records", sa.Integer(), nullable=False),
        sa.Column("payload", sa.LargeBinary(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_prediction_log_blobs_tenant_last_at", "prediction_log_blobs", ["tenant", "last_at"])
    # One row per logged prediction, ids and time in clear: found by request id, or by time.
    op.create_table(
        "prediction_log",
        sa.Column("blob_id", sa.String(length=32), nullable=False),
        sa.Column("slot", sa.Integer(), nullable=False),
        sa.Column("tenant", sa.String(length=64), nullable=False),
        sa.Column("model", sa.String(length=100), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("request_id", sa.String(length=128), nullable=True),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("source", sa.String(length=16), nullable=False),
        sa.Column("at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("blob_id", "slot"),
    )
    op.create_index("ix_prediction_log_request", "prediction_log", ["tenant", "model", "request_id"])
    op.create_index("ix_prediction_log_time", "prediction_log", ["tenant", "model", "version", "at"])
    op.create_table(
        "prediction_feedback",
        sa.Column("blob_id", sa.String(length=32), nullable=False),
        sa.Column("slot", sa.Integer(), nullable=False),
        sa.Column("tenant", sa.String(length=64), nullable=False),
        sa.Column("model", sa.String(length=100), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("outcome", sa.LargeBinary(), nullable=False),
        sa.Column("received_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("blob_id", "slot"),
    )
    op.create_index("ix_prediction_feedback_model", "prediction_feedback", ["tenant", "model", "version"])


def downgrade() -> None:
    op.drop_index("ix_prediction_feedback_model", table_name="prediction_feedback")
    op.drop_table("prediction_feedback")
    op.drop_index("ix_prediction_log_time", table_name="prediction_log")
    op.drop_index("ix_prediction_log_request", table_name="prediction_log")
    op.drop_table("prediction_log")
    op.drop_index("ix_prediction_log_blobs_tenant_last_at", table_name="prediction_log_blobs")
    op.drop_table("prediction_log_blobs")
    op.drop_table("prediction_log_retention")
    op.drop_table("prediction_log_rates")
