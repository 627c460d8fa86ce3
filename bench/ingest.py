"""Ingest benchmark: the whole `allmende ingest` process against a whole DuckDB process on a
generated 1,000,000-row municipal CSV.

The CSV (bench/_data.py, deterministic): ``;``, UTF-8 with BOM, CRLF, decimal comma,
``dd.mm.yyyy`` dates, ~1 % quoted cells holding ``;`` and ``""``, a PLZ column with leading
zeros, ``Breitengrad``/``Längengrad`` in decimal comma inside Dortmund (so a geometry column is
produced).

allmende: ``.venv/bin/allmende --data-dir D ingest FILE --org dortmund --dataset bench --json``
in a fresh data directory, after an untimed ``org create dortmund --bbox 7.30,51.41,7.64,51.60``.
Timed from spawn to exit (process start-up included): sniffing, typing, geometry, the Parquet
version and its publication. Its peak RSS is the child's own ``ru_maxrss`` (``os.wait4``).

Baseline: a separate ``.venv/bin/python -c "import duckdb; duckdb.sql(COPY (SELECT * FROM
read_csv(FILE, delim=';', decimal_separator=',', dateformat='%d.%m.%Y')) TO 'out.parquet')"``
process on the same file. Runs alternate (DuckDB, allmende, DuckDB, ...) after one untimed
warm-up of each; median of ``--repeat`` runs each. The warm-up also byte-compiles allmende's
modules, as installing a package does: with ``PYTHONDONTWRITEBYTECODE`` set, every process
would otherwise compile them anew (DuckDB's modules come compiled from their wheel).

Targets: median allmende time <= 3.0 x median DuckDB time (the goal stays 2.0 x), and
allmende's peak RSS < 1.5 GB (the largest of its runs).

    .venv/bin/python bench/ingest.py [--rows 1000000] [--repeat 3] [--workdir DIR]
                                     [--no-breakdown]

``--breakdown`` (default on) additionally runs the ingest once in-process in a child and
reports the time per pipeline phase, and the import time of the CLI, to show where time goes.

The last line of stdout is the JSON result.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from rich.console import Console
from rich.table import Table

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _data import (
    ALLMENDE,
    COLUMNS,
    PYTHON,
    ROOT,
    ChildRun,
    generate_csv,
    load_average,
    remove,
    run_child,
)

TARGET_RATIO = 3.0
GOAL_RATIO = 2.0
TARGET_RSS_MB = 1.5 * 1024
BASELINE_NAME = "DuckDB read_csv -> Parquet (whole process)"
BBOX = "7.30,51.41,7.64,51.60"
EXPECTED_TYPES = {"Nr": "integer", "PLZ": "string", "Datum": "date", "Betrag": "number",
                  "Anzahl": "integer", "Breitengrad": "number", "Längengrad": "number",
                  "geometry": "geometry"}

console = Console(width=150)

DUCKDB_SCRIPT = """
import sys, duckdb
source, target = sys.argv[1], sys.argv[2]
duckdb.sql(f"COPY (SELECT * FROM read_csv('{source}', delim=';', decimal_separator=',', "
           f"dateformat='%d.%m.%Y')) TO '{target}'")
"""

# Runs the same service call as the CLI in-process and records when each phase starts.
BREAKDOWN_SCRIPT = """
import json, sys, time
t0 = time.perf_counter()
from allmende.cli import OPERATOR
from allmende.config import Settings
from allmende.ingest.service import IngestRequest, ingest
from allmende.ingest.sniff import ReadOptions
from allmende.platform import Platform
from pathlib import Path
t_import = time.perf_counter()
source, data_dir = Path(sys.argv[1]), Path(sys.argv[2])
platform = Platform(Settings(data_dir=data_dir))
platform.upgrade()
t_platform = time.perf_counter()
marks = [("start", time.perf_counter())]
def progress(fraction, message):
    marks.append((message, time.perf_counter()))
result = ingest(platform, OPERATOR, IngestRequest(
    dataset="bench", source=source, original_name=source.name, resource_name=None,
    options=ReadOptions(), organization="dortmund"), progress)
marks.append(("end", time.perf_counter()))
platform.close()
print(json.dumps({"import": t_import - t0, "platform": t_platform - t_import,
                  "marks": [(m, t - marks[0][1]) for m, t in marks], "rows": result.rows}))
"""


def run_duckdb(csv: Path, out_dir: Path) -> ChildRun:
    remove(out_dir)
    out_dir.mkdir(parents=True)
    run = run_child([str(PYTHON), "-c", DUCKDB_SCRIPT, str(csv), str(out_dir / "out.parquet")],
                    cwd=out_dir)
    if run.returncode != 0:
        raise SystemExit(f"DuckDB baseline failed ({run.returncode}): {run.stderr[-2000:]}")
    return run


def prepare_allmende(data_dir: Path) -> None:
    remove(data_dir)
    run = run_child([str(ALLMENDE), "--data-dir", str(data_dir), "org", "create", "dortmund",
                     "--name", "Stadt Dortmund", "--bbox", BBOX, "--json"])
    if run.returncode != 0:
        raise SystemExit(f"allmende org create failed ({run.returncode}): {run.stderr[-2000:]}")


def run_allmende(csv: Path, data_dir: Path, rows: int) -> tuple[ChildRun, dict]:
    prepare_allmende(data_dir)  # untimed
    run = run_child([str(ALLMENDE), "--data-dir", str(data_dir), "ingest", str(csv),
                     "--org", "dortmund", "--dataset", "bench", "--json"])
    if run.returncode != 0:
        raise SystemExit(f"allmende ingest failed ({run.returncode}): {run.stdout[-2000:]} "
                         f"{run.stderr[-2000:]}")
    result = json.loads(run.stdout.strip().splitlines()[-1])
    types = {c["name"]: c["type"] for c in result["columns"]}
    wrong = {k: (types.get(k), v) for k, v in EXPECTED_TYPES.items() if types.get(k) != v}
    if result["rows"] != rows or wrong:
        raise SystemExit(f"allmende ingest produced {result['rows']} rows (expected {rows}); "
                         f"unexpected types (got, expected): {wrong}")
    return run, result


def breakdown(csv: Path, data_dir: Path) -> dict:
    prepare_allmende(data_dir)
    run = run_child([str(PYTHON), "-c", BREAKDOWN_SCRIPT, str(csv), str(data_dir)])
    if run.returncode != 0:
        raise SystemExit(f"breakdown failed: {run.stderr[-2000:]}")
    info = json.loads(run.stdout.strip().splitlines()[-1])
    info["max_rss_mb"] = run.max_rss_mb
    cli = run_child([str(ALLMENDE), "--help"])
    info["cli_help_s"] = cli.seconds
    python = run_child([str(PYTHON), "-c", "pass"])
    info["python_s"] = python.seconds
    return info


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=3, help="timed runs of each")
    parser.add_argument("--workdir", type=Path, default=None,
                        help="where the CSV and outputs go (default: a temporary directory)")
    parser.add_argument("--no-breakdown", dest="breakdown", action="store_false",
                        help="skip the per-phase timing of the allmende ingest")
    args = parser.parse_args(argv)
    if args.rows < 1000:
        parser.error("--rows must be at least 1000")

    temporary = None
    if args.workdir is None:
        temporary = tempfile.TemporaryDirectory(prefix="allmende-bench-ingest-")
        workdir = Path(temporary.name)
    else:
        workdir = args.workdir.resolve()
        workdir.mkdir(parents=True, exist_ok=True)
    load_before = load_average()
    started = time.perf_counter()
    try:
        csv = workdir / f"kommunal-{args.rows}.csv"
        generated = generate_csv(csv, args.rows)
        cells = args.rows * len(COLUMNS)
        console.print(f"CSV {csv.name}: {generated.rows:,} rows, {generated.size / 1e6:.1f} MB, "
                      f"{generated.quoted_rows:,} quoted cells with ';' and '\"\"' "
                      f"({100 * generated.quoted_rows / cells:.2f} % of cells), generated in "
                      f"{generated.seconds:.1f} s")
        console.print(f"load average before: {load_before}")

        console.print("warm-up (untimed): byte-compiling allmende, one DuckDB run, one "
                      "allmende run ...")
        subprocess.run([str(PYTHON), "-m", "compileall", "-q", str(ROOT / "src" / "allmende")],
                       check=True)
        run_duckdb(csv, workdir / "duckdb")
        _, result = run_allmende(csv, workdir / "data", args.rows)

        duck_runs: list[ChildRun] = []
        allmende_runs: list[ChildRun] = []
        for index in range(args.repeat):
            duck_runs.append(run_duckdb(csv, workdir / "duckdb"))
            console.print(f"  run {index + 1}: DuckDB {duck_runs[-1].seconds:.2f} s")
            run, result = run_allmende(csv, workdir / "data", args.rows)
            allmende_runs.append(run)
            console.print(f"  run {index + 1}: allmende {run.seconds:.2f} s, "
                          f"peak RSS {run.max_rss_mb:,.0f} MB")
        parquet_mb = sum(p.stat().st_size for p in (workdir / "data" / "tables").rglob(
            "*.parquet")) / 1e6
        duck_mb = (workdir / "duckdb" / "out.parquet").stat().st_size / 1e6
        info = breakdown(csv, workdir / "data") if args.breakdown else None
    finally:
        if temporary is not None:
            temporary.cleanup()
    load_after = load_average()

    duck_median = statistics.median(r.seconds for r in duck_runs)
    allmende_median = statistics.median(r.seconds for r in allmende_runs)
    ratio = allmende_median / duck_median
    peak_rss = max(r.max_rss_mb for r in allmende_runs)
    ratio_met = ratio <= TARGET_RATIO
    rss_met = peak_rss < TARGET_RSS_MB

    table = Table(title=f"Ingest of {args.rows:,} rows (s, whole process; peak RSS in MB)")
    for column in ("run", "DuckDB s", "DuckDB RSS", "allmende s", "allmende RSS", "ratio"):
        table.add_column(column, justify="right")
    for index, (duck, allm) in enumerate(zip(duck_runs, allmende_runs, strict=True)):
        table.add_row(str(index + 1), f"{duck.seconds:.2f}", f"{duck.max_rss_mb:,.0f}",
                      f"{allm.seconds:.2f}", f"{allm.max_rss_mb:,.0f}",
                      f"{allm.seconds / duck.seconds:.2f}")
    table.add_row("median", f"{duck_median:.2f}", "", f"{allmende_median:.2f}", "",
                  f"{ratio:.2f}", style="bold")
    console.print(table)

    summary = Table(title="Summary", show_header=False)
    summary.add_column("what")
    summary.add_column("value", justify="right")
    summary.add_row("columns (allmende)", ", ".join(f"{c['name']}:{c['type']}"
                                                     for c in result["columns"]))
    summary.add_row("CRS / warnings", f"{result['crs']} / "
                    + "; ".join(w["code"] for w in result["warnings"]))
    summary.add_row("Parquet size allmende / DuckDB", f"{parquet_mb:.1f} MB / {duck_mb:.1f} MB")
    if info:
        marks = info["marks"]
        phases = [(marks[i][0], marks[i + 1][1] - marks[i][1]) for i in range(len(marks) - 1)]
        summary.add_row("python -c pass / allmende --help (process start-up)",
                        f"{info['python_s']:.2f} s / {info['cli_help_s']:.2f} s")
        summary.add_row("in-process: import allmende.cli + services / Platform + upgrade",
                        f"{info['import']:.2f} s / {info['platform']:.2f} s")
        labels = {"start": "prepare (dataset, options)",
                  "Datei wird gelesen": "read CSV into DuckDB (sniff, read_csv, raw table)",
                  "Spaltentypen werden erkannt": "column types on a sample, CRS",
                  "Version wird geschrieben": "guarded typed COPY to Parquet with geometry",
                  "Version wird veröffentlicht": "publish (copy + fsync, sha256, DB row)"}
        for message, seconds in phases:
            summary.add_row(f"  phase: {labels.get(message, message)}", f"{seconds:.2f} s")
        summary.add_row("  in-process run peak RSS", f"{info['max_rss_mb']:,.0f} MB")
    summary.add_row("target", f"ratio <= {TARGET_RATIO} (goal {GOAL_RATIO}) -> "
                    + ("[green]met[/]" if ratio_met else "[red]NOT met[/]")
                    + "; peak RSS < 1.5 GB -> "
                    + ("[green]met[/]" if rss_met else "[red]NOT met[/]"))
    summary.add_row("load average before / after", f"{load_before} / {load_after}")
    summary.add_row("total benchmark time", f"{time.perf_counter() - started:.0f} s")
    console.print(summary)

    console.print(f"ratio allmende / DuckDB: {ratio:.2f} (allmende {allmende_median:.2f} s, "
                  f"DuckDB {duck_median:.2f} s; target <= {TARGET_RATIO}, goal {GOAL_RATIO})")
    sys.stdout.flush()
    print(f"memory: allmende ingest peak RSS {peak_rss:,.0f} MB (max of {len(allmende_runs)} "
          f"runs; target < {TARGET_RSS_MB:,.0f} MB) -> {'met' if rss_met else 'NOT met'}")
    print(json.dumps({
        "bench": "ingest", "metric": "ingest time ratio vs DuckDB", "unit": "x",
        "allmende": round(ratio, 3), "baseline_name": BASELINE_NAME,
        "baseline": 1.0, "target": f"ratio <= {TARGET_RATIO}",
        "met": bool(ratio_met and rss_met),
    }, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    sys.exit(main())
