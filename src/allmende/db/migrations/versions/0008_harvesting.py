"""harvesting: harvest sources, their runs, and the origin of harvested datasets

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-07 10:00:00.000000
"""

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "harvest_sources",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("type", sa.String(length=20), nullable=False),
        sa.Column("url", sa.String(length=1000), nullable=False),
        sa.Column("organization_id", sa.Integer(), nullable=False),
        sa.Column("schedule", sa.String(length=10), nullable=False),
        sa.Column("ingest_resources", sa.Boolean(), nullable=False),
        sa.Column("high_water", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_by_id", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_run_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["organization_id"], ["organizations.id"],
                                name=op.f("fk_harvest_sources_organization_id_organizations")),
        sa.ForeignKeyConstraint(["created_by_id"], ["users.id"], ondelete="SET NULL",
                                name=op.f("fk_harvest_sources_created_by_id_users")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_harvest_sources")),
        sa.UniqueConstraint("name", name=op.f("uq_harvest_sources_name")),
    )
    op.create_table(
        "harvest_runs",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("source_id", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("trigger", sa.String(length=20), nullable=False),
        sa.Column("job_id", sa.Integer(), nullable=True),
        sa.Column("created_by_id", sa.Integer(), nullable=True),
        sa.Column("queued_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created", sa.Integer(), nullable=False),
        sa.Column("updated", sa.Integer(), nullable=False),
        sa.Column("deleted", sa.Integer(), nullable=False),
        sa.Column("unchanged", sa.Integer(), nullable=False),
        sa.Column("failures", sa.JSON(), nullable=False),
        sa.Column("reason", sa.JSON(), nullable=True),
        sa.ForeignKeyConstraint(["source_id"], ["harvest_sources.id"], ondelete="CASCADE",
                                name=op.f("fk_harvest_runs_source_id_harvest_sources")),
        sa.ForeignKeyConstraint(["created_by_id"], ["users.id"], ondelete="SET NULL",
                                name=op.f("fk_harvest_runs_created_by_id_users")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_harvest_runs")),
    )
    op.create_index("ix_harvest_runs_source_queued", "harvest_runs", ["source_id", "queued_at"])
    # Plain ADD COLUMN and indexes (no batch copy of the datasets table, which would cascade
    # on SQLite); the source's datasets are detached by the harvest service before a source
    # goes, so the column needs no foreign key of its own.
    op.add_column("datasets", sa.Column("harvest_source_id", sa.Integer(), nullable=True))
    op.add_column("datasets", sa.Column("origin_id", sa.String(length=500), nullable=True))
    op.add_column("datasets", sa.Column("origin_url", sa.String(length=1000), nullable=True))
    op.add_column("datasets", sa.Column("origin_modified", sa.DateTime(timezone=True),
                                        nullable=True))
    # one dataset per origin record and source: two runs at once cannot both create it
    op.create_index("ix_datasets_harvest_origin", "datasets",
                    ["harvest_source_id", "origin_id"], unique=True)


def downgrade() -> None:
    op.drop_index("ix_datasets_harvest_origin", "datasets")
    for column in ("origin_modified", "origin_url", "origin_id", "harvest_source_id"):
        op.drop_column("datasets", column)
    op.drop_index("ix_harvest_runs_source_queued", "harvest_runs")
    op.drop_table("harvest_runs")
    op.drop_table("harvest_sources")
