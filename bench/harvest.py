"""Harvest benchmark: a regional hub harvests 10,000 datasets from a municipality's allmende node,
beside the plain reading of the node's catalog (every page of GET /api/v1/datasets, 100 at a
time, as an anonymous reader) measured in the same run: what any harvester must at least fetch.

The node is bench/search.py's catalog (realistic German municipal datasets over eleven Ruhr
organizations, 1-3 resources each), all of them public, on SQLite behind a real `allmende serve`
in a child process. The hub is a fresh installation on each backend; its operator runs the
commands of CONTRACT.md as child processes, so the times include starting the command:

    allmende harvest source create knoten --type allmende --url NODE --org dortmund
    allmende harvest run knoten --json          # first run: every dataset created
    allmende harvest run knoten --json          # nothing changed
    (100 datasets edited at the node through its API)
    allmende harvest run knoten --json          # incremental: the 100 updated

Target: the first run < 2 minutes for 10,000 datasets (worst backend). Every run's report is
checked (counts, no failures) and the hub's catalog is counted afterwards.

    .venv/bin/python bench/harvest.py [--datasets 10000] [--backend sqlite|postgresql|both]

PostgreSQL as in bench/search.py (ALLMENDE_BENCH_DATABASE_URL, a database whose name contains
"bench", dropped and recreated). The last line of stdout is the JSON result.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx
from rich.console import Console
from rich.table import Table
from sqlalchemy import select, update

sys.path.insert(0, str(Path(__file__).resolve().parent))

import search as catalog_bench  # bench/search.py: the catalog generator and seeding
from _data import Server, load_average, run_child
from allmende.catalog import organizations
from allmende.config import Settings
from allmende.db.models import Dataset
from allmende.platform import Platform

TARGET_S = 120.0
EDITED = 100
console = Console(width=150)
LOOPBACK = {"ALLMENDE_HARVEST_ALLOWED_NETWORKS": "127.0.0.0/8,::1/128"}


@dataclass
class Measured:
    backend: str
    runs: dict[str, float] = field(default_factory=dict)
    reports: dict[str, dict] = field(default_factory=dict)
    peak_mb: dict[str, float] = field(default_factory=dict)
    baseline: float = 0.0
    hub_datasets: int = 0


def _node(folder: Path, generated: catalog_bench.Generated) -> tuple[Server, str]:
    """The node: the generated catalog, every dataset public, served; with an editor's token."""
    platform = Platform(Settings(data_dir=folder / "data", secret_key="bench-secret",
                                 inprocess_worker=False))
    try:
        platform.upgrade()
        seeded = catalog_bench.seed(platform, generated)
        with platform.db.engine.begin() as connection:  # the hub harvests what anonymous sees
            connection.execute(update(Dataset).values(access_level="public", draft=False,
                                                      deleted_at=None))
    finally:
        platform.close()
    return Server(folder / "data", None), seeded.member_token


def _hub(folder: Path, url: str | None) -> dict[str, str]:
    settings = Settings(data_dir=folder / "hub", database_url=url, secret_key="bench-secret",
                        inprocess_worker=False)
    platform = Platform(settings)
    try:
        platform.upgrade()
        with platform.db.session() as session:
            organizations.create_organization(session, catalog_bench.OPERATOR, {
                "slug": "dortmund", "name": "Stadt Dortmund", "ags": "05913000"})
    finally:
        platform.close()
    env = {k: v for k, v in os.environ.items() if not k.startswith("ALLMENDE_")}
    env.update({"ALLMENDE_DATA_DIR": str(settings.data_dir), "ALLMENDE_SECRET_KEY":
                "bench-secret", "ALLMENDE_INPROCESS_WORKER": "false", **LOOPBACK})
    if url:
        env["ALLMENDE_DATABASE_URL"] = url
    return env


def _command(env: dict[str, str], *args: str) -> tuple[float, float, dict]:
    run = run_child([sys.executable, "-c", "from allmende.cli import main; main()", *args],
                    env=env)
    assert run.returncode == 0, run.stdout[-2000:] + run.stderr[-2000:]
    report = json.loads(run.stdout.strip().splitlines()[-1]) if "--json" in args else {}
    return run.seconds, run.max_rss_mb, report


def _read_catalog(client: httpx.Client, node: str) -> tuple[float, int]:
    """Every page of the node's dataset list: the least a harvester reads."""
    started = time.perf_counter()
    found, page = 0, 1
    while True:
        answer = client.get(f"{node}/api/v1/datasets", params={"per_page": 100, "page": page})
        assert answer.status_code == 200, answer.text[:300]
        items = answer.json()["results"]
        found += len(items)
        if len(items) < 100:
            return time.perf_counter() - started, found
        page += 1


def _edit(client: httpx.Client, node: str, token: str) -> None:
    """EDITED of Dortmund's datasets get a new title at the node, as its editor would."""
    answer = client.get(f"{node}/api/v1/datasets", params={
        "organization": "dortmund", "per_page": EDITED, "sort": "title"})
    names = [item["name"] for item in answer.json()["results"]]
    assert len(names) == EDITED, answer.text[:300]
    for name in names:
        changed = client.patch(f"{node}/api/v1/datasets/{name}", json={
            "title": f"{name} (überarbeitet)"}, headers={"Authorization": f"Bearer {token}"})
        assert changed.status_code == 200, changed.text[:300]


def _hub_count(url: str | None, folder: Path) -> int:
    platform = Platform(Settings(data_dir=folder / "hub", database_url=url,
                                 secret_key="bench-secret", inprocess_worker=False))
    try:
        with platform.db.sessions() as session:
            return len(session.scalars(select(Dataset.id).where(
                Dataset.deleted_at.is_(None))).all())
    finally:
        platform.close()


def measure(backend: str, url: str | None, generated: catalog_bench.Generated) -> Measured:
    result = Measured(backend)
    with tempfile.TemporaryDirectory(prefix="allmende-bench-harvest-") as tmp:
        folder = Path(tmp)
        console.print(f"[bold]{backend}[/]: the node with {generated.datasets:,} datasets ...")
        server, token = _node(folder / "node", generated)
        try:
            with httpx.Client(timeout=600) as client:
                server.wait(client)
                client.get(f"{server.url}/api/v1/datasets?per_page=1")  # the node's index
                result.baseline, found = _read_catalog(client, server.url)
                assert found == generated.datasets, (found, generated.datasets)
                env = _hub(folder, url)
                _command(env, "harvest", "source", "create", "knoten", "--type", "allmende",
                         "--url", server.url, "--org", "dortmund")
                for run, expected in (("first run", ("created", generated.datasets)),
                                      ("unchanged", ("updated", 0))):
                    seconds, peak, report = _command(env, "harvest", "run", "knoten", "--json")
                    _check(report, *expected)
                    result.runs[run], result.peak_mb[run] = seconds, peak
                    result.reports[run] = report
                _edit(client, server.url, token)
                seconds, peak, report = _command(env, "harvest", "run", "knoten", "--json")
                _check(report, "updated", EDITED)
                result.runs[f"{EDITED} edited"], result.peak_mb[f"{EDITED} edited"] = (
                    seconds, peak)
                result.reports[f"{EDITED} edited"] = report
        except Exception:
            console.print(f"[red]node server log:[/]\n{server.tail()}")
            raise
        finally:
            server.stop()
        result.hub_datasets = _hub_count(url, folder)
    return result


def _check(report: dict, key: str, expected: int) -> None:
    assert report["failed"] == [], report["failed"][:5]
    assert report[key] == expected, report


def report(result: Measured) -> None:
    table = Table(title=f"{result.backend}: harvesting from a node (child processes, wall time)")
    for column in ("step", "seconds", "datasets/s", "peak RSS MB", "created", "updated",
                   "deleted"):
        table.add_column(column, justify="left" if column == "step" else "right")
    table.add_row("baseline: reading the node's list (100 per page)", f"{result.baseline:.1f}",
                  "", "", "", "", "")
    for step, seconds in result.runs.items():
        counts = result.reports[step]
        moved = counts["created"] + counts["updated"]
        table.add_row(step, f"{seconds:.1f}", f"{moved / seconds:,.0f}" if moved else "",
                      f"{result.peak_mb[step]:.0f}", str(counts["created"]),
                      str(counts["updated"]), str(counts["deleted"]))
    console.print(table)
    console.print(f"hub datasets afterwards: {result.hub_datasets:,} · load average: "
                  f"{load_average()}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--datasets", type=int, default=10_000)
    parser.add_argument("--backend", choices=("sqlite", "postgresql", "both"), default="both")
    args = parser.parse_args(argv)
    console.print(f"generating {args.datasets:,} datasets ... (load {load_average()})")
    generated = catalog_bench.generate(args.datasets)
    results, missing = catalog_bench.on_backends(
        args.backend, lambda label, url: measure(label, url, generated), report, " hub")
    worst = max((r.runs["first run"] for r in results), default=None)
    baseline = max((r.baseline for r in results), default=None)
    complete = all(r.hub_datasets == args.datasets for r in results)
    met = (bool(results) and not missing and complete and args.datasets >= 10_000
           and worst is not None and worst < TARGET_S)
    sys.stdout.flush()
    print(json.dumps({
        "bench": "harvest",
        "metric": f"first harvest of {args.datasets:,} datasets from a node (worst backend)",
        "unit": "s", "allmende": round(worst, 1) if worst is not None else None,
        "baseline_name": "reading the node's dataset list page by page, same run",
        "baseline": round(baseline, 1) if baseline is not None else None,
        "target": "first run < 120 s for 10,000 datasets", "met": met,
    }, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    sys.exit(main())
