"""tenants' S3-compatible sources (endpoint, own credentials, the buckets each serves)

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-16 09:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # The secret access key is stored encrypted with the tenant's key, never in clear.
    op.create_table(
        "sources",
        sa.Column("tenant", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("endpoint_url", sa.String(length=2000), nullable=False),
        sa.Column("region", sa.String(length=64), nullable=False),
        sa.Column("access_key_id", sa.String(length=128), nullable=False),
        sa.Column("secret", sa.LargeBinary(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("created_by", sa.String(length=40), nullable=True),
        sa.ForeignKeyConstraint(["tenant"], ["tenants.id"]),
        sa.PrimaryKeyConstraint("tenant", "name"),
    )
    # One row per bucket: its primary key lets one source of a tenant serve a bucket, never two.
    op.create_table(
        "source_buckets",
        sa.Column("tenant", sa.String(length=64), nullable=False),
        sa.Column("bucket", sa.String(length=63), nullable=False),
        sa.Column("source", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("tenant", "bucket"),
    )
    with op.batch_alter_table("source_buckets", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_source_buckets_source"), ["source"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("source_buckets", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_source_buckets_source"))
    op.drop_table("source_buckets")
    op.drop_table("sources")
