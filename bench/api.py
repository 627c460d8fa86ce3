"""Data API benchmark: requests/s of `allmende serve` against datasette on the same 1,000,000
rows, measured with wrk.

Data: the generated municipal CSV of bench/_data.py (the ingest benchmark's file).
allmende: ingested with ``allmende ingest`` into a fresh data directory, served by
``.venv/bin/allmende --data-dir D serve --port P`` with its defaults.
datasette: installed into a separate venv (``--datasette-venv``, default
/tmp/allmende-bench-datasette-venv; created with ``pip install datasette`` when missing, never
in the project venv); the same CSV loaded into SQLite with Python's sqlite3 in typed columns
(INTEGER, REAL, TEXT; dates as ISO text; PLZ as TEXT; no indexes besides the rowid), served by
``datasette serve bench.db --port Q --setting suggest_facets off``.

Cases (each answer includes the total count of the selection; checked before measuring):

* page: allmende ``GET /api/v1/resources/{id}/rows?limit=100`` vs datasette
  ``GET /bench/kommunal.json?_size=100`` (``filtered_table_rows_count``) - target >= 3x;
* filter: an unindexed column, ``Ort=Dortmund`` (~70 % of the rows) on both, limit 100 -
  target >= 10x;
* informational, not part of the target: a rare value (``Ort=Holzwickede``), and a filter whose
  value changes on every request (``Anzahl=0..999``, wrk Lua script), which defeats allmende's
  per-version count cache and so shows the cost of a full scan per request.

Load: ``wrk -t1 -c8 -d<duration>s --latency`` after a 2 s warm-up of the same request; each
server runs alone. Every server is started in its own process group and killed in ``finally``.
Traffic goes to 127.0.0.1 only.

    .venv/bin/python bench/api.py [--rows 1000000] [--duration 10] [--workdir DIR]
                                  [--datasette-venv DIR]

The last line of stdout is the JSON result.
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import json
import os
import re
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import duckdb
from rich.console import Console
from rich.table import Table

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _data import ALLMENDE, RARE_ORT, generate_csv, load_average, remove, run_child

TARGET_PAGE = 3.0
TARGET_FILTER = 10.0
BASELINE_NAME = "datasette (SQLite, same rows)"
BBOX = "7.30,51.41,7.64,51.60"
HOST = "127.0.0.1"
DEFAULT_DATASETTE_VENV = Path(tempfile.gettempdir()) / "allmende-bench-datasette-venv"
TABLE = "kommunal"
# datasette gives up counting after sql_time_limit_ms (default 1 s) and answers with a null
# count; allmende's query timeout is 30 s, so datasette gets the same, and always counts.
SQL_TIME_LIMIT_MS = 30_000
VARYING = 1000  # distinct Anzahl values cycled by the uncached case

console = Console(width=150)


# --- data -----------------------------------------------------------------------------------

SQLITE_COLUMNS = [("Nr", "INTEGER"), ("Bezeichnung", "TEXT"), ("Kategorie", "TEXT"),
                  ("Straße", "TEXT"), ("Hausnummer", "INTEGER"), ("PLZ", "TEXT"),
                  ("Ort", "TEXT"), ("Stadtbezirk", "TEXT"), ("Datum", "TEXT"),
                  ("Betrag", "REAL"), ("Anzahl", "INTEGER"), ("Breitengrad", "REAL"),
                  ("Längengrad", "REAL")]


def _convert(kind: str, text: str) -> object:
    if text == "":
        return None
    if kind == "INTEGER":
        return int(text)
    if kind == "REAL":
        return float(text.replace(",", "."))
    return text


def load_sqlite(source: Path, target: Path, rows: int) -> float:
    """The CSV in a typed SQLite table (reused when already loaded)."""
    marker = target.with_suffix(".rows")
    if target.exists() and marker.exists() and marker.read_text() == str(rows):
        return 0.0
    started = time.perf_counter()
    target.unlink(missing_ok=True)
    con = sqlite3.connect(target)
    try:
        columns = ", ".join(f'"{n}" {t}' for n, t in SQLITE_COLUMNS)
        con.execute(f"CREATE TABLE {TABLE} ({columns})")
        kinds = [t for _, t in SQLITE_COLUMNS]
        date = SQLITE_COLUMNS.index(("Datum", "TEXT"))
        with source.open(encoding="utf-8-sig", newline="") as handle:
            reader = csv.reader(handle, delimiter=";")
            header = next(reader)
            assert header == [n for n, _ in SQLITE_COLUMNS], header
            batch: list[list[object]] = []
            insert = f"INSERT INTO {TABLE} VALUES ({', '.join('?' for _ in kinds)})"
            for record in reader:
                values = [_convert(k, v) for k, v in zip(kinds, record, strict=True)]
                day, month, year = record[date].split(".")
                values[date] = f"{year}-{month}-{day}"
                batch.append(values)
                if len(batch) == 50_000:
                    con.executemany(insert, batch)
                    batch.clear()
            con.executemany(insert, batch)
        con.commit()
        con.execute("VACUUM")
    finally:
        con.close()
    marker.write_text(str(rows))
    return time.perf_counter() - started


def ensure_datasette(venv: Path) -> Path:
    datasette = venv / "bin" / "datasette"
    if not datasette.exists():
        console.print(f"installing datasette into {venv} (separate venv) ...")
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
        subprocess.run([str(venv / "bin" / "pip"), "install", "-q", "datasette"], check=True)
    return datasette


# --- servers --------------------------------------------------------------------------------

def free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return sock.getsockname()[1]


@dataclass
class Server:
    name: str
    process: subprocess.Popen
    port: int
    log: Path
    max_rss_mb: float | None = None

    def url(self, path: str) -> str:
        return f"http://{HOST}:{self.port}{path}"

    def stop(self) -> None:
        if self.process.returncode is not None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGTERM)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            pid, status, usage = os.wait4(self.process.pid, os.WNOHANG)
            if pid:
                self.process.returncode = os.waitstatus_to_exitcode(status)
                self.max_rss_mb = usage.ru_maxrss / 1024
                break
            time.sleep(0.05)
        else:
            os.killpg(self.process.pid, signal.SIGKILL)
            _, status, usage = os.wait4(self.process.pid, 0)
            self.process.returncode = os.waitstatus_to_exitcode(status)
            self.max_rss_mb = usage.ru_maxrss / 1024
        with contextlib.suppress(ProcessLookupError):  # anything left in its group
            os.killpg(self.process.pid, signal.SIGKILL)


def start_server(name: str, argv: list[str], port: int, log: Path, ready_path: str,
                 timeout: float = 120) -> Server:
    handle = log.open("wb")
    process = subprocess.Popen(argv, stdout=handle, stderr=subprocess.STDOUT,
                               start_new_session=True)
    handle.close()
    server = Server(name, process, port, log)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"{name} exited during start-up: {log.read_text()[-2000:]}")
        try:
            with urllib.request.urlopen(server.url(ready_path), timeout=2) as response:
                if response.status == 200:
                    return server
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            pass
        time.sleep(0.2)
    server.stop()
    raise SystemExit(f"{name} did not answer {ready_path} within {timeout:.0f} s")


def get_json(url: str) -> dict:
    with urllib.request.urlopen(url, timeout=60) as response:
        return json.loads(response.read())


# --- wrk ------------------------------------------------------------------------------------

@dataclass
class Load:
    rps: float
    p50_ms: float
    p99_ms: float
    requests: int
    errors: str


def _ms(text: str) -> float:
    value, unit = re.fullmatch(r"([\d.]+)(us|ms|s|m)", text).groups()  # type: ignore[union-attr]
    return float(value) * {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60000.0}[unit]


def wrk(url: str, duration: int, script: Path | None, workdir: Path) -> Load:
    argv = ["wrk", "-t1", "-c8", f"-d{duration}s", "--latency", "--timeout", "30s"]
    if script is not None:
        argv += ["-s", str(script)]
    out = subprocess.run([*argv, url], capture_output=True, text=True, check=True,
                         cwd=workdir).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    p50 = _ms(re.search(r"^\s+50%\s+(\S+)", out, re.M).group(1))  # type: ignore[union-attr]
    p99 = _ms(re.search(r"^\s+99%\s+(\S+)", out, re.M).group(1))  # type: ignore[union-attr]
    requests = int(re.search(r"(\d+) requests in", out).group(1))  # type: ignore[union-attr]
    errors = "; ".join(line.strip() for line in out.splitlines()
                       if "Non-2xx" in line or "Socket errors" in line)
    return Load(rps, p50, p99, requests, errors)


def varying_script(workdir: Path, name: str, template: str) -> Path:
    """A wrk Lua script requesting ``template % n`` for n = 0, 1, ... (mod VARYING)."""
    path = workdir / f"{name}.lua"
    path.write_text(
        "local counter = 0\n"
        "request = function()\n"
        "  counter = counter + 1\n"
        f"  return wrk.format('GET', string.format('{template}', counter % {VARYING}))\n"
        "end\n")
    return path


@dataclass
class Case:
    key: str
    label: str
    allmende: str  # path and query, {id} for the resource
    datasette: str
    varying: bool = False  # the paths are templates with %d


def cases(rows: int) -> list[Case]:
    ort = urllib.parse.quote(RARE_ORT)
    return [
        Case("page", "page of 100 rows + total", "/api/v1/resources/{id}/rows?limit=100",
             f"/bench/{TABLE}.json?_size=100"),
        Case("filter", "filter Ort=Dortmund (unindexed) + total",
             "/api/v1/resources/{id}/rows?Ort=Dortmund&limit=100",
             f"/bench/{TABLE}.json?Ort=Dortmund&_size=100"),
        Case("rare", f"filter Ort={RARE_ORT} (info)",
             f"/api/v1/resources/{{id}}/rows?Ort={ort}&limit=100",
             f"/bench/{TABLE}.json?Ort={ort}&_size=100"),
        Case("varying", f"filter Anzahl=n, n changes per request (info, {VARYING} values)",
             "/api/v1/resources/{id}/rows?Anzahl=%d&limit=100",
             f"/bench/{TABLE}.json?Anzahl=%d&_size=100", varying=True),
    ]


def expected_totals(source: Path) -> dict[str, int]:
    con = duckdb.connect()
    try:
        row = con.execute(
            "SELECT count(*), count(*) FILTER (WHERE Ort = 'Dortmund'), "
            f"count(*) FILTER (WHERE Ort = '{RARE_ORT}'), count(*) FILTER (WHERE Anzahl = 7) "
            "FROM read_csv(?, delim=';', decimal_separator=',', dateformat='%d.%m.%Y')",
            [str(source)]).fetchone()
    finally:
        con.close()
    return dict(zip(("page", "filter", "rare", "varying"), row, strict=True))


def check(case: Case, server: str, url: str, expected: int) -> None:
    """The answer carries the total count of the selection, and it is right."""
    url = url.replace("%d", "7")
    body = get_json(url)
    if server == "allmende":
        total = body.get("total")
        rows = len(body.get("rows", []))
    else:
        total = body.get("filtered_table_rows_count", body.get("count"))
        rows = len(body.get("rows", []))
    if total != expected or rows != min(100, expected):
        raise SystemExit(f"{server} {case.key}: total {total} (expected {expected}), "
                         f"{rows} rows: {url}")


def measure(server: Server, name: str, case_list: list[Case], totals: dict[str, int],
            resource: str | None, duration: int, workdir: Path) -> dict[str, Load]:
    results: dict[str, Load] = {}
    for case in case_list:
        path = (case.allmende.replace("{id}", resource or "") if name == "allmende"
                else case.datasette)
        check(case, name, server.url(path), totals[case.key])
        script = varying_script(workdir, f"{name}-{case.key}", path) if case.varying else None
        url = server.url(path) if not case.varying else server.url("/")
        wrk(url, 2, script, workdir)  # warm-up
        results[case.key] = wrk(url, duration, script, workdir)
        load = results[case.key]
        console.print(f"  {name:9} {case.key:8} {load.rps:8.1f} req/s  p50 {load.p50_ms:8.1f} ms"
                      f"  p99 {load.p99_ms:8.1f} ms  {load.errors}")
    return results


# --- main -----------------------------------------------------------------------------------

def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--duration", type=int, default=10, help="seconds of wrk per case")
    parser.add_argument("--workdir", type=Path, default=None,
                        help="CSV, data dir and SQLite file (default: a temporary directory)")
    parser.add_argument("--datasette-venv", type=Path, default=DEFAULT_DATASETTE_VENV)
    args = parser.parse_args(argv)
    if args.rows < 1000:
        parser.error("--rows must be at least 1000")
    if subprocess.run(["which", "wrk"], capture_output=True).returncode != 0:
        raise SystemExit("wrk is missing: apt-get install -y wrk")

    temporary = None
    if args.workdir is None:
        temporary = tempfile.TemporaryDirectory(prefix="allmende-bench-api-")
        workdir = Path(temporary.name)
    else:
        workdir = args.workdir.resolve()
        workdir.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    servers: list[Server] = []
    try:
        csv_path = workdir / f"kommunal-{args.rows}.csv"
        generated = generate_csv(csv_path, args.rows)
        console.print(f"CSV: {generated.rows:,} rows, {generated.size / 1e6:.1f} MB")
        totals = expected_totals(csv_path)
        datasette = ensure_datasette(args.datasette_venv.resolve())
        version = subprocess.run([str(datasette), "--version"], capture_output=True,
                                 text=True).stdout.strip()

        data_dir = workdir / "allmende-data"
        marker = data_dir / f"bench-{args.rows}.resource"
        if marker.exists():  # ingested by an earlier run with --workdir
            resource, ingest_seconds = marker.read_text().strip(), 0.0
        else:
            remove(data_dir)
            for command in (["org", "create", "dortmund", "--name", "Stadt Dortmund",
                             "--bbox", BBOX, "--json"],
                            ["ingest", str(csv_path), "--org", "dortmund", "--dataset",
                             "bench", "--json"]):
                run = run_child([str(ALLMENDE), "--data-dir", str(data_dir), *command])
                if run.returncode != 0:
                    raise SystemExit(f"allmende {command[0]} failed: {run.stderr[-2000:]}")
            resource = json.loads(run.stdout.strip().splitlines()[-1])["resource"]
            ingest_seconds = run.seconds
            marker.write_text(resource)
        console.print(f"allmende ingest: {ingest_seconds:.1f} s, resource {resource}")
        sqlite_path = workdir / "bench.db"
        seconds = load_sqlite(csv_path, sqlite_path, args.rows)
        console.print(f"SQLite load: {seconds:.1f} s ({sqlite_path.stat().st_size / 1e6:.0f} MB)")

        case_list = cases(args.rows)
        load_before = load_average()
        console.print(f"load average before: {load_before}")

        port = free_port()
        allmende = start_server("allmende", [str(ALLMENDE), "--data-dir", str(data_dir),
                                             "serve", "--port", str(port)],
                                port, workdir / "allmende.log", "/healthz")
        servers.append(allmende)
        allmende_results = measure(allmende, "allmende", case_list, totals, resource,
                                   args.duration, workdir)
        allmende.stop()

        port = free_port()
        ds = start_server("datasette", [str(datasette), "serve", str(sqlite_path), "--port",
                                        str(port), "--host", HOST, "--setting",
                                        "suggest_facets", "off", "--setting",
                                        "sql_time_limit_ms", str(SQL_TIME_LIMIT_MS)],
                          port, workdir / "datasette.log", "/-/versions.json")
        servers.append(ds)
        datasette_results = measure(ds, "datasette", case_list, totals, None, args.duration,
                                    workdir)
        ds.stop()
        load_after = load_average()
    finally:
        for server in servers:
            server.stop()
        if temporary is not None:
            temporary.cleanup()

    ratios = {c.key: allmende_results[c.key].rps / datasette_results[c.key].rps
              for c in case_list}
    targets = {"page": TARGET_PAGE, "filter": TARGET_FILTER}
    table = Table(title=f"Data API on {args.rows:,} rows: wrk -t1 -c8 -d{args.duration}s "
                        "(requests/s, latency in ms)")
    for column in ("case", "allmende req/s", "allmende p50", "allmende p99",
                   "datasette req/s", "datasette p50", "datasette p99", "ratio", "target"):
        table.add_column(column, justify="left" if column == "case" else "right")
    for case in case_list:
        a, d = allmende_results[case.key], datasette_results[case.key]
        target = targets.get(case.key)
        verdict = "" if target is None else (
            f"[green]>= {target:g}x met[/]" if ratios[case.key] >= target
            else f"[red]>= {target:g}x NOT met[/]")
        table.add_row(f"{case.key}: {case.label}", f"{a.rps:,.1f}", f"{a.p50_ms:.1f}",
                      f"{a.p99_ms:.1f}", f"{d.rps:,.1f}", f"{d.p50_ms:.1f}", f"{d.p99_ms:.1f}",
                      f"{ratios[case.key]:.2f}x", verdict)
    console.print(table)

    summary = Table(title="Summary", show_header=False)
    summary.add_column("what")
    summary.add_column("value", justify="right")
    summary.add_row("totals checked (page / Ort=Dortmund / rare / Anzahl=7)",
                    " / ".join(f"{totals[k]:,}" for k in ("page", "filter", "rare", "varying")))
    summary.add_row("datasette", version)
    summary.add_row("server peak RSS allmende / datasette",
                    f"{allmende.max_rss_mb or 0:,.0f} MB / {ds.max_rss_mb or 0:,.0f} MB")
    summary.add_row("load average before / after", f"{load_before} / {load_after}")
    summary.add_row("total benchmark time", f"{time.perf_counter() - started:.0f} s")
    console.print(summary)
    errors = [f"{n} {k}: {r.errors}" for n, res in (("allmende", allmende_results),
                                                    ("datasette", datasette_results))
              for k, r in res.items() if r.errors]
    for error in errors:
        console.print(f"[yellow]wrk reported errors: {error}[/]")

    worst = min(ratios["page"] / TARGET_PAGE, ratios["filter"] / TARGET_FILTER)
    worst_key = "page" if ratios["page"] / TARGET_PAGE <= ratios["filter"] / TARGET_FILTER \
        else "filter"
    met = ratios["page"] >= TARGET_PAGE and ratios["filter"] >= TARGET_FILTER and not errors
    console.print(f"ratios: page {ratios['page']:.2f}x (target >= {TARGET_PAGE:g}x), filter "
                  f"{ratios['filter']:.2f}x (target >= {TARGET_FILTER:g}x); worst relative to "
                  f"its target: {worst_key} ({worst:.2f} of the target)")
    sys.stdout.flush()
    print(json.dumps({
        "bench": "api", "metric": "requests/s ratio vs datasette (worst of the two cases)",
        "unit": "x", "allmende": round(ratios[worst_key], 3), "baseline_name": BASELINE_NAME,
        "baseline": 1.0, "target": "page >= 3x and filter >= 10x", "met": met,
    }, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    sys.exit(main())
