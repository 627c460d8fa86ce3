"""allmende processes for tests that need real ones: a web server and `allmende worker`s on a
test's platform (same database, same data directory), and waiting for them."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import httpx
from sqlalchemy import select

import zygote
from allmende.access.accounts import actor_for
from allmende.access.policy import Actor
from allmende.catalog import datasets
from allmende.db.models import Job, TableVersion, User
from allmende.harmonize import service
from allmende.ingest.service import IngestRequest, ingest
from allmende.jobs import queue, worker
from allmende.platform import Platform
from allmende.tables import store
from support import DORTMUND_CSV, OPERATOR, dataset_body
from zygote import CLI

#: Processes wait this long for each other; generous, because the machine may be loaded.
DEADLINE = 240.0


def measurements(rows: int) -> str:
    """A CSV of ``rows`` measurements, as a Dortmund office exports them."""
    return "Messstelle;Datum;Wert\n" + "".join(
        f"DO{n:03d};{1 + n % 28:02d}.01.2024;{n},5\n" for n in range(rows))


class Cluster:
    """allmende processes on the test's platform: same database, same data directory."""

    def __init__(self, platform: Platform) -> None:
        self.platform = platform
        settings = platform.settings
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("ALLMENDE_")}
        self.env.update({
            "ALLMENDE_DATA_DIR": str(settings.data_dir),
            "ALLMENDE_DATABASE_URL": settings.resolved_database_url,
            "ALLMENDE_SECRET_KEY": "test-secret", "ALLMENDE_INPROCESS_WORKER": "false",
            "ALLMENDE_JOB_STALE_SECONDS": "2", "ALLMENDE_JOB_HEARTBEAT_SECONDS": "0.5"})
        self.processes: list[subprocess.Popen] = []

    def start(self, *args: str, **env: str) -> subprocess.Popen:
        assert CLI.exists(), f"{CLI} is missing: run `make install`"
        process = zygote.popen([CLI, *args], env={**self.env, **env},
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        self.processes.append(process)
        return process

    def worker(self, **env: str) -> subprocess.Popen:
        return self.start("worker", "--poll", "0.2", **env)

    def web(self, **env: str) -> str:
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            port = probe.getsockname()[1]
        base = f"http://127.0.0.1:{port}"
        # each server names itself: two nodes on one machine must not share links
        process = self.start("serve", "--port", str(port), **{"ALLMENDE_BASE_URL": base, **env})
        wait(lambda: _answers(base), f"the web server on {base} did not start",
              process)
        return base

    def python(self, code: str) -> subprocess.Popen:
        process = zygote.popen([sys.executable, "-c", code], env=self.env,
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        self.processes.append(process)
        return process

    def __enter__(self) -> Cluster:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    def close(self) -> None:
        for process in self.processes:
            if process.poll() is None:
                process.kill()
            process.wait(timeout=30)


#: One client for the probes: a new one per probe loads the CA certificates each time (a tenth
#: of a second of CPU beside a server that is starting).
_PROBE = httpx.Client(timeout=2)


def _answers(base: str) -> bool:
    try:
        return _PROBE.get(f"{base}/healthz").status_code == 200
    except httpx.HTTPError:
        return False


def wait(condition: Callable[[], bool], failure: Callable[[], str] | str,
          process: subprocess.Popen | None = None) -> None:
    deadline = time.monotonic() + DEADLINE
    while not condition():
        if process is not None and process.poll() is not None:
            raise AssertionError(f"{failure}: {process.stderr.read().decode()[-2000:]}")
        assert time.monotonic() < deadline, failure if isinstance(failure, str) else failure()
        time.sleep(0.1)


# --- what tests with several processes look at --------------------------------------------

def jobs_of(platform: Platform, ids: list[int] | None = None) -> list[Job]:
    with platform.db.sessions() as session:
        query = select(Job).order_by(Job.id)
        if ids is not None:
            query = query.where(Job.id.in_(ids))
        return list(session.scalars(query))


def ended(platform: Platform, ids: list[int] | None) -> Callable[[], bool]:
    return lambda: all(j.status in (queue.DONE, queue.FAILED) for j in jobs_of(platform, ids))


def versions(platform: Platform, resource_id: str) -> list[TableVersion]:
    with platform.db.sessions() as session:
        return list(session.scalars(select(TableVersion).where(
            TableVersion.resource_id == resource_id).order_by(TableVersion.version)))


def stored_files(platform: Platform) -> set[Path]:
    tables = store.tables_dir(platform.settings.data_dir)
    return {p for p in tables.rglob("*") if p.is_file()} if tables.exists() else set()


def referenced_files(platform: Platform) -> set[Path]:
    with platform.db.sessions() as session:
        return {platform.settings.data_dir / p for p in queue.referenced_paths(session)}


def scratch_left(platform: Platform) -> list[Path]:
    root = store.scratch_root(platform.settings.data_dir)
    return sorted(root.glob("work-*")) if root.exists() else []


def paused_at(platform: Platform, phase: str) -> list[int]:
    """The processes whose attempts stopped at ``phase`` (ALLMENDE_PAUSE_AT): the pids their
    markers (``paused-<phase>-<pid>``, jobs/attempt.py) name."""
    root = store.scratch_root(platform.settings.data_dir)
    return [int(path.name.rsplit("-", 1)[1]) for path in root.glob(f"paused-{phase}-*")]


def run_queued(platform: Platform) -> None:
    while worker.run_once(platform):
        pass


def dortmund_editor(platform: Platform) -> Actor:
    """Dortmund's editor (of the seeded world)."""
    with platform.db.sessions() as session:
        return actor_for(session.scalars(select(User).where(
            User.email == "editor@test.allmende.de")).one())


def mapped_sources(platform: Platform, tmp_path: Path, count: int) -> list[str]:
    """``count`` public Dortmund charging-station tables mapped onto ``ladesaeulen``, each
    with charge points of its own, in places of its own (22 km apart: no table holds another's
    stations)."""
    resources = []
    for n in range(count):
        source = tmp_path / f"lade-{n}.csv"
        text = DORTMUND_CSV.replace("DE*DEW*E", f"DE*DEW*E{n}").replace(";51,5", f";51,{5 + 2 * n}")
        source.write_text(text, encoding="utf-8")
        with platform.db.session() as session:
            datasets.create_dataset(session, OPERATOR, dataset_body(f"lade-{n}"))
        resource = ingest(platform, OPERATOR, IngestRequest(f"lade-{n}", source,
                                                            "ladesaeulen.csv")).resource
        with platform.db.session() as session:
            mapping = service.suggest(platform, session, OPERATOR, resource, "ladesaeulen")
            service.save_mapping(platform, session, OPERATOR, resource, mapping)
        resources.append(resource)
    run_queued(platform)
    return resources
