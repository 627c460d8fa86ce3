"""UI translations (gettext catalogs maintained with Babel), German by default.

Two domains: ``messages`` for the UI's own texts (English msgids), ``services`` for the
services' error messages (German msgids: the template given to :func:`allmende.errors.msg`).
The ``.po`` catalogs are compiled in memory at start-up, so no build step is needed.
"""

from __future__ import annotations

import io
from collections.abc import Callable, Mapping
from functools import cache
from pathlib import Path
from typing import Any

from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.support import NullTranslations, Translations
from starlette.requests import HTTPConnection

from allmende.errors import TEMPLATE_KEY, Message, restored, without_template

LOCALE_DIR = Path(__file__).parent / "locale"
LANGUAGES = {"de": "Deutsch", "en": "English"}
DEFAULT_LANGUAGE = "de"
COOKIE = "allmende_lang"
DOMAIN = "messages"
SERVICES_DOMAIN = "services"


def _compile(language: str, domain: str) -> NullTranslations:
    po = LOCALE_DIR / language / "LC_MESSAGES" / f"{domain}.po"
    if not po.exists():
        return NullTranslations()
    with po.open("rb") as handle:
        catalog = read_po(handle, locale=language)
    buffer = io.BytesIO()
    write_mo(buffer, catalog)
    buffer.seek(0)
    return Translations(buffer, domain=domain)


@cache
def translations(language: str) -> NullTranslations:
    return _compile(language, DOMAIN)


@cache
def service_translations(language: str) -> NullTranslations:
    return _compile(language, SERVICES_DOMAIN)


def _translator(language: str) -> Callable[[str], str | None]:
    catalog = service_translations(language)

    def translate(template: str) -> str | None:
        # gettext answers the msgid itself when there is no translation
        translated = catalog.gettext(template)
        return translated if translated != template or not template else None

    return translate


def localize(message: str, language: str) -> str:
    """``message`` in ``language``: German as is; otherwise the translated template of a
    :class:`~allmende.errors.Message` formatted with its parameters. A plain ``str`` and a
    message without translation stay German."""
    if language == DEFAULT_LANGUAGE or not isinstance(message, Message):
        return str(message)
    return message.render(_translator(language))


def localize_text(text: str, language: str) -> str:
    """A stored text that was a message without parameters (e.g. a job's progress), found
    by its German text; anything else as is."""
    if language == DEFAULT_LANGUAGE:
        return text
    return _translator(language)(text) or text


def localized_entry(entry: Mapping[str, Any], language: str) -> dict[str, Any]:
    """A stored entry (``{"message", "i18n", …}``, see :func:`allmende.errors.stored`) with
    its message in ``language`` and without the template (no part of any answer)."""
    result = without_template(entry)
    if "message" in entry:
        result["message"] = localize(restored(entry), language)
    return result


def localized_report(report: Mapping[str, Any], language: str) -> dict[str, Any]:
    """A version's read report with its column notes in ``language``, without templates."""
    result = without_template(report)
    templates = (report.get(TEMPLATE_KEY) or {}).get("notes") or {}
    if "notes" in report:
        result["notes"] = {column: localize(restored({"message": note, TEMPLATE_KEY:
                                                      templates.get(column)}), language)
                           for column, note in report["notes"].items()}
    return result


def language_of(request: HTTPConnection) -> str:
    """Explicit ``?lang=`` first, then the language cookie, then German."""
    for candidate in (request.query_params.get("lang"), request.cookies.get(COOKIE)):
        if candidate in LANGUAGES:
            return candidate
    return DEFAULT_LANGUAGE


def api_language_of(request: HTTPConnection) -> str:
    """As :func:`language_of`, but without ``?lang=`` or cookie an API client's
    ``Accept-Language`` counts too (the UI keeps German as its default)."""
    for candidate in (request.query_params.get("lang"), request.cookies.get(COOKIE)):
        if candidate in LANGUAGES:
            return candidate
    return accepted_language(request.headers.get("accept-language", ""))


def accepted_language(header: str) -> str:
    """The supported language an ``Accept-Language`` header prefers most (``en-GB`` counts as
    ``en``; ``q=0`` refuses), else German."""
    best, best_q = DEFAULT_LANGUAGE, 0.0
    for position, part in enumerate(header.split(",")):
        tag, _, params = part.strip().partition(";")
        language = tag.strip().lower().split("-")[0]
        quality = _quality(params)
        # earlier entries win ties: subtract a little per position
        score = quality - position * 1e-6
        if language in LANGUAGES and quality > 0 and score > best_q:
            best, best_q = language, score
    return best


def _quality(params: str) -> float:
    for param in params.split(";"):
        key, _, value = param.strip().partition("=")
        if key.strip() == "q":
            try:
                return max(0.0, min(1.0, float(value)))
            except ValueError:
                return 0.0
    return 1.0
