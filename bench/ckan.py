"""CKAN Action API benchmark: p95 latency of package_search at 100,000 datasets, beside the REST
search (GET /api/v1/datasets) measured in the same run on the same data.

The catalog is bench/search.py's: N realistic German municipal datasets (deterministic) over
eleven Ruhr organizations, bulk-inserted with their search terms. Both APIs are called through
the whole ASGI stack (FastAPI TestClient, JSON bodies included, no network), as an anonymous
visitor, with a query mix of what CKAN clients send: words, words with an fq filter, facets
(organization, tags, res_format, groups, license_id), the default listing, paging with start,
CKAN harvester pages (rows=100, sort=id asc, fq=metadata_modified:[X TO *]) and
include_private with a token. The REST baseline runs the closest equivalents (q, facet filters,
sort, page). Every answer is checked (200, a non-empty result where one is expected).

Target: package_search p95 < 50 ms (worst backend) over that mix. A quoted phrase is matched
in SQL over every dataset's stored terms, not by the index: its latency is printed on its own.

    .venv/bin/python bench/ckan.py [--datasets 100000] [--repeat 10]
                                   [--backend sqlite|postgresql|both]

PostgreSQL as in bench/search.py (ALLMENDE_BENCH_DATABASE_URL, a database whose name contains
"bench", dropped and recreated). The last line of stdout is the JSON result.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from fastapi.testclient import TestClient
from rich.console import Console
from rich.table import Table

sys.path.insert(0, str(Path(__file__).resolve().parent))

import search as catalog_bench  # bench/search.py: the catalog generator and seeding
from _data import load_average
from allmende.config import Settings
from allmende.platform import Platform
from allmende.web.app import create_app

TARGET_MS = 50.0
WARMUP = 2
console = Console(width=150)

FACETS = '["organization", "tags", "res_format", "groups", "license_id"]'
SINCE = "2024-06-01T00:00:00Z"
CKAN_CASES: list[tuple[str, dict[str, str]]] = [
    ("words", {"q": "Ladesäulen"}),
    ("two words", {"q": "Grünflächen Bochum"}),
    ("umlaut variant", {"q": "Ladesaeule"}),
    ("words + fq", {"q": "Parkhaus", "fq": "organization:dortmund"}),
    ("fq groups + res_format", {"fq": "groups:tran res_format:GEOJSON"}),
    ("facets", {"q": "Daten", "facet.field": FACETS}),
    ("listing", {}),
    ("listing, facets", {"facet.field": FACETS, "rows": "0"}),
    ("page 50", {"q": "Daten", "start": "500"}),
    ("sort modified", {"sort": "metadata_modified desc"}),
    ("harvester page 1", {"rows": "100", "sort": "id asc",
                          "fq": f"metadata_modified:[{SINCE} TO *]"}),
    ("harvester page 20", {"rows": "100", "start": "1900", "sort": "id asc",
                           "fq": f"metadata_modified:[{SINCE} TO *]"}),
]
#: Phrases are matched in SQL over every dataset's stored terms (catalog/fielded.py), not by
#: the index: reported on their own, outside the target's mix.
PHRASE = {"q": '"Ladesäulen in Dortmund"'}
REST_CASES: list[tuple[str, str]] = [
    ("words", "q=Lades%C3%A4ulen"), ("two words", "q=Gr%C3%BCnfl%C3%A4chen+Bochum"),
    ("umlaut variant", "q=Ladesaeule"), ("words + facet", "q=Parkhaus&organization=dortmund"),
    ("facets", "theme=TRAN&format=GEOJSON"), ("listing", ""), ("page 2", "q=Daten&page=2"),
    ("sort modified", "sort=modified"), ("page of 100", "per_page=100&sort=title"),
]


@dataclass
class Measured:
    backend: str
    ckan: dict[str, list[float]]
    rest: dict[str, list[float]]
    private: list[float]
    phrase: list[float]

    def p95(self, samples: dict[str, list[float]]) -> float:
        return float(np.percentile([v for vs in samples.values() for v in vs], 95))


def _timed(client: TestClient, url: str, headers: dict[str, str]) -> tuple[float, dict]:
    started = time.perf_counter()
    response = client.get(url, headers=headers)
    ms = (time.perf_counter() - started) * 1000
    assert response.status_code == 200, (url, response.text[:300])
    return ms, response.json()


def measure(backend: str, url: str | None, generated: catalog_bench.Generated,
            repeat: int) -> Measured:
    with tempfile.TemporaryDirectory(prefix="allmende-bench-ckan-") as tmp:
        platform = Platform(Settings(data_dir=Path(tmp) / "data", database_url=url,
                                     secret_key="bench-secret", inprocess_worker=False))
        try:
            platform.upgrade()
            console.print(f"[bold]{backend}[/]: inserting {generated.datasets:,} datasets ...")
            seeded = catalog_bench.seed(platform, generated)
            ckan: dict[str, list[float]] = {name: [] for name, _ in CKAN_CASES}
            rest: dict[str, list[float]] = {name: [] for name, _ in REST_CASES}
            private: list[float] = []
            phrase: list[float] = []
            token = {"Authorization": seeded.member_token}
            with TestClient(create_app(platform)) as client:
                started = time.perf_counter()
                client.get("/api/3/action/package_search?rows=1")
                console.print(f"  index built by the first search in "
                              f"{time.perf_counter() - started:.1f} s")
                for round_ in range(WARMUP + repeat):
                    for name, params in CKAN_CASES:
                        ms, body = _timed(client, _url("/api/3/action/package_search", params),
                                          {})
                        assert body["success"] and body["result"]["count"] > 0, name
                        if round_ >= WARMUP:
                            ckan[name].append(ms)
                    for name, query in REST_CASES:
                        ms, body = _timed(client, f"/api/v1/datasets?{query}", {})
                        assert body["count"] > 0, name
                        if round_ >= WARMUP:
                            rest[name].append(ms)
                    ms, body = _timed(client, "/api/3/action/package_search?q=Daten&"
                                      "include_private=true", token)
                    if round_ >= WARMUP:
                        private.append(ms)
                    ms, body = _timed(client, _url("/api/3/action/package_search", PHRASE), {})
                    assert body["result"]["count"] > 0, "phrase"
                    if round_ >= WARMUP:
                        phrase.append(ms)
            return Measured(backend, ckan, rest, private, phrase)
        finally:
            platform.close()


def _url(path: str, params: dict[str, str]) -> str:
    from urllib.parse import urlencode

    return path + (f"?{urlencode(params)}" if params else "")


def report(result: Measured) -> None:
    table = Table(title=f"{result.backend}: latency per query (ms, anonymous unless noted)")
    for column in ("API", "query", "p50", "p95", "max"):
        table.add_column(column, justify="left" if column in ("API", "query") else "right")
    for api, samples in (("CKAN package_search", result.ckan), ("REST /api/v1/datasets",
                                                                result.rest)):
        for name, values in samples.items():
            table.add_row(api, name, f"{np.percentile(values, 50):.1f}",
                          f"{np.percentile(values, 95):.1f}", f"{max(values):.1f}")
    table.add_row("CKAN package_search", "include_private (token)",
                  f"{np.percentile(result.private, 50):.1f}",
                  f"{np.percentile(result.private, 95):.1f}", f"{max(result.private):.1f}")
    table.add_row("CKAN package_search", "phrase (SQL scan, not in the mix)",
                  f"{np.percentile(result.phrase, 50):.1f}",
                  f"{np.percentile(result.phrase, 95):.1f}", f"{max(result.phrase):.1f}")
    console.print(table)
    console.print(f"load average: {load_average()}")
    ckan = {**result.ckan, "include_private": result.private}
    console.print(f"{result.backend}: package_search p95 {result.p95(ckan):.1f} ms "
                  f"(target < {TARGET_MS:.0f} ms) · REST search p95 "
                  f"{result.p95(result.rest):.1f} ms, same run, same data")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--datasets", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=10)
    parser.add_argument("--backend", choices=("sqlite", "postgresql", "both"), default="both")
    args = parser.parse_args(argv)
    console.print(f"generating {args.datasets:,} datasets ...")
    generated = catalog_bench.generate(args.datasets)
    results, missing = catalog_bench.on_backends(
        args.backend, lambda label, url: measure(label, url, generated, args.repeat), report)
    worst = max((r.p95({**r.ckan, "include_private": r.private}) for r in results),
                default=None)
    baseline = max((r.p95(r.rest) for r in results), default=None)
    met = bool(results) and not missing and worst is not None and worst < TARGET_MS
    sys.stdout.flush()
    print(json.dumps({
        "bench": "ckan", "metric": "package_search p95 latency (worst backend, HTTP)",
        "unit": "ms", "allmende": round(worst, 2) if worst is not None else None,
        "baseline_name": "REST GET /api/v1/datasets p95, same run",
        "baseline": round(baseline, 2) if baseline is not None else None,
        "target": "p95 < 50 ms", "met": met,
    }, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    sys.exit(main())
