"""The error answers of an operation, for its OpenAPI description: every route lists the
statuses it can answer with, all in the one error shape web/errors.py writes (ErrorBody)."""

from __future__ import annotations

from typing import Any

from allmende.web.errors import ErrorBody

_DESCRIPTIONS = {
    400: "Die Anfrage lässt sich so nicht beantworten (z. B. ein unlesbarer Inhalt)",
    401: "Anmeldung erforderlich, oder das Token ist ungültig oder widerrufen",
    403: "Nicht erlaubt, oder bei Anmeldung per Cookie fehlt das CSRF-Token",
    404: "Gibt es nicht, oder Sie dürfen es nicht sehen",
    409: "Widerspricht dem aktuellen Stand (z. B. die Kennung ist vergeben)",
    413: "Zu groß",
    422: "Ungültige Angaben; `fields` nennt jedes betroffene Feld",
    429: "Zu viele Anfragen auf einmal; `Retry-After` nennt die Sekunden bis zum nächsten "
         "Versuch",
}
_HEADERS = {
    401: {"WWW-Authenticate": {"description": "Bearer", "schema": {"type": "string"}}},
    429: {"Retry-After": {"description": "Sekunden", "required": True,
                          "schema": {"type": "integer", "minimum": 0}}},
}

#: Any operation that resolves the caller: a malformed or revoked token is refused.
AUTH = (401,)
#: An operation that changes something: it may be refused (or lack the CSRF token).
WRITE = (401, 403, 422)


def errors(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """``responses=`` for a route: ``errors(*WRITE, 404, 409)``."""
    return {status: {"model": ErrorBody, "description": _DESCRIPTIONS[status],
                     **({"headers": _HEADERS[status]} if status in _HEADERS else {})}
            for status in sorted(set(statuses))}
