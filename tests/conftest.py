"""Test fixtures. Nothing is migrated per test: each xdist worker migrates (and seeds) a
template once per backend and session, and every test gets a copy of it (tests/databases.py).

- `platform`: a Platform over a fresh data directory, once on SQLite and, when
  ALLMENDE_TEST_DATABASE_URL is set, once on PostgreSQL. It starts from the template named
  like one of the test's fixtures (the one built on most others), else from "migrated" (empty,
  newest migration). The PostgreSQL platforms of a test worker share one pooled engine.
- `world`: the organizations, users and API tokens of support.World, from the "world"
  template (its argon2 hashes take a second, so it is written once per run).
- `demo_region`: the demo region (`allmende demo`) from the "demo_region" template, and API
  tokens of two of its users.
- `client`: a TestClient over `platform`; its jobs run within 50 ms (support.quick_jobs).
- `quiet_client`: the same without a worker: the test runs the jobs (worker.run_once) and can
  look at the state between a change and its jobs.
- `cluster`: allmende processes (a web server, workers) on the test's platform (tests/cluster.py).
- `installation`: the fresh copy under `platform`, without a Platform: its settings(), what
  the seeds returned (`seeded`), and env() to point `allmende` processes (a server, workers,
  commands) at it.
- `templates` (session): `templates.install(backend, name, data_dir)` copies a template into a
  new data directory. A test module adds seeded templates in a module-level dict
  `TEMPLATES = {name: (seed, base)}`, used by its tests with a fixture of that name. The
  xdist workers of a run share the seeded templates (tests/databases.py): a template's name
  must say what it holds in every module that adds it.
- `postgres_url` (session): this worker's own PostgreSQL database, or None. The PostgreSQL
  copies are restored into it, so a test has one PostgreSQL installation at a time.
- `allmende`: the `allmende` command run in this process (tests/cli_support.py).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, create_engine

from allmende.access import accounts
from allmende.db import session as db_session
from allmende.demo.seed import seed as seed_demo
from allmende.platform import Platform
from allmende.web.app import create_app
from cli_support import InProcess
from cluster import Cluster
from databases import Installation, Templates, create_worker_database, drop_database
from support import BACKENDS, World, quick_jobs

# The suite makes hundreds of platforms (and CLI runs, worker processes) over one PostgreSQL
# server: with pooling each would keep idle connections until the server's max_connections
# (100) ran out. Without it a connection lives as long as its unit of work.
os.environ.setdefault("ALLMENDE_DATABASE_POOL_SIZE", "0")
# ... except the one engine the platforms of a test worker share (below): a few connections
# kept, more at peaks (dozens of threads in the concurrency tests) and closed again.
SHARED_POOL_SIZE, SHARED_POOL_OVERFLOW = 4, 30


@pytest.fixture(scope="session", autouse=True)
def engines_learn_once() -> Iterator[None]:
    """What an engine learns once - the dialect's settings and the compiled statements - is
    learnt once per test worker, not once per test: a new engine per test compiled every
    statement again, a third of a SQLite test's time and a tenth of a PostgreSQL one's.

    - PostgreSQL: the platforms of this process that use one database (this worker's: every
      test's installation there) share one engine with a small pool: a connection per unit
      of work (a server process forked, signed in and ended) cost a fifth of their time. A
      platform's close() empties the pool, so no connection outlives its test.
    - SQLite: each test's database is a file of its own, so each platform has its own engine,
      but they share one dialect (SQLite's settings are the library's, the same for every
      file) and with it one cache of compiled statements, whose keys name the dialect."""
    engines: dict[str, Engine] = {}
    sqlite: list[Any] = []  # the first SQLite engine's dialect and compiled cache
    make_engine = db_session.make_engine

    def shared(url: str, pool_size: int = 10) -> Engine:
        if url.startswith("sqlite"):
            engine = make_engine(url, pool_size)
            if not sqlite:
                sqlite.extend([engine.dialect, engine._compiled_cache])
            engine.dialect = engine.pool._dialect = sqlite[0]
            engine._compiled_cache = sqlite[1]
            return engine
        if pool_size != 0:
            return make_engine(url, pool_size)
        if url not in engines:
            engines[url] = create_engine(url, pool_size=SHARED_POOL_SIZE,
                                         max_overflow=SHARED_POOL_OVERFLOW)
        return engines[url]

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(db_session, "make_engine", shared)
        yield
    for engine in engines.values():
        engine.dispose()


@pytest.fixture(scope="session")
def postgres_url(worker_id: str) -> Iterator[str | None]:
    base = os.environ.get("ALLMENDE_TEST_DATABASE_URL")
    if not base:
        yield None
        return
    url = create_worker_database(base, worker_id)
    yield url
    drop_database(url)


@pytest.fixture(scope="session")
def templates(tmp_path_factory: pytest.TempPathFactory, postgres_url: str | None,
              worker_id: str) -> Iterator[Templates]:
    # the xdist workers' temporary folders lie side by side in the run's own
    run = tmp_path_factory.getbasetemp()
    shared = run.parent / "shared-templates" if worker_id != "master" else None
    registry = Templates(tmp_path_factory.mktemp("templates"), postgres_url, shared)
    registry.add("world", _seed_world)
    registry.add("demo_region", _seed_demo_region)
    yield registry
    registry.close()


def _seed_world(platform: Platform, seeded: dict[str, Any]) -> dict[str, Any]:
    return {"tokens": World.seed(platform)}


def _seed_demo_region(platform: Platform, seeded: dict[str, Any]) -> dict[str, Any]:
    """The demo region (`allmende demo`); its accounts, and API tokens of its sysadmin and of
    a member of Dortmund."""
    report = seed_demo(platform)
    tokens = {}
    with platform.db.session() as session:
        for key, email in (("sysadmin", "sysadmin@demo.allmende.de"),
                           ("member", "member@dortmund.demo.allmende.de")):
            user = accounts.get_user(session, email)
            tokens[key] = accounts.create_token(session, user.id, "tests").secret
    return {"tokens": tokens, "credentials": report.credentials}


@pytest.fixture(params=BACKENDS)
def installation(request: pytest.FixtureRequest, tmp_path: Path,
                 templates: Templates) -> Installation:
    for name, (seed, base) in getattr(request.module, "TEMPLATES", {}).items():
        templates.add(name, seed, base)
    template = templates.choose(request.fixturenames)
    return templates.install(request.param, template, tmp_path / "data")


@pytest.fixture
def platform(installation: Installation) -> Iterator[Platform]:
    instance = installation.platform()
    yield instance
    instance.close()


@pytest.fixture
def client(platform: Platform) -> Iterator[TestClient]:
    with quick_jobs(platform), TestClient(create_app(platform)) as test_client:
        yield test_client


@pytest.fixture
def cluster(platform: Platform) -> Iterator[Cluster]:
    """allmende processes (a server, workers) on the test's platform (tests/cluster.py)."""
    with Cluster(platform) as running:
        yield running


@pytest.fixture
def quiet_client(platform: Platform) -> Iterator[TestClient]:
    """The app without a worker: the test runs the jobs itself (worker.run_once), so it can
    look at the state between a change and the jobs it queued."""
    platform.settings.inprocess_worker = False
    with TestClient(create_app(platform)) as test_client:
        yield test_client


@pytest.fixture
def world(platform: Platform, installation: Installation) -> World:
    return World(platform, installation.seeded["tokens"])


@pytest.fixture
def demo_region(installation: Installation) -> dict[str, str]:
    """The test's platform holds the demo region (seeded once per run and backend); Bearer
    headers of the demo's sysadmin and of a member of Dortmund."""
    return {k: f"Bearer {v}" for k, v in installation.seeded["tokens"].items()}


@pytest.fixture
def allmende(capfd: pytest.CaptureFixture[str]) -> InProcess:
    return InProcess(capfd)
