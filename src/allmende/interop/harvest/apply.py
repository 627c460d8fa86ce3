"""One harvested record into the catalog: created, updated, restored or left as it is, always
through the catalog service (search index, history and events stay right) and as the
harvester, the only writer of harvested datasets."""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from allmende.access.policy import HARVESTER
from allmende.catalog import datasets
from allmende.catalog.datasets import KEYWORD_MAX_LENGTH, MAX_KEYWORDS, Origin
from allmende.catalog.organizations import SLUG
from allmende.db.models import Dataset
from allmende.errors import Conflict, Invalid, msg
from allmende.interop.harvest.records import Harvested, HarvestedResource

CREATED, UPDATED, UNCHANGED = "created", "updated", "unchanged"
#: A source that names no licence grants no rights that could be stated here.
NO_LICENCE = "other-closed"
#: Fields a record is kept without when the source's value is not valid here.
OPTIONAL = ("keywords", "themes", "license", "contact_point", "issued", "temporal_start",
            "temporal_end", "spatial", "update_frequency", "language")
NAME_ATTEMPTS = 5


@dataclass(frozen=True)
class Target:
    """Where a source's records go."""

    source_id: int
    source_name: str
    organization: str
    files: bool  # resources become file resources (their data is ingested)


def apply(session: Session, target: Target, record: Harvested) -> tuple[str, Dataset]:
    """Write ``record``; the outcome and the dataset. Two runs of one source at once: the
    unique index on (source, origin identifier) lets one create it, the other updates it."""
    for _attempt in range(NAME_ATTEMPTS):
        existing = _existing(session, target, record)
        if existing is not None:
            return _update(session, target, record, existing), existing
        try:
            with session.begin_nested():
                return CREATED, _create(session, target, record)
        except IntegrityError:
            continue  # another run created it (or took the name) meanwhile: look again
    raise _no_name(record.name)


def _existing(session: Session, target: Target, record: Harvested) -> Dataset | None:
    return session.scalar(select(Dataset).where(Dataset.harvest_source_id == target.source_id,
                                                Dataset.origin_id == record.origin_id))


def _origin(target: Target, record: Harvested) -> Origin:
    return Origin(target.source_id, record.origin_id, record.origin_url, record.modified)


def _create(session: Session, target: Target, record: Harvested) -> Dataset:
    data = {**fields_of(record), "name": free_name(session, target.source_name, record.name),
            "organization": target.organization}
    dataset = _lenient(lambda values: datasets.create_dataset(
        session, HARVESTER, values, _origin(target, record)), data)
    datasets.replace_resources(session, HARVESTER, dataset.name, resources_of(record),
                               files=target.files)
    return dataset


def _update(session: Session, target: Target, record: Harvested, dataset: Dataset) -> str:
    """Bring the dataset to the record's state. Whether it changed is what the catalog found
    different, not the modification date alone: catalogs write it to the second, and a
    change within the second of the last run would otherwise be missed for good."""
    revision = dataset.revision
    with session.begin_nested():
        if dataset.deleted_at is not None:  # back at the source
            datasets.restore_dataset(session, HARVESTER, dataset.name)
        _lenient(lambda values: datasets.update_dataset(session, HARVESTER, dataset.name,
                                                        values), fields_of(record))
        datasets.replace_resources(session, HARVESTER, dataset.name, resources_of(record),
                                   files=target.files)
        datasets.set_origin(HARVESTER, dataset, _origin(target, record))
    return UPDATED if dataset.revision != revision else UNCHANGED


def _lenient(write: Any, values: dict[str, Any]) -> Dataset:
    """Write; a value of an optional field that is not valid here is left out (the source's
    theme or contact may not fit allmende's vocabularies) rather than losing the record. The
    catalog validates before it changes anything, so a refused write left nothing behind."""
    try:
        return write(values)
    except Invalid as error:
        failed = {e.field for e in error.field_errors}
        if not failed or failed - set(OPTIONAL):
            raise
        return write({k: EMPTY.get(k) if k in failed else v for k, v in values.items()})


#: What an optional field becomes when the source's value is not valid here.
EMPTY: dict[str, Any] = {"keywords": [], "themes": [], "license": NO_LICENCE, "language": "de"}


def fields_of(record: Harvested) -> dict[str, Any]:
    """The record as the catalog's dataset fields."""
    title = record.title.strip() or record.name
    keywords = [k for k in dict.fromkeys(k.strip() for k in record.keywords)
                if k and len(k) <= KEYWORD_MAX_LENGTH][:MAX_KEYWORDS]
    return {
        "title": title[:500], "description": (record.description.strip() or title)[:20000],
        "keywords": keywords, "themes": list(record.themes),
        "license": record.license or NO_LICENCE, "contact_point": record.contact_point,
        "issued": record.issued, "temporal_start": record.temporal_start,
        "temporal_end": record.temporal_end, "spatial": record.spatial,
        "update_frequency": record.update_frequency, "language": record.language or "de",
        "access_level": record.access_level, "draft": False,
    }


def resources_of(record: Harvested) -> list[dict[str, Any]]:
    """The record's resources with names unique in the dataset (sources repeat or omit
    them)."""
    taken: set[str] = set()
    found = []
    for position, resource in enumerate(record.resources, start=1):
        name = _resource_name(resource, position, taken)
        taken.add(name)
        found.append({"name": name, "url": resource.url if _web(resource.url) else None,
                      "format": resource.format.upper().lstrip(".")[:30],
                      "description": resource.description})
    return found


def _web(url: str | None) -> bool:
    return bool(url) and bool(re.match(r"^https?://\S+$", url or ""))


def _resource_name(resource: HarvestedResource, position: int, taken: set[str]) -> str:
    base = (resource.name.strip() or (resource.url or "").rstrip("/").rsplit("/", 1)[-1]
            or f"Ressource {position}")[:280]
    name, number = base, 2
    while name in taken:
        name, number = f"{base} ({number})", number + 1
    return name


def slug(text: str) -> str:
    """A dataset name from the source's name: lower case, umlauts folded, anything else a
    hyphen."""
    folded = text.lower().replace("ä", "ae").replace("ö", "oe").replace("ü", "ue") \
        .replace("ß", "ss")
    folded = unicodedata.normalize("NFKD", folded).encode("ascii", "ignore").decode()
    return re.sub(r"[^a-z0-9]+", "-", folded).strip("-")[:100].rstrip("-") or "datensatz"


def free_name(session: Session, source_name: str, name: str) -> str:
    """The source's name if it is free here, else prefixed with the source's slug (then
    numbered, should that be taken too)."""
    base = slug(name)
    candidates = [base, slug(f"{source_name}-{base}")]
    candidates += [slug(f"{source_name}-{base}")[:95] + f"-{n}" for n in range(2, 100)]
    for candidate in candidates:
        if SLUG.fullmatch(candidate) and session.scalar(
                select(Dataset.id).where(Dataset.name == candidate)) is None:
            return candidate
    raise _no_name(name)


def _no_name(name: str) -> Conflict:
    return Conflict(msg("Für „{name}“ ist hier kein freier Name zu finden.", name=name),
                    "harvest_name")
