"""A source file as a typed DuckDB table, read by the ingest pipeline without a platform.

Used where harmonization runs offline (``allmende validate --mapping``, ``allmende mapping
suggest``): the file is typed exactly as an upload would be, in a scratch folder that is gone
afterwards; the rows stay in the given DuckDB connection.
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from pathlib import Path

import duckdb

from allmende import sql
from allmende.ingest.pipeline import build
from allmende.ingest.sniff import ReadOptions
from allmende.tables.schema import HIDDEN_COLUMNS


@dataclass
class SourceTable:
    """Table ``relation`` in a DuckDB connection with the columns (name, type) of a version."""

    relation: str
    columns: list[dict[str, str]]
    rows: int
    crs: str | None


def load_source(con: duckdb.DuckDBPyConnection, path: Path, relation: str = "source",
                options: ReadOptions | None = None) -> SourceTable:
    """Reads and types ``path`` with the ingest pipeline into table ``relation``."""
    with tempfile.TemporaryDirectory(prefix="allmende-source-") as work:
        built = build(path, path.name, options or ReadOptions(), Path(work), None,
                      lambda _fraction, _message: None)
        visible = load_version_file(con, built.parquet, built.columns, relation)
    return SourceTable(relation, visible, built.rows, built.crs)


def load_version_file(con: duckdb.DuckDBPyConnection, path: Path,
                      columns: list[dict[str, str]], relation: str = "source",
                      limit: int | None = None) -> list[dict[str, str]]:
    """The visible columns of a version file (the first ``limit`` rows) as table
    ``relation``; returns those columns."""
    visible = [c for c in columns if c["name"] not in HIDDEN_COLUMNS]
    # (the file name goes in as a literal: DuckDB binds no parameters in a table definition)
    query = sql.select(sql.idents(c["name"] for c in visible),
                       sql.table_function("read_parquet", str(path)), limit=limit or None)
    con.execute(sql.create_table(relation, query, temporary=False))
    return visible
