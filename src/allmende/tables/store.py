"""Where table versions live: ``DATA_DIR/tables/<resource id>/v<N>.parquet``.

A version becomes visible in one atomic step: the Parquet file is written under a temporary
name, synced, renamed into place, and only then recorded in the database. Anything a crash
leaves behind (temporary files, files no version row points to) is swept at start-up.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import socket
import time
from collections.abc import Iterable, Sequence
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq

TABLES = "tables"
SCRATCH = "tmp"
# Unreferenced files younger than this may belong to an ingest another process is finishing.
STALE_SECONDS = 600.0


def tables_dir(data_dir: Path) -> Path:
    return data_dir / TABLES


def scratch_root(data_dir: Path) -> Path:
    return data_dir / SCRATCH


def version_path(resource_id: str, version: int) -> str:
    """The version's path relative to the data directory (what the database records)."""
    return f"{TABLES}/{resource_id}/v{version}.parquet"


def publish(data_dir: Path, built: Path, relative: str) -> Path:
    """Move a finished Parquet file into place atomically: it is synced, then renamed (the
    scratch area lies inside the data directory, so this is a rename, never a copy)."""
    target = data_dir / relative
    target.parent.mkdir(parents=True, exist_ok=True)
    with built.open("rb") as handle:
        os.fsync(handle.fileno())
    os.replace(built, target)
    directory = os.open(target.parent, os.O_RDONLY)
    try:
        os.fsync(directory)
    finally:
        os.close(directory)
    return target


#: Small row groups: a page of the data API decodes one group, not 122,880 rows.
ROW_GROUP_SIZE = 10_240
#: zstd's fastest level: a quarter less CPU for the whole write than DuckDB's default 3, for
#: files about 3 % larger (measured on bench/ingest.py's million rows).
ZSTD_LEVEL = 1
_BATCH_ROWS = 10 * ROW_GROUP_SIZE


def write_parquet(con: duckdb.DuckDBPyConnection, select: str, target: Path,
                  beside: pa.Table | None = None, order: Sequence[str] | None = None) -> None:
    """Write the rows of ``select`` as a version file (zstd, small row groups). ``beside``
    holds columns computed in Python (geometry and envelope), one value per row in the query's
    order; they are added batch by batch, since a positional join inside DuckDB costs twice as
    much. ``order`` names the written columns, in order (default: the query's, then
    ``beside``'s)."""
    if beside is None:
        path = str(target).replace("'", "''")
        con.execute(f"COPY ({select}) TO '{path}' "
                    f"(FORMAT parquet, COMPRESSION zstd, COMPRESSION_LEVEL {ZSTD_LEVEL}, "
                    f"ROW_GROUP_SIZE {ROW_GROUP_SIZE})")
        return
    writer: pq.ParquetWriter | None = None
    offset = 0
    try:
        for batch in con.sql(select).to_arrow_reader(_BATCH_ROWS):
            extra = [beside.column(i).slice(offset, batch.num_rows).combine_chunks()
                     for i in range(beside.num_columns)]
            combined = pa.RecordBatch.from_arrays(batch.columns + extra,
                                                  names=batch.schema.names + beside.column_names)
            if order is not None:
                combined = combined.select(list(order))
            if writer is None:
                writer = pq.ParquetWriter(target, combined.schema, compression="zstd",
                                          compression_level=ZSTD_LEVEL)
            writer.write_batch(combined, row_group_size=ROW_GROUP_SIZE)
            offset += batch.num_rows
    finally:
        if writer is not None:
            writer.close()


def sha256_of(path: Path) -> str:
    """The file's SHA-256, read in chunks (versions can be large)."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(8 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def _owner_gone(folder: Path) -> bool:
    """Scratch folders are named ``ingest-<host>-<pid>-…``; on this host, a dead pid means
    the ingest was killed."""
    parts = folder.name.split("-")
    if len(parts) < 4 or parts[0] != "ingest" or "-".join(parts[1:-2]) != socket.gethostname():
        return False
    try:
        os.kill(int(parts[-2]), 0)
    except ProcessLookupError:
        return True
    except (PermissionError, ValueError):
        return False
    return False


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    else:
        path.unlink(missing_ok=True)


def sweep(data_dir: Path, referenced: Iterable[str], older_than: float = STALE_SECONDS
          ) -> list[Path]:
    """Remove what interrupted ingests left: scratch folders of dead processes (or older than
    ``older_than`` seconds), staging files and Parquet files no version row points to (once
    they are older than ``older_than``, so another process's ingest that is about to commit is
    spared). Returns what was removed."""
    keep = {(data_dir / p).resolve() for p in referenced}
    limit = time.time() - older_than
    removed: list[Path] = []
    scratch = scratch_root(data_dir)
    for folder in sorted(scratch.glob("ingest-*")) if scratch.exists() else []:
        if _owner_gone(folder) or folder.stat().st_mtime < limit:
            _remove(folder)
            removed.append(folder)
    tables = tables_dir(data_dir)
    for path in sorted(tables.rglob("*.parquet*")) if tables.exists() else []:
        if path.resolve() not in keep and path.stat().st_mtime < limit:
            _remove(path)
            removed.append(path)
    return removed
