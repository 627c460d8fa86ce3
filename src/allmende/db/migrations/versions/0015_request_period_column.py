"""data requests: the date column the requested period refers to

With it, an approved request's agreement keeps only the rows of that period (data
minimisation); without, the period stays a statement of the request.

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-14 11:00:00.000000
"""

import sqlalchemy as sa
from alembic import op

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("data_requests", sa.Column("period_column", sa.String(300), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("data_requests") as batch:
        batch.drop_column("period_column")
