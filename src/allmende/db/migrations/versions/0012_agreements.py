"""agreements: ODRL usage agreements on restricted datasets, and API token expiry

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-04 19:00:00.000000
"""

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "agreements",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("uid", sa.String(length=36), nullable=False),
        sa.Column("dataset_id", sa.Integer(), nullable=False),
        sa.Column("organization_id", sa.Integer(), nullable=False),
        sa.Column("assignee_id", sa.Integer(), nullable=False),
        sa.Column("granted_by_id", sa.Integer(), nullable=True),
        sa.Column("request_id", sa.Integer(), nullable=True),
        sa.Column("valid_from", sa.DateTime(timezone=True), nullable=False),
        sa.Column("valid_until", sa.DateTime(timezone=True), nullable=False),
        sa.Column("max_count", sa.Integer(), nullable=True),
        sa.Column("used_count", sa.Integer(), nullable=False),
        sa.Column("columns", sa.JSON(), nullable=True),
        sa.Column("row_filter", sa.JSON(), nullable=True),
        sa.Column("purpose_code", sa.String(length=50), nullable=False),
        sa.Column("purpose_text", sa.Text(), nullable=False),
        sa.Column("duties", sa.JSON(), nullable=False),
        sa.Column("state", sa.String(length=20), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_used_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("revoked_by_id", sa.Integer(), nullable=True),
        sa.Column("revoke_reason", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(["dataset_id"], ["datasets.id"], ondelete="CASCADE",
                                name=op.f("fk_agreements_dataset_id_datasets")),
        sa.ForeignKeyConstraint(["organization_id"], ["organizations.id"], ondelete="CASCADE",
                                name=op.f("fk_agreements_organization_id_organizations")),
        sa.ForeignKeyConstraint(["assignee_id"], ["users.id"], ondelete="CASCADE",
                                name=op.f("fk_agreements_assignee_id_users")),
        sa.ForeignKeyConstraint(["granted_by_id"], ["users.id"], ondelete="SET NULL",
                                name=op.f("fk_agreements_granted_by_id_users")),
        sa.ForeignKeyConstraint(["revoked_by_id"], ["users.id"], ondelete="SET NULL",
                                name=op.f("fk_agreements_revoked_by_id_users")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_agreements")),
        sa.UniqueConstraint("uid", name=op.f("uq_agreements_uid")),
    )
    op.create_index("ix_agreements_dataset_assignee", "agreements",
                    ["dataset_id", "assignee_id"])
    op.create_index("ix_agreements_assignee_id", "agreements", ["assignee_id"])
    op.create_index("ix_agreements_organization_id", "agreements", ["organization_id"])
    op.add_column("api_tokens",
                  sa.Column("expires_at", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("api_tokens") as batch:
        batch.drop_column("expires_at")
    op.drop_index("ix_agreements_organization_id", table_name="agreements")
    op.drop_index("ix_agreements_assignee_id", table_name="agreements")
    op.drop_index("ix_agreements_dataset_assignee", table_name="agreements")
    op.drop_table("agreements")
