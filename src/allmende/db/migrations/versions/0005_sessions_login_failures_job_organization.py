"""hardening: server-side sign-in sessions, failed sign-ins, the organization of a job

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-04 14:30:00.000000
"""

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # A browser sign-in is a row: signing out deletes it, so a copied cookie is worthless.
    op.create_table(
        "user_sessions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"],
                                name=op.f("fk_user_sessions_user_id_users"), ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_user_sessions")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_user_sessions_token_hash")),
    )
    op.create_index(op.f("ix_user_sessions_user_id"), "user_sessions", ["user_id"])
    # Failed sign-ins per account and per address, for throttling guessing.
    op.create_table(
        "login_failures",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("email", sa.String(length=300), nullable=False),
        sa.Column("address", sa.String(length=100), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_login_failures")),
    )
    op.create_index("ix_login_failures_email_at", "login_failures", ["email", "at"])
    op.create_index("ix_login_failures_address_at", "login_failures", ["address", "at"])
    # Whose admins may read a job (besides whoever queued it).
    op.add_column("jobs", sa.Column("organization_id", sa.Integer(), nullable=True))
    # The rows a regional rebuild left out as duplicates, beside the rows kept instead.
    op.add_column("consolidations", sa.Column("duplicates", sa.JSON(), nullable=True))


def downgrade() -> None:
    op.drop_column("consolidations", "duplicates")
    op.drop_column("jobs", "organization_id")
    op.drop_index("ix_login_failures_address_at", "login_failures")
    op.drop_index("ix_login_failures_email_at", "login_failures")
    op.drop_table("login_failures")
    op.drop_index(op.f("ix_user_sessions_user_id"), "user_sessions")
    op.drop_table("user_sessions")
