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

from allmende.access import accounts
from allmende.access.policy import Actor
from allmende.catalog import organizations
from allmende.config import Settings
from allmende.db.models import Base, CatalogState
from allmende.platform import Platform
from allmende.web.app import create_app

OPERATOR = Actor(is_sysadmin=True, name="tests")
PASSWORD = "richtig-langes-passwort"
BACKENDS = ["sqlite"] + (["postgresql"] if os.environ.get("ALLMENDE_TEST_DATABASE_URL") else [])


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
    instance = Platform(Settings(data_dir=tmp_path / "data", database_url=url,
                                 secret_key="test-secret"))
    instance.upgrade()
    _clean(instance)
    yield instance
    instance.close()


@pytest.fixture
def client(platform: Platform) -> Iterator[TestClient]:
    with TestClient(create_app(platform)) as test_client:
        yield test_client


class World:
    """Organizations and users with every role, and their API tokens."""

    def __init__(self, platform: Platform) -> None:
        self.platform = platform
        self.tokens: dict[str, str] = {}
        with platform.db.session() as session:
            for slug, name, ags in (("dortmund", "Stadt Dortmund", "05913000"),
                                    ("bochum", "Stadt Bochum", "05911000")):
                organizations.create_organization(
                    session, OPERATOR, {"slug": slug, "name": name, "ags": ags})
            self._user(session, "sysadmin", sysadmin=True)
            for role in ("admin", "editor", "member"):
                self._user(session, role, org="dortmund", role=role)
            self._user(session, "bochum-editor", org="bochum", role="editor")
            self._user(session, "outsider")

    def _user(self, session, key: str, org: str | None = None, role: str | None = None,
              sysadmin: bool = False) -> None:
        user = accounts.create_user(session, f"{key}@test.allmende.de", PASSWORD,
                                    name=key, sysadmin=sysadmin)
        if org:
            organization = organizations.get_organization(session, org)
            accounts.set_membership(session, OPERATOR, user, organization, role)
        self.tokens[key] = accounts.create_token(session, user.id, "tests").secret

    def auth(self, key: str | None) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[key]}"} if key else {}


@pytest.fixture
def world(platform: Platform) -> World:
    return World(platform)


def dataset_body(name: str = "ladesaeulen", organization: str = "dortmund", **extra) -> dict:
    return {"name": name, "title": "E-Ladesäulen in Dortmund",
            "description": "Standorte der öffentlichen Ladesäulen an Dortmunder Straßen.",
            "organization": organization, "keywords": ["Elektromobilität"],
            "themes": ["TRAN"], **extra}
