"""Template rendering with the request's language, the signed-in user and the CSRF token."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates
from jinja2 import Environment, FileSystemLoader
from markupsafe import Markup

from allmende.access.policy import ANONYMOUS, Actor
from allmende.catalog import vocabularies
from allmende.errors import AllmendeError, Message
from allmende.harmonize.service import dataset_texts
from allmende.web import i18n
from allmende.web.deps import csrf_token
from allmende.web.ui import helpers
from allmende.web.ui.ingest_options import upload_options

TEMPLATES = Path(__file__).parent.parent / "templates"

# Autoescaping stays on for every template: user input is never marked safe.
templates = Jinja2Templates(env=Environment(
    loader=FileSystemLoader(TEMPLATES), autoescape=True, extensions=["jinja2.ext.i18n"]))
templates.env.policies["ext.i18n.trimmed"] = True
templates.env.filters["paragraphs"] = helpers.paragraphs
templates.env.filters["excerpt"] = helpers.excerpt
templates.env.filters["user"] = i18n.USER_CONTENT.format
templates.env.globals.update(
    url_with=helpers.url_with, toggle_url=helpers.toggle_url, is_selected=helpers.is_selected,
    field_labels=helpers.FIELD_LABELS, facet_labels=helpers.FACET_LABELS,
    user_facets=helpers.USER_FACETS,
    license_uri=helpers.license_uri, vocab=vocabularies, upload_options=upload_options(),
)


def render(request: Request, template: str, context: dict[str, Any] | None = None,
           status_code: int = 200, actor: Actor | None = None) -> HTMLResponse:
    language = i18n.language_of(request)
    translations = i18n.translations(language)
    actor = actor or getattr(request.state, "actor", None) or ANONYMOUS
    context = {
        "lang": language,
        "languages": i18n.LANGUAGES,
        "csrf_token": csrf_token(request),
        "actor": actor,
        "_": translations.gettext,
        "gettext": translations.gettext,
        "ngettext": translations.ngettext,
        "label": lambda vocabulary, code: helpers.vocab_label(vocabulary, code, language),
        "options": lambda vocabulary: helpers.vocab_options(vocabulary, language),
        "date": lambda value: helpers.format_date(value, language),
        "datetime": lambda value: helpers.format_datetime(value, language),
        "localized": lambda message: i18n.localize_html(message, language),
        "localized_list": lambda messages: Markup(" ").join(
            i18n.localize_html(message, language) for message in messages),
        "dataset_title": lambda dataset: _shown(dataset_texts(dataset).title, language),
        "dataset_excerpt": lambda dataset: _shown(dataset_texts(dataset).description,
                                                  language, helpers.excerpt),
        "dataset_paragraphs": lambda dataset: _paragraphs(dataset_texts(dataset).description,
                                                          language),
        **(context or {}),
    }
    response = templates.TemplateResponse(request, template, context, status_code=status_code)
    if request.query_params.get("lang") in i18n.LANGUAGES:
        response.set_cookie(i18n.COOKIE, language, max_age=365 * 24 * 3600, samesite="lax")
    return response


def _shown(text: str, language: str, shorten: Callable[[str], str] = str) -> Markup:
    """A message in the page's language; other text is what users wrote, and marked so
    (``shorten``: e.g. only an excerpt of it)."""
    if isinstance(text, Message):
        return i18n.localize_html(text, language)
    return i18n.USER_CONTENT.format(shorten(text))


def _paragraphs(text: str, language: str) -> list[Markup]:
    """The text as HTML paragraphs; as :func:`_shown`, those users wrote are marked."""
    if isinstance(text, Message):
        return [Markup("<p>{}</p>").format(i18n.localize_html(text, language))]
    return [Markup("<p data-user-content>{}</p>").format(paragraph)
            for paragraph in helpers.paragraphs(text)]


def render_error(request: Request, error: AllmendeError) -> HTMLResponse:
    return render(request, "error.html", {"error": error}, status_code=error.status)
