"""personal data: what the scan found per table version, the admins' decisions, and each
dataset's hashing key and suppression threshold

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-04 19:30:00.000000
"""

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "version_privacy",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("resource_id", sa.String(length=36), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("findings", sa.JSON(), nullable=False),
        sa.Column("related_version", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(["resource_id"], ["resources.id"], ondelete="CASCADE",
                                name=op.f("fk_version_privacy_resource_id_resources")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_version_privacy")),
        sa.UniqueConstraint("resource_id", "version",
                            name=op.f("uq_version_privacy_resource_id")),
    )
    op.create_table(
        "privacy_decisions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("dataset_id", sa.Integer(), nullable=False),
        sa.Column("resource_id", sa.String(length=36), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("published_version", sa.Integer(), nullable=False),
        sa.Column("column", sa.String(length=500), nullable=False),
        sa.Column("kind", sa.String(length=30), nullable=True),
        sa.Column("action", sa.String(length=20), nullable=False),
        sa.Column("parameters", sa.JSON(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("decided_by_id", sa.Integer(), nullable=True),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["dataset_id"], ["datasets.id"], ondelete="CASCADE",
                                name=op.f("fk_privacy_decisions_dataset_id_datasets")),
        sa.ForeignKeyConstraint(["resource_id"], ["resources.id"], ondelete="CASCADE",
                                name=op.f("fk_privacy_decisions_resource_id_resources")),
        sa.ForeignKeyConstraint(["decided_by_id"], ["users.id"], ondelete="SET NULL",
                                name=op.f("fk_privacy_decisions_decided_by_id_users")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_privacy_decisions")),
    )
    op.create_index("ix_privacy_decisions_resource_version", "privacy_decisions",
                    ["resource_id", "version"])
    op.create_table(
        "dataset_privacy",
        sa.Column("dataset_id", sa.Integer(), nullable=False),
        sa.Column("hash_key", sa.String(length=64), nullable=True),
        sa.Column("suppression_k", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(["dataset_id"], ["datasets.id"], ondelete="CASCADE",
                                name=op.f("fk_dataset_privacy_dataset_id_datasets")),
        sa.PrimaryKeyConstraint("dataset_id", name=op.f("pk_dataset_privacy")),
    )


def downgrade() -> None:
    op.drop_table("dataset_privacy")
    op.drop_index("ix_privacy_decisions_resource_version", table_name="privacy_decisions")
    op.drop_table("privacy_decisions")
    op.drop_table("version_privacy")
