"""Turns pydantic's validation errors into field-level messages in German (messages, so the web
UI shows them in English too)."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any

from pydantic import ValidationError

from allmende.errors import FieldError, Message, msg

EMAIL = re.compile(r"^(mailto:)?[^@\s]+@[^@\s]+\.[^@\s]+$")
URL = re.compile(r"^https?://[^\s]+$")


def check_url(value: str | None) -> str | None:
    if value and not URL.match(value):
        raise ValueError(msg("Erwartet eine Web-Adresse (http:// oder https://)."))
    return value or None


def check_email(value: str | None) -> str | None:
    if value and not EMAIL.match(value):
        raise ValueError(msg("Keine gültige E-Mail-Adresse."))
    return value or None


_INTEGER = msg("Erwartet eine ganze Zahl.")
_NUMBER = msg("Erwartet eine Zahl.")
_BOOLEAN = msg("Erwartet ja oder nein (true/false).")
_DATE = msg("Erwartet ein Datum (JJJJ-MM-TT).")
_MESSAGES = {
    "missing": msg("Pflichtangabe fehlt."),
    "string_type": msg("Erwartet einen Text."),
    "string_too_short": msg("Darf nicht leer sein."),
    "int_type": _INTEGER, "int_parsing": _INTEGER,
    "float_type": _NUMBER, "float_parsing": _NUMBER,
    "bool_type": _BOOLEAN, "bool_parsing": _BOOLEAN,
    "date_type": _DATE, "date_parsing": _DATE, "date_from_datetime_parsing": _DATE,
    "list_type": msg("Erwartet eine Liste."),
    "dict_type": msg("Erwartet ein Objekt."),
    "extra_forbidden": msg("Dieses Feld gibt es nicht."),
    "too_short": msg("Zu wenige Einträge."),
    "too_long": msg("Zu viele Einträge."),
}


def field_errors_of(error: ValidationError) -> list[FieldError]:
    return field_errors(error.errors(include_url=False))


def field_errors(errors: Iterable[Mapping[str, Any]], skip: int = 0) -> list[FieldError]:
    """German messages for pydantic error entries; ``skip`` drops leading location parts
    (FastAPI prefixes ``body``/``query``/``path``)."""
    result = []
    for item in errors:
        location = ".".join(str(part) for part in item["loc"][skip:]) or "body"
        result.append(FieldError(location, _message(item)))
    return result


def _message(item: Mapping[str, Any]) -> str:
    """The German message of one pydantic error: a validator's own message as it raised it."""
    context = item.get("ctx", {})
    if item["type"] == "value_error":
        cause = context.get("error")
        said = cause.args[0] if isinstance(cause, ValueError) and cause.args else None
        return said if isinstance(said, Message) else str(cause or item["msg"])
    if item["type"] == "string_too_long":
        return msg("Ist zu lang (höchstens {max_length} Zeichen).",
                   max_length=context.get("max_length"))
    return _MESSAGES.get(item["type"], item["msg"])
