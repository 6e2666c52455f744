"""AWS access keys of API keys (SigV4), and the Lookout for Equipment facade's datasets, ingestion
jobs, label groups and labels

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-18 09:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # The secret is kept sealed (AES-GCM under the tenant's data key): the server must recompute each
    # request's HMAC, so a one-way hash, as for API keys, cannot serve.
    op.create_table(
        "aws_access_keys",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("tenant", sa.String(length=64), sa.ForeignKey("tenants.id"), nullable=False),
        sa.Column("api_key_id", sa.String(length=40), sa.ForeignKey("api_keys.id"), nullable=False),
        sa.Column("sealed_secret", sa.LargeBinary(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_aws_access_keys_tenant", "aws_access_keys", ["tenant"])
    op.create_index("ix_aws_access_keys_api_key_id", "aws_access_keys", ["api_key_id"])
    # A Lookout dataset is a name and a schema; its data are the Shopfloor datasets its ingestion
    # jobs stored, and an ingestion's state and result are its Shopfloor job's (same id).
    op.create_table(
        "lookout_datasets",
        sa.Column("tenant", sa.String(length=64), sa.ForeignKey("tenants.id"), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("schema", sa.JSON(), nullable=False),
        sa.Column("tags", sa.JSON(), nullable=False),
        sa.Column("client_token", sa.String(length=256), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("tenant", "name"),
    )
    op.create_table(
        "lookout_ingestions",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("tenant", sa.String(length=64), sa.ForeignKey("tenants.id"), nullable=False),
        sa.Column("dataset", sa.String(length=200), nullable=False),
        sa.Column("bucket", sa.String(length=255), nullable=False),
        sa.Column("prefix", sa.String(length=1024), nullable=False),
        sa.Column("key_pattern", sa.String(length=2048), nullable=True),
        sa.Column("role_arn", sa.String(length=2048), nullable=False),
        sa.Column("client_token", sa.String(length=256), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_lookout_ingestions_dataset", "lookout_ingestions", ["tenant", "dataset"])
    op.create_table(
        "lookout_label_groups",
        sa.Column("tenant", sa.String(length=64), sa.ForeignKey("tenants.id"), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("fault_codes", sa.JSON(), nullable=False),
        sa.Column("client_token", sa.String(length=256), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("tenant", "name"),
    )
    op.create_table(
        "lookout_labels",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("tenant", sa.String(length=64), sa.ForeignKey("tenants.id"), nullable=False),
        sa.Column("group_name", sa.String(length=200), nullable=False),
        sa.Column("start", sa.DateTime(), nullable=False),
        sa.Column("end", sa.DateTime(), nullable=False),
        sa.Column("rating", sa.String(length=16), nullable=False),
        sa.Column("fault_code", sa.String(length=200), nullable=True),
        sa.Column("notes", sa.Text(), nullable=True),
        sa.Column("equipment", sa.String(length=200), nullable=True),
        sa.Column("client_token", sa.String(length=256), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_lookout_labels_group", "lookout_labels", ["tenant", "group_name", "start"])


def downgrade() -> None:
    op.drop_index("ix_lookout_labels_group", table_name="lookout_labels")
    op.drop_table("lookout_labels")
    op.drop_table("lookout_label_groups")
    op.drop_index("ix_lookout_ingestions_dataset", table_name="lookout_ingestions")
    op.drop_table("lookout_ingestions")
    op.drop_table("lookout_datasets")
    op.drop_index("ix_aws_access_keys_api_key_id", table_name="aws_access_keys")
    op.drop_index("ix_aws_access_keys_tenant", table_name="aws_access_keys")
    op.drop_table("aws_access_keys")
