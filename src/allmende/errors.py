"""One error hierarchy for every interface.

Services raise these; the REST API, the CKAN and OGC adapters and the CLI each translate them in
one place. Messages are German, because they reach municipal users directly.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class FieldError:
    field: str
    message: str


@dataclass
class AllmendeError(Exception):
    message: str
    code: str = "error"
    status: int = 500
    field_errors: list[FieldError] = field(default_factory=list)

    def __str__(self) -> str:
        if not self.field_errors:
            return self.message
        details = "; ".join(f"{e.field}: {e.message}" for e in self.field_errors)
        return f"{self.message} ({details})"


class NotFound(AllmendeError):
    def __init__(self, message: str, code: str = "not_found") -> None:
        super().__init__(message, code, 404)


class Unauthorized(AllmendeError):
    def __init__(self, message: str = "Anmeldung erforderlich.",
                 code: str = "unauthorized") -> None:
        super().__init__(message, code, 401)


class Forbidden(AllmendeError):
    def __init__(self, message: str = "Dafür fehlt Ihnen die Berechtigung.",
                 code: str = "forbidden") -> None:
        super().__init__(message, code, 403)


class Conflict(AllmendeError):
    def __init__(self, message: str, code: str = "conflict") -> None:
        super().__init__(message, code, 409)


class Invalid(AllmendeError):
    def __init__(self, message: str = "Die Angaben sind ungültig.",
                 field_errors: list[FieldError] | None = None,
                 code: str = "invalid") -> None:
        super().__init__(message, code, 422, field_errors or [])
