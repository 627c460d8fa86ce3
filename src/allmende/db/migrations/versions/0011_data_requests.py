"""data requests: organizations' versioned conditions, requests, their history and
attachments, self-registrations awaiting e-mail confirmation

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-10 10:00:00.000000
"""

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None

TZ = sa.DateTime(timezone=True)


def _fk(table: str, column: str, target: str, ondelete: str | None) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint([column], [f"{target}.id"], ondelete=ondelete,
                                   name=op.f(f"fk_{table}_{column}_{target}"))


def upgrade() -> None:
    op.create_table(
        "organization_conditions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("organization_id", sa.Integer(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("created_by_id", sa.Integer(), nullable=True),
        sa.Column("created_at", TZ, nullable=False),
        _fk("organization_conditions", "organization_id", "organizations", "CASCADE"),
        _fk("organization_conditions", "created_by_id", "users", "SET NULL"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_organization_conditions")),
        sa.UniqueConstraint("organization_id", "version",
                            name=op.f("uq_organization_conditions_organization_id")),
    )
    op.create_table(
        "data_requests",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("dataset_id", sa.Integer(), nullable=False),
        sa.Column("organization_id", sa.Integer(), nullable=False),
        sa.Column("requester_id", sa.Integer(), nullable=False),
        sa.Column("state", sa.String(length=20), nullable=False),
        sa.Column("language", sa.String(length=5), nullable=False),
        sa.Column("requester_organization", sa.String(length=300), nullable=False),
        sa.Column("position", sa.String(length=300), nullable=False),
        sa.Column("purpose", sa.String(length=30), nullable=False),
        sa.Column("purpose_text", sa.Text(), nullable=False),
        sa.Column("legal_basis", sa.String(length=30), nullable=False),
        sa.Column("legal_basis_text", sa.Text(), nullable=False),
        sa.Column("interest", sa.Text(), nullable=False),
        sa.Column("columns", sa.JSON(), nullable=True),
        sa.Column("row_filter", sa.JSON(), nullable=True),
        sa.Column("period_start", sa.Date(), nullable=True),
        sa.Column("period_end", sa.Date(), nullable=True),
        sa.Column("duration_days", sa.Integer(), nullable=True),
        sa.Column("recipients", sa.Text(), nullable=False),
        sa.Column("processors", sa.Text(), nullable=False),
        sa.Column("retention", sa.Text(), nullable=False),
        sa.Column("conditions_version", sa.Integer(), nullable=True),
        sa.Column("created_at", TZ, nullable=False),
        sa.Column("modified_at", TZ, nullable=False),
        sa.Column("submitted_at", TZ, nullable=True),
        sa.Column("decided_at", TZ, nullable=True),
        sa.Column("decided_by_id", sa.Integer(), nullable=True),
        sa.Column("purge_after", TZ, nullable=True),
        _fk("data_requests", "dataset_id", "datasets", "CASCADE"),
        _fk("data_requests", "organization_id", "organizations", None),
        _fk("data_requests", "requester_id", "users", "CASCADE"),
        _fk("data_requests", "decided_by_id", "users", "SET NULL"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_data_requests")),
    )
    for column in ("dataset_id", "organization_id", "requester_id", "purge_after"):
        op.create_index(op.f(f"ix_data_requests_{column}"), "data_requests", [column])
    op.create_index("ix_data_requests_organization_state", "data_requests",
                    ["organization_id", "state"])
    op.create_table(
        "data_request_events",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("request_id", sa.Integer(), nullable=False),
        sa.Column("actor_id", sa.Integer(), nullable=True),
        sa.Column("action", sa.String(length=20), nullable=False),
        sa.Column("from_state", sa.String(length=20), nullable=True),
        sa.Column("to_state", sa.String(length=20), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("at", TZ, nullable=False),
        _fk("data_request_events", "request_id", "data_requests", "CASCADE"),
        _fk("data_request_events", "actor_id", "users", "SET NULL"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_data_request_events")),
    )
    op.create_index(op.f("ix_data_request_events_request_id"), "data_request_events",
                    ["request_id"])
    op.create_table(
        "data_request_attachments",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("request_id", sa.Integer(), nullable=False),
        sa.Column("filename", sa.String(length=300), nullable=False),
        sa.Column("path", sa.String(length=500), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("uploaded_by_id", sa.Integer(), nullable=True),
        sa.Column("created_at", TZ, nullable=False),
        _fk("data_request_attachments", "request_id", "data_requests", "CASCADE"),
        _fk("data_request_attachments", "uploaded_by_id", "users", "SET NULL"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_data_request_attachments")),
    )
    op.create_index(op.f("ix_data_request_attachments_request_id"),
                    "data_request_attachments", ["request_id"])
    op.create_table(
        "registrations",
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("language", sa.String(length=5), nullable=False),
        sa.Column("created_at", TZ, nullable=False),
        sa.Column("confirmed_at", TZ, nullable=True),
        _fk("registrations", "user_id", "users", "CASCADE"),
        sa.PrimaryKeyConstraint("user_id", name=op.f("pk_registrations")),
    )


def downgrade() -> None:
    op.drop_table("registrations")
    op.drop_table("data_request_attachments")
    op.drop_table("data_request_events")
    op.drop_table("data_requests")
    op.drop_table("organization_conditions")
