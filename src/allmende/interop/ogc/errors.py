"""OGC API's error format, in one place: ``{"code", "description"}`` with the HTTP status
(400 for any parameter the server cannot use, 404 for what is not there or not visible), and
allmende's error hierarchy mapped onto it. Descriptions are German, English with
``Accept-Language: en`` or ``?lang=en``."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from allmende.errors import AllmendeError, Invalid, msg

#: The exception codes OGC API servers use (OGC 17-069r4, pygeoapi), by HTTP status.
CODES = {400: "InvalidParameterValue", 401: "Unauthorized", 403: "Forbidden",
         404: "NotFound", 405: "OperationNotSupported", 406: "InvalidParameterValue",
         410: "Gone", 413: "ResponseTooLarge", 429: "TooManyRequests",
         503: "ServiceUnavailable"}
SERVER_ERROR = "NoApplicableCode"


@dataclass
class OgcError(Exception):
    status: int
    description: str  # a German message (allmende.errors.msg), rendered per language

    @property
    def code(self) -> str:
        return CODES.get(self.status, SERVER_ERROR)

    def body(self, translate: Callable[[str], str]) -> dict[str, str]:
        return {"code": self.code, "description": translate(self.description)}


def from_allmende(error: AllmendeError, translate: Callable[[str], str]) -> OgcError:
    """The OGC form of an error a service raised: invalid input (422 in the REST API) is a
    400 here, as OGC API asks; the problems of each parameter are named in the
    description."""
    status = 400 if isinstance(error, Invalid) else error.status
    parts = [translate(error.message)]
    parts += [f"{problem.field}: {translate(problem.message)}"
              for problem in error.field_errors]
    return OgcError(status, " ".join(parts))


def not_found(path: str) -> OgcError:
    return OgcError(404, msg("Unter „{path}“ gibt es nichts.", path=path))
