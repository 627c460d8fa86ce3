"""Maps allmende's error hierarchy to HTTP in one place.

API paths answer ``{"error": {"code", "message", "fields": [{"field", "message"}]}}``;
UI paths render the error page. Messages are rendered in the request's language: the UI's
(``?lang=``, cookie), for API clients also ``Accept-Language``.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, Field
from starlette.exceptions import HTTPException
from starlette.routing import Match

from allmende.catalog.validation import field_errors
from allmende.errors import AllmendeError, Invalid, TooManyRequests, msg
from allmende.web.i18n import api_language_of, localize, localized_entry
from allmende.web.ui.render import render_error

#: Refusals (401, 403) for the operators, apart from the access log: what was refused, why.
security = logging.getLogger("allmende.security")

HTTP_MESSAGES = {
    # FastAPI's answer to a body it cannot parse (e.g. a form where JSON is expected)
    400: ("bad_request", msg("Der Inhalt der Anfrage lässt sich nicht lesen.")),
    404: ("not_found", msg("Diese Seite gibt es nicht.")),
    405: ("method_not_allowed", msg("Diese Methode ist hier nicht erlaubt.")),
    413: ("too_large", msg("Die Anfrage ist zu groß.")),
}


class ErrorField(BaseModel):
    field: str = Field(description="Feld, Parameter oder Spalte, die nicht passt")
    message: str


class ErrorDetail(BaseModel):
    code: str = Field(description="Maschinenlesbar, z. B. not_found, invalid, name_taken")
    message: str = Field(description="Für Menschen, in der Sprache der Anfrage")
    fields: list[ErrorField] = Field(default_factory=list,
                                     description="Bei 422: je betroffenem Feld eine Meldung")


class ErrorBody(BaseModel):
    """Every error answer of the API (the OpenAPI document lists it per operation)."""

    error: ErrorDetail


def error_body(error: AllmendeError, language: str = "de") -> dict:
    fields = [ErrorField(field=f.field, message=localize(f.message, language))
              for f in error.field_errors]
    body = ErrorBody(error=ErrorDetail(code=error.code,
                                       message=localize(error.message, language), fields=fields))
    return body.model_dump(exclude_defaults=True)


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
    if isinstance(error, MethodNotAllowed):
        return {"Allow": error.allow}
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
        if error.status in (401, 403):
            _log_refusal(request, error)
        return _respond(request, error)

    @app.exception_handler(RequestValidationError)
    async def validation_error(request: Request, error: RequestValidationError) -> Response:
        return _respond(request, Invalid(field_errors=field_errors(error.errors(), skip=1)))

    @app.exception_handler(HTTPException)
    async def http_error(request: Request, error: HTTPException) -> Response:
        code, message = HTTP_MESSAGES.get(error.status_code, ("http_error", str(error.detail)))
        if error.status_code == 405:
            return _respond(request, MethodNotAllowed(message, code, 405,
                                                      allow=_allowed_methods(request)))
        return _respond(request, AllmendeError(message, code, error.status_code))


def _log_refusal(request: Request, error: AllmendeError) -> None:
    """Every refusal (a forged, expired or revoked token, a read outside an agreement …) in
    the server's log for its operators: what and from where, never a token or password."""
    security.info("refused %d %s: %s %s from %s", error.status, error.code, request.method,
                  request.url.path, request.client.host if request.client else "-")


_METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS")


@dataclass
class MethodNotAllowed(AllmendeError):
    allow: str = ""


def _allowed_methods(request: Request) -> str:
    """Every method the path answers to (RFC 9110 asks for them in ``Allow``), as the router
    itself decides it: Starlette names only those of the first route that matched the path,
    and each FastAPI route holds one method."""
    routes = request.app.router.routes
    return ", ".join(method for method in _METHODS if any(
        route.matches({**request.scope, "method": method})[0] is Match.FULL for route in routes))
