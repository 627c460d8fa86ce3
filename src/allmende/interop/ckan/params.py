"""Action parameters read as CKAN's validators read them (ckan/logic/validators.py): whole
numbers from strings or numbers, booleans from ``true``/``false`` words, JSON from strings in
GET requests, lists from lists or comma-separated strings. Bad values are Validation Errors
naming the parameter."""

from __future__ import annotations

from typing import Any

import orjson

from allmende.errors import msg
from allmende.interop.ckan.errors import validation_error

_TRUE = frozenset({"true", "yes", "on", "y", "t", "1"})
_FALSE = frozenset({"false", "no", "off", "n", "f", "0", ""})


def integer(data: dict[str, Any], name: str, default: int | None = None,
            maximum: int | None = None) -> int | None:
    """A natural number; above ``maximum`` it is lowered to it, as CKAN's
    limit_to_configured_maximum does."""
    value = data.get(name)
    if value is None or (isinstance(value, str) and not value.strip()):
        return default
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise validation_error(name, msg("Ungültige ganze Zahl."))
    try:
        number = int(value) if not isinstance(value, float) or value.is_integer() else None
    except ValueError:
        number = None
    if number is None:
        raise validation_error(name, msg("Ungültige ganze Zahl."))
    if number < 0:
        raise validation_error(name, msg("Muss eine natürliche Zahl sein (0 oder größer)."))
    return min(number, maximum) if maximum is not None else number


def boolean(data: dict[str, Any], name: str, default: bool = False) -> bool:
    value = data.get(name)
    if value is None:
        return default
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in _TRUE or text in _FALSE:
        return text in _TRUE
    raise validation_error(name, msg("Erwartet true oder false."))


def text(data: dict[str, Any], name: str, default: str = "") -> str:
    value = data.get(name, default)
    if isinstance(value, list):  # a parameter given twice in a GET request
        raise validation_error(name, msg("Dieser Parameter ist mehrfach angegeben."))
    if not isinstance(value, str):
        raise validation_error(name, msg("Erwartet eine Zeichenkette."))
    return value


def required(data: dict[str, Any], name: str) -> str:
    value = text(data, name).strip()
    if not value:
        raise validation_error(name, msg("Fehlender Wert."))
    return value


def json_value(data: dict[str, Any], name: str) -> Any:
    """A JSON value, given as JSON in a POST body or as a JSON string in a GET request."""
    value = data.get(name)
    if isinstance(value, str):
        try:
            return orjson.loads(value)
        except orjson.JSONDecodeError:
            raise validation_error(name, msg("Kein gültiges JSON.")) from None
    return value


def string_list(data: dict[str, Any], name: str) -> list[str] | None:
    """A list of strings: a JSON list, or a comma-separated string (CKAN takes both)."""
    value = data.get(name)
    if value is None:
        return None
    if isinstance(value, str):
        stripped = value.strip()
        if stripped.startswith("["):
            value = json_value(data, name)
        else:
            return [v.strip() for v in stripped.split(",") if v.strip()]
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise validation_error(name, msg("Erwartet eine Liste von Zeichenketten."))
    return value
