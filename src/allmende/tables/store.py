"""Where table versions live: ``DATA_DIR/tables/<resource id>/<kind>-<attempt>.parquet``.

Every attempt writes files of its own name (the attempt's token), so concurrent attempts never
share a path. A version becomes visible in one atomic step: the Parquet file is written in the
attempt's scratch folder, synced, renamed into place, and only then recorded in the database.
Anything a crash leaves behind is removed when its job is reclaimed (the files it announced)
and by :func:`sweep` (files no row points to, scratch folders of dead processes).
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

from allmende import sql

TABLES = "tables"
SCRATCH = "tmp"
#: Scratch folders of attempts (``ingest-`` was the name before attempts had tokens).
SCRATCH_PREFIXES = ("work", "ingest")
# Unreferenced files younger than this may belong to an ingest another process is finishing.
STALE_SECONDS = 600.0


def tables_dir(data_dir: Path) -> Path:
    return data_dir / TABLES


def scratch_root(data_dir: Path) -> Path:
    return data_dir / SCRATCH


def attempt_path(resource_id: str, kind: str, token: str) -> str:
    """Where an attempt publishes a file of a resource, relative to the data directory (what
    the database records); ``kind`` says what it is (``version``, ``harmonized``)."""
    return f"{TABLES}/{resource_id}/{kind}-{token}.parquet"


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
_BATCH_ROWS = 10 * ROW_GROUP_SIZE


def write_parquet(con: duckdb.DuckDBPyConnection, select: str, target: Path,
                  beside: pa.Table | None = None, order: Sequence[str] | None = None) -> None:
    """Write the rows of ``select`` as a version file (zstd, small row groups). ``beside``
    holds columns computed in Python (geometry and envelope), one value per row in the query's
    order; they are added batch by batch, since a positional join inside DuckDB costs twice as
    much. ``order`` names the written columns, in order (default: the query's, then
    ``beside``'s)."""
    if beside is None:
        con.execute(sql.copy_to_parquet(select, str(target), {
            "COMPRESSION": "zstd", "ROW_GROUP_SIZE": ROW_GROUP_SIZE}))
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
                writer = pq.ParquetWriter(target, combined.schema, compression="zstd")
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
    """Scratch folders are named ``work-<host>-<pid>-…``; on this host, a dead pid means
    the attempt was killed."""
    parts = folder.name.split("-")
    if len(parts) < 4 or parts[0] not in SCRATCH_PREFIXES \
            or "-".join(parts[1:-2]) != socket.gethostname():
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


def remove_unreferenced(data_dir: Path, paths: Iterable[str], referenced: Iterable[str]
                        ) -> list[Path]:
    """Remove the given files and folders (relative to the data directory) that no database
    row points to: what a dead attempt announced. Paths outside the data directory are
    ignored."""
    keep = {(data_dir / p).resolve() for p in referenced}
    root = data_dir.resolve()
    removed = []
    for relative in paths:
        path = (data_dir / relative).resolve()
        if path in keep or root not in path.parents or not path.exists():
            continue
        _remove(path)
        removed.append(path)
    return removed


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
    folders = [f for prefix in SCRATCH_PREFIXES for f in scratch.glob(f"{prefix}-*")] \
        if scratch.exists() else []
    for folder in sorted(folders):
        if _owner_gone(folder) or folder.stat().st_mtime < limit:
            _remove(folder)
            removed.append(folder)
    tables = tables_dir(data_dir)
    for path in sorted(tables.rglob("*.parquet*")) if tables.exists() else []:
        if path.resolve() not in keep and path.stat().st_mtime < limit:
            _remove(path)
            removed.append(path)
    return removed
