"""transparency log: entries, stored subtree hashes, the tree's state, signed checkpoints and
the organizations' pseudonym keys

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-14 10:00:00.000000
"""

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "log_entries",
        sa.Column("index", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("leaf", sa.LargeBinary(), nullable=False),
        sa.Column("type", sa.String(length=100), nullable=False),
        sa.Column("organization", sa.String(length=100), nullable=True),
        sa.Column("dataset", sa.String(length=36), nullable=True),
        sa.Column("created", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("index", name=op.f("pk_log_entries")),
    )
    op.create_index("ix_log_entries_organization", "log_entries", ["organization", "index"])
    op.create_index("ix_log_entries_dataset", "log_entries", ["dataset", "index"])
    op.create_table(
        "log_nodes",
        sa.Column("id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("hash", sa.LargeBinary(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_log_nodes")),
    )
    state = op.create_table(
        "log_state",
        sa.Column("id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("frontier", sa.LargeBinary(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_log_state")),
    )
    # The one row every append locks (it exists from the start: no insert race).
    op.bulk_insert(state, [{"id": 1, "size": 0, "frontier": b""}])
    op.create_table(
        "log_checkpoints",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("root", sa.LargeBinary(), nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column("created", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_log_checkpoints")),
    )
    op.create_table(
        "log_pseudonym_keys",
        sa.Column("organization_id", sa.Integer(), nullable=False),
        sa.Column("key", sa.LargeBinary(), nullable=False),
        sa.Column("created", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["organization_id"], ["organizations.id"], ondelete="CASCADE",
                                name=op.f("fk_log_pseudonym_keys_organization_id_organizations")),
        sa.PrimaryKeyConstraint("organization_id", name=op.f("pk_log_pseudonym_keys")),
    )


def downgrade() -> None:
    op.drop_table("log_pseudonym_keys")
    op.drop_table("log_checkpoints")
    op.drop_table("log_state")
    op.drop_table("log_nodes")
    op.drop_index("ix_log_entries_dataset", "log_entries")
    op.drop_index("ix_log_entries_organization", "log_entries")
    op.drop_table("log_entries")
