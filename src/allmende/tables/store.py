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
import threading
import time
import uuid
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq

from allmende import sql

TABLES = "tables"
SCRATCH = "tmp"
#: Uploads waiting for their ingest job, inside the scratch folder.
UPLOADS = "uploads"
#: Scratch folders of attempts (``ingest-`` was the name before attempts had tokens).
SCRATCH_PREFIXES = ("work", "ingest")
# Unreferenced files younger than this may belong to an ingest another process is finishing.
STALE_SECONDS = 600.0


def tables_dir(data_dir: Path) -> Path:
    return data_dir / TABLES


#: The memory one DuckDB connection over a table may use in a job or a request (ingest,
#: harmonize, validate, a regional rebuild). Beyond it DuckDB spills to its folder or stops with
#: an OutOfMemoryException (ingest answers it with the clear ``out_of_memory`` message) — well
#: before a job's process reaches ALLMENDE_JOB_MEMORY_LIMIT_MB (4096 by default) and is killed.
DUCKDB_MEMORY_LIMIT = "1 GB"


#: Idle DuckDB databases of this process, kept for the next operation (at most this many).
_IDLE_DATABASES = 4
_idle: list[tuple[duckdb.DuckDBPyConnection, str]] = []  # a database, its default spill folder
_idle_lock = threading.Lock()


@contextmanager
def connection(spill: Path | None = None) -> Iterator[duckdb.DuckDBPyConnection]:
    """A DuckDB connection for one operation (an ingest, a harmonization, a validation, a
    regional rebuild, a look at a table), on an in-memory database of its own within
    :data:`DUCKDB_MEMORY_LIMIT`. ``spill``: the folder for what does not fit (DuckDB creates it
    when it needs it, in an existing parent, and removes it with the database); without one,
    DuckDB's default (``.tmp`` in the working folder).

    A new DuckDB database costs 12-16 ms of CPU, more than typing a small upload, so databases
    are reused, one operation at a time each: the operation gets an attached in-memory catalog
    of its own (its tables, views and macros; temporary objects die with its connection),
    dropped at the end. A database goes back only when the operation ended without an error
    and spilled nothing (DuckDB keeps its first spill folder for good); else it is closed, as
    before."""
    database, default_spill = _take()
    folder = str(spill) if spill else default_spill
    catalog = sql.ident(f"operation_{uuid.uuid4().hex}")
    con = database.cursor()
    reusable = False
    try:
        con.execute(f"ATTACH ':memory:' AS {catalog}")
        con.execute(f"USE {catalog}")
        con.execute("SET temp_directory = ?", [folder])
        yield con
        con.execute("USE memory")
        con.execute(f"DETACH {catalog}")
        reusable = not Path(folder).exists()
    finally:
        con.close()
        if reusable:
            _give_back(database, default_spill)
        else:
            database.close()


def _take() -> tuple[duckdb.DuckDBPyConnection, str]:
    with _idle_lock:
        if _idle:
            return _idle.pop()
    database = duckdb.connect(config={"memory_limit": DUCKDB_MEMORY_LIMIT})
    return database, database.execute("SELECT current_setting('temp_directory')").fetchone()[0]


def _give_back(database: duckdb.DuckDBPyConnection, default_spill: str) -> None:
    with _idle_lock:
        if len(_idle) < _IDLE_DATABASES:
            _idle.append((database, default_spill))
            return
    database.close()


def scratch_root(data_dir: Path) -> Path:
    return data_dir / SCRATCH


def _owned(token: str) -> str:
    """A name that says which process made it (``work-<host>-<pid>-<token>``), so that a
    sweep can tell whether its owner still lives (:func:`_owner_gone`)."""
    return f"work-{socket.gethostname()}-{os.getpid()}-{token}"


def uploads_folder(data_dir: Path) -> Path:
    """Where uploads, attachments and harvested files are staged while they arrive and until
    their job has read them (not created)."""
    return scratch_root(data_dir) / UPLOADS


def scratch_folder(data_dir: Path, token: str) -> Path:
    """A scratch folder of this process (not created)."""
    return scratch_root(data_dir) / _owned(token)


def staged_upload(folder: Path) -> Path:
    """A new file name for an upload being received (or a file being downloaded) into
    ``folder``, owned like a scratch folder: an upload a killed process was receiving is
    removed by the next sweep, not ten minutes later."""
    return folder / f"{_owned(uuid.uuid4().hex)}.upload"


def spill_folder(data_dir: Path) -> Path:
    """Where a DuckDB connection of this process outside an attempt (a request looking at a
    table) puts what does not fit in memory: a scratch folder of its own, which DuckDB creates
    only when it spills and removes on close, and a sweep removes should the process die."""
    scratch_root(data_dir).mkdir(parents=True, exist_ok=True)
    return scratch_folder(data_dir, f"duckdb{uuid.uuid4().hex[:16]}")


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
        con.execute(sql.copy_to_parquet(select, str(target), {
            "COMPRESSION": "zstd", "COMPRESSION_LEVEL": ZSTD_LEVEL,
            "ROW_GROUP_SIZE": ROW_GROUP_SIZE}))
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


def _on_this_host(folder: Path) -> bool:
    parts = folder.name.split("-")
    return len(parts) >= 4 and "-".join(parts[1:-2]) == socket.gethostname()


def _owner_gone(folder: Path) -> bool:
    """Scratch folders (and staged uploads, without their suffix) are named
    ``work-<host>-<pid>-…``; on this host, a dead pid means the attempt was killed."""
    parts = folder.name.split("-")
    if parts[0] not in SCRATCH_PREFIXES or not _on_this_host(folder):
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


#: Scratch folders of another host are removed only when this old (its processes are unknown).
FOREIGN_SCRATCH_SECONDS = 24 * 3600


def sweep_scratch(data_dir: Path, staged_in_use: Iterable[str],
                  older_than: float = STALE_SECONDS) -> list[Path]:
    """Remove scratch folders whose process died (this host) or that are a day old (another
    host's), and staged uploads no queued or running job needs whose process died or that
    were last written more than ``older_than`` seconds ago (younger ones of a living or
    unknown process may still be arriving)."""
    scratch = scratch_root(data_dir)
    if not scratch.exists():
        return []
    removed: list[Path] = []
    now = time.time()
    for folder in sorted(f for prefix in SCRATCH_PREFIXES for f in scratch.glob(f"{prefix}-*")):
        if _owner_gone(folder) or (not _on_this_host(folder)
                                   and folder.stat().st_mtime < now - FOREIGN_SCRATCH_SECONDS):
            _remove(folder)
            removed.append(folder)
    keep = {Path(p).resolve() for p in staged_in_use}
    uploads = uploads_folder(data_dir)
    for staged in sorted(uploads.glob("*.upload")) if uploads.exists() else []:
        if staged.resolve() not in keep and (_owner_gone(staged.with_suffix(""))
                                             or staged.stat().st_mtime < now - older_than):
            staged.unlink(missing_ok=True)
            removed.append(staged)
    return removed


def sweep(data_dir: Path, referenced: Iterable[str], staged_in_use: Iterable[str],
          older_than: float = STALE_SECONDS) -> list[Path]:
    """What :func:`sweep_scratch` removes, and Parquet files no row points to once they are
    older than ``older_than`` (so another process's attempt about to commit is spared).
    Walks every table file: run at start-up, not in a loop."""
    removed = sweep_scratch(data_dir, staged_in_use, older_than)
    keep = {(data_dir / p).resolve() for p in referenced}
    limit = time.time() - older_than
    tables = tables_dir(data_dir)
    for path in sorted(tables.rglob("*.parquet*")) if tables.exists() else []:
        if path.resolve() not in keep and path.stat().st_mtime < limit:
            _remove(path)
            removed.append(path)
    return removed
