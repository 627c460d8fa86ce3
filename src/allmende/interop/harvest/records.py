"""What every source reader yields: plain harvested-dataset records, whatever the source spoke,
and the protocol a reader follows."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Protocol

from allmende.catalog.vocabularies import (
    DCATDE_LICENSE_BASE,
    EU_FREQUENCY_BASE,
    EU_THEME_BASE,
    FREQUENCIES,
    LICENSE_ALIASES,
    LICENSES,
    THEMES,
)


@dataclass(frozen=True)
class HarvestedResource:
    name: str
    url: str | None
    format: str = ""
    description: str = ""


@dataclass(frozen=True)
class Harvested:
    """One dataset as the source describes it (values in allmende's vocabularies where the
    source's could be matched; what could not be matched is left empty)."""

    origin_id: str
    origin_url: str | None
    name: str
    title: str
    description: str
    modified: dt.datetime | None = None
    keywords: tuple[str, ...] = ()
    themes: tuple[str, ...] = ()
    license: str | None = None
    access_level: str = "public"
    contact_point: str | None = None
    issued: dt.date | None = None
    temporal_start: dt.date | None = None
    temporal_end: dt.date | None = None
    spatial: str | None = None
    update_frequency: str | None = None
    language: str | None = None
    resources: tuple[HarvestedResource, ...] = field(default_factory=tuple)


@dataclass(frozen=True)
class BadRecord:
    """A record the source sent that cannot be read (the run goes on without it)."""

    origin_id: str
    message: str


class Reader(Protocol):
    """A source type: its records changed since a moment (all when None), then the full list
    of the identifiers it holds now. Errors that make the source unusable raise
    ``fetch.FetchError`` (the run fails and deletes nothing)."""

    def records(self, since: dt.datetime | None) -> Iterator[Harvested | BadRecord]: ...

    def identifiers(self) -> set[str]: ...


# --- matching the source's values to allmende's vocabularies -------------------------------

#: Licence ids CKAN portals use (opendefinition.org, GovData's CKAN) for dcat-ap.de codes.
CKAN_LICENSES = {
    "cc-by-4.0": "cc-by/4.0", "cc-by": "cc-by/4.0", "CC-BY-4.0": "cc-by/4.0",
    "cc-by-sa-4.0": "cc-by-sa/4.0", "cc-by-sa": "cc-by-sa/4.0", "cc-zero": "cc-zero",
    "cc0-1.0": "cc-zero", "CC0-1.0": "cc-zero", "odc-odbl": "odbl", "odc-by": "odby",
    "odc-pddl": "odcpddl", "dl-de-by-2.0": "dl-by-de/2.0", "dl-de-zero-2.0": "dl-zero-de/2.0",
    "dl-de-by-1.0": "dl-by-de/1.0", "other-at": "other-open", "other-open": "other-open",
    "other-closed": "other-closed", "notspecified": None,
}


def licence_code(value: str | None) -> str | None:
    """A dcat-ap.de licence code for a code, a dcat-ap.de URI or a common CKAN id."""
    if not value:
        return None
    code = value.strip().removeprefix(DCATDE_LICENSE_BASE)
    code = LICENSE_ALIASES.get(code, code)
    if code in LICENSES:
        return code
    return CKAN_LICENSES.get(code)


def theme_code(value: str) -> str | None:
    code = value.strip().removeprefix(EU_THEME_BASE).upper()
    return code if code in THEMES else None


def frequency_code(value: str | None) -> str | None:
    code = (value or "").strip().removeprefix(EU_FREQUENCY_BASE)
    return code if code in FREQUENCIES else None


#: EU access-right codes (and allmende's levels) an anonymous reader of the source meets.
ACCESS_RIGHTS = {"public": "public", "PUBLIC": "public", "restricted": "restricted",
                 "RESTRICTED": "restricted", "NON_PUBLIC": "restricted"}


def access_level(value: str | None) -> str:
    """Only what an anonymous reader of the source may see is harvested: public metadata;
    what the source calls restricted stays restricted here."""
    code = (value or "").rstrip("/").rsplit("/", 1)[-1]
    return ACCESS_RIGHTS.get(code, "public")


def moment(value: object) -> dt.datetime | None:
    """An ISO 8601 date or moment (CKAN's naive UTC, DCAT's dates) as an aware datetime."""
    if isinstance(value, dt.datetime):
        found = value
    elif isinstance(value, dt.date):
        found = dt.datetime.combine(value, dt.time())
    elif isinstance(value, str) and value.strip():
        try:
            found = dt.datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
        except ValueError:
            return None
    else:
        return None
    return found if found.tzinfo else found.replace(tzinfo=dt.UTC)


def day(value: object) -> dt.date | None:
    if isinstance(value, str) and value.strip():
        try:
            return dt.date.fromisoformat(value.strip()[:10])
        except ValueError:
            return None
    if isinstance(value, dt.datetime):
        return value.date()
    return value if isinstance(value, dt.date) else None
