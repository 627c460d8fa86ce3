"""A worker killed at any phase of a job (reading, typing, writing, publishing; harmonizing;
rebuilding) leaves no partial version and no file behind, the previous version stays served,
and the job is retried, or failed with a clear message after its last attempt. A server killed
while it receives an upload leaves no job and no version, and what it had received is
removed."""

from __future__ import annotations

import datetime as dt
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pyarrow.parquet as pq
from fastapi.testclient import TestClient
from sqlalchemy import select

from allmende.catalog import datasets
from allmende.config import Settings
from allmende.db.models import Job, QualityReport
from allmende.harmonize import service
from allmende.ingest.service import IngestRequest, ingest
from allmende.jobs import queue, worker
from allmende.platform import Platform
from allmende.tables import store
from allmende.web.app import create_app
from cluster import (
    dortmund_editor,
    ended,
    jobs_of,
    mapped_sources,
    measurements,
    paused_at,
    referenced_files,
    run_queued,
    scratch_left,
    stored_files,
    versions,
    wait,
)
from support import DORTMUND_CSV, OPERATOR, dataset_body, http, version_files

# --- workers killed at each phase -----------------------------------------------------------

#: (job kind, phase it is killed at)
KILLS = [("ingest", "reading"), ("ingest", "typing"), ("ingest", "writing"),
         ("ingest", "publishing"), ("harmonize", "mapping"), ("consolidate", "publishing")]


def _stage_upload(platform: Platform, text: str) -> str:
    folder = store.uploads_folder(platform.settings.data_dir)
    folder.mkdir(parents=True, exist_ok=True)
    staged = folder / f"{len(list(folder.iterdir()))}.upload"
    staged.write_text(text, encoding="utf-8")
    return str(staged)


def _paused(platform: Platform, phase: str, count: int) -> Callable[[], bool]:
    """``count`` attempts stopped at ``phase`` (in the workers' children that run them)."""
    return lambda: len(paused_at(platform, phase)) >= count


def _alive(pid: int) -> bool:
    """Running, not dead (a zombie is dead: whoever adopted it has not reaped it yet)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()[0]
    except (FileNotFoundError, ProcessLookupError):
        return False
    return state != "Z"


def test_workers_killed_at_every_phase_leave_nothing_and_their_jobs_end(platform, cluster,
                                                                       world, tmp_path):
    editor = dortmund_editor(platform)
    sources = mapped_sources(platform, tmp_path, 1)
    plain = []
    for n in range(4):
        source = tmp_path / f"messwerte-{n}.csv"
        source.write_text(measurements(3), encoding="utf-8")
        with platform.db.session() as session:
            datasets.create_dataset(session, OPERATOR, dataset_body(f"mess-{n}"))
        plain.append(ingest(platform, OPERATOR, IngestRequest(
            f"mess-{n}", source, "messwerte.csv", "Messwerte")).resource)
    run_queued(platform)
    with platform.db.sessions() as session:
        regional = service.get_consolidation(session, OPERATOR, "ladesaeulen").resource_id
    regional_before = versions(platform, regional)[-1].version

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
    assert [j.kind for j in jobs_of(platform, job_ids)] == [kind for kind, _ in KILLS]

    for number, (_kind, phase) in enumerate(KILLS):
        # jobs run isolated, as in production, where the child's dying with its worker is
        # tested (ingest at publishing); inline elsewhere: a child per worker costs seconds
        isolation = "process" if (_kind, phase) == ("ingest", "publishing") else "inline"
        process = cluster.worker(ALLMENDE_PAUSE_AT=phase, ALLMENDE_JOB_ISOLATION=isolation)
        before = sum(1 for _, earlier in KILLS[:number] if earlier == phase)
        wait(_paused(platform, phase, before + 1), lambda phase=phase: (
            f"no worker paused at {phase}: " + repr([(j.id, j.status, j.error)
                                                     for j in jobs_of(platform, job_ids)])),
              process)
    children = paused_at(platform, "publishing")
    assert children  # the isolated attempt's own process
    for process in cluster.processes:
        os.kill(process.pid, signal.SIGKILL)
        process.wait(timeout=30)
    wait(lambda: not any(map(_alive, children)), "a job's child outlived its killed worker")
    assert [j.status for j in jobs_of(platform, job_ids)] == [queue.RUNNING] * len(KILLS)

    # nothing half-done is visible: the previous versions are served
    with TestClient(create_app(platform)) as client:
        for resource in plain:
            rows = client.get(f"/api/v1/resources/{resource}/rows").json()
            assert rows["total"] == 3, rows
    assert [v.version for v in versions(platform, plain[3])] == [1]
    assert versions(platform, regional)[-1].version == regional_before

    # what dead processes leave without a job to reclaim: a scratch folder, an upload that
    # never became a job, one a killed web server was still receiving (gone at once, young as
    # it is: its process is dead); a running worker removes them all, not only a restart
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True).stdout.strip()
    scratch = store.scratch_root(platform.settings.data_dir)
    (scratch / f"work-{socket.gethostname()}-{dead}-0123456789abcdef").mkdir()
    uploads = store.uploads_folder(platform.settings.data_dir)
    orphan = uploads / "verwaist.upload"
    orphan.write_text("Messstelle;Wert\n")
    os.utime(orphan, (time.time() - 3600, time.time() - 3600))
    cut_off = uploads / f"work-{socket.gethostname()}-{dead}-{'f' * 32}.upload"
    cut_off.write_text("Messstelle;Wert\nDOBR;3")

    # the retries run inline: a child process per job would add a second each, and isolation
    # is not what this part is about
    rescuer = cluster.worker(ALLMENDE_JOB_ISOLATION="inline")
    wait(ended(platform, None), "the interrupted jobs (and those they queued) did not end",
          rescuer)
    wait(lambda: not orphan.exists() and not cut_off.exists() and not scratch_left(platform),
          "the running worker did not remove the dead process's leftovers", rescuer)
    jobs = jobs_of(platform, job_ids)
    assert [j.status for j in jobs] == ["done", "failed", "done", "done", "done", "done"], \
        [(j.status, j.error) for j in jobs]
    assert jobs[1].error["code"] == "interrupted"
    assert "3-mal unterbrochen" in jobs[1].error["message"]
    assert all(j.attempts == 2 for j in jobs if j.status == "done")
    for n, resource in enumerate(plain):
        expected = [1] if n == 1 else [1, 2]
        stored = versions(platform, resource)
        assert [v.version for v in stored] == expected
        assert pq.read_table(version_files(platform, resource)[expected[-1]]).num_rows == \
            (3 if n == 1 else 7)
    assert versions(platform, regional)[-1].version > regional_before
    with platform.db.sessions() as session:
        assert session.scalar(select(QualityReport.id).where(
            QualityReport.resource_id == sources[0], QualityReport.table_version == 2))
    # no file of a dead attempt is left, nor a staged upload of an ended job
    assert stored_files(platform) == referenced_files(platform)
    assert not scratch_left(platform)
    assert not list(uploads.iterdir())


def test_with_the_default_timings_a_dead_worker_s_job_ends_within_two_minutes(platform):
    """Computed from the defaults, not waited for (the test above runs the same way with
    timings of seconds). A killed worker's job counts as stale ``job_stale_seconds`` after its
    last heartbeat; any idle worker tidies every ``tidy_seconds`` and looks at the queue every
    ``POLL_SECONDS``; tidying queues the job again or fails it. Note: a worker busy with a job
    tidies only when that job ends."""
    defaults = Settings.model_construct()  # the defaults, not this machine's ALLMENDE_*
    stale = defaults.job_stale_seconds
    assert defaults.job_heartbeat_seconds * 3 <= stale  # a living job may miss two beats
    assert stale + worker.tidy_seconds(defaults) + worker.POLL_SECONDS <= 120

    # and stale means exactly that: silent for longer than job_stale_seconds
    with platform.db.session() as session:
        job_id = queue.enqueue(session, "ingest", {}, OPERATOR).id
    with platform.db.session() as session:
        last_beat = queue.claim_job(session, job_id, "getoetet").heartbeat_at
    after = dt.timedelta(seconds=stale)
    second = dt.timedelta(seconds=1)
    data_dir = platform.settings.data_dir
    with platform.db.sessions() as session:
        assert queue.reclaim_stale(session, data_dir, after, now=last_beat + after - second) == []
        (taken,) = queue.reclaim_stale(session, data_dir, after, now=last_beat + after + second)
    assert taken.job_id == job_id and taken.retried
    assert [job.status for job in jobs_of(platform, [job_id])] == [queue.QUEUED]


# --- a server killed while it receives an upload ---------------------------------------------

def _send_half_an_upload(base: str, token: str, csv: bytes) -> socket.socket:
    """Starts ``POST /api/v1/datasets/messwerte/resources`` with the whole length announced
    and sends the form and half of the file; the connection is left open, as a slow line
    leaves it."""
    boundary = "allmende-grenze"
    head = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"name\"\r\n\r\nMesswerte\r\n"
            f"--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; "
            f"filename=\"messwerte.csv\"\r\nContent-Type: text/csv\r\n\r\n").encode()
    tail = f"\r\n--{boundary}--\r\n".encode()
    host, port = base.removeprefix("http://").split(":")
    connection = socket.create_connection((host, int(port)))
    connection.sendall(
        f"POST /api/v1/datasets/messwerte/resources HTTP/1.1\r\nHost: {host}:{port}\r\n"
        f"Authorization: Bearer {token}\r\n"
        f"Content-Type: multipart/form-data; boundary={boundary}\r\n"
        f"Content-Length: {len(head) + len(csv) + len(tail)}\r\n\r\n".encode()
        + head + csv[:len(csv) // 2])
    return connection


def test_a_server_killed_while_receiving_an_upload_leaves_nothing(platform, cluster, world):
    """``kill -9`` of `allmende serve` halfway through an upload of a new version: no job, no
    version and no table file come of it, the part it had received is removed by a running
    worker's next tidying (its process is dead), and a new server serves the version before."""
    with platform.db.session() as session:
        datasets.create_dataset(session, OPERATOR, dataset_body("messwerte"))
    base = cluster.web()
    server = cluster.processes[-1]
    first = http("POST", f"{base}/api/v1/datasets/messwerte/resources",
                 headers=world.auth("editor"), data={"name": "Messwerte"},
                 files={"file": ("messwerte.csv", measurements(5).encode(), "text/csv")})
    assert first.status_code == 202, first.text
    run_queued(platform)
    (job,) = jobs_of(platform)
    assert job.status == queue.DONE, job.error
    resource = job.result["resource"]

    uploads = store.uploads_folder(platform.settings.data_dir)
    connection = _send_half_an_upload(base, world.tokens["editor"],
                                      measurements(200_000).encode())
    try:
        wait(lambda: any(p.stat().st_size > 0 for p in uploads.glob("*.upload")),
             "the server did not stage the upload it was receiving", server)
        (staged,) = uploads.glob("*.upload")
        assert f"-{server.pid}-" in staged.name  # named after the process receiving it
        server.kill()
        server.wait(timeout=30)
    finally:
        connection.close()

    assert len(jobs_of(platform)) == 1  # no job for the upload that never arrived
    assert [v.version for v in versions(platform, resource)] == [1]
    assert stored_files(platform) == referenced_files(platform)
    assert staged.exists()  # until someone tidies up
    tidier = cluster.worker()
    wait(lambda: not staged.exists(),
         "the worker did not remove the upload a killed server had staged", tidier)

    base = cluster.web()
    rows = http("GET", f"{base}/api/v1/resources/{resource}/rows",
                headers=world.auth("editor"))
    assert rows.status_code == 200, rows.text
    assert rows.json()["total"] == 5
