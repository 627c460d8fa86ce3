"""The seam between capabilities: the worker and the catalog import none of them; job kinds,
periodic tasks and catalog listeners are registered in allmende.wiring."""

from __future__ import annotations

import ast
import threading
import time
from pathlib import Path

from allmende.db.models import Job
from allmende.jobs import queue, registry, worker
from support import OPERATOR

SOURCE = Path(__file__).resolve().parent.parent / "src" / "allmende"


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module)
        elif isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
    return found


def test_the_worker_and_the_catalog_import_no_capability():
    capabilities = ("allmende.ingest", "allmende.harmonize")
    for package in ("jobs", "catalog"):
        for path in (SOURCE / package).glob("*.py"):
            leaks = [m for m in _imports(path) if m.startswith(capabilities)]
            assert not leaks, f"{path.name} imports {leaks}"


def test_job_kinds_are_registered_for_every_platform(platform):
    assert {"ingest", "harmonize", "consolidate"} <= set(registry.kinds())
    assert registry.handler_for("harmonize").__name__ == "harmonize_job"
    assert registry.handler_for("gibt-es-nicht") is None


def test_a_registered_periodic_task_runs_and_a_failing_one_does_not_stop_the_worker(platform):
    ran = threading.Event()

    def failing(_platform):
        raise RuntimeError("kaputt")

    registry.periodic(registry.Periodic("test-failing", 0.05, failing))
    registry.periodic(registry.Periodic("test-marker", 0.05, lambda _p: ran.set()))
    stop = threading.Event()
    loop = threading.Thread(target=worker.run_until, args=(platform, stop, 0.05))
    try:
        loop.start()
        assert ran.wait(10), "the periodic task did not run"
        ran.clear()
        assert ran.wait(10), "the worker stopped running periodic tasks"
    finally:
        stop.set()
        loop.join(10)
        registry.unregister("test-failing")
        registry.unregister("test-marker")


def test_periodic_tasks_run_first_a_while_after_the_worker_starts(platform, monkeypatch):
    """A worker loop that lives a moment (a test's, a command's) runs none of the registered
    periodic tasks; one that goes on runs each first after PERIODIC_START_SECONDS."""
    monkeypatch.setattr(worker, "PERIODIC_START_SECONDS", 1.0)
    ran = threading.Event()
    registry.periodic(registry.Periodic("test-hourly", 3600.0, lambda _p: ran.set()))
    stop = threading.Event()
    loop = threading.Thread(target=worker.run_until, args=(platform, stop, 0.05))
    try:
        loop.start()
        assert not ran.wait(0.5), "the hourly task ran at the start"
        assert ran.wait(10), "the hourly task did not run after the start delay"
    finally:
        stop.set()
        loop.join(10)
        registry.unregister("test-hourly")


def test_a_job_queued_by_this_process_starts_at_once_not_at_the_next_look(platform):
    """A worker that reads the queue once a minute still starts a job its own process queued
    within moments (the web process's worker after an upload); one left in the database for
    the next look stays queued meanwhile."""
    def status(job_id: int) -> str:
        with platform.db.sessions() as session:
            return session.get(Job, job_id).status

    def unseen_job(schema: str) -> int:  # committed unseen: no worker hears of it
        with platform.db.session() as session:
            job = Job(kind="consolidate", payload={"schema": schema}, status=queue.QUEUED)
            session.add(job)
        return job.id

    def ended(job_id: int, within: float, why: str) -> None:
        deadline = time.monotonic() + within
        while status(job_id) in (queue.QUEUED, queue.RUNNING):
            assert time.monotonic() < deadline, why
            time.sleep(0.05)

    first = unseen_job("parkplaetze")
    stop = threading.Event()
    loop = threading.Thread(target=worker.run_until, args=(platform, stop, 60.0))
    loop.start()
    try:
        ended(first, 30, "the worker's first look at the queue found nothing")
        time.sleep(0.5)  # it looked again at once, found the queue empty and waits a minute
        second = unseen_job("baustellen")
        time.sleep(0.5)
        assert status(second) == queue.QUEUED  # until the next look, a minute away
        with platform.db.session() as session:
            job = queue.enqueue(session, "consolidate", {"schema": "ladesaeulen"}, OPERATOR)
        ended(job.id, 10, "the queued job waited for the next look")
    finally:
        stop.set()
        loop.join(10)
