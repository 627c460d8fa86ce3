"""A job in a child process of its own: what it breaks, it breaks alone.

A small file can make DuckDB use gigabytes and crash; run inside the web server's worker
thread, it took the server with it. Here each job runs in a fresh process that claims nothing,
only runs the job's handler and reports to the queue as the worker. The children are forked by
a fork server (multiprocessing's "forkserver"): a process of its own, started once per worker,
that has imported what jobs need and runs no Python thread and holds no connection or state of
the worker: a job starts in milliseconds instead of a second of imports, and still shares
nothing with the worker's threads and connections. The parent sends the heartbeats and watches
the child: above ``ALLMENDE_JOB_MEMORY_LIMIT_MB`` of resident memory or past
``ALLMENDE_JOB_TIME_LIMIT_SECONDS`` it kills it; a child that dies without ending its job
(killed, a segmentation fault) fails the job with a clear message. Either way the files the
attempt announced are removed and the previous version stays as it was. The fork server ends
with the worker, and each child with the fork server (Linux ``PR_SET_PDEATHSIG``), so a killed
worker leaves no orphan at work.
"""

from __future__ import annotations

import ctypes
import logging
import multiprocessing
import os
import signal
import time
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass
from multiprocessing import forkserver
from pathlib import Path
from typing import Any

from allmende.config import Settings
from allmende.db.models import Job
from allmende.errors import AllmendeError, Message, msg
from allmende.jobs import queue, registry
from allmende.jobs.worker import run_handler
from allmende.platform import Platform

log = logging.getLogger(__name__)
#: How often the parent looks at the child's memory and clock.
WATCH_SECONDS = 0.2
_PR_SET_PDEATHSIG = 1
_FORK_SERVER = multiprocessing.get_context("forkserver")

Heartbeat = Callable[[Platform, int, str], AbstractContextManager[None]]


@dataclass(frozen=True)
class _Ending:
    """How a child ended that did not end its job itself."""

    message: Message
    code: str


def execute_in_child(platform: Platform, job: Job, heartbeat: Heartbeat) -> None:
    worker = job.worker or ""
    child = _fork_server().Process(
        target=_child_main, name=f"job-{job.id}", daemon=True,
        args=(platform.settings.model_dump(mode="json"), job.id, worker))
    child.start()
    with heartbeat(platform, job.id, worker):
        ending = _watch(child, platform.settings.job_memory_limit_mb,
                        platform.settings.job_time_limit_seconds)
    if ending is None:
        return
    log.warning("job %s (%s): %s", job.id, job.kind, ending.message)
    with platform.db.sessions() as session:
        queue.abandon(session, job.id, worker, platform.settings.data_dir,
                      AllmendeError(ending.message, ending.code, 500))


def _fork_server() -> multiprocessing.context.ForkServerContext:
    """The context whose fork server has imported this module and every job kind's handler
    (it starts with the first job; the preload must be set before)."""
    _FORK_SERVER.set_forkserver_preload([__name__, *registry.handler_modules()])
    return _FORK_SERVER


def _watch(child: multiprocessing.process.BaseProcess, memory_limit_mb: int,
           time_limit: float) -> _Ending | None:
    """Wait for the child; stop it at a limit. None when it ended by itself, cleanly."""
    deadline = time.monotonic() + time_limit
    while True:
        child.join(WATCH_SECONDS)
        if child.exitcode is not None:
            break
        if _resident_mb(child.pid) > memory_limit_mb:
            _kill(child)
            return _Ending(msg(
                "Die Verarbeitung brauchte mehr als {limit} MB Arbeitsspeicher und wurde "
                "abgebrochen; die vorherige Version bleibt unverändert. Sehr breite oder sehr "
                "große Dateien teilen Sie am besten auf.", limit=memory_limit_mb),
                "memory_limit")
        if time.monotonic() > deadline:
            _kill(child)
            return _Ending(msg(
                "Die Verarbeitung dauerte länger als {seconds} Sekunden und wurde abgebrochen; "
                "die vorherige Version bleibt unverändert.", seconds=round(time_limit)),
                "time_limit")
    if child.exitcode == 0:
        return None
    return _Ending(msg(
        "Die Verarbeitung ist abgestürzt (Prozess beendet mit {code}); die vorherige Version "
        "bleibt unverändert.", code=_exit_text(child.exitcode)), "crashed")


def _exit_text(code: int | None) -> str:
    if code is not None and code < 0:
        try:
            return signal.Signals(-code).name
        except ValueError:
            return f"Signal {-code}"
    return f"Status {code}"


def _kill(child: multiprocessing.process.BaseProcess) -> None:
    child.kill()
    child.join(10)


def _resident_mb(pid: int | None) -> float:
    """The process's resident memory (Linux /proc); 0 when it is gone."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except (OSError, ValueError):
        return 0.0
    return 0.0


def _child_main(settings: dict[str, Any], job_id: int, worker: str) -> None:
    """In the child: run the handler of the claimed job as ``worker`` (the parent beats)."""
    _let_go_of_the_fork_server()
    _die_with_parent()
    platform = Platform(Settings.model_validate(settings))
    try:
        with platform.db.sessions() as session:
            job = session.get(Job, job_id)
        if job is not None and job.status == queue.RUNNING and job.worker == worker:
            run_handler(platform, job)
    finally:
        platform.close()


def _let_go_of_the_fork_server() -> None:
    """A forked child inherits the fork server's end of the worker's "alive" pipe (so that it
    could fork through the server itself). Held, it kept the fork server - and so the child,
    which dies with the server - alive after a killed worker; a job forks nothing."""
    server = forkserver._forkserver
    alive = getattr(server, "_forkserver_alive_fd", None)  # CPython's private name
    if alive is not None:
        os.close(alive)
        server._forkserver_alive_fd = None


def _die_with_parent() -> None:
    try:
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
    except OSError:  # not Linux: a killed worker's child finishes, then finds its job taken
        return

