"""Maps allmende's error hierarchy to HTTP in one place.

API paths answer ``{"error": {"code", "message", "fields": [{"field", "message"}]}}``;
UI paths render the error page.
"""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from starlette.exceptions import HTTPException

from allmende.catalog.validation import field_errors
from allmende.errors import AllmendeError, Invalid
from allmende.web.ui.render import render_error

HTTP_MESSAGES = {
    404: ("not_found", "Diese Seite gibt es nicht."),
    405: ("method_not_allowed", "Diese Methode ist hier nicht erlaubt."),
    413: ("too_large", "Die Anfrage ist zu groß."),
}


def error_body(error: AllmendeError) -> dict:
    body: dict = {"code": error.code, "message": error.message}
    if error.field_errors:
        body["fields"] = [{"field": f.field, "message": f.message} for f in error.field_errors]
    return {"error": body}


def _wants_html(request: Request) -> bool:
    return not request.url.path.startswith(("/api/", "/healthz")) and \
        "text/html" in request.headers.get("accept", "")


def _respond(request: Request, error: AllmendeError) -> Response:
    headers = {"WWW-Authenticate": "Bearer"} if error.status == 401 else None
    if _wants_html(request):
        return render_error(request, error)
    return JSONResponse(error_body(error), status_code=error.status, headers=headers)


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
