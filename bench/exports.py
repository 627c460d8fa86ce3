"""Abandoned downloads benchmark: does search stay fast while four clients ask for big exports
of a 1,000,000-row table and hang up?

A real `allmende serve` process (SQLite, no in-process worker) serves a data directory with the
bench CSV of bench/_data.py ingested (13 columns, 1M rows) and 2,000 catalog datasets. Search
latency (``GET /api/v1/datasets?q=…``, one client, sequential) is measured idle, then right
after four clients — from four loopback addresses, so the per-client limit does not refuse
them — each asked for an XLSX (as much as the cell bound allows) and a Parquet export of the
whole table and hung up after 0.3 s. Without cancellation each abandoned XLSX cost about a
minute of CPU and went on after the client left (four of them held the server at 100 % for
minutes).

Target: p95 of search under the abandoned exports <= 2 x p95 idle (baseline: idle, same run).

    .venv/bin/python bench/exports.py [--rows 1000000] [--samples 300] [--workdir DIR]

The last line of stdout is the JSON result.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx
import numpy as np
from rich.console import Console

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _data import ALLMENDE, generate_csv, load_average
from allmende.access.policy import Actor
from allmende.catalog import datasets, organizations
from allmende.config import Settings
from allmende.ingest.service import IngestRequest, ingest
from allmende.platform import Platform

OPERATOR = Actor(is_sysadmin=True, name="bench")
WORDS = ["Ladesäulen", "Parkplätze", "Baustellen", "Schulen", "Bäume", "Radwege", "Spielplätze",
         "Haltestellen", "Luftqualität", "Einwohner"]
console = Console(width=120)


def seed(data: Path, csv: Path) -> str:
    platform = Platform(Settings(data_dir=data, secret_key="bench"))
    platform.upgrade()
    with platform.db.session() as session:
        organizations.create_organization(session, OPERATOR, {
            "slug": "dortmund", "name": "Stadt Dortmund", "ags": "05913000"})
        for n in range(2000):
            word = WORDS[n % len(WORDS)]
            datasets.create_dataset(session, OPERATOR, {
                "name": f"d{n}", "organization": "dortmund", "title": f"{word} {n}",
                "description": f"{word} in Dortmund, Stand {2000 + n % 25}."})
    resource = ingest(platform, OPERATOR, IngestRequest("d0", csv, csv.name)).resource
    platform.close()
    return resource


def serve(data: Path) -> tuple[subprocess.Popen, str]:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    env = {**os.environ, "ALLMENDE_DATA_DIR": str(data), "ALLMENDE_SECRET_KEY": "bench",
           "ALLMENDE_INPROCESS_WORKER": "false"}
    process = subprocess.Popen([str(ALLMENDE), "serve", "--port", str(port)], env=env,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"
    for _ in range(600):
        try:
            if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                return process, base
        except httpx.HTTPError:
            time.sleep(0.1)
    process.kill()
    sys.exit("the server did not start")


def search_latencies(base: str, samples: int) -> list[float]:
    timings = []
    with httpx.Client(base_url=base, timeout=60) as client:
        for n in range(samples):
            started = time.perf_counter()
            response = client.get("/api/v1/datasets", params={"q": WORDS[n % len(WORDS)]})
            timings.append((time.perf_counter() - started) * 1000)
            assert response.status_code == 200, response.text
    return timings


def abandon(base: str, resource: str, address: str) -> None:
    """Ask for an XLSX and a Parquet export at once, hang up on both after 0.3 s."""
    host, port = base.removeprefix("http://").split(":")
    paths = [f"/api/v1/resources/{resource}/rows?format=xlsx&limit=150000",
             f"/api/v1/resources/{resource}/rows?format=parquet"]
    sockets = [socket.create_connection((host, int(port)), source_address=(address, 0))
               for _ in paths]
    for sock, path in zip(sockets, paths, strict=True):
        sock.sendall(f"GET {path} HTTP/1.1\r\nHost: {host}\r\n\r\n".encode())
    time.sleep(0.3)
    for sock in sockets:
        sock.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--samples", type=int, default=300)
    parser.add_argument("--workdir", type=Path, default=None)
    args = parser.parse_args()
    console.print(f"load before: {load_average()}")
    with tempfile.TemporaryDirectory(prefix="allmende-bench-exports-",
                                     dir=args.workdir) as folder:
        work = Path(folder)
        csv = generate_csv(work / "gross.csv", args.rows).path
        resource = seed(work / "data", csv)
        process, base = serve(work / "data")
        try:
            search_latencies(base, 20)  # warm-up
            idle = search_latencies(base, args.samples)
            clients = [threading.Thread(target=abandon, args=(base, resource, f"127.0.0.{n}"))
                       for n in range(2, 6)]
            for thread in clients:
                thread.start()
            for thread in clients:
                thread.join()
            loaded = search_latencies(base, args.samples)
        finally:
            process.kill()
            process.wait()
    idle_p50, idle_p95 = np.percentile(idle, [50, 95])
    busy_p50, busy_p95 = np.percentile(loaded, [50, 95])
    console.print(f"search idle: p50 {idle_p50:.1f} ms, p95 {idle_p95:.1f} ms")
    console.print(f"search right after 4 clients abandoned an XLSX and a Parquet export each: "
                  f"p50 {busy_p50:.1f} ms, p95 {busy_p95:.1f} ms")
    console.print(f"load after: {load_average()}")
    ratio = float(busy_p95 / idle_p95)
    print(json.dumps({
        "bench": "exports", "metric": "search p95 after 4 clients abandoned big exports / "
        "search p95 idle", "unit": "ratio", "allmende": round(ratio, 2),
        "baseline_name": "search p95 idle (same server, same run)",
        "baseline": round(float(idle_p95), 2), "target": "ratio <= 2.0", "met": bool(ratio <= 2.0),
        "abandoned": 8, "rows": args.rows}))


if __name__ == "__main__":
    main()
