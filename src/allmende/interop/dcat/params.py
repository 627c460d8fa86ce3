"""What a catalog request asks for: the format (suffix or ``Accept``), the page, its size and
the modification date; anything malformed is a 400 that names the parameter."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping
from dataclasses import dataclass

from allmende.errors import BadRequest, NotFound, msg
from allmende.interop.links import Links

DEFAULT_PER_PAGE = 100
MAX_PER_PAGE = 1000
#: Media types a client may ask for in ``Accept``, and the format answering each.
MEDIA_TYPES = {"text/turtle": "ttl", "application/x-turtle": "ttl",
               "application/rdf+xml": "rdf", "application/xml": "rdf",
               "application/ld+json": "jsonld", "application/json": "jsonld"}
SUFFIXES = ("ttl", "rdf", "jsonld")


class NotAFormat(NotFound):
    def __init__(self, form: str) -> None:
        super().__init__(msg("Das Format „{form}“ gibt es hier nicht; möglich sind ttl, rdf "
                             "und jsonld.", form=form), "unknown_format")


@dataclass(frozen=True)
class CatalogQuery:
    page: int | None  # None: the whole catalog (page=all)
    per_page: int
    modified_since: dt.datetime | None
    given: Mapping[str, str]  # the paging parameters as the client sent them

    def page_url(self, links: Links, path: str, page: int) -> str:
        """The absolute URL of another page of the same listing (``ALLMENDE_BASE_URL``)."""
        return links.url(path, **{**self.given, "page": str(page)})


def catalog_query(query: Mapping[str, str]) -> CatalogQuery:
    given = {k: query[k] for k in ("per_page", "modified_since") if k in query}
    raw_page = query.get("page", "1").strip()
    page = None if raw_page == "all" else _number("page", raw_page, 1, None, msg(
        "page: erwartet eine Seitenzahl ab 1 oder „all“ (der ganze Katalog), nicht "
        "„{value}“.", value=raw_page))
    raw_size = query.get("per_page", str(DEFAULT_PER_PAGE)).strip()
    per_page = _number("per_page", raw_size, 1, MAX_PER_PAGE, msg(
        "per_page: erwartet eine Zahl von 1 bis {limit}, nicht „{value}“.",
        limit=MAX_PER_PAGE, value=raw_size))
    since = query.get("modified_since")
    return CatalogQuery(page, per_page, modified_since(since) if since is not None else None,
                        given)


def _number(name: str, text: str, low: int, high: int | None, problem: str) -> int:
    if not re.fullmatch(r"\d{1,9}", text):
        raise BadRequest(problem, f"bad_{name}")
    value = int(text)
    if value < low or (high is not None and value > high):
        raise BadRequest(problem, f"bad_{name}")
    return value


def modified_since(text: str) -> dt.datetime:
    """An ISO 8601 date or date-time; without a zone it is UTC."""
    try:
        value = dt.datetime.fromisoformat(text.strip())
    except ValueError:
        raise BadRequest(msg(
            "modified_since: „{value}“ ist kein Datum oder Zeitpunkt nach ISO 8601 (z. B. "
            "2024-05-01 oder 2024-05-01T12:00:00Z).", value=text), "bad_modified_since") \
            from None
    return value if value.tzinfo else value.replace(tzinfo=dt.UTC)


def negotiate(headers: Mapping[str, str]) -> str:
    """The format ``Accept`` prefers most among those offered; Turtle when it names none."""
    best, best_q = "ttl", 0.0
    for part in headers.get("accept", "").split(","):
        media, _, options = part.strip().partition(";")
        form = MEDIA_TYPES.get(media.strip().lower())
        if form is None:
            continue
        quality = 1.0
        match = re.search(r"q=([0-9.]+)", options)
        if match:
            try:
                quality = float(match.group(1))
            except ValueError:
                quality = 0.0
        if quality > best_q:
            best, best_q = form, quality
    return best


def dataset_file(file: str, headers: Mapping[str, str]) -> tuple[str, str]:
    """``name.ttl`` → (name, ttl); a name without a suffix takes the format ``Accept`` asks
    for (names and UUIDs hold no dots)."""
    name, dot, suffix = file.rpartition(".")
    if dot:
        return name, suffix
    return file, negotiate(headers)
