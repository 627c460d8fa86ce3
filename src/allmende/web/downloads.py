"""Downloads that cannot flood the machine: a bounded number run at once (per client and in
total, per web process), and one whose client goes away stops within a batch.

A download holds a slot from its request until its stream ends; without a free slot it is
answered ``429`` with ``Retry-After``. Its export runs chunk by chunk in the thread pool; when
Starlette cancels the response because the client disconnected, the export's ``cancelled``
event is set, which stops it at its next batch (also while an XLSX file is still being built),
and the export's generator is closed so it removes its temporary files.
"""

from __future__ import annotations

import re
import threading
import unicodedata
from collections import Counter
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from urllib.parse import quote

import anyio.to_thread
from fastapi import Request
from fastapi.responses import StreamingResponse

from allmende.errors import TooManyRequests, msg
from allmende.tables.export import ExportCancelled
from allmende.tables.query import RowQuery
from allmende.tables.reader import TableReader

_GERMAN_LETTERS = str.maketrans({"ä": "ae", "ö": "oe", "ü": "ue", "Ä": "Ae", "Ö": "Oe",
                                 "Ü": "Ue", "ß": "ss"})
_UNSAFE_IN_FALLBACK = re.compile(r'[^A-Za-z0-9.()\- ]+')
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")

#: Seconds a refused client is asked to wait.
RETRY_AFTER = 10


class DownloadSlots:
    """How many downloads run, per client address and in total."""

    def __init__(self, total: int, per_client: int) -> None:
        self.total = total
        self.per_client = per_client
        self._running: Counter[str] = Counter()
        self._lock = threading.Lock()

    def take(self, client: str) -> Callable[[], None]:
        """A slot for ``client``, or :class:`TooManyRequests`; returns its release."""
        with self._lock:
            if self._running[client] >= self.per_client:
                raise TooManyRequests(msg(
                    "Sie laden bereits {count} Dateien gleichzeitig herunter. Bitte warten "
                    "Sie, bis eine fertig ist.", count=self._running[client]), RETRY_AFTER,
                    "too_many_downloads")
            if sum(self._running.values()) >= self.total:
                raise TooManyRequests(msg(
                    "Der Server erstellt gerade viele Dateien. Bitte versuchen Sie es in "
                    "{seconds} Sekunden erneut.", seconds=RETRY_AFTER), RETRY_AFTER,
                    "server_busy")
            self._running[client] += 1
        released = threading.Event()

        def release() -> None:
            if released.is_set():
                return
            released.set()
            with self._lock:
                self._running[client] -= 1
                if self._running[client] <= 0:
                    del self._running[client]

        return release

    @property
    def running(self) -> int:
        with self._lock:
            return sum(self._running.values())


class _Guarded:
    """The export's chunk generator, never resumed and closed at the same time."""

    def __init__(self, chunks: Iterator[bytes]) -> None:
        self.chunks = chunks
        self.lock = threading.Lock()

    def next(self) -> bytes | None:
        with self.lock:
            try:
                return next(self.chunks)
            except (StopIteration, ExportCancelled):
                return None

    def close(self) -> None:
        with self.lock:
            self.chunks.close()


async def stream(chunks: Iterator[bytes], cancelled: threading.Event,
                 release: Callable[[], None]) -> AsyncIterator[bytes]:
    """The export's chunks for a StreamingResponse; however it ends (done, failed, or the
    client gone), the export stops, cleans up and gives its slot back."""
    guarded = _Guarded(chunks)
    try:
        # abandoned on cancel: a disconnect must not wait for the chunk being made, it has to
        # reach `cancelled` to stop it
        while (chunk := await anyio.to_thread.run_sync(guarded.next,
                                                       abandon_on_cancel=True)) is not None:
            yield chunk
    finally:
        cancelled.set()

        def finish() -> None:  # waits for a chunk still being made, which stops at its batch
            try:
                guarded.close()
            finally:
                release()

        threading.Thread(target=finish, name="download-cleanup", daemon=True).start()


def file_response(request: Request, table: TableReader, query: RowQuery, fmt: str
                  ) -> StreamingResponse:
    """The selection as a file in ``fmt``, in one of the server's download slots."""
    slots: DownloadSlots = request.app.state.download_slots
    release = slots.take(request.client.host if request.client else "")
    cancelled = threading.Event()
    try:
        exported = table.export(query, fmt, cancelled=cancelled)
    except BaseException:
        release()
        raise
    name = exported.filename(f"{Path(table.resource_name).stem}-v{table.version}")
    return StreamingResponse(stream(exported.chunks, cancelled, release),
                             media_type=exported.media_type,
                             headers={"Content-Disposition": attachment(name)})


def attachment(filename: str) -> str:
    """A ``Content-Disposition`` value that keeps ``filename`` (RFC 6266): an ASCII fallback
    for old clients (umlauts transliterated, anything else replaced) and the exact name as
    ``filename*`` in UTF-8 (RFC 8187), which every current browser prefers."""
    filename = _CONTROL.sub("", filename)
    folded = unicodedata.normalize("NFKD", filename.translate(_GERMAN_LETTERS))
    ascii_name = "".join(c for c in folded if not unicodedata.combining(c))
    stem, dot, suffix = _UNSAFE_IN_FALLBACK.sub("_", ascii_name).rpartition(".")
    if not dot:
        stem, suffix = suffix, ""
    fallback = f"{stem.strip(' _') or 'download'}{dot}{suffix}"
    return f"attachment; filename=\"{fallback}\"; filename*=UTF-8''{quote(filename, safe='')}"
