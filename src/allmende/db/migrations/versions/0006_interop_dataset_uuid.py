"""open interfaces: a stable UUID per dataset (CKAN's id, DCAT's identifier, harvesting)

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-05 10:00:00.000000
"""

import uuid

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Plain ADD COLUMN and a unique index: a batch copy of the table would cascade on SQLite.
    op.add_column("datasets", sa.Column("uuid", sa.String(length=36), nullable=True))
    datasets = sa.table("datasets", sa.column("id", sa.Integer), sa.column("uuid", sa.String))
    connection = op.get_bind()
    ids = [row.id for row in connection.execute(sa.select(datasets.c.id))]
    if ids:
        connection.execute(
            datasets.update().where(datasets.c.id == sa.bindparam("key"))
            .values(uuid=sa.bindparam("value")),
            [{"key": i, "value": str(uuid.uuid4())} for i in ids])
    if connection.dialect.name == "postgresql":
        op.alter_column("datasets", "uuid", nullable=False)
    op.create_index(op.f("ix_datasets_uuid"), "datasets", ["uuid"], unique=True)


def downgrade() -> None:
    op.drop_index(op.f("ix_datasets_uuid"), "datasets")
    op.drop_column("datasets", "uuid")
