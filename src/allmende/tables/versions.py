"""Table versions of a resource: the current one, the history page by page, and publishing the
next one so that concurrent writers can neither collide nor lose a version.

Numbers come from ``resources.current_version``, incremented by an ``UPDATE … RETURNING`` in
the transaction that inserts the version row: on PostgreSQL the row lock serializes writers of
one resource until commit, on SQLite the database's write lock does. Concurrent uploads are
therefore serialized, never refused. A writer whose result depends on the version it started
from (a regional rebuild) passes ``expected`` and gets :class:`StaleVersion` when another
writer published first. No transaction is open while files are built; the file is moved into
place (under a name of the attempt's own) just before the short publishing transaction and
removed again if that transaction fails.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from allmende.db.models import Resource, TableVersion
from allmende.db.session import Database
from allmende.errors import Conflict, NotFound, msg
from allmende.jobs.attempt import Attempt
from allmende.tables import store

#: Versions listed with a resource (``GET /api/v1/resources/{id}``) and per page of history.
PAGE_SIZE = 20
MAX_PAGE_SIZE = 100

T = TypeVar("T")


class StaleVersion(Conflict):
    """Another writer published a version after this one read its inputs."""

    def __init__(self, resource: str) -> None:
        super().__init__(msg("Die Ressource „{resource}“ hat inzwischen eine neuere Version; "
                             "bitte laden Sie neu.", resource=resource), "version_changed")


@dataclass(frozen=True)
class VersionPage:
    versions: list[TableVersion]  # newest first
    total: int
    page: int
    per_page: int
    #: the privacy state of the versions that have one (privacy.held.PrivacyState)
    privacy: dict[int, Any] = field(default_factory=dict)


def current(session: Session, resource: Resource) -> TableVersion | None:
    """The newest version (one indexed row, whatever the history's length)."""
    if not resource.current_version:
        return None
    return version_of(session, resource.id, resource.current_version)


def version_of(session: Session, resource_id: str, number: int) -> TableVersion | None:
    return session.scalar(select(TableVersion).where(
        TableVersion.resource_id == resource_id, TableVersion.version == number))


def require_current(session: Session, resource: Resource) -> TableVersion:
    found = current(session, resource)
    if found is None:
        raise NotFound(msg("Die Ressource „{resource}“ hat noch keine Tabellenversion.",
                           resource=resource.name), "no_version")
    return found


def history(session: Session, resource: Resource, page: int = 1,
            per_page: int = PAGE_SIZE) -> VersionPage:
    """One page of the resource's versions, newest first."""
    total = session.scalar(select(func.count()).select_from(TableVersion).where(
        TableVersion.resource_id == resource.id)) or 0
    rows = session.scalars(select(TableVersion).where(TableVersion.resource_id == resource.id)
                           .order_by(TableVersion.version.desc())
                           .offset((page - 1) * per_page).limit(per_page))
    return VersionPage(list(rows), total, page, per_page)


def take_number(session: Session, resource_id: str, expected: int | None = None) -> int:
    """The next version number of the resource, taken under its row's lock until commit.
    With ``expected``, only if the current version is still that one."""
    statement = update(Resource.__table__).where(Resource.__table__.c.id == resource_id)
    if expected is not None:
        statement = statement.where(Resource.__table__.c.current_version == expected)
    number = session.execute(statement.values(
        current_version=Resource.__table__.c.current_version + 1)
        .returning(Resource.__table__.c.current_version)).scalar_one_or_none()
    if number is None:
        resource = session.get(Resource, resource_id)
        if resource is None:
            raise NotFound(msg("Die Ressource „{resource}“ gibt es nicht.",
                               resource=resource_id), "resource_not_found")
        raise StaleVersion(resource.name)
    # the session may hold the resource from before the increment
    session.get(Resource, resource_id, populate_existing=True)
    return number


Record = Callable[[Session, Resource, int, str], T]


def publish(db: Database, attempt: Attempt, resource_id: str, built: Path, record: Record[T],
            expected: int | None = None) -> T:
    """Make ``built`` the next version of a resource: announce and move it into the store
    under the attempt's own name, then in one short transaction take the number and let
    ``record`` add the version row (and whatever belongs with it: history, queued follow-up
    jobs). If the transaction fails, the moved file is removed; the previous version stays
    current."""
    relative = attempt.output(resource_id, "version")
    target = store.publish(attempt.data_dir, built, relative)
    try:
        attempt.checkpoint("publishing")
        with db.session() as session:
            number = take_number(session, resource_id, expected)
            attempt.guard(session)
            resource = session.get(Resource, resource_id)
            return record(session, resource, number, relative)
    except BaseException:
        target.unlink(missing_ok=True)
        raise
