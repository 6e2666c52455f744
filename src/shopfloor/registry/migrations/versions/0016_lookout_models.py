"""Lookout for Equipment models, inference schedulers, their executions and events

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-04 23:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "lookout_models",
        sa.Column("tenant", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("uid", sa.String(length=40), nullable=False),
        sa.Column("dataset_name", sa.String(length=200), nullable=False),
        sa.Column("job_id", sa.String(length=40), nullable=False),
        sa.Column("config", sa.JSON(), nullable=False),
        sa.Column("client_token", sa.String(length=256), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(["tenant"], ["tenants.id"]),
        sa.PrimaryKeyConstraint("tenant", "name"),
    )
    op.create_table(
        "lookout_schedulers",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("tenant", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("model", sa.String(length=200), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("frequency_s", sa.Integer(), nullable=False),
        sa.Column("delay_s", sa.Integer(), nullable=False),
        sa.Column("config", sa.JSON(), nullable=False),
        sa.Column("next_data_end", sa.DateTime(), nullable=True),
        sa.Column("due_at", sa.DateTime(), nullable=True),
        sa.Column("revision", sa.Integer(), nullable=False),
        sa.Column("latest_result", sa.String(length=16), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(["tenant"], ["tenants.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("tenant", "name", name="uq_lookout_scheduler_name"),
    )
    with op.batch_alter_table("lookout_schedulers", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_lookout_schedulers_tenant"), ["tenant"], unique=False)
        batch_op.create_index(batch_op.f("ix_lookout_schedulers_due_at"), ["due_at"], unique=False)
    op.create_table(
        "lookout_executions",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("tenant", sa.String(length=64), nullable=False),
        sa.Column("scheduler_id", sa.String(length=40), nullable=False),
        sa.Column("scheduled_start", sa.DateTime(), nullable=False),
        sa.Column("data_start", sa.DateTime(), nullable=False),
        sa.Column("data_end", sa.DateTime(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("failed_reason", sa.Text(), nullable=True),
        sa.Column("result_bucket", sa.String(length=63), nullable=True),
        sa.Column("result_key", sa.String(length=1024), nullable=True),
        sa.Column("model_version", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(["scheduler_id"], ["lookout_schedulers.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("scheduler_id", "data_end", name="uq_lookout_execution_window"),
    )
    with op.batch_alter_table("lookout_executions", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_lookout_executions_tenant"), ["tenant"], unique=False)
    op.create_table(
        "lookout_events",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("tenant", sa.String(length=64), nullable=False),
        sa.Column("scheduler_id", sa.String(length=40), nullable=False),
        sa.Column("execution_id", sa.String(length=40), nullable=False),
        sa.Column("start", sa.DateTime(), nullable=False),
        sa.Column("end", sa.DateTime(), nullable=False),
        sa.Column("diagnostics", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(["scheduler_id"], ["lookout_schedulers.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["execution_id"], ["lookout_executions.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("lookout_events", schema=None) as batch_op:
        batch_op.create_index("ix_lookout_events_scheduler_start", ["scheduler_id", "start"], unique=False)
        batch_op.create_index(batch_op.f("ix_lookout_events_execution_id"), ["execution_id"], unique=False)


def downgrade() -> None:
    op.drop_table("lookout_events")
    op.drop_table("lookout_executions")
    op.drop_table("lookout_schedulers")
    op.drop_table("lookout_models")
