"""production-grade core: current version numbers, files of job attempts, derived tables

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-04 12:40:00.000000
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # The newest published version of a resource; also the counter new versions are numbered
    # from (incremented under the row's lock), so reading the latest never scans the history.
    # (plain ADD COLUMN: SQLite supports it, and a batch copy of the table would cascade)
    op.add_column("resources", sa.Column("current_version", sa.Integer(), nullable=False,
                                         server_default="0"))
    op.execute("UPDATE resources SET current_version = COALESCE((SELECT max(version) FROM "
               "table_versions WHERE table_versions.resource_id = resources.id), 0)")
    # Files a running attempt of a job is about to publish: removed when the job is reclaimed
    # after its worker died.
    op.add_column("jobs", sa.Column("outputs", sa.JSON(), nullable=True))
    # Resources built from other datasets (the regional tables): nobody uploads to them, and
    # each of their versions names the datasets its rows came from.
    op.add_column("resources", sa.Column("derived", sa.Boolean(), nullable=False,
                                         server_default=sa.false()))
    op.execute("UPDATE resources SET derived = TRUE, format = 'PARQUET' WHERE id IN "
               "(SELECT resource_id FROM consolidations)")
    op.add_column("table_versions", sa.Column("derived_from", sa.JSON(), nullable=True))


def downgrade() -> None:
    op.drop_column("table_versions", "derived_from")
    op.drop_column("resources", "derived")
    op.drop_column("jobs", "outputs")
    op.drop_column("resources", "current_version")
