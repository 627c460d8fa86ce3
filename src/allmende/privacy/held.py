"""Held versions: what the scan found, recorded with the version, and which version a reader
gets while the newest one waits for an admin's decision.

A reader who may not see a held version reads the newest version before it that is not held
(the previous publication stays online while a new upload is checked); asked for the held
version by number, or when there is no earlier one, they get :class:`Held`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import and_, exists, func, select, tuple_
from sqlalchemy.orm import Session

from allmende.access.policy import ANONYMOUS, HELD_STATES, Actor, DatasetLike, sees_version
from allmende.db.models import Dataset, PrivacyDecision, Resource, TableVersion, VersionPrivacy
from allmende.errors import Forbidden, msg
from allmende.privacy.detect import Finding


class Held(Forbidden):
    """A refusal every interface maps as it maps :class:`Forbidden` (CKAN's authorization
    error, OGC's 403)."""

    def __init__(self, version: int, resource: str) -> None:
        super().__init__(msg(
            "Version {version} von „{resource}“ enthält wahrscheinlich personenbezogene Daten "
            "und ist zurückgehalten, bis die Verwaltung der Organisation über diese Spalten "
            "entschieden hat.", version=version, resource=resource), "version_held")


@dataclass(frozen=True)
class PrivacyState:
    """A version's privacy state as the API and the pages show it (no values, ever)."""

    status: str | None = None
    held: bool = False
    personal_data: list[dict[str, Any]] = field(default_factory=list)
    related_version: int | None = None
    decisions: list[dict[str, Any]] = field(default_factory=list)


def record_findings(session: Session, resource_id: str, version: int,
                    findings: Sequence[Finding]) -> None:
    """Keep what the scan found with the new version (nothing when it found nothing)."""
    if findings:
        session.add(VersionPrivacy(resource_id=resource_id, version=version, status="pending",
                                   findings=[f.as_dict() for f in findings]))


def is_held(dataset: DatasetLike, status: str | None) -> bool:
    return dataset.access_level == "public" and status in HELD_STATES


def status_of(session: Session, resource_id: str, version: int) -> VersionPrivacy | None:
    return session.scalar(select(VersionPrivacy).where(
        VersionPrivacy.resource_id == resource_id, VersionPrivacy.version == version))


def _held_rows() -> Any:
    return VersionPrivacy.status.in_(HELD_STATES)


def _not_held(resource_id: Any, version: Any) -> Any:
    return ~exists().where(VersionPrivacy.resource_id == resource_id,
                           VersionPrivacy.version == version, _held_rows())


def readable(session: Session, actor: Actor, resource: Resource, chosen: TableVersion,
             asked: bool) -> TableVersion:
    """``chosen`` if the actor may read it; else, unless it was asked for by number, the
    newest earlier version that is not held."""
    found = status_of(session, resource.id, chosen.version)
    if sees_version(actor, resource.dataset, found.status if found else None):
        return chosen
    earlier = None if asked else session.scalar(
        select(TableVersion).where(TableVersion.resource_id == resource.id,
                                   TableVersion.version < chosen.version,
                                   _not_held(resource.id, TableVersion.version))
        .order_by(TableVersion.version.desc()).limit(1))
    if earlier is None:
        raise Held(chosen.version, resource.name)
    return earlier


def shown_versions(session: Session, actor: Actor | None, datasets: Mapping[int, DatasetLike],
                   current: Iterable[tuple[str, int, int]]) -> dict[str, int | None]:
    """For catalog records: of the resources ``(id, dataset id, current version)`` whose
    current version the actor may not read, the version shown instead (None: no table).
    Resources missing from the answer show their current version."""
    keys = [(rid, version) for rid, _, version in current if version]
    if not keys:
        return {}
    held = set(session.execute(select(VersionPrivacy.resource_id, VersionPrivacy.version).where(
        tuple_(VersionPrivacy.resource_id, VersionPrivacy.version).in_(keys), _held_rows())))
    if not held:
        return {}
    reader = actor or ANONYMOUS
    shown: dict[str, int | None] = {}
    for rid, dataset_id, version in current:
        if (rid, version) in held and not sees_version(reader, datasets[dataset_id], "pending"):
            shown[rid] = session.scalar(select(func.max(TableVersion.version)).where(
                TableVersion.resource_id == rid, TableVersion.version < version,
                _not_held(rid, TableVersion.version)))
    return shown


def held_versions(session: Session, resource_id: str) -> set[int]:
    """The versions of a resource that are held while its dataset is public."""
    return set(session.scalars(select(VersionPrivacy.version).where(
        VersionPrivacy.resource_id == resource_id, _held_rows())))


def states(session: Session, dataset: Dataset, resource_id: str, numbers: Sequence[int]
           ) -> dict[int, PrivacyState]:
    """The privacy state of each of these versions that has one."""
    if not numbers:
        return {}
    rows = session.scalars(select(VersionPrivacy).where(
        VersionPrivacy.resource_id == resource_id, VersionPrivacy.version.in_(list(numbers))))
    decided = decisions_of(session, resource_id, numbers)
    return {row.version: PrivacyState(row.status, is_held(dataset, row.status),
                                      list(row.findings or []), row.related_version,
                                      decided.get(row.version, []))
            for row in rows}


def decisions_of(session: Session, resource_id: str, numbers: Sequence[int]
                 ) -> dict[int, list[dict[str, Any]]]:
    """The decisions taken on these versions (as held versions), per version."""
    found: dict[int, list[dict[str, Any]]] = {}
    for row in session.scalars(select(PrivacyDecision).where(and_(
            PrivacyDecision.resource_id == resource_id,
            PrivacyDecision.version.in_(list(numbers)))).order_by(PrivacyDecision.id)):
        found.setdefault(row.version, []).append({
            "column": row.column, "kind": row.kind, "action": row.action,
            "parameters": row.parameters or {}, "reason": row.reason,
            "published_version": row.published_version,
            "decided_at": row.decided_at.isoformat()})
    return found
