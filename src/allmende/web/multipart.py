"""Multipart uploads read as a stream, only after the caller was allowed in: file parts go
straight to a staging folder, every byte is counted, and reading stops at the limit.

FastAPI's ``UploadFile`` parameters make the framework read (and spool) the whole body before
any check of the handler runs: an anonymous 1 GiB upload was stored, then answered 401. An
endpoint that uses :func:`receive` instead checks authentication and permission first, then
reads; a body over the limit is answered 413 at the byte where it crosses it, and whatever was
staged of it is removed.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from python_multipart.exceptions import MultipartParseError
from python_multipart.multipart import MultipartParser, parse_options_header
from starlette.requests import Request

from allmende.errors import Invalid, TooLarge, msg
from allmende.tables import store

#: Form fields beside the file are short (names, options).
MAX_FIELD_BYTES = 64 * 1024
MAX_PARTS = 20


def _too_large(limit: int) -> TooLarge:
    return TooLarge(msg("Die Datei ist größer als erlaubt ({megabytes} MB).",
                        megabytes=limit // (1 << 20)))


@dataclass
class StagedFile:
    path: Path
    filename: str
    size: int = 0


@dataclass
class Received:
    fields: dict[str, str] = field(default_factory=dict)
    files: dict[str, StagedFile] = field(default_factory=dict)

    def discard(self) -> None:
        for staged in self.files.values():
            staged.path.unlink(missing_ok=True)


class _Reader:
    """The parser's callbacks: collect fields, write file parts to the folder."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.received = Received()
        self._headers: dict[bytes, bytes] = {}
        self._header = b""
        self._value = b""
        self._name = ""
        self._buffer = bytearray()
        self._file: IO[bytes] | None = None
        self._staged: StagedFile | None = None
        self.parts = 0

    def callbacks(self) -> dict:
        return {"on_part_begin": self._begin, "on_header_field": self._header_field,
                "on_header_value": self._header_value, "on_header_end": self._header_end,
                "on_headers_finished": self._headers_done, "on_part_data": self._data,
                "on_part_end": self._end}

    def _begin(self) -> None:
        self.parts += 1
        if self.parts > MAX_PARTS:
            raise Invalid(msg("Zu viele Formularteile."), code="too_many_parts")
        self._headers, self._buffer, self._file, self._staged = {}, bytearray(), None, None

    def _header_field(self, data: bytes, start: int, end: int) -> None:
        self._header += data[start:end]

    def _header_value(self, data: bytes, start: int, end: int) -> None:
        self._value += data[start:end]

    def _header_end(self) -> None:
        self._headers[self._header.lower()] = self._value
        self._header, self._value = b"", b""

    def _headers_done(self) -> None:
        _kind, options = parse_options_header(self._headers.get(b"content-disposition", b""))
        self._name = options.get(b"name", b"").decode("utf-8", "replace")
        if b"filename" in options:
            filename = Path(options[b"filename"].decode("utf-8", "replace")).name
            path = store.staged_upload(self.folder)
            self._staged = StagedFile(path, filename)
            self.received.files[self._name] = self._staged
            self._file = path.open("wb")

    def _data(self, data: bytes, start: int, end: int) -> None:
        if self._file is not None and self._staged is not None:
            self._file.write(data[start:end])
            self._staged.size += end - start
            return
        self._buffer += data[start:end]
        if len(self._buffer) > MAX_FIELD_BYTES:
            raise Invalid(msg("Das Formularfeld „{name}“ ist zu lang.", name=self._name),
                          code="field_too_long")

    def _end(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None
        else:
            self.received.fields[self._name] = self._buffer.decode("utf-8", "replace")

    def close(self) -> None:
        if self._file is not None:
            self._file.close()


async def receive(request: Request, folder: Path, limit: int) -> Received:
    """Read a multipart body into fields and staged files under ``folder``, at most ``limit``
    bytes of files (413 beyond it, with nothing kept)."""
    kind, options = parse_options_header(request.headers.get("content-type"))
    if kind != b"multipart/form-data" or b"boundary" not in options:
        raise Invalid(msg("Erwartet wird ein Formular mit Datei (multipart/form-data)."),
                      code="not_multipart")
    declared = int(request.headers.get("content-length") or 0)
    if declared > limit + (1 << 20):
        raise _too_large(limit)
    folder.mkdir(parents=True, exist_ok=True)
    reader = _Reader(folder)
    parser = MultipartParser(options[b"boundary"], reader.callbacks())
    read = 0
    try:
        async for chunk in request.stream():
            read += len(chunk)
            if read > limit + MAX_PARTS * MAX_FIELD_BYTES:
                raise _too_large(limit)
            parser.write(chunk)
            if sum(f.size for f in reader.received.files.values()) > limit:
                raise _too_large(limit)
        parser.finalize()
    except MultipartParseError as error:
        reader.close()
        reader.received.discard()
        raise Invalid(msg("Das Formular ist beschädigt ({error}).", error=str(error)),
                      code="bad_multipart") from None
    except BaseException:
        reader.close()
        reader.received.discard()
        raise
    return reader.received


class CloseUnreadBodies:
    """ASGI middleware: a response given before the request's body was read to its end (a
    refusal of an upload) closes the connection, so the server stops receiving the rest
    instead of reading and discarding gigabytes to keep the connection alive."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = dict(scope.get("headers") or [])
        pending = [b"transfer-encoding" in headers
                   or int(headers.get(b"content-length", b"0") or 0) > 0]

        async def tracked_receive() -> dict:
            message = await receive()
            if message["type"] == "http.request" and not message.get("more_body", False):
                pending[0] = False
            return message

        async def closing_send(message: dict) -> None:
            if message["type"] == "http.response.start" and pending[0]:
                message = {**message, "headers": [*message.get("headers", []),
                                                  (b"connection", b"close")]}
            await send(message)

        await self.app(scope, tracked_receive, closing_send)
