"""Several OS processes share one database and one data directory: a web server and
`allmende worker`s (and plain service calls in processes of their own). Concurrent writes to
one resource never collide, leave a gap, or lose a committed version; a worker killed at any
phase of a job leaves no partial version and no file behind, the previous version stays
served, and the job is retried or failed with a clear message."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pyarrow.parquet as pq
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from allmende.access.accounts import actor_for
from allmende.access.policy import Actor
from allmende.catalog import datasets
from allmende.db.models import Job, QualityReport, TableVersion, User
from allmende.harmonize import service
from allmende.ingest.service import IngestRequest, ingest
from allmende.jobs import queue, worker
from allmende.platform import Platform
from allmende.tables import store
from allmende.web.app import create_app
from cluster import DEADLINE, Cluster, measurements, wait
from support import DORTMUND_CSV, OPERATOR, dataset_body, version_files


@pytest.fixture
def cluster(platform: Platform) -> Iterator[Cluster]:
    with Cluster(platform) as running:
        yield running


def _jobs(platform: Platform, ids: list[int] | None = None) -> list[Job]:
    with platform.db.sessions() as session:
        query = select(Job).order_by(Job.id)
        if ids is not None:
            query = query.where(Job.id.in_(ids))
        return list(session.scalars(query))


def _ended(platform: Platform, ids: list[int] | None) -> Callable[[], bool]:
    return lambda: all(j.status in (queue.DONE, queue.FAILED) for j in _jobs(platform, ids))


def _versions(platform: Platform, resource_id: str) -> list[TableVersion]:
    with platform.db.sessions() as session:
        return list(session.scalars(select(TableVersion).where(
            TableVersion.resource_id == resource_id).order_by(TableVersion.version)))


def _stored_files(platform: Platform) -> set[Path]:
    tables = store.tables_dir(platform.settings.data_dir)
    return {p for p in tables.rglob("*") if p.is_file()} if tables.exists() else set()


def _referenced_files(platform: Platform) -> set[Path]:
    with platform.db.sessions() as session:
        return {platform.settings.data_dir / p for p in queue.referenced_paths(session)}


def _scratch_left(platform: Platform) -> list[Path]:
    root = store.scratch_root(platform.settings.data_dir)
    return sorted(root.glob("work-*")) if root.exists() else []


def _run_queued(platform: Platform) -> None:
    while worker.run_once(platform):
        pass


# --- concurrent writers -----------------------------------------------------------------------

def test_twenty_concurrent_uploads_to_one_resource_make_versions_1_to_20(platform, cluster,
                                                                       world):
    with platform.db.session() as session:
        datasets.create_dataset(session, OPERATOR, dataset_body("messwerte"))
    base = cluster.web()
    for _ in range(3):  # the race is in publishing: jobs run inline, without a child each
        cluster.worker(ALLMENDE_JOB_ISOLATION="inline")

    def upload(rows: int) -> int:
        response = httpx.post(
            f"{base}/api/v1/datasets/messwerte/resources", headers=world.auth("editor"),
            files={"file": (f"messwerte-{rows}.csv", measurements(rows).encode(), "text/csv")},
            data={"name": "Messwerte"}, timeout=60)
        assert response.status_code == 202, response.text
        return response.json()["id"]

    with ThreadPoolExecutor(max_workers=20) as pool:
        job_ids = list(pool.map(upload, range(1, 21)))
    wait(_ended(platform, job_ids), "the 20 ingest jobs did not end")
    jobs = _jobs(platform, job_ids)
    assert [j.status for j in jobs] == [queue.DONE] * 20, [j.error for j in jobs]

    resource = jobs[0].result["resource"]
    assert {j.result["resource"] for j in jobs} == {resource}  # one resource, never two
    stored = _versions(platform, resource)
    assert [v.version for v in stored] == list(range(1, 21))
    assert sorted(v.rows for v in stored) == list(range(1, 21))  # every upload is one version
    for version in stored:
        assert pq.read_table(platform.settings.data_dir / version.path).num_rows == version.rows
    assert {j.result["version"]: j.result["rows"] for j in jobs} == \
        {v.version: v.rows for v in stored}
    assert _stored_files(platform) == _referenced_files(platform)
    assert not _scratch_left(platform)


def _editor(platform: Platform) -> Actor:
    """Dortmund's editor (of the seeded world)."""
    with platform.db.sessions() as session:
        return actor_for(session.scalars(select(User).where(
            User.email == "editor@test.allmende.de")).one())


def _mapped_sources(platform: Platform, tmp_path: Path, count: int) -> list[str]:
    """``count`` public Dortmund charging-station tables mapped onto ``ladesaeulen``, each
    with charge points of its own."""
    resources = []
    for n in range(count):
        source = tmp_path / f"lade-{n}.csv"
        source.write_text(DORTMUND_CSV.replace("DE*DEW*E", f"DE*DEW*E{n}"), encoding="utf-8")
        with platform.db.session() as session:
            datasets.create_dataset(session, OPERATOR, dataset_body(f"lade-{n}"))
        resource = ingest(platform, OPERATOR, IngestRequest(f"lade-{n}", source,
                                                            "ladesaeulen.csv")).resource
        with platform.db.session() as session:
            mapping = service.suggest(platform, session, OPERATOR, resource, "ladesaeulen")
            service.save_mapping(platform, session, OPERATOR, resource, mapping)
        resources.append(resource)
    _run_queued(platform)
    return resources


SERVICE_CALL = """
import sys
from allmende.harmonize import service
from allmende.platform import Platform
platform = Platform()
for _ in range({times}):
    service.{call}
platform.close()
"""


def test_concurrent_harmonize_and_consolidate_runs_lose_nothing(platform, cluster, world,
                                                                 tmp_path):
    _editor(platform)
    sources = _mapped_sources(platform, tmp_path, 2)
    with platform.db.sessions() as session:
        regional = service.get_consolidation(session, OPERATOR, "ladesaeulen").resource_id
    before = _versions(platform, regional)[-1].version

    # a new version of the first source, then four processes harmonize it at once
    again = tmp_path / "lade-0-v2.csv"
    again.write_text(DORTMUND_CSV.replace("DE*DEW*E", "DE*DEW*E0"), encoding="utf-8")
    ingest(platform, OPERATOR, IngestRequest("lade-0", again, "ladesaeulen.csv"))
    harmonizers = [cluster.python(SERVICE_CALL.format(
        times=1, call=f"harmonize_resource(platform, {sources[0]!r})")) for _ in range(4)]
    for process in harmonizers:
        assert process.wait(timeout=DEADLINE) == 0, process.stderr.read().decode()[-2000:]
    with platform.db.sessions() as session:
        reports = list(session.scalars(select(QualityReport).where(
            QualityReport.resource_id == sources[0], QualityReport.table_version == 2)))
    assert len(reports) == 1  # one report for the version, whoever stored it first
    harmonized = platform.settings.data_dir / reports[0].mapped_path
    assert pq.read_table(harmonized).num_rows == reports[0].rows

    # four processes rebuild the regional table three times each
    rebuilders = [cluster.python(SERVICE_CALL.format(
        times=3, call='consolidate(platform, "ladesaeulen")')) for _ in range(4)]
    for process in rebuilders:
        assert process.wait(timeout=DEADLINE) == 0, process.stderr.read().decode()[-2000:]
    stored = _versions(platform, regional)
    assert [v.version for v in stored] == list(range(1, before + 13))
    for version in stored:
        assert pq.read_table(platform.settings.data_dir / version.path).num_rows == version.rows
    newest = pq.read_table(platform.settings.data_dir / stored[-1].path).to_pylist()
    assert {r["quelle_datensatz"] for r in newest} == {"lade-0", "lade-1"}
    assert {r["quelle_version"] for r in newest if r["quelle_datensatz"] == "lade-0"} == {2}
    assert _stored_files(platform) == _referenced_files(platform)
    assert not _scratch_left(platform)


# --- workers killed at each phase -----------------------------------------------------------

#: (job kind, phase it is killed at)
KILLS = [("ingest", "reading"), ("ingest", "typing"), ("ingest", "writing"),
         ("ingest", "publishing"), ("harmonize", "mapping"), ("consolidate", "publishing")]


def _stage_upload(platform: Platform, text: str) -> str:
    folder = store.scratch_root(platform.settings.data_dir) / "uploads"
    folder.mkdir(parents=True, exist_ok=True)
    staged = folder / f"{len(list(folder.iterdir()))}.upload"
    staged.write_text(text, encoding="utf-8")
    return str(staged)


def _paused(platform: Platform, phase: str, count: int) -> Callable[[], bool]:
    """``count`` attempts stopped at ``phase`` (in the workers' children that run them)."""
    root = store.scratch_root(platform.settings.data_dir)
    return lambda: len(list(root.glob(f"paused-{phase}-*"))) >= count


def test_workers_killed_at_every_phase_leave_nothing_and_their_jobs_end(platform, cluster,
                                                                       world, tmp_path):
    editor = _editor(platform)
    sources = _mapped_sources(platform, tmp_path, 1)
    plain = []
    for n in range(4):
        source = tmp_path / f"messwerte-{n}.csv"
        source.write_text(measurements(3), encoding="utf-8")
        with platform.db.session() as session:
            datasets.create_dataset(session, OPERATOR, dataset_body(f"mess-{n}"))
        plain.append(ingest(platform, OPERATOR, IngestRequest(
            f"mess-{n}", source, "messwerte.csv", "Messwerte")).resource)
    _run_queued(platform)
    with platform.db.sessions() as session:
        regional = service.get_consolidation(session, OPERATOR, "ladesaeulen").resource_id
    regional_before = _versions(platform, regional)[-1].version

    # one job per (kind, phase), queued in the order the paused workers will claim them
    job_ids = []
    for n in range(4):
        with platform.db.session() as session:
            job_ids.append(queue.enqueue(session, "ingest", {
                "dataset": f"mess-{n}", "filename": "messwerte.csv", "resource_name": "Messwerte",
                "upload": _stage_upload(platform, measurements(7))}, editor).id)
    again = tmp_path / "lade-0-v2.csv"
    again.write_text(DORTMUND_CSV.replace("DE*DEW*E", "DE*DEW*E0"), encoding="utf-8")
    ingest(platform, OPERATOR, IngestRequest("lade-0", again, "ladesaeulen.csv"))  # queues one
    with platform.db.session() as session:
        job_ids.append(max(session.scalars(select(Job.id))))
        job_ids.append(queue.enqueue(session, "consolidate", {"schema": "ladesaeulen"},
                                     OPERATOR).id)
        # the second ingest job has been interrupted twice before: this is its last attempt
        session.get(Job, job_ids[1]).attempts = queue.MAX_ATTEMPTS - 1
    assert [j.kind for j in _jobs(platform, job_ids)] == [kind for kind, _ in KILLS]

    for number, (_kind, phase) in enumerate(KILLS):
        process = cluster.worker(ALLMENDE_PAUSE_AT=phase)
        before = sum(1 for _, earlier in KILLS[:number] if earlier == phase)
        wait(_paused(platform, phase, before + 1), lambda phase=phase: (
            f"no worker paused at {phase}: " + repr([(j.id, j.status, j.error)
                                                     for j in _jobs(platform, job_ids)])),
              process)
    for process in cluster.processes:
        os.kill(process.pid, signal.SIGKILL)
        process.wait(timeout=30)
    assert [j.status for j in _jobs(platform, job_ids)] == [queue.RUNNING] * len(KILLS)

    # nothing half-done is visible: the previous versions are served
    with TestClient(create_app(platform)) as client:
        for resource in plain:
            rows = client.get(f"/api/v1/resources/{resource}/rows").json()
            assert rows["total"] == 3, rows
    assert [v.version for v in _versions(platform, plain[3])] == [1]
    assert _versions(platform, regional)[-1].version == regional_before

    # what dead processes leave without a job to reclaim: a scratch folder, an upload that
    # never became a job; a running worker removes both, not only a restart
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True).stdout.strip()
    scratch = store.scratch_root(platform.settings.data_dir)
    (scratch / f"work-{socket.gethostname()}-{dead}-0123456789abcdef").mkdir()
    orphan = scratch / store.UPLOADS / "verwaist.upload"
    orphan.write_text("Messstelle;Wert\n")
    os.utime(orphan, (time.time() - 3600, time.time() - 3600))

    rescuer = cluster.worker()
    wait(_ended(platform, None), "the interrupted jobs (and those they queued) did not end",
          rescuer)
    wait(lambda: not orphan.exists() and not _scratch_left(platform),
          "the running worker did not remove the dead process's leftovers", rescuer)
    jobs = _jobs(platform, job_ids)
    assert [j.status for j in jobs] == ["done", "failed", "done", "done", "done", "done"], \
        [(j.status, j.error) for j in jobs]
    assert jobs[1].error["code"] == "interrupted"
    assert "3-mal unterbrochen" in jobs[1].error["message"]
    assert all(j.attempts == 2 for j in jobs if j.status == "done")
    for n, resource in enumerate(plain):
        expected = [1] if n == 1 else [1, 2]
        stored = _versions(platform, resource)
        assert [v.version for v in stored] == expected
        assert pq.read_table(version_files(platform, resource)[expected[-1]]).num_rows == \
            (3 if n == 1 else 7)
    assert _versions(platform, regional)[-1].version > regional_before
    with platform.db.sessions() as session:
        assert session.scalar(select(QualityReport.id).where(
            QualityReport.resource_id == sources[0], QualityReport.table_version == 2))
    # no file of a dead attempt is left, nor a staged upload of an ended job
    assert _stored_files(platform) == _referenced_files(platform)
    assert not _scratch_left(platform)
    uploads = store.scratch_root(platform.settings.data_dir) / "uploads"
    assert not list(uploads.iterdir())
