"""Template rendering with the request's language, the signed-in user and the CSRF token."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates

from allmende.errors import AllmendeError
from allmende.web import i18n
from allmende.web.deps import csrf_token

TEMPLATES = Path(__file__).parent.parent / "templates"

templates = Jinja2Templates(directory=TEMPLATES, extensions=["jinja2.ext.i18n"])
templates.env.policies["ext.i18n.trimmed"] = True


def render(request: Request, template: str, context: dict[str, Any] | None = None,
           status_code: int = 200) -> HTMLResponse:
    language = i18n.language_of(request)
    translations = i18n.translations(language)
    context = {
        "lang": language,
        "languages": i18n.LANGUAGES,
        "csrf_token": csrf_token(request),
        "actor": getattr(request.state, "actor", None),
        "_": translations.gettext,
        "gettext": translations.gettext,
        "ngettext": translations.ngettext,
        **(context or {}),
    }
    response = templates.TemplateResponse(request, template, context, status_code=status_code)
    if request.query_params.get("lang") in i18n.LANGUAGES:
        response.set_cookie(i18n.COOKIE, language, max_age=365 * 24 * 3600, samesite="lax")
    return response


def render_error(request: Request, error: AllmendeError) -> HTMLResponse:
    return render(request, "error.html", {"error": error}, status_code=error.status)
