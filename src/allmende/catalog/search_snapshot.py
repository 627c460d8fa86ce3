"""Snapshots of the search index's base segment in the data directory.

A process starts by mapping the newest snapshot and reading only the catalog rows changed
after the revision it covers, instead of building the index from the whole catalog. The
arrays are mapped read-only, so several processes on one machine share their pages.

Layout of ``DATA_DIR/search/``::

    CURRENT                       the name of the newest complete snapshot (replaced atomically)
    writer.lock                   held (flock) by the one process writing at a time
    base-<revision>-<token>/      meta.json and one .npy file per array of the segment

A snapshot is written into ``tmp-<token>/`` (every file fsynced, ``meta.json`` last with a
CRC-32 of every array), renamed to its final name, and only then named in ``CURRENT``. A crash
at any point leaves ``CURRENT`` naming the previous complete snapshot; leftovers are removed by
the next writer. A snapshot that fails any check (missing file, wrong size or checksum, another
database, another format) is ignored: the index is then built from the database.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import logging
import os
import shutil
import uuid
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from allmende.catalog.search_segment import Segment

FORMAT = 4  # 4: UUID halves per row
KEEP = 2  # complete snapshots kept: the current one and the one before (a reader may be
# between reading CURRENT and mapping the files)
log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Snapshot:
    segment: Segment
    revision: int
    name: str


class SnapshotStore:
    """The snapshots of one database's index in one directory. ``fingerprint()`` identifies
    the database, so a data directory reused with another database never serves its index."""

    def __init__(self, directory: Path, fingerprint: Callable[[], str]) -> None:
        self.directory = directory
        self._fingerprint = fingerprint
        self._seen: tuple[int, int] | None = None
        self._current_revision = -1

    @property
    def _pointer(self) -> Path:
        return self.directory / "CURRENT"

    def newest_revision(self) -> int:
        """The revision of the snapshot CURRENT names (-1: none); one stat() when unchanged."""
        try:
            stat = self._pointer.stat()
        except OSError:
            return -1
        if self._seen != (stat.st_ino, stat.st_mtime_ns):
            self._seen = (stat.st_ino, stat.st_mtime_ns)
            self._current_revision = _revision_of(self._read_pointer() or "")
        return self._current_revision

    def _read_pointer(self) -> str | None:
        try:
            return self._pointer.read_text().strip() or None
        except OSError:
            return None

    def load(self, verify: bool = True) -> Snapshot | None:
        """The newest complete snapshot of this database, mapped; None if there is none or it
        fails a check (then it is logged and ignored)."""
        name = self._read_pointer()
        if name is None:
            return None
        try:
            return self._load(name, verify)
        except Exception as error:  # any damage means: rebuild, never crash
            log.warning("search index snapshot %s ignored: %s", self.directory / name, error)
            return None

    def _load(self, name: str, verify: bool, fingerprint: str | None = None) -> Snapshot:
        """Snapshot ``name``, checked against ``fingerprint`` (the database's, asked now if not
        given)."""
        folder = self.directory / name
        meta = json.loads((folder / "meta.json").read_text())
        if meta.get("format") != FORMAT:
            raise ValueError(f"format {meta.get('format')!r}, expected {FORMAT}")
        if meta["fingerprint"] != (fingerprint or self._fingerprint()):
            raise ValueError("made from another database")
        arrays = {}
        for key, entry in meta["arrays"].items():
            path = folder / f"{key}.npy"
            array = _map(path)
            if list(array.shape) != entry["shape"] or str(array.dtype) != entry["dtype"]:
                raise ValueError(f"{path.name}: shape or type differs from meta.json")
            if verify and _file_crc(path, array) != entry["crc32"]:
                raise ValueError(f"{path.name}: checksum differs")
            arrays[key] = array
        segment = Segment(arrays, meta["organization_names"])
        if segment.size != meta["rows"] or arrays["term_indptr"][-1] != len(arrays["term_docs"]):
            raise ValueError("inconsistent arrays")
        return Snapshot(segment, int(meta["revision"]), name)

    @contextlib.contextmanager
    def writer(self, blocking: bool) -> Iterator[bool]:
        """Hold the right to write snapshots (an flock, released when the process dies);
        yields False when another process holds it (non-blocking) or it cannot be had."""
        try:
            self.directory.mkdir(parents=True, exist_ok=True)
            handle = open(self.directory / "writer.lock", "a+")  # noqa: SIM115
        except OSError as error:
            log.warning("search index snapshots disabled (%s): %s", self.directory, error)
            yield False
            return
        with handle:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | (0 if blocking else fcntl.LOCK_NB))
            except BlockingIOError:
                yield False
                return
            try:
                yield True
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)

    def save(self, segment: Segment, revision: int) -> Snapshot:
        """Write the segment as the newest snapshot (the caller holds ``writer``) and return it
        mapped from its files."""
        token = uuid.uuid4().hex[:12]
        temporary = self.directory / f"tmp-{token}"
        temporary.mkdir(parents=True)
        entries = {}
        for key, array in segment.arrays.items():
            contiguous = np.ascontiguousarray(array)
            with open(temporary / f"{key}.npy", "wb") as out:
                np.save(out, contiguous, allow_pickle=False)
                out.flush()
                os.fsync(out.fileno())
            entries[key] = {"shape": list(contiguous.shape), "dtype": str(contiguous.dtype),
                            "crc32": zlib.crc32(contiguous.reshape(-1).view(np.uint8))}
        # asked once: the first dataset may be made meanwhile, which changes the fingerprint
        # of an empty catalog (the next start then rebuilds, as it should)
        fingerprint = self._fingerprint()
        meta = {"format": FORMAT, "revision": revision, "rows": segment.size,
                "fingerprint": fingerprint, "arrays": entries,
                "organization_names": segment.organization_names}
        _write_synced(temporary / "meta.json", json.dumps(meta))
        name = f"base-{revision}-{token}"
        os.replace(temporary, self.directory / name)
        _sync_directory(self.directory)
        _write_synced(self.directory / f"CURRENT.{token}", name)
        os.replace(self.directory / f"CURRENT.{token}", self._pointer)
        _sync_directory(self.directory)
        self._tidy(name)
        return self._load(name, verify=False, fingerprint=fingerprint)

    def _tidy(self, current: str) -> None:
        """Remove what no reader needs: unfinished writes and all but the newest snapshots
        (called by the writer only, so every tmp- folder is a dead writer's)."""
        complete = sorted((p for p in self.directory.glob("base-*") if p.name != current),
                          key=lambda p: _revision_of(p.name), reverse=True)
        for path in [*self.directory.glob("tmp-*"), *self.directory.glob("CURRENT.*"),
                     *complete[KEEP - 1:]]:
            if path.is_dir():
                shutil.rmtree(path, ignore_errors=True)
            else:
                path.unlink(missing_ok=True)


def _revision_of(name: str) -> int:
    try:
        return int(name.split("-")[1])
    except (IndexError, ValueError):
        return -1


def _map(path: Path) -> np.ndarray:
    with open(path, "rb") as handle:
        version = np.lib.format.read_magic(handle)
        read_header = (np.lib.format.read_array_header_1_0 if version == (1, 0)
                       else np.lib.format.read_array_header_2_0)
        shape, _order, _dtype = read_header(handle)
    if int(np.prod(shape)) == 0:  # an empty file cannot be mapped
        return np.load(path, allow_pickle=False)
    return np.asarray(np.load(path, mmap_mode="r", allow_pickle=False))


def _file_crc(path: Path, array: np.ndarray) -> int:
    """CRC-32 of the array's bytes, read from the file (not through the mapping, so checking
    does not make the pages part of this process's memory)."""
    size = array.nbytes
    crc = 0
    with open(path, "rb") as handle:
        handle.seek(os.path.getsize(path) - size)
        while chunk := handle.read(8 << 20):
            crc = zlib.crc32(chunk, crc)
    return crc


def _write_synced(path: Path, text: str) -> None:
    with open(path, "w") as out:
        out.write(text)
        out.flush()
        os.fsync(out.fileno())


def _sync_directory(path: Path) -> None:
    descriptor = os.open(path, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)
