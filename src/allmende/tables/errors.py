"""Errors of the table layer that the shared hierarchy has no class for (503, 500)."""

from __future__ import annotations

from allmende.errors import AllmendeError, msg


class QueryTimeout(AllmendeError):
    """HTTP 503: the query ran longer than its time limit and was interrupted."""

    def __init__(self, message: str = msg("Die Abfrage hat zu lange gedauert. Bitte grenzen "
                                          "Sie die Auswahl mit Filtern ein."),
                 code: str = "query_timeout") -> None:
        super().__init__(message, code, 503)


class TableUnavailable(AllmendeError):
    """HTTP 500: the stored Parquet file is missing or does not match its schema."""

    def __init__(self, message: str, code: str = "table_unavailable") -> None:
        super().__init__(message, code, 500)
