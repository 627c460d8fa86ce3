"""Turns pydantic's validation errors into field-level messages in German."""

from __future__ import annotations

import copy
import re
from collections.abc import Iterable, Mapping
from typing import Any

from pydantic import BaseModel, ValidationError, create_model

from allmende.errors import FieldError

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
        raise ValueError("Erwartet eine Web-Adresse (http:// oder https://).")
    return value or None


def check_email(value: str | None) -> str | None:
    if value and not EMAIL.match(value):
        raise ValueError("Keine gültige E-Mail-Adresse.")
    return value or None


_MESSAGES = {
    "missing": "Pflichtangabe fehlt.",
    "string_type": "Erwartet einen Text.",
    "string_too_short": "Darf nicht leer sein.",
    "string_too_long": "Ist zu lang (höchstens {max_length} Zeichen).",
    "int_type": "Erwartet eine ganze Zahl.",
    "int_parsing": "Erwartet eine ganze Zahl.",
    "float_type": "Erwartet eine Zahl.",
    "float_parsing": "Erwartet eine Zahl.",
    "bool_type": "Erwartet ja oder nein (true/false).",
    "bool_parsing": "Erwartet ja oder nein (true/false).",
    "date_type": "Erwartet ein Datum (JJJJ-MM-TT).",
    "date_parsing": "Erwartet ein Datum (JJJJ-MM-TT).",
    "date_from_datetime_parsing": "Erwartet ein Datum (JJJJ-MM-TT).",
    "list_type": "Erwartet eine Liste.",
    "dict_type": "Erwartet ein Objekt.",
    "extra_forbidden": "Dieses Feld gibt es nicht.",
    "too_short": "Zu wenige Einträge.",
    "too_long": "Zu viele Einträge.",
    "greater_than_equal": "Mindestens {ge}.",
    "less_than_equal": "Höchstens {le}.",
    "string_pattern_mismatch": "Hat nicht die erwartete Form ({pattern}).",
    "literal_error": "Erlaubt: {expected}.",
}
# pydantic lists a literal's values as "'a', 'b' or 'c'"
_ALTERNATIVES = re.compile(r"'([^']*)'")


def field_errors_of(error: ValidationError) -> list[FieldError]:
    return field_errors(error.errors(include_url=False))


def field_errors(errors: Iterable[Mapping[str, Any]], skip: int = 0) -> list[FieldError]:
    """German messages for pydantic error entries; ``skip`` drops leading location parts
    (FastAPI prefixes ``body``/``query``/``path``)."""
    result = []
    for item in errors:
        location = ".".join(str(part) for part in item["loc"][skip:]) or "body"
        if item["type"] == "value_error":
            message = str(item["ctx"]["error"]) if "ctx" in item else item["msg"]
        else:
            template = _MESSAGES.get(item["type"], item["msg"])
            context = dict(item.get("ctx", {}))
            if item["type"] == "literal_error":
                context["expected"] = ", ".join(_ALTERNATIVES.findall(context["expected"]))
            message = template.format(**context)
        result.append(FieldError(location, message))
    return result
