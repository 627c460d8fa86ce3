"""A job that crashes, eats memory or runs too long ends only itself: it runs in a child
process of its worker (here the worker inside `allmende serve`, and `allmende worker`), which
stops it at its limits, fails the job with a clear message, removes what the attempt wrote,
and goes on serving."""

from __future__ import annotations

import os
import signal
from pathlib import Path

import pytest

from allmende.catalog import datasets
from allmende.ingest.service import IngestRequest, ingest
from allmende.jobs import queue
from allmende.platform import Platform
from allmende.tables import store
from cluster import measurements, paused_at, wait
from support import OPERATOR, World, dataset_body, http, version_files


@pytest.fixture
def messwerte(platform: Platform, world: World, tmp_path: Path) -> World:
    """Dataset ``messwerte`` with version 1 of resource ``Messwerte`` (3 rows); returns the
    world of organizations and users."""
    source = tmp_path / "messwerte.csv"
    source.write_text(measurements(3), encoding="utf-8")
    with platform.db.session() as session:
        datasets.create_dataset(session, OPERATOR, dataset_body("messwerte"))
    ingest(platform, OPERATOR, IngestRequest("messwerte", source, "messwerte.csv", "Messwerte"))
    return world


def _upload(base: str, world: World) -> int:
    response = http("POST", f"{base}/api/v1/datasets/messwerte/resources",
                    headers=world.auth("editor"), data={"name": "Messwerte"},
                    files={"file": ("messwerte.csv", measurements(50).encode(), "text/csv")},
                    timeout=60)
    assert response.status_code == 202, response.text
    return response.json()["id"]


def _job(platform: Platform, job_id: int):
    with platform.db.sessions() as session:
        return session.get(queue.Job, job_id)


def _ended(platform: Platform, job_id: int):
    return lambda: _job(platform, job_id).status in (queue.DONE, queue.FAILED)


def _nothing_left(platform: Platform) -> None:
    """Only the files of versions are in the store; no scratch folder, no staged upload."""
    data = platform.settings.data_dir
    stored = {p for p in store.tables_dir(data).rglob("*") if p.is_file()}
    with platform.db.sessions() as session:
        assert stored == {data / p for p in queue.referenced_paths(session)}
    scratch = store.scratch_root(data)
    assert not list(scratch.glob("work-*"))
    assert not list(store.uploads_folder(data).glob("*"))


def test_a_crashing_job_fails_alone_and_the_server_keeps_serving(platform, cluster, messwerte):
    world = messwerte
    base = cluster.web(ALLMENDE_INPROCESS_WORKER="true", ALLMENDE_PAUSE_AT="typing")
    job_id = _upload(base, world)
    wait(lambda: paused_at(platform, "typing"), "the job did not reach typing")
    child = paused_at(platform, "typing")[0]
    os.kill(child, signal.SIGSEGV)  # what DuckDB did with a 5,000-key JSON record
    wait(_ended(platform, job_id), "the crashed job did not end")
    job = _job(platform, job_id)
    assert job.status == queue.FAILED and job.error["code"] == "crashed"
    assert "abgestürzt" in job.error["message"] and "SIGSEGV" in job.error["message"]
    assert http("GET", f"{base}/healthz").json() == {"status": "ok"}
    resource = next(iter(_resources(platform)))
    rows = http("GET", f"{base}/api/v1/resources/{resource}/rows").json()
    assert rows["total"] == 3  # the previous version, still served
    _nothing_left(platform)


def _resources(platform: Platform) -> list[str]:
    with platform.db.sessions() as session:
        return [r.id for r in datasets.get_dataset(session, OPERATOR, "messwerte").resources]


@pytest.mark.parametrize("limits, code, says", [
    # paused, so that the job cannot end between two looks at its memory (0.2 s apart)
    ({"ALLMENDE_JOB_MEMORY_LIMIT_MB": "64", "ALLMENDE_PAUSE_AT": "writing"}, "memory_limit",
     "mehr als 64 MB Arbeitsspeicher"),
    ({"ALLMENDE_JOB_TIME_LIMIT_SECONDS": "3", "ALLMENDE_PAUSE_AT": "writing"}, "time_limit",
     "länger als 3 Sekunden"),
])
def test_a_job_over_its_limit_is_stopped_with_a_clear_message(platform, cluster, messwerte,
                                                              limits, code, says):
    world = messwerte
    base = cluster.web()
    worker = cluster.worker(**limits)
    job_id = _upload(base, world)
    wait(_ended(platform, job_id), "the job over its limit did not end", worker)
    job = _job(platform, job_id)
    assert job.status == queue.FAILED and job.error["code"] == code, job.error
    assert says in job.error["message"]
    assert "vorherige Version bleibt unverändert" in job.error["message"]
    assert worker.poll() is None  # the worker goes on
    assert list(version_files(platform, _resources(platform)[0])) == [1]
    _nothing_left(platform)
