"""The CKAN Action API as an application of its own, mounted at /api/3/action and /api/action:
requests in (GET parameters, POST JSON or form), CKAN's envelope out, CKAN's errors in one place.

Callers: an API token as CKAN clients send it (raw in ``Authorization`` or ``X-CKAN-API-Key``,
or as ``Bearer``), else the browser's session, else anonymous. Every action only reads, so no
CSRF token is asked for.
"""

from __future__ import annotations

import logging
from typing import Any

import orjson
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from allmende.access.policy import Actor
from allmende.errors import AllmendeError, msg
from allmende.interop.callers import caller
from allmende.interop.ckan import datastore  # noqa: F401  (registers datastore_search)
from allmende.interop.ckan.actions import ACTIONS, Call
from allmende.interop.ckan.errors import INTERNAL, ActionError, from_allmende
from allmende.interop.links import Links
from allmende.platform import Platform
from allmende.web.i18n import api_language_of, localize

log = logging.getLogger(__name__)
JSON = "application/json;charset=utf-8"


def create_app(platform: Platform) -> Starlette:
    links = Links(platform.settings.base_url)

    async def endpoint(request: Request) -> Response:
        name = request.path_params["name"]
        function = ACTIONS.get(name)
        if function is None:  # CKAN answers a bare JSON string here, not its envelope
            return _json(f"Bad request: Action name not known: {name}", 400)
        try:
            data = await _request_data(request)
        except ValueError as error:
            return _json(f"Bad request: JSON Error: {error}", 400)
        return await run_in_threadpool(_answer, platform, links, request, name, data)

    return Starlette(routes=[Route("/{name}", endpoint, methods=["GET", "POST"])])


def _json(body: Any, status: int = 200) -> Response:
    return Response(orjson.dumps(body), status_code=status, media_type=JSON)


async def _request_data(request: Request) -> dict[str, Any]:
    """GET: the query parameters (a repeated one as a list); POST: the JSON body, or a form."""
    if request.method == "GET":
        data: dict[str, Any] = {}
        for key, value in request.query_params.multi_items():
            data[key] = [*data[key], value] if isinstance(data.get(key), list) else \
                [data[key], value] if key in data else value
        return data
    content_type = request.headers.get("content-type", "")
    if content_type.startswith(("application/x-www-form-urlencoded", "multipart/form-data")):
        form = await request.form()
        return {k: v for k, v in form.items() if isinstance(v, str)}
    body = await request.body()
    if not body.strip():
        return {}
    try:
        parsed = orjson.loads(body)
    except orjson.JSONDecodeError as error:
        raise ValueError(f"the body is not JSON ({error})") from None
    if not isinstance(parsed, dict):
        raise ValueError("the body must be a JSON object")
    return parsed


def _answer(platform: Platform, links: Links, request: Request, name: str,
            data: dict[str, Any]) -> Response:
    language = api_language_of(request)
    envelope: dict[str, Any] = {"help": links.url("/api/3/action/help_show", name=name)}
    try:
        with platform.db.session() as session:
            url = request.url.path + (f"?{request.url.query}" if request.url.query else "")
            call = Call(platform, session, _actor(request, session), language, links, url)
            result = ACTIONS[name](call, data)
    except ActionError as error:
        return _failed(envelope, error, language)
    except AllmendeError as error:
        return _failed(envelope, from_allmende(error), language)
    except Exception:
        log.exception("CKAN action %s failed", name)
        return _failed(envelope, ActionError(INTERNAL, msg("Interner Fehler.")), language)
    return _json({**envelope, "success": True, "result": result})


def _failed(envelope: dict[str, Any], error: ActionError, language: str) -> Response:
    body = {**envelope, "success": False,
            "error": error.body(lambda message: localize(message, language))}
    return _json(body, error.status)


def _actor(request: Request, session: Any) -> Actor:
    token = request.headers.get("x-ckan-api-key", "").strip()
    header = request.headers.get("authorization", "").strip()
    if header:
        scheme, _, rest = header.partition(" ")
        token = rest.strip() if scheme.lower() == "bearer" else header
    return caller(request, session, token or None)
