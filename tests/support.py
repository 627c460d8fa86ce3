"""Shared test helpers: a small world of organizations, users and tokens, and request bodies."""

from __future__ import annotations

import os
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import uvicorn
from sqlalchemy import func, select

from allmende.access import accounts
from allmende.access.policy import Actor
from allmende.catalog import organizations
from allmende.db.models import Job, TableVersion
from allmende.jobs import queue, worker
from allmende.jobs.worker import run_until
from allmende.platform import Platform

OPERATOR = Actor(is_sysadmin=True, name="tests")
PASSWORD = "richtig-langes-passwort"
JOB_POLL_SECONDS = 0.05
#: One TLS context for the tests' own requests (`http`): httpx otherwise builds one per call,
#: reading the whole CA bundle (~25 ms of CPU) for loopback servers that never use it.
_TLS = httpx.create_ssl_context()
BACKENDS = ["sqlite"] + (["postgresql"] if os.environ.get("ALLMENDE_TEST_DATABASE_URL") else [])


class World:
    """Organizations and users with every role, and their API tokens. World.seed writes them
    (seven argon2 hashes: about a second) once per session into a template; the `world`
    fixture copies that and passes the tokens."""

    def __init__(self, platform: Platform, tokens: dict[str, str]) -> None:
        self.platform = platform
        self.tokens = tokens

    @staticmethod
    def seed(platform: Platform) -> dict[str, str]:
        """Writes the world into the platform's database; returns the API tokens."""
        tokens: dict[str, str] = {}
        with platform.db.session() as session:
            for slug, name, ags in (("dortmund", "Stadt Dortmund", "05913000"),
                                    ("bochum", "Stadt Bochum", "05911000")):
                organizations.create_organization(
                    session, OPERATOR, {"slug": slug, "name": name, "ags": ags})
            tokens["sysadmin"] = _user(session, "sysadmin", sysadmin=True)
            for role in ("admin", "editor", "member"):
                tokens[role] = _user(session, role, org="dortmund", role=role)
            tokens["bochum-editor"] = _user(session, "bochum-editor", org="bochum",
                                            role="editor")
            tokens["outsider"] = _user(session, "outsider")
        return tokens

    def auth(self, key: str | None) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[key]}"} if key else {}


def _user(session, key: str, org: str | None = None, role: str | None = None,
          sysadmin: bool = False) -> str:
    """A user named `key` (with a role in org), and the secret of a new API token."""
    user = accounts.create_user(session, f"{key}@test.allmende.de", PASSWORD,
                                name=key, sysadmin=sysadmin)
    if org:
        organization = organizations.get_organization(session, org)
        accounts.set_membership(session, OPERATOR, user, organization, role)
    return accounts.create_token(session, user.id, "tests").secret



@contextmanager
def quick_jobs(platform: Platform) -> Iterator[None]:
    """The platform's jobs run by the worker loop of `allmende serve` (run_until) in a thread;
    like `serve`'s, it starts a job queued by this process at once and reads the queue once a
    second besides. Apps built over the platform meanwhile start no in-process worker of their
    own; tests that build an app over a platform of their own still cover that start."""
    platform.settings.inprocess_worker = False
    stop = threading.Event()
    jobs = threading.Thread(target=run_until, args=(platform, stop),
                            name="test-jobs", daemon=True)
    jobs.start()
    try:
        yield
    finally:
        stop.set()
        jobs.join(timeout=120)

def dataset_body(name: str = "ladesaeulen", organization: str = "dortmund", **extra) -> dict:
    return {"name": name, "title": "E-Ladesäulen in Dortmund",
            "description": "Standorte der öffentlichen Ladesäulen an Dortmunder Straßen.",
            "organization": organization, "keywords": ["Elektromobilität"],
            "themes": ["TRAN"], **extra}


# Charging stations as Dortmund exports them: ';', decimal commas, dd.mm.yyyy; one impossible
# date (row 4) and one charge point listed twice.
DORTMUND_CSV = """\
Betreiber;Straße;Hausnr.;PLZ;Ort;Breitengrad;Längengrad;Leistung (kW);Ladepunkte;\
In Betrieb seit;EVSE-ID
DEW21;Hohe Straße;3;44139;Dortmund;51,5079;7,4569;22;2;01.03.2021;DE*DEW*E0001
DEW21;Kampstraße;12;44137;Dortmund;51,5149;7,4621;50;1;15.06.2022;DE*DEW*E0002
DEW21;Kampstraße;12;44137;Dortmund;51,5149;7,4621;50;1;15.06.2022;DE*DEW*E0002
innogy;Westenhellweg;40;44137;Dortmund;51,5136;7,4626;11;2;31.02.2020;DE*INN*E0003
"""


def version_files(platform: Platform, resource_id: str) -> dict[int, Path]:
    """The Parquet file of each version of a resource, by version number."""
    with platform.db.sessions() as session:
        rows = session.execute(select(TableVersion.version, TableVersion.path).where(
            TableVersion.resource_id == resource_id)).all()
    return {number: platform.settings.data_dir / path for number, path in rows}


def all_jobs_done(platform: Platform, timeout: float = 120.0) -> None:
    """Run what is queued in this thread; wait for what another thread (a client's worker)
    runs, until no job is queued or running."""
    deadline = time.monotonic() + timeout
    while True:
        worker.run_once(platform)
        with platform.db.sessions() as session:
            pending = session.scalar(select(func.count(Job.id)).where(
                Job.status.in_((queue.QUEUED, queue.RUNNING))))
        if not pending:
            return
        assert time.monotonic() < deadline, "jobs did not end"
        time.sleep(0.05)


def finished_job(client: Any, headers: dict[str, str], job_id: int,
                 timeout: float = 60.0) -> dict[str, Any]:
    """Poll ``GET /api/v1/jobs/{id}`` until the job is done or failed; a job still running
    after ``timeout`` seconds fails the test."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        response = client.get(f"/api/v1/jobs/{job_id}", headers=headers)
        assert response.status_code == 200, response.text
        job = response.json()
        if job["status"] in ("done", "failed"):
            return job
        time.sleep(JOB_POLL_SECONDS)
    raise AssertionError(f"job {job_id} did not finish within {timeout} s")


def uploaded_job(client: Any, headers: dict[str, str], dataset: str, filename: str,
                 content: bytes) -> dict[str, Any]:
    """Upload ``content`` as ``filename`` into ``dataset`` through the API (202) and wait for
    its job to end; returns the job."""
    response = client.post(f"/api/v1/datasets/{dataset}/resources", headers=headers,
                           files={"file": (filename, content, "application/octet-stream")})
    assert response.status_code == 202, response.text
    return finished_job(client, headers, response.json()["id"])


def mapped_source(platform: Platform, folder: Path, name: str, organization: str,
                  text: str, schema: str = "ladesaeulen") -> str:
    """Dataset ``name`` of ``organization`` with ``text`` ingested as one resource and mapped
    onto ``schema`` as suggested; its jobs run (the regional table is rebuilt). Returns the
    resource id."""
    from allmende.catalog import datasets
    from allmende.harmonize import service
    from allmende.ingest.service import IngestRequest, ingest

    path = folder / f"{name}.csv"
    path.write_text(text, encoding="utf-8")
    with platform.db.session() as session:
        datasets.create_dataset(session, OPERATOR, dataset_body(name, organization))
    resource = ingest(platform, OPERATOR, IngestRequest(name, path, f"{schema}.csv")).resource
    with platform.db.session() as session:
        mapping = service.suggest(platform, session, OPERATOR, resource, schema)
        service.save_mapping(platform, session, OPERATOR, resource, mapping)
    all_jobs_done(platform)
    return resource


def http(method: str, url: str, **kwargs: Any) -> httpx.Response:
    """A request from a test to a server it started (an own client per call, as httpx.get)."""
    return httpx.request(method, url, verify=_TLS, **kwargs)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@contextmanager
def served(app: Any, port: int | None = None) -> Iterator[str]:
    """The app behind a real HTTP server on a free port (or ``port``: an app that must know
    its own address before it is built); yields ``host:port``."""
    port = port or free_port()
    running = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port,
                                            log_level="warning", lifespan="off"))
    thread = threading.Thread(target=running.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not running.started:
        assert time.monotonic() < deadline, "the test server did not start"
        time.sleep(0.05)
    try:
        yield f"127.0.0.1:{port}"
    finally:
        running.should_exit = True
        thread.join(timeout=30)
