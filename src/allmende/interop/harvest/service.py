"""Harvesting as a service: harvest sources (another portal mirrored into one organization)
and their runs.

API (routers, the CLI, the UI and the worker call only these; ``actor`` decides access:
sysadmins, and admins of the source's target organization):

- ``create_source(session, actor, data) -> SourceRecord`` — ``data`` as :class:`SourceCreate`
  (``name`` slug, ``type`` ckan|dcat|allmende, ``url``, ``organization`` slug, ``schedule``
  hourly|daily|weekly|off, ``ingest_resources``)
- ``update_source(session, actor, name, changes) -> SourceRecord`` — :class:`SourcePatch`
  (``url``, ``schedule``, ``ingest_resources``)
- ``get_source(session, actor, name) -> SourceRecord``; ``list_sources(session, actor)``
  (the sources the actor manages)
- ``delete_source(session, actor, name) -> int`` — deletes the source's datasets (soft, into
  the organization's trash: restorable, then as the organization's own, detached copies) and
  its runs; the number of datasets deleted
- ``queue_run(session, actor, name, trigger="manual") -> RunRecord`` — a queued run and its
  ``harvest`` job
- ``list_runs(session, actor, name, limit=50) -> list[RunRecord]`` — newest first;
  ``get_run(session, actor, run_id)``
- ``run(platform, actor, name) -> RunRecord`` — run now, in this process (the CLI)
- ``execute(platform, run_id) -> RunRecord`` — run a queued run (the job; access was decided
  when it was queued)
- ``queue_due(platform) -> list[int]`` — queue the runs the schedules ask for (periodic task)

A run: records changed since the last complete run (all on the first) are created, updated
or restored; then the source's full identifier list is read and the datasets it no longer
holds are deleted — only after a complete, successful listing: a source that is down or
answers garbage fails the run and deletes nothing. One bad record is a failure entry in the
report, the run goes on. ``RunRecord.report()`` is the CLI's JSON:
``{"source", "created", "updated", "deleted", "failed": [{"id", "message"}], ...}``.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator
from sqlalchemy import func, select, update
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

from allmende.access.policy import HARVESTER, Action, Actor, authorize, visibility
from allmende.catalog import datasets
from allmende.catalog.organizations import SLUG, check_slug, get_organization
from allmende.catalog.validation import URL, parsed, partial
from allmende.db.models import Dataset, HarvestRun, HarvestSource, Job, utcnow
from allmende.errors import (
    AllmendeError,
    Conflict,
    NotFound,
    msg,
    neutral,
    restored,
    stored,
)
from allmende.interop.harvest import apply as writer
from allmende.interop.harvest import resources
from allmende.interop.harvest.fetch import Fetcher, FetchError, Limits
from allmende.interop.harvest.records import BadRecord, Harvested, Reader
from allmende.jobs import queue
from allmende.platform import Platform

log = logging.getLogger(__name__)

SOURCE_TYPES = ("ckan", "dcat", "allmende")
SCHEDULES = {"hourly": dt.timedelta(hours=1), "daily": dt.timedelta(days=1),
             "weekly": dt.timedelta(weeks=1), "off": None}
QUEUED, RUNNING, SUCCEEDED, FAILED = "queued", "running", "succeeded", "failed"
#: Records written in one transaction (short transactions; a run of 10,000 commits 100 times).
BATCH = 100
#: The next run asks for changes since the newest modification the last one saw, less this:
#: a change the source committed late, or while the last run paged past it, is not missed.
OVERLAP = dt.timedelta(minutes=1)
JOB_KIND = "harvest"


# --- sources ---------------------------------------------------------------------------------

class SourcePatch(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    url: str = Field(max_length=1000, json_schema_extra={"pattern": URL.pattern})
    schedule: str = Field("off", json_schema_extra={"enum": list(SCHEDULES)})
    ingest_resources: bool = Field(False, strict=True)

    @field_validator("url")
    @classmethod
    def _url(cls, value: str) -> str:
        if not URL.match(value):
            raise ValueError(msg("Erwartet eine Web-Adresse (http:// oder https://)."))
        return value

    @field_validator("schedule")
    @classmethod
    def _schedule(cls, value: str) -> str:
        if value not in SCHEDULES:
            raise ValueError(msg("Unbekannter Zeitplan „{value}“; erlaubt: {allowed}.",
                                 value=value, allowed=", ".join(SCHEDULES)))
        return value


class SourceCreate(SourcePatch):
    name: str = Field(json_schema_extra={"pattern": SLUG.pattern})
    type: str = Field(json_schema_extra={"enum": list(SOURCE_TYPES)})
    organization: str

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        return check_slug(value)

    @field_validator("type")
    @classmethod
    def _type(cls, value: str) -> str:
        if value not in SOURCE_TYPES:
            raise ValueError(msg("Unbekannte Art „{value}“; erlaubt: {allowed}.", value=value,
                                 allowed=", ".join(SOURCE_TYPES)))
        return value


SourceChanges = partial(SourcePatch, "SourceChanges")


@dataclass(frozen=True)
class Failure:
    id: str
    message: str  # German; the stored entry keeps the template for English

    def as_dict(self) -> dict[str, str]:
        return {"id": self.id, "message": str(self.message)}


@dataclass(frozen=True)
class RunRecord:
    id: int
    source: str
    status: str
    trigger: str
    job_id: int | None
    queued: dt.datetime
    started: dt.datetime | None
    finished: dt.datetime | None
    created: int
    updated: int
    deleted: int
    unchanged: int
    failed: tuple[Failure, ...]
    reason: str | None  # why the run failed as a whole (German; a Message when it has one)

    def report(self) -> dict[str, Any]:
        """The run as ``allmende harvest run --json`` prints it."""
        return {"source": self.source, "run": self.id, "status": self.status,
                "created": self.created, "updated": self.updated, "deleted": self.deleted,
                "unchanged": self.unchanged, "failed": [f.as_dict() for f in self.failed],
                "reason": str(self.reason) if self.reason else None}


@dataclass(frozen=True)
class SourceRecord:
    name: str
    type: str
    url: str
    organization: str
    schedule: str
    ingest_resources: bool
    created: dt.datetime
    last_run: RunRecord | None
    datasets: int  # harvested datasets of the source (not deleted)



def _load(session: Session, name: str) -> HarvestSource:
    source = session.scalar(select(HarvestSource).where(HarvestSource.name == name))
    if source is None:
        raise NotFound(msg("Die Harvest-Quelle „{name}“ gibt es nicht.", name=name),
                       "harvest_source_not_found")
    return source


def _managed(session: Session, actor: Actor, name: str) -> HarvestSource:
    source = _load(session, name)
    authorize(actor, Action.MANAGE_HARVEST, source.organization_id)
    return source


def create_source(session: Session, actor: Actor, data: dict[str, Any]) -> SourceRecord:
    fields = parsed(SourceCreate, data)
    organization = get_organization(session, fields.organization)
    authorize(actor, Action.MANAGE_HARVEST, organization.id)
    if session.scalar(select(HarvestSource.id).where(HarvestSource.name == fields.name)):
        raise Conflict(msg("Die Harvest-Quelle „{name}“ gibt es bereits.", name=fields.name),
                       "harvest_source_exists")
    source = HarvestSource(name=fields.name, type=fields.type, url=fields.url,
                           organization=organization, schedule=fields.schedule,
                           ingest_resources=fields.ingest_resources,
                           created_by_id=actor.user_id)
    session.add(source)
    session.flush()
    return _record(session, source)


def update_source(session: Session, actor: Actor, name: str,
                  changes: dict[str, Any]) -> SourceRecord:
    source = _managed(session, actor, name)
    current = {k: getattr(source, k) for k in SourcePatch.model_fields}
    fields = parsed(SourcePatch, {**current, **{k: v for k, v in changes.items()
                                               if v is not None or k not in current}})
    for key in SourcePatch.model_fields:
        setattr(source, key, getattr(fields, key))
    session.flush()
    return _record(session, source)


def get_source(session: Session, actor: Actor, name: str) -> SourceRecord:
    return _record(session, _managed(session, actor, name))


def list_sources(session: Session, actor: Actor) -> list[SourceRecord]:
    """The sources the actor manages: all for sysadmins, else those of their organizations
    where they are admins."""
    scope = visibility(actor)
    if not actor.is_authenticated and not actor.is_sysadmin:
        authorize(actor, Action.MANAGE_HARVEST, None)
    query = select(HarvestSource).order_by(HarvestSource.name)
    if not scope.everything:
        query = query.where(HarvestSource.organization_id.in_(scope.admin_organization_ids))
    return [_record(session, s) for s in session.scalars(query)]


def delete_source(session: Session, actor: Actor, name: str) -> int:
    """Delete the source with its runs. Its datasets are deleted too (the origin owns them,
    and nobody keeps them current any more); they go into the organization's trash, detached
    from the source: restored, they are the organization's own, editable copies."""
    source = _managed(session, actor, name)
    live = list(session.scalars(select(Dataset).where(
        Dataset.harvest_source_id == source.id, Dataset.deleted_at.is_(None))))
    for dataset in live:
        datasets.delete_dataset(session, HARVESTER, dataset.name)
    session.execute(update(Dataset).where(Dataset.harvest_source_id == source.id)
                    .values(harvest_source_id=None))
    session.execute(HarvestRun.__table__.delete().where(HarvestRun.source_id == source.id))
    session.delete(source)
    session.flush()
    return len(live)


def _record(session: Session, source: HarvestSource) -> SourceRecord:
    last = session.scalar(select(HarvestRun).where(HarvestRun.source_id == source.id)
                          .order_by(HarvestRun.queued_at.desc(), HarvestRun.id.desc()).limit(1))
    count = session.scalar(select(func.count(Dataset.id)).where(
        Dataset.harvest_source_id == source.id, Dataset.deleted_at.is_(None))) or 0
    return SourceRecord(source.name, source.type, source.url, source.organization.slug,
                        source.schedule, source.ingest_resources, source.created_at,
                        _run_record(last, source.name) if last else None, count)


def _run_record(run: HarvestRun, source: str) -> RunRecord:
    return RunRecord(
        run.id, source, run.status, run.trigger, run.job_id, run.queued_at, run.started_at,
        run.finished_at, run.created, run.updated, run.deleted, run.unchanged,
        tuple(Failure(str(f.get("id")), restored(f)) for f in run.failures or []),
        restored(run.reason) if run.reason else None)


# --- runs ------------------------------------------------------------------------------------

def queue_run(session: Session, actor: Actor, name: str, trigger: str = "manual") -> RunRecord:
    """A queued run of the source, done by a ``harvest`` job."""
    source = _managed(session, actor, name)
    return _queue(session, actor, source, trigger)


def _queue(session: Session, actor: Actor, source: HarvestSource, trigger: str) -> RunRecord:
    run = HarvestRun(source_id=source.id, status=QUEUED, trigger=trigger,
                     created_by_id=actor.user_id, failures=[])
    session.add(run)
    session.flush()
    job = queue.enqueue(session, JOB_KIND, {"run": run.id}, actor, source.organization_id)
    run.job_id = job.id
    session.flush()
    return _run_record(run, source.name)


def list_runs(session: Session, actor: Actor, name: str, limit: int = 50) -> list[RunRecord]:
    source = _managed(session, actor, name)
    runs = session.scalars(select(HarvestRun).where(HarvestRun.source_id == source.id)
                           .order_by(HarvestRun.queued_at.desc(), HarvestRun.id.desc())
                           .limit(limit))
    return [_run_record(r, source.name) for r in runs]


def get_run(session: Session, actor: Actor, run_id: int) -> RunRecord:
    run = session.get(HarvestRun, run_id)
    source = session.get(HarvestSource, run.source_id) if run else None
    if run is None or source is None:
        raise NotFound(msg("Den Harvest-Lauf {id} gibt es nicht.", id=run_id),
                       "harvest_run_not_found")
    authorize(actor, Action.MANAGE_HARVEST, source.organization_id)
    return _run_record(run, source.name)


def run(platform: Platform, actor: Actor, name: str, trigger: str = "cli") -> RunRecord:
    """Run the source now, in this process; the run's report."""
    with platform.db.session() as session:
        source = _managed(session, actor, name)
        new = HarvestRun(source_id=source.id, status=QUEUED, trigger=trigger,
                         created_by_id=actor.user_id, failures=[])
        session.add(new)
        session.flush()
        run_id = new.id
    return execute(platform, run_id)


def queue_due(platform: Platform, now: dt.datetime | None = None) -> list[int]:
    """Queue a run of every scheduled source whose interval has passed since its last run
    was queued and that has none queued or running; the ids of the new runs."""
    now = now or utcnow()
    queued = []
    settle_abandoned(platform, now)
    with platform.db.session() as session:
        for source in session.scalars(select(HarvestSource).where(
                HarvestSource.schedule != "off").order_by(HarvestSource.id)):
            interval = SCHEDULES.get(source.schedule)
            latest = session.scalar(select(HarvestRun).where(HarvestRun.source_id == source.id)
                                    .order_by(HarvestRun.id.desc()).limit(1))
            if interval is None or (latest is not None and (
                    latest.status in (QUEUED, RUNNING) or latest.queued_at + interval > now)):
                continue
            queued.append(_queue(session, HARVESTER, source, "schedule").id)
    return queued


def settle_abandoned(platform: Platform, now: dt.datetime | None = None) -> list[int]:
    """End the runs nobody will finish as failed, so that their source is harvested again:
    a run whose job ended without it (a worker killed past its last attempt, a job over its
    memory or time limit), and a run of the command line still open after the longest time a
    job may take (the command was killed). The ids of the runs ended."""
    now = now or utcnow()
    oldest = now - dt.timedelta(seconds=platform.settings.job_time_limit_seconds)
    ended = []
    with platform.db.session() as session:
        open_runs = session.execute(
            select(HarvestRun, Job).outerjoin(Job, Job.id == HarvestRun.job_id)
            .where(HarvestRun.status.in_((QUEUED, RUNNING)))).all()
        for run_row, job in open_runs:
            if job is not None and job.status in (queue.DONE, queue.FAILED):
                why = restored(job.error) if job.error else msg("ohne Meldung")
                reason = msg("Der Auftrag des Laufs endete, ohne ihn abzuschließen: {why}",
                             why=why)
            elif job is None and run_row.job_id is None and \
                    (run_row.started_at or run_row.queued_at) < oldest:
                reason = msg("Der Lauf auf der Kommandozeile wurde nicht beendet (abgebrochen?).")
            else:
                continue
            run_row.status, run_row.finished_at = FAILED, now
            run_row.reason = stored(reason)
            ended.append(run_row.id)
        session.flush()
    if ended:
        log.warning("harvest runs ended as abandoned: %s", ended)
    return ended


@dataclass
class _Tally:
    created: int = 0
    updated: int = 0
    deleted: int = 0
    unchanged: int = 0
    newest: dt.datetime | None = None

    def __post_init__(self) -> None:
        self.failures: list[dict[str, Any]] = []

    def fail(self, origin_id: str, message: str) -> None:
        self.failures.append({"id": origin_id, **stored(message)})

    def saw(self, moment: dt.datetime | None) -> None:
        if moment is not None and (self.newest is None or moment > self.newest):
            self.newest = moment


@dataclass(frozen=True)
class _Plan:
    """What a run needs of its source, read once (the source row is not held during it)."""

    run_id: int
    source_id: int
    source_name: str
    type: str
    url: str
    organization: str
    ingest: bool
    since: dt.datetime | None


def execute(platform: Platform, run_id: int) -> RunRecord:
    """Do the run: its report, also when it failed as a whole (``status`` ``failed`` and a
    ``reason``). Only a run that is queued (or running: its worker died, the job is retried)
    is done."""
    plan = _start(platform, run_id)
    tally = _Tally()
    try:
        with Fetcher(Limits.of(platform.settings)) as fetcher:
            reader = _reader(plan, fetcher)
            _write_all(platform, plan, tally, reader.records(plan.since), fetcher)
            identifiers = reader.identifiers()
            _delete_missing(platform, plan, tally, identifiers)
    except AllmendeError as error:
        return _finish(platform, plan, tally, error.message)
    except Exception as error:  # an unforeseen failure fails the run too, and deletes nothing
        log.exception("harvest run %s failed", run_id)
        return _finish(platform, plan, tally, msg(
            "Interner Fehler beim Harvesting ({detail}); es wurde nichts gelöscht.",
            detail=type(error).__name__))
    return _finish(platform, plan, tally, None)


def _start(platform: Platform, run_id: int) -> _Plan:
    with platform.db.session() as session:
        started = session.execute(update(HarvestRun).where(
            HarvestRun.id == run_id, HarvestRun.status.in_((QUEUED, RUNNING)))
            .values(status=RUNNING, started_at=utcnow())).rowcount
        run_row = session.get(HarvestRun, run_id)
        if not started or run_row is None:
            raise Conflict(msg("Der Harvest-Lauf {id} ist schon beendet.", id=run_id),
                           "harvest_run_over")
        source = session.get(HarvestSource, run_row.source_id)
        assert source is not None  # runs go with their source
        since = source.high_water - OVERLAP if source.high_water else None
        return _Plan(run_id, source.id, source.name, source.type, source.url,
                     source.organization.slug, source.ingest_resources, since)


def _reader(plan: _Plan, fetcher: Fetcher) -> Reader:
    # imported here: rdflib takes a while to load, and only a run needs a reader
    if plan.type == "dcat":
        from allmende.interop.harvest.dcat import DcatReader

        return DcatReader(fetcher, plan.url)
    from allmende.interop.harvest.ckan import AllmendeReader, CkanReader

    return (AllmendeReader if plan.type == "allmende" else CkanReader)(fetcher, plan.url)


def _batches(records: Iterable[Harvested | BadRecord]) -> Iterator[list[Harvested | BadRecord]]:
    batch: list[Harvested | BadRecord] = []
    for record in records:
        batch.append(record)
        if len(batch) >= BATCH:
            yield batch
            batch = []
    if batch:
        yield batch


def _write_all(platform: Platform, plan: _Plan, tally: _Tally,
               records: Iterable[Harvested | BadRecord], fetcher: Fetcher) -> None:
    target = writer.Target(plan.source_id, plan.source_name, plan.organization, plan.ingest)
    for batch in _batches(records):
        written = _write_batch(platform, plan, target, tally, batch)
        if plan.ingest:
            resources.ingest(platform, fetcher, written, tally.fail)


def _write_batch(platform: Platform, plan: _Plan, target: writer.Target, tally: _Tally,
                 batch: list[Harvested | BadRecord]) -> list[tuple[str, Harvested]]:
    """One transaction for the batch, a savepoint per record: a bad record is a failure
    entry, the others stand. The written records with their dataset's name."""
    written = []
    with platform.db.session() as session:
        _progress(session, plan, tally)
        for record in batch:
            if isinstance(record, BadRecord):
                tally.fail(record.origin_id, record.message)
                continue
            try:
                outcome, dataset = writer.apply(session, target, record)
            except AllmendeError as error:
                tally.fail(record.origin_id, _record_problem(error))
                continue
            except DBAPIError:
                raise  # the transaction is gone; the run fails (nothing deleted)
            tally.saw(record.modified)
            setattr(tally, outcome, getattr(tally, outcome) + 1)
            if outcome != writer.UNCHANGED:
                written.append((dataset.name, record))
    return written


def _record_problem(error: AllmendeError) -> str:
    if not error.field_errors:
        return error.message
    first = error.field_errors[0]
    return neutral("{field}: {problem}", field=first.field, problem=first.message)


def _delete_missing(platform: Platform, plan: _Plan, tally: _Tally,
                    identifiers: set[str]) -> None:
    """Delete the source's datasets whose origin the complete listing no longer holds."""
    with platform.db.session() as session:
        rows = session.execute(select(Dataset.name, Dataset.origin_id).where(
            Dataset.harvest_source_id == plan.source_id, Dataset.deleted_at.is_(None))).all()
    gone = [name for name, origin in rows if origin not in identifiers]
    for start in range(0, len(gone), BATCH):
        with platform.db.session() as session:
            _progress(session, plan, tally)
            for name in gone[start:start + BATCH]:
                datasets.delete_dataset(session, HARVESTER, name)
                tally.deleted += 1


def _progress(session: Session, plan: _Plan, tally: _Tally) -> None:
    """The run's counts so far. Written first in each of the run's write transactions: on
    SQLite a transaction that reads before it writes fails at once when another run wrote
    meanwhile, one that writes first waits its turn."""
    session.execute(update(HarvestRun).where(HarvestRun.id == plan.run_id).values(
        created=tally.created, updated=tally.updated, deleted=tally.deleted,
        unchanged=tally.unchanged, failures=tally.failures))


def _finish(platform: Platform, plan: _Plan, tally: _Tally, reason: str | None) -> RunRecord:
    with platform.db.session() as session:
        _progress(session, plan, tally)
        run_row = session.get(HarvestRun, plan.run_id)
        source = session.get(HarvestSource, plan.source_id)
        assert run_row is not None and source is not None
        run_row.status = FAILED if reason else SUCCEEDED
        run_row.finished_at = utcnow()
        run_row.created, run_row.updated = tally.created, tally.updated
        run_row.deleted, run_row.unchanged = tally.deleted, tally.unchanged
        run_row.failures, run_row.reason = tally.failures, stored(reason) if reason else None
        source.last_run_at = run_row.finished_at
        if reason is None and tally.newest is not None:
            # only a complete run moves the mark: a failed one is caught up next time
            source.high_water = max(filter(None, (source.high_water, tally.newest)))
        session.flush()
        return _run_record(run_row, source.name)


def failed_run(report: RunRecord) -> FetchError | None:
    """The run's failure as an error (the job ends failed with it), None when it succeeded."""
    if report.status != FAILED:
        return None
    return FetchError(report.reason or msg("Der Harvest-Lauf ist fehlgeschlagen."),
                      "harvest_failed")
