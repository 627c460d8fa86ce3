"""transparency log: on PostgreSQL, one append as one server-side call

The log's row is locked from the index an append takes until its transaction commits, so the
time between bounds the log's throughput. Done by the client that is four statements with a
round trip and client work between each; as one function on the server (PL/pgSQL, the
RFC 6962 hashing of ``transparency.merkle.push`` with PostgreSQL's ``sha256``), the row is
held only while the server works. The same tests check both against an independent Merkle
implementation. SQLite runs in-process and keeps the Python path.

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-14 10:00:00.000000
"""

from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None

FUNCTION = r"""
CREATE OR REPLACE FUNCTION allmende_log_append(
    v_leaf bytea, v_type text, v_organization text, v_dataset text, v_created timestamptz)
    RETURNS bigint LANGUAGE plpgsql AS $$
DECLARE
    v_index bigint;
    v_frontier bytea;
    v_hash bytea;
    v_level bigint := 0;
    v_position bigint;
BEGIN
    UPDATE log_state SET size = size + 1 WHERE id = 1
        RETURNING size - 1, frontier INTO v_index, v_frontier;
    INSERT INTO log_entries (index, leaf, type, organization, dataset, created)
        VALUES (v_index, v_leaf, v_type, v_organization, v_dataset, v_created);
    v_hash := sha256('\x00'::bytea || v_leaf);
    INSERT INTO log_nodes (id, hash) VALUES (v_index, v_hash);
    v_position := v_index;
    -- the new subtree closes the one to its left, as often as its position is odd
    WHILE v_position & 1 = 1 LOOP
        v_hash := sha256('\x01'::bytea
                         || substring(v_frontier FROM length(v_frontier) - 31 FOR 32)
                         || v_hash);
        v_frontier := substring(v_frontier FROM 1 FOR length(v_frontier) - 32);
        v_level := v_level + 1;
        v_position := v_position >> 1;
        INSERT INTO log_nodes (id, hash) VALUES ((v_level << 48) | v_position, v_hash);
    END LOOP;
    UPDATE log_state SET frontier = v_frontier || v_hash WHERE id = 1;
    RETURN v_index;
END
$$;
"""


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(FUNCTION)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP FUNCTION IF EXISTS allmende_log_append(bytea, text, text, text, "
                   "timestamptz)")
