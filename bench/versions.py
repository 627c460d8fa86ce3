"""History benchmark: does reading the latest version cost the same with 10,000 versions as
with one?

Two datasets of the same organization, each with one table resource of 10 rows: ``eine`` has
one version, ``viele`` has ``--versions`` (10,000) versions (rows bulk-inserted, all pointing to
the same Parquet file, the newest current). Through the web app (FastAPI TestClient, the whole
request path), interleaved — one request to each in turn, ``--samples`` (≥ 300) each:

- rows page: ``GET /api/v1/resources/{id}/rows?limit=10``
- dataset page: ``GET /datasets/{name}`` (the HTML page)
- search: ``GET /api/v1/datasets?q=<the dataset's own word>`` (finds that one dataset with its
  resources)
- resource: ``GET /api/v1/resources/{id}`` (the newest 20 versions and ``versions_total``)

Target, per kind: p95 with many versions ≤ 1.2 × p95 with one version + 2 ms. The baseline is
the same request on the one-version resource, measured in the same run.

    .venv/bin/python bench/versions.py [--versions 10000] [--samples 300]
                                       [--backend sqlite|postgresql|both]

PostgreSQL: ALLMENDE_BENCH_DATABASE_URL, else postgresql+psycopg://postgres@127.0.0.1:5432/
allmende_bench_versions (DROPPED and recreated on every run; its name must contain "bench").

The last line of stdout is the JSON result.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from fastapi.testclient import TestClient
from rich.console import Console
from rich.table import Table
from sqlalchemy import create_engine, insert, select, text, update
from sqlalchemy.engine import make_url

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _data import load_average
from allmende.access.policy import Actor
from allmende.catalog import datasets, organizations
from allmende.config import Settings
from allmende.db.models import Resource, TableVersion
from allmende.ingest.service import IngestRequest, ingest
from allmende.platform import Platform
from allmende.web.app import create_app

OPERATOR = Actor(is_sysadmin=True, name="bench")
console = Console(width=120)
CSV = "Messstelle;Datum;Wert\n" + "".join(f"DO{n};0{1 + n % 9}.01.2024;{n},5\n"
                                          for n in range(10))
KINDS = ("rows page", "dataset page", "search", "resource")


def _database_url(backend: str) -> str | None:
    if backend == "sqlite":
        return None
    url = make_url(os.environ.get("ALLMENDE_BENCH_DATABASE_URL", "postgresql+psycopg://"
                                  "postgres@127.0.0.1:5432/allmende_bench_versions"))
    if "bench" not in (url.database or ""):
        sys.exit(f"refusing to drop {url.database!r}: its name must contain 'bench'")
    admin = create_engine(url.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'DROP DATABASE IF EXISTS "{url.database}" WITH (FORCE)'))
        connection.execute(text(f'CREATE DATABASE "{url.database}"'))
    admin.dispose()
    return url.render_as_string(hide_password=False)


def _seed(platform: Platform, work: Path, versions: int) -> dict[str, str]:
    """The two datasets; returns dataset name → resource id."""
    with platform.db.session() as session:
        organizations.create_organization(session, OPERATOR, {
            "slug": "dortmund", "name": "Stadt Dortmund", "ags": "05913000"})
    source = work / "messwerte.csv"
    source.write_text(CSV, encoding="utf-8")
    resources = {}
    for name, word in (("eine", "Einzelmessung"), ("viele", "Dauermessung")):
        with platform.db.session() as session:
            datasets.create_dataset(session, OPERATOR, {
                "name": name, "organization": "dortmund", "title": f"{word} Luftqualität",
                "description": f"Messwerte der {word} an Dortmunder Straßen."})
        resources[name] = ingest(platform, OPERATOR, IngestRequest(
            name, source, "messwerte.csv", "Messwerte")).resource
    _add_history(platform, resources["viele"], versions)
    return resources


def _add_history(platform: Platform, resource_id: str, versions: int) -> None:
    """Versions 2..N of the resource as rows (the same file: only the history's length is
    measured), the newest current."""
    with platform.db.session() as session:
        first = session.scalar(select(TableVersion).where(
            TableVersion.resource_id == resource_id))
        template = {c: getattr(first, c) for c in (
            "resource_id", "path", "rows", "columns", "crs", "source_name", "source_sha256",
            "source_size", "source_format", "read_report", "warnings", "schema_changes")}
        for start in range(2, versions + 1, 2000):
            session.execute(insert(TableVersion), [
                {**template, "version": n} for n in range(start, min(start + 2000, versions + 1))])
        session.execute(update(Resource).where(Resource.id == resource_id)
                        .values(current_version=versions))


def _requests(resources: dict[str, str]) -> dict[str, dict[str, str]]:
    words = {"eine": "Einzelmessung", "viele": "Dauermessung"}
    return {name: {
        "rows page": f"/api/v1/resources/{rid}/rows?limit=10",
        "dataset page": f"/datasets/{name}",
        "search": f"/api/v1/datasets?q={words[name]}",
        "resource": f"/api/v1/resources/{rid}",
    } for name, rid in resources.items()}


def _measure(client: TestClient, paths: dict[str, dict[str, str]], samples: int
             ) -> dict[str, dict[str, list[float]]]:
    timings: dict[str, dict[str, list[float]]] = {
        name: {kind: [] for kind in KINDS} for name in paths}
    for name in paths:  # warm-up: caches, index, first connections
        for path in paths[name].values():
            assert client.get(path).status_code == 200, path
    for _ in range(samples):
        for kind in KINDS:
            for name in ("eine", "viele"):
                started = time.perf_counter()
                response = client.get(paths[name][kind])
                timings[name][kind].append((time.perf_counter() - started) * 1000)
                assert response.status_code == 200, (paths[name][kind], response.text[:200])
    return timings


def _check(client: TestClient, resources: dict[str, str], versions: int) -> None:
    detail = client.get(f"/api/v1/resources/{resources['viele']}").json()
    assert detail["versions_total"] == versions and len(detail["versions"]) == 20
    assert detail["versions"][0]["version"] == versions
    last = client.get(f"/api/v1/resources/{resources['viele']}/versions",
                      params={"page": versions // 20}).json()
    assert last["results"][-1]["version"] == 1, last


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--versions", type=int, default=10_000)
    parser.add_argument("--samples", type=int, default=300)
    parser.add_argument("--backend", choices=("sqlite", "postgresql", "both"), default="both")
    args = parser.parse_args()
    console.print(f"load before: {load_average()}")
    backends = ("sqlite", "postgresql") if args.backend == "both" else (args.backend,)
    results = [_report(backend, _run(backend, args), args) for backend in backends]
    console.print(f"load after: {load_average()}")
    print(json.dumps({
        "bench": "versions", "metric": "p95 with many versions / (1.2 × p95 with one + 2 ms), "
        "worst of rows page, dataset page, search, resource, over " + " and ".join(backends),
        "unit": "ratio", "allmende": round(max(worst for worst, _ in results), 3),
        "baseline_name": "the same requests on a resource with one version", "baseline": 1.0,
        "target": "p95 <= 1.2 x p95(1 version) + 2 ms", "met": all(m for _, m in results),
        "versions": args.versions}))


def _run(backend: str, args: argparse.Namespace) -> dict[str, dict[str, list[float]]]:
    with tempfile.TemporaryDirectory(prefix="allmende-bench-versions-") as folder:
        work = Path(folder)
        platform = Platform(Settings(data_dir=work / "data", secret_key="bench",
                                     database_url=_database_url(backend),
                                     inprocess_worker=False))
        platform.upgrade()
        resources = _seed(platform, work, args.versions)
        with TestClient(create_app(platform)) as client:
            _check(client, resources, args.versions)
            timings = _measure(client, _requests(resources), args.samples)
        platform.close()
    return timings


def _report(backend: str, timings: dict[str, dict[str, list[float]]],
            args: argparse.Namespace) -> tuple[float, bool]:
    """Print the table of one backend; return the worst ratio to the limit and whether met."""
    table = Table(title=f"p50 / p95 in ms, {args.samples} interleaved samples each, {backend}")
    for column in ("request", "1 version", f"{args.versions} versions", "limit", "met"):
        table.add_column(column)
    worst = 0.0
    met = True
    for kind in KINDS:
        one = np.percentile(timings["eine"][kind], [50, 95])
        many = np.percentile(timings["viele"][kind], [50, 95])
        limit = 1.2 * one[1] + 2.0
        met &= bool(many[1] <= limit)
        worst = max(worst, many[1] / limit)
        table.add_row(kind, f"{one[0]:.1f} / {one[1]:.1f}", f"{many[0]:.1f} / {many[1]:.1f}",
                      f"{limit:.1f}", "yes" if many[1] <= limit else "NO")
    console.print(table)
    return worst, met


if __name__ == "__main__":
    main()
