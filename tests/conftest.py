"""Test fixtures: every test gets a clean platform on SQLite and, when
ALLMENDE_TEST_DATABASE_URL is set, on PostgreSQL too."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from allmende.config import Settings
from allmende.db.models import Base, CatalogState
from allmende.platform import Platform
from allmende.web.app import create_app
from support import BACKENDS, World


def _worker_database(base_url: str, worker: str) -> str:
    """A database of its own for each xdist worker, created on first use."""
    url = make_url(base_url)
    name = f"{url.database}_{worker}"
    admin = create_engine(url.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    return url.set(database=name).render_as_string(hide_password=False)


@pytest.fixture(scope="session")
def postgres_url(worker_id: str) -> str | None:
    base = os.environ.get("ALLMENDE_TEST_DATABASE_URL")
    return _worker_database(base, worker_id) if base else None


def _clean(platform: Platform) -> None:
    with platform.db.engine.begin() as connection:
        for table in reversed(Base.metadata.sorted_tables):
            if table.name != CatalogState.__tablename__:
                connection.execute(table.delete())
        connection.execute(CatalogState.__table__.update().values(revision=0))


@pytest.fixture(params=BACKENDS)
def platform(request: pytest.FixtureRequest, tmp_path: Path,
             postgres_url: str | None) -> Iterator[Platform]:
    url = postgres_url if request.param == "postgresql" else None
    # jobs run inline here (a child process per job costs a second); tests of the isolation
    # and the concurrency tests run real worker processes
    instance = Platform(Settings(data_dir=tmp_path / "data", database_url=url,
                                 secret_key="test-secret", job_isolation="inline"))
    instance.upgrade()
    _clean(instance)
    yield instance
    instance.close()


@pytest.fixture
def client(platform: Platform) -> Iterator[TestClient]:
    with TestClient(create_app(platform)) as test_client:
        yield test_client


@pytest.fixture
def world(platform: Platform) -> World:
    return World(platform)
