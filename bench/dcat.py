"""DCAT-AP.de catalog benchmark: the whole catalog of 100,000 datasets streamed with
``page=all`` (Turtle, RDF/XML, JSON-LD) and catalog pages of 100, beside the REST API's dataset
list page of 100 (GET /api/v1/datasets?per_page=100) measured in the same run on the same data.

The catalog is bench/search.py's: N realistic German municipal datasets (deterministic) over
eleven Ruhr organizations with 1-3 resources each, bulk-inserted. A real server (`allmende
serve`, uvicorn) runs in a child process; the requests go over HTTP (httpx, the stream read as
it arrives). The whole catalog is read with a sysadmin's token (every dataset, drafts and
members-only ones too); pages as an anonymous visitor, as harvesters read them. While a
stream runs, the server's resident memory (VmRSS) is sampled every 50 ms: the peak above what
it held before shows that no graph of the catalog is built. Beside each stream's wall time the
server's own CPU time is printed: on a shared machine the wall time includes waiting for a CPU
(the load average is printed too).

Targets: page=all < 60 s in every format, a page of 100 p95 < 200 ms (worst backend).

    .venv/bin/python bench/dcat.py [--datasets 100000] [--repeat 5]
                                   [--backend sqlite|postgresql|both]

PostgreSQL as in bench/search.py (ALLMENDE_BENCH_DATABASE_URL, a database whose name contains
"bench", dropped and recreated). The last line of stdout is the JSON result.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import numpy as np
from rich.console import Console
from rich.table import Table
from sqlalchemy import text

sys.path.insert(0, str(Path(__file__).resolve().parent))

import search as catalog_bench  # bench/search.py: the catalog generator and seeding
from _data import Server, load_average
from allmende.access import accounts
from allmende.config import Settings
from allmende.platform import Platform

STREAM_TARGET_S = 60.0
PAGE_TARGET_MS = 200.0
PAGES = (1, 2, 10, 100, 500, 850)
FORMATS = {"ttl": b" a dcat:Dataset", "rdf": b"<dcat:Dataset ",
           "jsonld": b'"@type":["dcat:Dataset"]'}
console = Console(width=150)


@dataclass
class Stream:
    seconds: float
    cpu_seconds: float  # the server's own CPU time (user + system) for the stream
    megabytes: float
    datasets: int
    peak_rss_mb: float  # above the server's resident size before the stream


@dataclass
class Measured:
    backend: str
    expected: int
    streams: dict[str, Stream] = field(default_factory=dict)
    pages: dict[str, list[float]] = field(default_factory=dict)
    rest: list[float] = field(default_factory=list)

    @property
    def page_p95(self) -> float:
        return float(np.percentile([v for vs in self.pages.values() for v in vs], 95))

    @property
    def rest_p95(self) -> float:
        return float(np.percentile(self.rest, 95))


def _cpu_seconds(pid: int) -> float:
    """User + system time of a process so far: what the work costs, whatever else the
    machine runs meanwhile (wall times on a shared machine include waiting for a CPU)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def _stream(client: httpx.Client, server: Server, form: str, token: str) -> Stream:
    marker, pid = FORMATS[form], server.process.pid
    before = peak = _rss_mb(pid)
    running = threading.Event()
    running.set()

    def sample() -> None:
        nonlocal peak
        while running.is_set():
            peak = max(peak, _rss_mb(pid))
            time.sleep(0.05)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    size = found = 0
    tail = b""
    cpu = _cpu_seconds(pid)
    started = time.perf_counter()
    with client.stream("GET", f"{server.url}/catalog.{form}?page=all",
                       headers={"Authorization": f"Bearer {token}"}) as response:
        assert response.status_code == 200, response.read()[:300]
        for chunk in response.iter_raw():
            size += len(chunk)
            window = tail + chunk
            found += window.count(marker)
            tail = window[-(len(marker) - 1):]  # a marker split over two chunks
    seconds = time.perf_counter() - started
    cpu = _cpu_seconds(pid) - cpu
    running.clear()
    sampler.join()
    return Stream(seconds, cpu, size / 1e6, found, peak - before)


def _timed(client: httpx.Client, url: str) -> float:
    started = time.perf_counter()
    response = client.get(url)
    ms = (time.perf_counter() - started) * 1000
    assert response.status_code == 200, (url, response.text[:300])
    return ms


def measure(backend: str, url: str | None, generated: catalog_bench.Generated,
            repeat: int) -> Measured:
    with tempfile.TemporaryDirectory(prefix="allmende-bench-dcat-") as tmp:
        data_dir = Path(tmp) / "data"
        platform = Platform(Settings(data_dir=data_dir, database_url=url,
                                     secret_key="bench-secret", inprocess_worker=False))
        try:
            platform.upgrade()
            console.print(f"[bold]{backend}[/]: inserting {generated.datasets:,} datasets ...")
            catalog_bench.seed(platform, generated)
            with platform.db.session() as session:
                user = accounts.create_user(session, "root@bench.allmende.example",
                                            "bench-passwort-123", sysadmin=True)
                token = accounts.create_token(session, user.id, "bench").secret
                expected = session.execute(text(
                    "SELECT count(*) FROM datasets WHERE deleted_at IS NULL")).scalar_one()
        finally:
            platform.close()
        server = Server(data_dir, url)
        result = Measured(backend, expected)
        try:
            with httpx.Client(timeout=600) as client:
                server.wait(client)
                started = time.perf_counter()
                _timed(client, f"{server.url}/api/v1/datasets?per_page=1")
                console.print(f"  search index built by the first request in "
                              f"{time.perf_counter() - started:.1f} s")
                for round_ in range(1 + repeat):  # the first round warms up
                    for page in PAGES:
                        for form in FORMATS:
                            ms = _timed(client, f"{server.url}/catalog.{form}?page={page}")
                            if round_:
                                result.pages.setdefault(form, []).append(ms)
                        ms = _timed(client, f"{server.url}/api/v1/datasets?per_page=100&"
                                            f"page={page}")
                        if round_:
                            result.rest.append(ms)
                for form in FORMATS:
                    result.streams[form] = _stream(client, server, form, token)
                    console.print(f"  page=all {form}: {result.streams[form].seconds:.1f} s")
        except AssertionError:
            console.print(f"[bold red]the server's log:[/]\n{server.tail()}")
            raise
        finally:
            server.stop()
        return result


def report(result: Measured) -> None:
    table = Table(title=f"{result.backend}: the whole catalog (page=all, sysadmin, "
                        f"{result.expected:,} datasets)")
    for column in ("format", "seconds", "server CPU s", "MB", "datasets", "datasets/s",
                   "peak RSS +MB"):
        table.add_column(column, justify="left" if column == "format" else "right")
    for form, stream in result.streams.items():
        table.add_row(form, f"{stream.seconds:.1f}", f"{stream.cpu_seconds:.1f}",
                      f"{stream.megabytes:.0f}",
                      f"{stream.datasets:,}", f"{stream.datasets / stream.seconds:,.0f}",
                      f"{stream.peak_rss_mb:.0f}")
    console.print(table)
    table = Table(title=f"{result.backend}: one page of 100 (anonymous, pages {PAGES}), ms")
    for column in ("request", "p50", "p95", "max"):
        table.add_column(column, justify="left" if column == "request" else "right")
    for name, values in [*((f"/catalog.{f}?page=N", v) for f, v in result.pages.items()),
                         ("REST /api/v1/datasets?per_page=100&page=N (baseline)",
                          result.rest)]:
        table.add_row(name, f"{np.percentile(values, 50):.1f}",
                      f"{np.percentile(values, 95):.1f}", f"{max(values):.1f}")
    console.print(table)
    complete = all(s.datasets == result.expected for s in result.streams.values())
    console.print(f"every stream complete: {complete} · load average: {load_average()}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--datasets", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--backend", choices=("sqlite", "postgresql", "both"), default="both")
    args = parser.parse_args(argv)
    console.print(f"generating {args.datasets:,} datasets ...")
    generated = catalog_bench.generate(args.datasets)
    results, missing = catalog_bench.on_backends(
        args.backend, lambda label, url: measure(label, url, generated, args.repeat), report)
    page = max((r.page_p95 for r in results), default=None)
    baseline = max((r.rest_p95 for r in results), default=None)
    stream = max((s.seconds for r in results for s in r.streams.values()), default=None)
    memory = max((s.peak_rss_mb for r in results for s in r.streams.values()), default=None)
    cpu = max((s.cpu_seconds for r in results for s in r.streams.values()), default=None)
    complete = all(s.datasets == r.expected for r in results for s in r.streams.values())
    met = (bool(results) and not missing and complete and page is not None
           and page < PAGE_TARGET_MS and stream is not None and stream < STREAM_TARGET_S)
    sys.stdout.flush()
    print(json.dumps({
        "bench": "dcat", "metric": "catalog page of 100 p95 (worst format and backend, HTTP)",
        "unit": "ms", "allmende": round(page, 1) if page is not None else None,
        "baseline_name": "REST GET /api/v1/datasets?per_page=100 p95, same run",
        "baseline": round(baseline, 1) if baseline is not None else None,
        "target": "p95 < 200 ms; page=all < 60 s", "met": met,
        "page_all_seconds": round(stream, 1) if stream is not None else None,
        "page_all_server_cpu_seconds": round(cpu, 1) if cpu is not None else None,
        "page_all_peak_rss_mb": round(memory, 1) if memory is not None else None,
        "datasets": args.datasets,
    }, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    sys.exit(main())
