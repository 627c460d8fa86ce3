"""Enqueue, claim, report progress, finish: the job lifecycle as small typed functions."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import event, select, update
from sqlalchemy.orm import Session

from allmende.access.policy import Action, Actor, is_allowed
from allmende.db.models import Job, QualityReport, TableVersion, utcnow
from allmende.errors import AllmendeError, NotFound, msg, stored
from allmende.tables import store

QUEUED, RUNNING, DONE, FAILED = "queued", "running", "done", "failed"
#: A job interrupted this often (its worker died each time) is failed instead of retried.
MAX_ATTEMPTS = 3

# Jobs committed by this process, counted: its workers (`serve`'s own, the tests') start them at
# once instead of at their next look at the queue. Workers of other processes find them there.
_queued_here = 0


def queued_here() -> int:
    """How many units of work of this process have committed a new job. A worker only asks
    whether it changed since it went idle, so two commits counting at once (one increment lost
    between threads) still change it."""
    return _queued_here


def _count_committed(_session: Session) -> None:
    global _queued_here
    _queued_here += 1


def enqueue(session: Session, kind: str, payload: dict[str, Any], actor: Actor,
            organization_id: int | None = None) -> Job:
    """Queue a job for ``actor``; the admins of ``organization_id`` (the organization whose
    data it works on) may read it too."""
    job = Job(kind=kind, payload=payload, status=QUEUED, created_by_id=actor.user_id,
              organization_id=organization_id)
    session.add(job)
    session.flush()
    event.listen(session, "after_commit", _count_committed, once=True)
    return job


def claim(session: Session, worker: str) -> Job | None:
    """Take the oldest queued job. ``SKIP LOCKED`` lets PostgreSQL workers pass each other;
    the conditional update makes the claim exclusive on SQLite too."""
    candidate = session.scalar(
        select(Job.id).where(Job.status == QUEUED).order_by(Job.id).limit(1)
        .with_for_update(skip_locked=True))
    if candidate is None:
        return None
    return claim_job(session, candidate, worker)


def claim_job(session: Session, job_id: int, worker: str) -> Job | None:
    """Take one queued job; None when it is not queued (any more)."""
    now = utcnow()
    claimed = session.execute(
        update(Job).where(Job.id == job_id, Job.status == QUEUED)
        .values(status=RUNNING, worker=worker, started_at=now, heartbeat_at=now,
                attempts=Job.attempts + 1, outputs=None)).rowcount
    session.commit()
    return session.get(Job, job_id) if claimed == 1 else None


def _running(job_id: int, worker: str):  # type: ignore[no-untyped-def]
    """The job's row while this worker still holds it (not reclaimed by another)."""
    return update(Job).where(Job.id == job_id, Job.status == RUNNING, Job.worker == worker)


def heartbeat(session: Session, job_id: int, worker: str) -> bool:
    """Say the worker is alive; False when the job was taken from it."""
    held = session.execute(_running(job_id, worker).values(heartbeat_at=utcnow())).rowcount
    session.commit()
    return held == 1


def report(session: Session, job_id: int, worker: str, progress: float, message: str) -> None:
    session.execute(_running(job_id, worker).values(
        progress=max(0.0, min(1.0, progress)), message=message, heartbeat_at=utcnow()))
    session.commit()


def announce(session: Session, job_id: int, worker: str, paths: list[str]) -> None:
    """Record files the running attempt is about to create (see jobs.attempt)."""
    job = session.get(Job, job_id)
    if job is None or job.status != RUNNING or job.worker != worker:
        raise TakenOver()
    job.outputs = [*(job.outputs or []), *paths]
    session.commit()


def still_held(session: Session, job_id: int, worker: str) -> None:
    """Inside a publishing transaction: refuse to publish for a job taken from this worker
    (its heartbeat stopped long enough for another worker to reclaim it)."""
    if session.execute(_running(job_id, worker).values(heartbeat_at=utcnow())).rowcount != 1:
        raise TakenOver()


class TakenOver(AllmendeError):
    def __init__(self) -> None:
        super().__init__(msg("Der Auftrag wurde inzwischen von einem anderen Prozess "
                             "übernommen."), "job_taken_over", 409)


def finish(session: Session, job_id: int, worker: str, result: dict[str, Any]) -> None:
    done = session.execute(_running(job_id, worker).values(
        status=DONE, progress=1.0, result=result, finished_at=utcnow(), heartbeat_at=utcnow(),
        outputs=None)).rowcount
    session.commit()
    if done:
        _release_staged(session, job_id)


def fail(session: Session, job_id: int, error: AllmendeError, worker: str | None = None
         ) -> None:
    """End the job as failed (only while ``worker`` holds it, when given)."""
    # the messages keep their templates: the API answers in the asker's language
    body: dict[str, Any] = {"code": error.code, **stored(error.message)}
    if error.field_errors:
        body["fields"] = [{"field": f.field, **stored(f.message)} for f in error.field_errors]
    statement = update(Job).where(Job.id == job_id) if worker is None \
        else _running(job_id, worker)
    failed = session.execute(statement.values(
        status=FAILED, error=body, message=str(error.message), finished_at=utcnow())).rowcount
    session.commit()
    if failed:
        _release_staged(session, job_id)


def _release_staged(session: Session, job_id: int) -> None:
    """An ended job's staged input (an uploaded file waiting for its ingest) is not needed
    any more; while a job may still be retried, it stays."""
    job = session.get(Job, job_id)
    staged = (job.payload or {}).get("upload") if job is not None else None
    if isinstance(staged, str):
        Path(staged).unlink(missing_ok=True)


@dataclass
class Reclaimed:
    job_id: int
    retried: bool
    removed: list[Path]


def reclaim_stale(session: Session, data_dir: Path, stale_after: dt.timedelta,
                  now: dt.datetime | None = None) -> list[Reclaimed]:
    """Take back jobs whose worker stopped sending heartbeats (killed, machine gone): remove
    the files their attempt announced that no row points to, then queue them again, or fail
    them after :data:`MAX_ATTEMPTS` attempts. The conditional update makes each reclaim
    exclusive, also against the old worker should it still be alive."""
    limit = (now or utcnow()) - stale_after
    candidates = list(session.scalars(select(Job.id).where(
        Job.status == RUNNING, Job.heartbeat_at < limit).order_by(Job.id)))
    reclaimed = []
    for job_id in candidates:
        taken = session.execute(update(Job).where(
            Job.id == job_id, Job.status == RUNNING, Job.heartbeat_at < limit)
            .values(worker=None, heartbeat_at=utcnow())).rowcount
        if taken != 1:
            session.rollback()
            continue
        job = session.get(Job, job_id)
        removed = _remove_outputs(session, data_dir, job)
        retried = job.attempts < MAX_ATTEMPTS
        if retried:
            job.status, job.outputs, job.progress = QUEUED, None, 0.0
            job.message = str(msg("Unterbrochen; wird erneut versucht."))
            session.commit()
        else:
            session.commit()
            fail(session, job_id, AllmendeError(msg(
                "Die Verarbeitung wurde {attempts}-mal unterbrochen (Server neu gestartet oder "
                "Prozess beendet) und wird nicht weiter versucht. Die vorherige Version bleibt "
                "unverändert; bitte versuchen Sie es erneut.", attempts=job.attempts),
                "interrupted", 500))
        reclaimed.append(Reclaimed(job_id, retried, removed))
    return reclaimed


def abandon(session: Session, job_id: int, worker: str, data_dir: Path,
            error: AllmendeError) -> list[Path]:
    """End a job whose attempt died while its worker watched (killed at a limit, crashed):
    remove the files the attempt announced that no row points to, and fail the job."""
    job = session.get(Job, job_id)
    if job is None or job.status != RUNNING or job.worker != worker:
        return []  # the attempt ended it itself, or another worker took it over
    removed = _remove_outputs(session, data_dir, job)
    fail(session, job_id, error, worker)
    return removed


def _remove_outputs(session: Session, data_dir: Path, job: Job) -> list[Path]:
    outputs = list(job.outputs or [])
    return store.remove_unreferenced(data_dir, outputs, referenced_paths(session, outputs))


def staged_in_use(session: Session) -> list[str]:
    """The staged uploads of jobs that are queued or running (retries need them)."""
    payloads = session.scalars(select(Job.payload).where(Job.status.in_((QUEUED, RUNNING))))
    return [p["upload"] for p in payloads if isinstance((p or {}).get("upload"), str)]


def referenced_paths(session: Session, paths: list[str] | None = None) -> list[str]:
    """Which of these paths (default: all) a table version or a harmonized table points to."""
    if paths == []:
        return []
    versions, harmonized = select(TableVersion.path), select(QualityReport.mapped_path)
    if paths is not None:
        versions = versions.where(TableVersion.path.in_(paths))
        harmonized = harmonized.where(QualityReport.mapped_path.in_(paths))
    return [*session.scalars(versions), *session.scalars(harmonized)]


def get_job(session: Session, actor: Actor, job_id: int) -> Job:
    job = session.get(Job, job_id)
    if job is None or not is_allowed(actor, Action.READ_JOB, job):
        raise NotFound(msg("Den Auftrag {job_id} gibt es nicht.", job_id=job_id),
                       "job_not_found")
    return job
