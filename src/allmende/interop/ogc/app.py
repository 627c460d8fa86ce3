"""OGC API Features as an application of its own, mounted at /ogc: the format (``f=json|html``
or the Accept header), the caller (a bearer token or the browser's session, else anonymous)
and OGC's errors in one place; the documents come from :mod:`.views`."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

import orjson
from fastapi.openapi.docs import get_swagger_ui_html
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from allmende.errors import AllmendeError, msg
from allmende.interop.links import Links
from allmende.interop.ogc import views
from allmende.interop.ogc.errors import OgcError, from_allmende, not_found
from allmende.interop.ogc.links import OgcLinks
from allmende.platform import Platform
from allmende.web.deps import get_actor
from allmende.web.i18n import api_language_of, language_of, localize
from allmende.web.ui.render import render

log = logging.getLogger(__name__)
FORMATS = ("json", "html")
_HTML_TYPES = ("text/html", "application/xhtml+xml")


def create_app(platform: Platform) -> Starlette:
    def endpoint(view: Callable[..., views.Answer]) -> Callable[[Request], Any]:
        async def answer(request: Request) -> Response:
            return await run_in_threadpool(_answer, platform, request, view)
        return answer

    routes = [
        Route("/", endpoint(views.landing), methods=["GET"]),
        Route("/conformance", endpoint(views.conformance), methods=["GET"]),
        Route("/api", endpoint(views.api), methods=["GET"]),
        Route("/collections", endpoint(views.collection_list), methods=["GET"]),
        Route("/collections/{collection_id}", endpoint(views.collection), methods=["GET"]),
        Route("/collections/{collection_id}/items", endpoint(views.features),
              methods=["GET"]),
        Route("/collections/{collection_id}/items/{feature_id}", endpoint(views.feature),
              methods=["GET"]),
    ]

    async def http_error(request: Request, error: Exception) -> Response:
        status = error.status_code if isinstance(error, HTTPException) else 500
        problem = not_found(request.url.path) if status == 404 else OgcError(
            status, msg("Diese Methode ist hier nicht erlaubt.") if status == 405
            else msg("Interner Fehler."))
        return _error(request, problem, _wants_html(request))

    return Starlette(routes=routes, exception_handlers={HTTPException: http_error})


def _answer(platform: Platform, request: Request, view: Callable[..., views.Answer]
            ) -> Response:
    html = _wants_html(request)
    # pages speak the UI's language (?lang=, cookie); API clients also Accept-Language
    language = language_of(request) if html else api_language_of(request)
    try:
        _check_format(request)
        with platform.db.session() as session:
            call = views.Call(platform, session, get_actor(request, session), request,
                              OgcLinks(Links(platform.settings.base_url)), html, language)
            answer = view(call, **request.path_params)
            return _respond(call, answer)
    except OgcError as error:
        return _error(request, error, html)
    except AllmendeError as error:
        return _error(request, from_allmende(error, lambda m: localize(m, language)), html)
    except Exception:
        log.exception("OGC API request %s failed", request.url.path)
        return _error(request, OgcError(500, msg("Interner Fehler.")), html)


def _respond(call: views.Call, answer: views.Answer) -> Response:
    request = call.request
    if call.html and answer.template:
        settings = call.platform.settings
        page = render(request, answer.template, {
            **answer.context, "ogc_url": views.LOCAL.url, "tile_url": settings.map_tile_url,
            "tile_attribution": settings.map_tile_attribution}, actor=call.actor)
        page.headers.update(answer.headers)
        return page
    if call.html:  # the API description: Swagger UI, with the assets the app ships
        return get_swagger_ui_html(
            openapi_url=views.LOCAL.url("/api", f="json"), title="allmende – OGC API Features",
            swagger_js_url="/static/swagger-ui/swagger-ui-bundle.js",
            swagger_css_url="/static/swagger-ui/swagger-ui.css",
            swagger_favicon_url="/static/favicon.svg")
    return Response(orjson.dumps(answer.body), media_type=answer.media_type,
                    headers=answer.headers)


def _error(request: Request, error: OgcError, html: bool) -> Response:
    if html:
        problem = AllmendeError(localize(error.description, language_of(request)),
                                error.code, error.status)
        return render(request, "error.html", {"error": problem}, status_code=error.status)
    body = error.body(lambda m: localize(m, api_language_of(request)))
    headers = {"WWW-Authenticate": "Bearer"} if error.status == 401 else {}
    return Response(orjson.dumps(body), status_code=error.status,
                    media_type="application/json", headers=headers)


def _check_format(request: Request) -> None:
    chosen = request.query_params.get("f")
    if chosen is not None and chosen not in FORMATS:
        raise OgcError(400, msg("Unbekanntes Format „{format}“ (erlaubt: {allowed}).",
                                format=chosen, allowed=", ".join(FORMATS)))


def _wants_html(request: Request) -> bool:
    """``f=html`` or ``f=json`` decide (another ``f`` is refused as JSON); without ``f`` the
    Accept header does: HTML only when it is preferred to JSON (browsers, not GIS
    clients)."""
    chosen = request.query_params.get("f")
    if chosen is not None:
        return chosen == "html"
    html = other = 0.0
    for part in request.headers.get("accept", "").split(","):
        media_type, _, params = part.strip().partition(";")
        quality = _quality(params)
        if media_type.strip().lower() in _HTML_TYPES:
            html = max(html, quality)
        elif media_type.strip():
            other = max(other, quality)
    return html > other


def _quality(params: str) -> float:
    for param in params.split(";"):
        key, _, value = param.strip().partition("=")
        if key.strip() == "q":
            try:
                return float(value)
            except ValueError:
                return 0.0
    return 1.0
