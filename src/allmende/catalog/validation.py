"""Turns pydantic's validation errors into field-level messages in German (messages, so the web
UI shows them in English too)."""

from __future__ import annotations

import copy
import re
from collections.abc import Iterable, Mapping
from typing import Any

from pydantic import BaseModel, ValidationError, create_model

from allmende.errors import FieldError, Invalid, Message, msg

EMAIL = re.compile(r"^(mailto:)?[^@\s]+@[^@\s]+\.[^@\s]+$")
URL = re.compile(r"^https?://[^\s]+$")

# What the OpenAPI document says of texts the checks below accept (JSON Schema patterns)
NOT_BLANK = r"\S"  # a text that stays non-empty when trimmed
OPTIONAL_URL = f"^$|{URL.pattern}"
OPTIONAL_EMAIL = f"^$|{EMAIL.pattern}"


def partial(model: type[BaseModel], name: str) -> type[BaseModel]:
    """``model`` for a partial update: every field optional, each with its type, constraints
    and schema (a field that may not be null stays so); the validators stay with ``model``,
    which the service applies to the record with the changes."""
    fields: dict[str, Any] = {}
    for field_name, info in model.model_fields.items():
        optional = copy.copy(info)
        optional.default, optional.default_factory = None, None
        fields[field_name] = (info.annotation, optional)
    return create_model(name, __config__=model.model_config, **fields)


# Characters XML 1.0 cannot carry at all (so neither can an RDF/XML catalog): control
# characters other than tab and line breaks, and non-characters.
CONTROL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff\ud800-\udfff]")


def check_text(value: str) -> str:
    if CONTROL.search(value):
        raise ValueError("Enthält Steuerzeichen (etwa aus einer kopierten Tabelle), die "
                         "Kataloge nicht darstellen können; bitte entfernen.")
    return value


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
# pydantic lists a literal's values as "'a', 'b' or 'c'"
_ALTERNATIVES = re.compile(r"'([^']*)'")


def field_errors_of(error: ValidationError) -> list[FieldError]:
    return field_errors(error.errors(include_url=False))


def parsed(model: type[BaseModel], data: dict[str, Any]) -> Any:
    """``data`` as ``model``, or Invalid with an error per field."""
    try:
        return model.model_validate(data)
    except ValidationError as error:
        raise Invalid(field_errors=field_errors_of(error)) from None


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
    # the messages with a bound of the error's context
    kind = item["type"]
    if kind == "string_too_long":
        return msg("Ist zu lang (höchstens {max_length} Zeichen).",
                   max_length=context.get("max_length"))
    if kind == "greater_than_equal":
        return msg("Mindestens {ge}.", ge=_param(context.get("ge")))
    if kind == "less_than_equal":
        return msg("Höchstens {le}.", le=_param(context.get("le")))
    if kind == "string_pattern_mismatch":
        return msg("Hat nicht die erwartete Form ({pattern}).", pattern=context.get("pattern"))
    if kind == "literal_error":
        return msg("Erlaubt: {allowed}.", allowed=", ".join(
            _ALTERNATIVES.findall(str(context.get("expected", "")))))
    return _MESSAGES.get(kind, item["msg"])


def _param(value: Any) -> str | int | float | None:
    return value if value is None or isinstance(value, str | int | float) else str(value)
