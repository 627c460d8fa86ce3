"""DCAT-AP.de: licence codes from the dcat-ap.de list (cc-zero/1.0 and odbl/1.0 are not on it;
the list names them cc-zero and odbl)

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-06 10:00:00.000000
"""

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

RENAMED = {"cc-zero/1.0": "cc-zero", "odbl/1.0": "odbl"}


def _rename(pairs: dict[str, str]) -> None:
    datasets = sa.table("datasets", sa.column("license", sa.String))
    for old, new in pairs.items():
        op.execute(datasets.update().where(datasets.c.license == old).values(license=new))


def upgrade() -> None:
    _rename(RENAMED)


def downgrade() -> None:
    _rename({new: old for old, new in RENAMED.items()})
