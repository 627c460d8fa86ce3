"""regional resources say PARQUET: derived resources made before they were given a format

Built resources are created with the format PARQUET (catalog.datasets.file_resource), and 0004
now sets it too; but a database that had passed 0004 before that keeps an empty format on its
regional resources, which the API and DCAT then show.

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-15 10:00:00.000000
"""

from alembic import op

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("UPDATE resources SET format = 'PARQUET' "
               "WHERE derived = TRUE AND (format IS NULL OR format = '')")


def downgrade() -> None:
    pass  # the format is right on every revision
