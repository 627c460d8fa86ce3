"""Maps allmende's error hierarchy to HTTP in one place.

API paths answer ``{"error": {"code", "message", "fields": [{"field", "message"}]}}``;
UI paths render the error page. Messages are rendered in the request's language: the UI's
(``?lang=``, cookie), for API clients also ``Accept-Language``.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from starlette.exceptions import HTTPException

from allmende.catalog.validation import field_errors
from allmende.errors import AllmendeError, Invalid, TooManyRequests, msg
from allmende.web.i18n import api_language_of, localize, localized_entry
from allmende.web.ui.render import render_error

HTTP_MESSAGES = {
    404: ("not_found", msg("Diese Seite gibt es nicht.")),
    405: ("method_not_allowed", msg("Diese Methode ist hier nicht erlaubt.")),
    413: ("too_large", msg("Die Anfrage ist zu groß.")),
}


def error_body(error: AllmendeError, language: str = "de") -> dict:
    body: dict = {"code": error.code, "message": localize(error.message, language)}
    if error.field_errors:
        body["fields"] = [{"field": f.field, "message": localize(f.message, language)}
                          for f in error.field_errors]
    return {"error": body}


def localized_stored_error(body: dict[str, Any], language: str) -> dict[str, Any]:
    """A failed job's stored error (see ``jobs.queue.fail``) in ``language``, without the
    stored templates (they are no part of the API)."""
    result = localized_entry(body, language)
    if "fields" in body:
        result["fields"] = [localized_entry(f, language) for f in body["fields"]]
    return result


def _wants_html(request: Request) -> bool:
    return not request.url.path.startswith(("/api/", "/healthz")) and \
        "text/html" in request.headers.get("accept", "")


def _headers(error: AllmendeError) -> dict[str, str]:
    if error.status == 401:
        return {"WWW-Authenticate": "Bearer"}
    if isinstance(error, TooManyRequests):
        return {"Retry-After": str(error.retry_after)}
    return {}


def _respond(request: Request, error: AllmendeError) -> Response:
    if _wants_html(request):
        page = render_error(request, error)
        page.headers.update(_headers(error))
        return page
    body = error_body(error, api_language_of(request))
    return JSONResponse(body, status_code=error.status, headers=_headers(error))


def install(app: FastAPI) -> None:
    @app.exception_handler(AllmendeError)
    async def allmende_error(request: Request, error: AllmendeError) -> Response:
        return _respond(request, error)

    @app.exception_handler(RequestValidationError)
    async def validation_error(request: Request, error: RequestValidationError) -> Response:
        return _respond(request, Invalid(field_errors=field_errors(error.errors(), skip=1)))

    @app.exception_handler(HTTPException)
    async def http_error(request: Request, error: HTTPException) -> Response:
        code, message = HTTP_MESSAGES.get(error.status_code, ("http_error", str(error.detail)))
        return _respond(request, AllmendeError(message, code, error.status_code))
