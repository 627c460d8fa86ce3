"""CKAN's error format, in one place: ``{"help", "success": false, "error": {"__type",
"message"}}`` with CKAN 2.11's status codes (ckan/views/api.py), and allmende's error
hierarchy mapped onto it. Messages are German (English with ``Accept-Language: en``) behind
CKAN's English prefixes ("Not found: …"), which clients such as ckanapi cut off."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from allmende.errors import AllmendeError, Forbidden, NotFound, Unauthorized
from allmende.tables.errors import QueryTimeout
from allmende.tables.service import Withheld

NOT_FOUND = "Not Found Error"
AUTHORIZATION = "Authorization Error"
VALIDATION = "Validation Error"
SEARCH_QUERY = "Search Query Error"
INTERNAL = "Internal Server Error"

STATUS = {NOT_FOUND: 404, AUTHORIZATION: 403, VALIDATION: 409, SEARCH_QUERY: 400,
          INTERNAL: 500}
PREFIX = {NOT_FOUND: "Not found: ", AUTHORIZATION: "Access denied: ",
          SEARCH_QUERY: "Search Query is invalid: "}


@dataclass
class ActionError(Exception):
    """An action's failure as CKAN reports it. A Validation Error carries ``fields`` (field →
    messages) instead of a message, as CKAN's does."""

    type: str
    message: str = ""
    fields: dict[str, list[str]] = field(default_factory=dict)

    @property
    def status(self) -> int:
        return STATUS[self.type]

    def body(self, translate: Any) -> dict[str, Any]:
        """The ``error`` object; ``translate(message)`` renders a message in the caller's
        language."""
        if self.type == VALIDATION:
            return {"__type": VALIDATION,
                    **{k: [translate(m) for m in v] for k, v in self.fields.items()}}
        return {"__type": self.type, "message": PREFIX.get(self.type, "") +
                translate(self.message)}


def search_query_error(message: str) -> ActionError:
    return ActionError(SEARCH_QUERY, message)


def validation_error(name: str, message: str) -> ActionError:
    return ActionError(VALIDATION, fields={name: [message]})


def from_allmende(error: AllmendeError) -> ActionError:
    """The CKAN form of an error a service raised."""
    if isinstance(error, NotFound):
        return ActionError(NOT_FOUND, error.message)
    if isinstance(error, Unauthorized | Forbidden | Withheld):
        return ActionError(AUTHORIZATION, error.message)
    if isinstance(error, QueryTimeout):
        return validation_error("query", error.message)
    if error.status >= 500:
        return ActionError(INTERNAL, error.message)
    if error.field_errors:
        fields: dict[str, list[str]] = {}
        for problem in error.field_errors:
            fields.setdefault(problem.field, []).append(problem.message)
        return ActionError(VALIDATION, fields=fields)
    return validation_error("message", error.message)
