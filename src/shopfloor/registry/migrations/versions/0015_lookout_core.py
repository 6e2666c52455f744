"""AWS access keys of API keys (SigV4), and the Lookout for Equipment facade's datasets, ingestion
jobs, label groups and labels

Revision ID: 0015
Revises: 0013
Create Date: 2026-12-18 09:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0015"
down_revision = "0013"
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


def downgrade() -> None:
    op.drop_index("ix_aws_access_keys_api_key_id", table_name="aws_access_keys")
    op.drop_index("ix_aws_access_keys_tenant", table_name="aws_access_keys")
    op.drop_table("aws_access_keys")
