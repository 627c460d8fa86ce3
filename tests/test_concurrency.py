"""Several OS processes share one database and one data directory: a web server and
`allmende worker`s, and plain service calls in processes of their own. Concurrent writes to
one resource never collide, leave a gap, or lose a committed version."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pyarrow.parquet as pq
from sqlalchemy import select

from allmende.catalog import datasets
from allmende.db.models import QualityReport
from allmende.harmonize import service
from allmende.ingest.service import IngestRequest, ingest
from allmende.jobs import queue
from cluster import (
    DEADLINE,
    dortmund_editor,
    ended,
    jobs_of,
    mapped_sources,
    measurements,
    referenced_files,
    scratch_left,
    stored_files,
    versions,
    wait,
)
from support import DORTMUND_CSV, OPERATOR, dataset_body, http

# --- concurrent writers -----------------------------------------------------------------------

def test_twenty_concurrent_uploads_to_one_resource_make_versions_1_to_20(platform, cluster,
                                                                       world):
    with platform.db.session() as session:
        datasets.create_dataset(session, OPERATOR, dataset_body("messwerte"))
    base = cluster.web()
    for _ in range(3):  # the race is in publishing: jobs run inline, without a child each
        cluster.worker(ALLMENDE_JOB_ISOLATION="inline")

    def upload(rows: int) -> int:
        response = http(
            "POST", f"{base}/api/v1/datasets/messwerte/resources", headers=world.auth("editor"),
            files={"file": (f"messwerte-{rows}.csv", measurements(rows).encode(), "text/csv")},
            data={"name": "Messwerte"}, timeout=60)
        assert response.status_code == 202, response.text
        return response.json()["id"]

    with ThreadPoolExecutor(max_workers=20) as pool:
        job_ids = list(pool.map(upload, range(1, 21)))
    wait(ended(platform, job_ids), "the 20 ingest jobs did not end")
    jobs = jobs_of(platform, job_ids)
    assert [j.status for j in jobs] == [queue.DONE] * 20, [j.error for j in jobs]

    resource = jobs[0].result["resource"]
    assert {j.result["resource"] for j in jobs} == {resource}  # one resource, never two
    stored = versions(platform, resource)
    assert [v.version for v in stored] == list(range(1, 21))
    assert sorted(v.rows for v in stored) == list(range(1, 21))  # every upload is one version
    for version in stored:
        assert pq.read_table(platform.settings.data_dir / version.path).num_rows == version.rows
    assert {j.result["version"]: j.result["rows"] for j in jobs} == \
        {v.version: v.rows for v in stored}
    assert stored_files(platform) == referenced_files(platform)
    assert not scratch_left(platform)


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
    dortmund_editor(platform)
    sources = mapped_sources(platform, tmp_path, 2)
    with platform.db.sessions() as session:
        regional = service.get_consolidation(session, OPERATOR, "ladesaeulen").resource_id
    before = versions(platform, regional)[-1].version

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
    stored = versions(platform, regional)
    assert [v.version for v in stored] == list(range(1, before + 13))
    for version in stored:
        assert pq.read_table(platform.settings.data_dir / version.path).num_rows == version.rows
    newest = pq.read_table(platform.settings.data_dir / stored[-1].path).to_pylist()
    assert {r["quelle_datensatz"] for r in newest} == {"lade-0", "lade-1"}
    assert {r["quelle_version"] for r in newest if r["quelle_datensatz"] == "lade-0"} == {2}
    assert stored_files(platform) == referenced_files(platform)
    assert not scratch_left(platform)


