"""Enqueue, claim, report progress, finish: the job lifecycle as small typed functions."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from allmende.access.policy import Actor
from allmende.db.models import Job, utcnow
from allmende.errors import AllmendeError, Message, NotFound, msg

QUEUED, RUNNING, DONE, FAILED = "queued", "running", "done", "failed"
# A running job whose worker has not reported for this long is taken to be dead.
STALE_AFTER = dt.timedelta(minutes=5)
#: Where a failed job's stored error keeps a message's template and parameters, so that the
#: API can answer in the asker's language long after the job ended.
TEMPLATE_KEY = "i18n"


def enqueue(session: Session, kind: str, payload: dict[str, Any], actor: Actor) -> Job:
    job = Job(kind=kind, payload=payload, status=QUEUED, created_by_id=actor.user_id)
    session.add(job)
    session.flush()
    return job


def claim(session: Session, worker: str) -> Job | None:
    """Take the oldest queued job. ``SKIP LOCKED`` lets PostgreSQL workers pass each other;
    the conditional update makes the claim exclusive on SQLite too."""
    candidate = session.scalar(
        select(Job.id).where(Job.status == QUEUED).order_by(Job.id).limit(1)
        .with_for_update(skip_locked=True))
    if candidate is None:
        return None
    now = utcnow()
    claimed = session.execute(
        update(Job).where(Job.id == candidate, Job.status == QUEUED)
        .values(status=RUNNING, worker=worker, started_at=now, heartbeat_at=now,
                attempts=Job.attempts + 1)).rowcount
    session.commit()
    return session.get(Job, candidate) if claimed == 1 else None


def report(session: Session, job_id: int, progress: float, message: str) -> None:
    session.execute(update(Job).where(Job.id == job_id).values(
        progress=max(0.0, min(1.0, progress)), message=message, heartbeat_at=utcnow()))
    session.commit()


def finish(session: Session, job_id: int, result: dict[str, Any]) -> None:
    session.execute(update(Job).where(Job.id == job_id).values(
        status=DONE, progress=1.0, result=result, finished_at=utcnow(), heartbeat_at=utcnow()))
    session.commit()


def fail(session: Session, job_id: int, error: AllmendeError) -> None:
    body: dict[str, Any] = {"code": error.code, **_stored(error.message)}
    if error.field_errors:
        body["fields"] = [{"field": f.field, **_stored(f.message)} for f in error.field_errors]
    session.execute(update(Job).where(Job.id == job_id).values(
        status=FAILED, error=body, message=str(error.message), finished_at=utcnow()))
    session.commit()


def _stored(message: str) -> dict[str, Any]:
    """The German message, and its template and parameters when it has them."""
    entry: dict[str, Any] = {"message": str(message)}
    if isinstance(message, Message):
        entry[TEMPLATE_KEY] = message.to_json()
    return entry


def stored_message(entry: dict[str, Any]) -> str:
    """A message stored by :func:`fail`, as a :class:`Message` again when it was one."""
    german = str(entry.get("message", ""))
    template = entry.get(TEMPLATE_KEY)
    if not isinstance(template, dict):
        return german
    try:
        return Message.from_json(template)
    except (KeyError, IndexError, ValueError, TypeError, AttributeError):  # old or damaged
        return german


def fail_stale(session: Session, now: dt.datetime | None = None) -> list[int]:
    """Jobs whose worker died (killed, machine gone) end as failed, so nobody waits forever;
    their partial output is removed by the job kind's own clean-up."""
    limit = (now or utcnow()) - STALE_AFTER
    stale = list(session.scalars(select(Job.id).where(
        Job.status == RUNNING, Job.heartbeat_at < limit)))
    for job_id in stale:
        fail(session, job_id, AllmendeError(msg(
            "Die Verarbeitung wurde unterbrochen (Server neu gestartet oder abgebrochen). "
            "Bitte laden Sie die Datei erneut hoch."), "interrupted", 500))
    return stale


def get_job(session: Session, actor: Actor, job_id: int) -> Job:
    job = session.get(Job, job_id)
    if job is None or not (actor.is_sysadmin or job.created_by_id == actor.user_id):
        raise NotFound(msg("Den Auftrag {job_id} gibt es nicht.", job_id=job_id),
                       "job_not_found")
    return job
