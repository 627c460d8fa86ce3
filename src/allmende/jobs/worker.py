"""Runs jobs: one at a time per worker, each handler in its own unit of work, with a heartbeat
while it runs; any worker reclaims the jobs of workers that died."""

from __future__ import annotations

import datetime as dt
import logging
import os
import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from allmende.access.accounts import actor_for
from allmende.access.policy import ANONYMOUS, Actor
from allmende.config import Settings
from allmende.db.models import Job, User
from allmende.errors import AllmendeError, msg
from allmende.jobs import queue, registry
from allmende.jobs.attempt import Attempt
from allmende.platform import Platform
from allmende.tables import store

log = logging.getLogger(__name__)
#: How soon an idle worker starts a job queued by its own process.
WAKE_SECONDS = 0.05
#: The registered periodic tasks (harvest schedules, log checkpoints, expiries) run first this
#: long after a worker loop starts, not at its start: a loop that lives a few seconds (a test's;
#: hundreds of them in a run) had run them all each time, and none is urgent at a start.
PERIODIC_START_SECONDS = 10.0


@dataclass
class JobContext:
    """What a handler gets: the platform, the job's payload, who asked for it, and the attempt
    that owns the files it writes."""

    platform: Platform
    job_id: int
    payload: dict[str, Any]
    actor: Actor
    worker: str
    attempt: Attempt = field(init=False)

    def __post_init__(self) -> None:
        self.attempt = Attempt(self.platform.settings.data_dir, announce=self._announce,
                               pause_at=self.platform.settings.pause_at,
                               guard=self._still_held)

    def progress(self, fraction: float, message: str) -> None:
        with self.platform.db.sessions() as session:
            queue.report(session, self.job_id, self.worker, fraction, message)

    def _announce(self, paths: list[str]) -> None:
        with self.platform.db.sessions() as session:
            queue.announce(session, self.job_id, self.worker, paths)

    def _still_held(self, session: Any) -> None:
        queue.still_held(session, self.job_id, self.worker)


Handler = Callable[[JobContext], dict[str, Any]]


def worker_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{threading.get_ident()}"


@contextmanager
def _heartbeat(platform: Platform, job_id: int, worker: str) -> Iterator[None]:
    """Tell the queue every few seconds that this worker still runs the job."""
    stop = threading.Event()
    interval = platform.settings.job_heartbeat_seconds

    def beat() -> None:
        while not stop.wait(interval):
            try:
                with platform.db.sessions() as session:
                    if not queue.heartbeat(session, job_id, worker):
                        return
            except Exception:  # a missed beat is retried; the job goes on
                log.warning("heartbeat of job %s failed", job_id, exc_info=True)

    thread = threading.Thread(target=beat, name=f"heartbeat-{job_id}", daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join()


def execute(platform: Platform, job: Job) -> None:
    """Run one claimed job to its end: done with a result, or failed with a clear error. With
    ``ALLMENDE_JOB_ISOLATION=process`` (the default) it runs in a child process of its own
    under a memory and a time limit, so a crash or an overrun ends only that job."""
    if platform.settings.job_isolation == "process":
        from allmende.jobs.isolation import execute_in_child

        execute_in_child(platform, job, _heartbeat)
    else:
        with _heartbeat(platform, job.id, job.worker or worker_name()):
            run_handler(platform, job)


def run_handler(platform: Platform, job: Job) -> None:
    """The job's handler in this process; the result or the error goes to the queue."""
    worker = job.worker or worker_name()
    with platform.db.sessions() as session:
        user = session.get(User, job.created_by_id) if job.created_by_id else None
        actor = actor_for(user) if user else ANONYMOUS
    context = JobContext(platform, job.id, job.payload, actor, worker)
    handler = registry.handler_for(job.kind)
    try:
        if handler is None:
            raise AllmendeError(msg("Unbekannte Auftragsart „{kind}“.", kind=job.kind),
                                "unknown_job", 500)
        result = handler(context)
    except AllmendeError as error:
        with platform.db.sessions() as session:
            queue.fail(session, job.id, error, worker)
        return
    except Exception:
        log.exception("job %s (%s) failed", job.id, job.kind)
        with platform.db.sessions() as session:
            queue.fail(session, job.id, AllmendeError(msg(
                "Bei der Verarbeitung ist ein interner Fehler aufgetreten. Die vorherige "
                "Version bleibt unverändert."), "internal", 500), worker)
        return
    finally:
        context.attempt.close()
    with platform.db.sessions() as session:
        queue.finish(session, job.id, worker, result)


def run_once(platform: Platform, name: str | None = None) -> bool:
    """Claim and run one job; False when the queue was empty."""
    with platform.db.sessions() as session:
        job = queue.claim(session, name or worker_name())
    if job is None:
        return False
    execute(platform, job)
    return True


def run_job(platform: Platform, job_id: int) -> bool:
    """Claim and run one particular job in this process (the demo running what it queued,
    which finds its work done); False when it was no longer queued."""
    with platform.db.sessions() as session:
        job = queue.claim_job(session, job_id, worker_name())
    if job is None:
        return False
    with _heartbeat(platform, job.id, job.worker or worker_name()):
        run_handler(platform, job)
    return True


def reclaim(platform: Platform) -> list[queue.Reclaimed]:
    """Take back the jobs of dead workers (see queue.reclaim_stale)."""
    stale_after = dt.timedelta(seconds=platform.settings.job_stale_seconds)
    with platform.db.sessions() as session:
        reclaimed = queue.reclaim_stale(session, platform.settings.data_dir, stale_after)
    for entry in reclaimed:
        log.warning("job %s was interrupted; %s", entry.job_id,
                    "queued again" if entry.retried else "failed")
    return reclaimed


def recover(platform: Platform) -> list[Path]:
    """After a crash or kill: take back interrupted jobs (their announced files go) and remove
    what else dead attempts left (scratch folders, files no row points to)."""
    reclaim(platform)
    with platform.db.sessions() as session:
        referenced, staged = queue.referenced_paths(session), queue.staged_in_use(session)
    return store.sweep(platform.settings.data_dir, referenced, staged)


def tidy(platform: Platform) -> list[Path]:
    """What every worker does now and then: take back jobs of dead workers, remove scratch
    folders of dead processes and uploads no job waits for."""
    reclaim(platform)
    with platform.db.sessions() as session:
        staged = queue.staged_in_use(session)
    return store.sweep_scratch(platform.settings.data_dir, staged)


#: Seconds an idle worker waits before it looks at the queue again (`allmende worker --poll`).
POLL_SECONDS = 1.0


def tidy_seconds(settings: Settings) -> float:
    """How often a worker tidies up: a quarter of the stale limit. An idle worker thus takes
    back a dead worker's job at most ``job_stale_seconds`` + this + one poll after the job's
    last heartbeat (with the defaults 60 + 15 + 1 s)."""
    return settings.job_stale_seconds / 4


def run_until(platform: Platform, stop: threading.Event,
              poll_seconds: float = POLL_SECONDS) -> None:
    """Work through the queue until ``stop`` is set; when it is empty, look again after
    ``poll_seconds`` or as soon as this process queues a job. Between jobs, the periodic tasks
    that are due run: tidying up after dead workers (:func:`tidy_seconds`, at once) and
    whatever the capabilities registered (first after PERIODIC_START_SECONDS)."""
    tasks = [registry.Periodic("tidy", tidy_seconds(platform.settings), tidy),
             *registry.periodic_tasks()]
    started = time.monotonic()
    due = {task.name: started + min(task.every_seconds, PERIODIC_START_SECONDS)
           for task in tasks}
    due["tidy"] = started
    while not stop.is_set():
        for task in tasks:
            if time.monotonic() >= due[task.name]:
                _run_periodic(platform, task)
                due[task.name] = time.monotonic() + task.every_seconds
        if not run_once(platform):
            _idle(stop, poll_seconds)


def _idle(stop: threading.Event, seconds: float) -> None:
    """Wait up to ``seconds`` for ``stop`` or a job queued by this process (a look at a counter
    in memory every WAKE_SECONDS; the queue in the database is read once per ``seconds``)."""
    seen = queue.queued_here()
    deadline = time.monotonic() + seconds
    while not stop.wait(min(WAKE_SECONDS, seconds)):
        if queue.queued_here() != seen or time.monotonic() >= deadline:
            return


def _run_periodic(platform: Platform, task: registry.Periodic) -> None:
    """A periodic task that fails is logged and tried again when next due; the worker goes
    on with its jobs."""
    try:
        task.run(platform)
    except Exception:
        log.exception("periodic task %s failed", task.name)
