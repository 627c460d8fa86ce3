"""Wide-table benchmark: the ingest of a 10-row CSV with 2,000 columns (the documented limit)
and of a JSON array of 1,000 records with 1,000 keys each.

Each file is ingested through the service (``allmende.ingest.service.ingest``, what a
background job and ``allmende ingest`` call) in a child process of its own, in a fresh data
directory. The time judged is that of the ingest call, as the child measures it (what a job
takes); the whole process from spawn to exit (interpreter start, imports, migrations) is shown
beside it. The peak RSS is the child's own ``ru_maxrss``, for the whole process.

Baseline, for scale: a separate ``.venv/bin/python`` process in which DuckDB reads the same
file with its own detection (``read_csv(FILE, delim=';')`` / ``read_json(FILE)``) and writes
it as Parquet — no German typing, no geometry, no version.

Target (the wide-tables issue): each ingest < 10 s and peak RSS < 1 GB.

    .venv/bin/python bench/wide.py [--repeat 3] [--workdir DIR]

The last line of stdout is the JSON result.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from rich.console import Console
from rich.table import Table

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _data import PYTHON, ChildRun, load_average, remove, run_child

TARGET_SECONDS = 10.0
TARGET_RSS_MB = 1024.0
BASELINE_NAME = "DuckDB read_csv / read_json -> Parquet (whole process)"

console = Console(width=150)

INGEST_SCRIPT = """
import json, sys, time
from pathlib import Path
from allmende.catalog import organizations
from allmende.cli import OPERATOR
from allmende.config import Settings
from allmende.ingest.service import IngestRequest, ingest
from allmende.platform import Platform
source, data_dir = Path(sys.argv[1]), Path(sys.argv[2])
platform = Platform(Settings(data_dir=data_dir))
platform.upgrade()
with platform.db.session() as session:
    organizations.create_organization(session, OPERATOR, {"slug": "dortmund",
                                                          "name": "Stadt Dortmund"})
started = time.perf_counter()
result = ingest(platform, OPERATOR, IngestRequest(
    dataset="breit", source=source, original_name=source.name, organization="dortmund"))
seconds = time.perf_counter() - started
platform.close()
print(json.dumps({"seconds": seconds, "rows": result.rows, "columns": len(result.columns),
                  "types": sorted({c["type"] for c in result.columns})}))
"""

DUCKDB_SCRIPT = """
import sys, duckdb
source, target = sys.argv[1], sys.argv[2]
reader = "read_json(?)" if source.endswith(".json") else "read_csv(?, delim=';')"
duckdb.execute(f"CREATE TABLE t AS SELECT * FROM {reader}", [source])
duckdb.execute(f"COPY t TO '{target}' (FORMAT parquet)")
"""


def _value(kind: int, row: int, column: int) -> object:
    """A cell as municipal exports hold them: counts, decimal commas, dates, ja/nein,
    identifiers with leading zeros, words, blanks."""
    return (row * column, f"{row},{column % 100:02d}",
            f"{row % 28 + 1:02d}.{column % 12 + 1:02d}.2024", ("ja", "nein")[row % 2],
            f"0{4000 + column}", f"Stadtteil {row % 40}", "")[kind]


def write_csv(path: Path, rows: int, columns: int) -> None:
    lines = [";".join(f"Merkmal {c + 1}" for c in range(columns))]
    lines += [";".join(str(_value(c % 7, r, c)) for c in range(columns))
              for r in range(1, rows + 1)]
    path.write_text("\r\n".join(lines) + "\r\n", encoding="utf-8")


def write_json(path: Path, rows: int, columns: int) -> None:
    records = [{f"merkmal_{c + 1}": _value(c % 7, r, c) or None for c in range(columns)}
               for r in range(1, rows + 1)]
    path.write_text(json.dumps(records, ensure_ascii=False), encoding="utf-8")


@dataclass
class Case:
    name: str
    file: str
    rows: int
    columns: int

    def write(self, folder: Path) -> Path:
        path = folder / self.file
        (write_json if self.file.endswith(".json") else write_csv)(path, self.rows,
                                                                    self.columns)
        return path


CASES = [Case("CSV 10 rows x 2,000 columns", "breit.csv", 10, 2000),
         Case("JSON 1,000 records x 1,000 keys", "breit.json", 1000, 1000)]


@dataclass
class Measured:
    run: ChildRun
    ingest_seconds: float


def run_allmende(source: Path, data_dir: Path, case: Case) -> Measured:
    remove(data_dir)
    run = run_child([str(PYTHON), "-c", INGEST_SCRIPT, str(source), str(data_dir)])
    if run.returncode != 0:
        raise SystemExit(f"allmende ingest of {source.name} failed ({run.returncode}): "
                         f"{run.stderr[-3000:]}")
    result = json.loads(run.stdout.strip().splitlines()[-1])
    if (result["rows"], result["columns"]) != (case.rows, case.columns):
        raise SystemExit(f"{source.name}: {result['rows']} rows and {result['columns']} "
                         f"columns, expected {case.rows} and {case.columns}")
    return Measured(run, result["seconds"])


def run_duckdb(source: Path, folder: Path) -> ChildRun:
    remove(folder)
    folder.mkdir(parents=True)
    run = run_child([str(PYTHON), "-c", DUCKDB_SCRIPT, str(source),
                     str(folder / "out.parquet")], cwd=folder)
    if run.returncode != 0:
        raise SystemExit(f"DuckDB baseline on {source.name} failed: {run.stderr[-2000:]}")
    return run


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3, help="timed runs of each")
    parser.add_argument("--workdir", type=Path, default=None,
                        help="where the files and outputs go (default: a temporary directory)")
    args = parser.parse_args(argv)
    temporary = None
    if args.workdir is None:
        temporary = tempfile.TemporaryDirectory(prefix="allmende-bench-wide-")
        workdir = Path(temporary.name)
    else:
        workdir = args.workdir.resolve()
        workdir.mkdir(parents=True, exist_ok=True)
    load_before = load_average()
    started = time.perf_counter()
    table = Table(title="Wide tables: median of the runs (s; peak RSS in MB, the largest)")
    for column in ("file", "size", "allmende process s", "ingest call s", "allmende RSS",
                   "DuckDB s", "DuckDB RSS", "target", "met"):
        table.add_column(column, justify="right")
    worst_seconds, all_met, duck_total = 0.0, True, 0.0
    try:
        for case in CASES:
            source = case.write(workdir)
            run_allmende(source, workdir / "data", case)  # warm-up: file cache, .pyc
            ours, duck = [], []
            for index in range(args.repeat):
                duck.append(run_duckdb(source, workdir / "duckdb"))
                ours.append(run_allmende(source, workdir / "data", case))
                console.print(f"  {case.name}, run {index + 1}: allmende "
                              f"{ours[-1].run.seconds:.2f} s (ingest "
                              f"{ours[-1].ingest_seconds:.2f} s), peak RSS "
                              f"{ours[-1].run.max_rss_mb:,.0f} MB; DuckDB "
                              f"{duck[-1].seconds:.2f} s")
            seconds = statistics.median(m.run.seconds for m in ours)
            ingest_seconds = statistics.median(m.ingest_seconds for m in ours)
            rss = max(m.run.max_rss_mb for m in ours)
            duck_seconds = statistics.median(r.seconds for r in duck)
            met = ingest_seconds < TARGET_SECONDS and rss < TARGET_RSS_MB
            worst_seconds = max(worst_seconds, ingest_seconds)
            duck_total = max(duck_total, duck_seconds)
            all_met = all_met and met
            table.add_row(case.name, f"{source.stat().st_size / 1e6:.2f} MB", f"{seconds:.2f}",
                          f"{ingest_seconds:.2f}", f"{rss:,.0f}", f"{duck_seconds:.2f}",
                          f"{max(r.max_rss_mb for r in duck):,.0f}",
                          f"< {TARGET_SECONDS:g} s, < {TARGET_RSS_MB:,.0f} MB",
                          "[green]met[/]" if met else "[red]NOT met[/]")
    finally:
        if temporary is not None:
            temporary.cleanup()
    console.print(table)
    console.print(f"load average before / after: {load_before} / {load_average()}; "
                  f"total {time.perf_counter() - started:.0f} s")
    sys.stdout.flush()
    print(json.dumps({
        "bench": "wide", "metric": "slowest wide-table ingest call", "unit": "s",
        "allmende": round(worst_seconds, 3), "baseline_name": BASELINE_NAME,
        "baseline": round(duck_total, 3),
        "target": f"each < {TARGET_SECONDS:g} s and peak RSS < {TARGET_RSS_MB:,.0f} MB",
        "met": bool(all_met),
    }, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    sys.exit(main())
