"""The transparency log's API, mounted at ``/log/v1`` (docs/transparency.md):

- ``GET /checkpoint``: the newest signed checkpoint (C2SP signed note, ``text/plain``);
- ``GET /key``: the verifier key (``name+hash+base64``);
- ``GET /entries?start=&end=``: entries ``start`` to ``end`` (exclusive), at most 1,000;
- ``GET /proof/inclusion?index=&tree_size=`` and ``GET /proof/consistency?first=&second=``:
  RFC 6962 proofs, ``{"hashes": [base64, …]}``.

Everything here is public: the log holds no personal data in clear, and a witness must read
all of it. Errors are one line of plain text (German, English with ``Accept-Language: en``)
with status 400 for a bad range or parameter, 404 for an unknown path.
"""

from __future__ import annotations

import base64
import logging
from collections.abc import Callable

import orjson
from sqlalchemy.orm import Session
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route

from allmende.errors import AllmendeError, Message, msg
from allmende.platform import Platform
from allmende.transparency import checkpoints, log
from allmende.web.i18n import api_language_of, localize

logger = logging.getLogger(__name__)


def create_app(platform: Platform) -> Starlette:
    endpoints = Endpoints(platform)
    return Starlette(routes=[
        Route("/checkpoint", endpoints.checkpoint),
        Route("/key", endpoints.key),
        Route("/entries", endpoints.entries),
        Route("/proof/inclusion", endpoints.inclusion),
        Route("/proof/consistency", endpoints.consistency),
    ], exception_handlers={HTTPException: _http_error})


class Endpoints:
    def __init__(self, platform: Platform) -> None:
        self.platform = platform

    async def checkpoint(self, request: Request) -> Response:
        def build(session: Session) -> Response:
            note = checkpoints.latest(session, self.platform.settings).note
            return PlainTextResponse(note, headers={"Cache-Control": "no-cache"})
        return await self._answer(request, build)

    async def key(self, request: Request) -> Response:
        verifier = checkpoints.signer_for(self.platform.settings).verifier
        return PlainTextResponse(f"{verifier}\n")

    async def entries(self, request: Request) -> Response:
        start, end = _number(request, "start"), _number(request, "end")

        def build(session: Session) -> Response:
            found = log.entries(session, start, end)
            return _json({"entries": [
                {"index": e.index, "leaf": base64.b64encode(e.leaf).decode(), "event": e.event}
                for e in found]})
        return await self._answer(request, build)

    async def inclusion(self, request: Request) -> Response:
        index, size = _number(request, "index"), _number(request, "tree_size")
        return await self._answer(request, lambda session: _json({
            "index": index, "tree_size": size,
            "hashes": _encoded(log.inclusion_proof(session, index, size))}))

    async def consistency(self, request: Request) -> Response:
        first, second = _number(request, "first"), _number(request, "second")
        return await self._answer(request, lambda session: _json({
            "first": first, "second": second,
            "hashes": _encoded(log.consistency_proof(session, first, second))}))

    async def _answer(self, request: Request, build: Callable[[Session], Response]
                      ) -> Response:
        def run() -> Response:
            with self.platform.db.session() as session:
                return build(session)
        try:
            return await run_in_threadpool(run)
        except AllmendeError as error:
            return _text(localize(error.message, api_language_of(request)), error.status)
        except Exception:
            logger.exception("log request %s failed", request.url.path)
            return _text(localize(msg("Interner Fehler."), api_language_of(request)), 500)


class _BadParameter(HTTPException):
    def __init__(self, message: Message) -> None:
        super().__init__(400, message)
        self.message = message


def _number(request: Request, name: str) -> int:
    text = request.query_params.get(name)
    if text is None or not text.isdigit() or len(text) > 18:
        raise _BadParameter(msg("Der Parameter „{name}“ muss eine ganze Zahl ab 0 sein.",
                                name=name))
    return int(text)


def _encoded(hashes: list[bytes]) -> list[str]:
    return [base64.b64encode(h).decode() for h in hashes]


def _json(body: object) -> Response:
    return Response(orjson.dumps(body), media_type="application/json")


def _text(message: str, status: int) -> Response:
    return PlainTextResponse(message + "\n", status_code=status)


async def _http_error(request: Request, error: Exception) -> Response:
    language = api_language_of(request)
    if isinstance(error, _BadParameter):
        return _text(localize(error.message, language), 400)
    status = getattr(error, "status_code", 500)
    message = msg("Hier gibt es nur GET.") if status == 405 else \
        msg("Diese Adresse gibt es nicht.")
    return _text(localize(message, language), status)

