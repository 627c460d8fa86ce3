"""Validation benchmark: the whole `allmende validate` process against frictionless-py on a
generated 1,000,000-row CSV with injected errors.

The CSV (deterministic, DuckDB SQL over the row number): ";"-separated UTF-8 with a header,
12 columns; about 1 % of the rows carry an error each (a type error, a value outside a bound,
a pattern or enum violation, a duplicate id, an empty required cell, a row with a missing or an
extra cell). The schema has 14 constraints, a primary key and a German decimal comma.

allmende: ``.venv/bin/allmende validate FILE --schema SCHEMA.json --json`` (process start-up
included), median of ``--repeat`` runs. Baseline: ``frictionless.validate`` with
``limit_errors=0`` in a separate ``.venv/bin/python`` process, run once (it takes minutes).
The error counts per type must be equal. The table also shows the CPU time of each process,
which a loaded machine does not inflate the way it does allmende's wall time (two threads that
wait for each other's share).

Target: speedup (frictionless time / allmende time) >= 30 with equal error counts.

    .venv/bin/python bench/validate.py [--rows 1000000] [--repeat 3] [--workdir DIR]

The last line of stdout is the JSON result.
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

import duckdb
from rich.console import Console
from rich.table import Table

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _data import ALLMENDE, PYTHON, ChildRun, load_average, run_child
from allmende import sql

TARGET = 30.0
BASELINE_NAME = "frictionless-py validate (whole process)"
console = Console(width=150)

SCHEMA = {
    "fields": [
        {"name": "id", "type": "integer", "constraints": {"required": True, "minimum": 1}},
        {"name": "kennung", "type": "string",
         "constraints": {"pattern": "DO-[0-9]{7}", "unique": True}},
        {"name": "plz", "type": "string", "constraints": {"pattern": "[0-9]{5}"}},
        {"name": "ort", "type": "string", "constraints": {"required": True, "maxLength": 40}},
        {"name": "art", "type": "string",
         "constraints": {"enum": ["Kiosk", "Kita", "Parkhaus", "Ladesäule", "Bibliothek"]}},
        {"name": "betrag", "type": "number", "decimalChar": ",",
         "constraints": {"minimum": 0, "maximum": 10000}},
        {"name": "anzahl", "type": "integer", "constraints": {"minimum": 0, "maximum": 999}},
        {"name": "datum", "type": "date", "constraints": {"minimum": "2000-01-01"}},
        {"name": "aktiv", "type": "boolean"},
        {"name": "breite", "type": "number", "constraints": {"minimum": 51.4, "maximum": 51.6}},
        {"name": "laenge", "type": "number", "constraints": {"minimum": 7.3, "maximum": 7.7}},
        {"name": "bemerkung", "type": "string", "constraints": {"minLength": 0}},
    ],
    "primaryKey": ["id"],
}


def _select(rows: int) -> str:
    # e = the kind of error of a row (0..99 is "none" for ~99 % of the rows).
    numbered = sql.select(["range + 1 AS i", "(range * 2654435761 + 12345) % 4294967296 AS h",
                           "((range * 2246822519 + 777) % 4294967296) % 1000 AS e"],
                          sql.table_function("range", rows))
    return sql.select([
        "CASE WHEN e = 1 THEN 'x' || i WHEN e = 2 THEN (i - 1)::VARCHAR ELSE i::VARCHAR END "
        "AS id",
        "CASE WHEN e = 3 THEN 'DO-12' WHEN e = 4 THEN 'DO-' || lpad((i - 1)::VARCHAR, 7, '0') "
        "ELSE 'DO-' || lpad(i::VARCHAR, 7, '0') END AS kennung",
        "CASE WHEN e = 5 THEN '4413' ELSE (44135 + h % 250)::VARCHAR END AS plz",
        "CASE WHEN e = 6 THEN '' ELSE ['Dortmund', 'Lünen', 'Unna'][1 + h % 3] END AS ort",
        "CASE WHEN e = 7 THEN 'Kneipe' ELSE ['Kiosk', 'Kita', 'Parkhaus', 'Ladesäule', "
        "'Bibliothek'][1 + h % 5] END AS art",
        "CASE WHEN e = 8 THEN '12.5' WHEN e = 9 THEN '-3,5' "
        "ELSE replace(printf('%.2f', (h % 1000000) / 100.0), '.', ',') END AS betrag",
        "CASE WHEN e = 10 THEN '1000' ELSE (h % 1000)::VARCHAR END AS anzahl",
        "CASE WHEN e = 11 THEN '31.12.2020' WHEN e = 12 THEN '1999-01-01' "
        "ELSE strftime(DATE '2000-01-01' + CAST(h % 9000 AS INTEGER), '%Y-%m-%d') END AS datum",
        "CASE WHEN e = 13 THEN 'ja' ELSE ['true', 'false'][1 + h % 2] END AS aktiv",
        "printf('%.6f', 51.42 + (h % 170000) / 1000000.0) AS breite",
        "CASE WHEN e = 14 THEN '8.1' ELSE printf('%.6f', 7.31 + (h % 320000) / 1000000.0) END "
        "AS laenge",
        "CASE WHEN e = 15 THEN 'Zeile mit; zu viel' ELSE 'ok' END AS bemerkung"],
        f"({numbered})")


def generate(path: Path, rows: int) -> None:
    marker = path.with_suffix(".rows")
    if path.exists() and marker.exists() and marker.read_text() == str(rows):
        return
    con = duckdb.connect()
    try:
        # e = 15 rows get an unquoted ";": one extra cell. Every 997th row loses its last cell.
        con.sql(_select(rows)).write_csv(f"{path}.tmp", sep=";", header=True, quotechar="")
    finally:
        con.close()
    with open(f"{path}.tmp", encoding="utf-8") as source, path.open("w", encoding="utf-8") as out:
        for number, line in enumerate(source):
            out.write(line[:line.rindex(";")] + "\n" if number and number % 997 == 0 else line)
    Path(f"{path}.tmp").unlink()
    marker.write_text(str(rows))


FRICTIONLESS = """
import json, sys, frictionless
schema = frictionless.Schema.from_descriptor(json.load(open(sys.argv[2])))
with frictionless.system.use_context(trusted=True):
    report = frictionless.validate(sys.argv[1], schema=schema, limit_errors=0)
counts = {}
for (kind,) in report.flatten(["type"]):
    counts[kind] = counts.get(kind, 0) + 1
print(json.dumps({"errors": counts, "rows": report.tasks[0].stats.get("rows")}))
"""


def timed_cpu(run: Callable[[], ChildRun]) -> tuple[float, ChildRun]:
    """The child's CPU time (user + sys) besides its run: waited-for children add theirs to
    RUSAGE_CHILDREN."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    result = run()
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return (after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime), result


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--workdir", type=Path, default=None)
    args = parser.parse_args()
    work = args.workdir or Path(tempfile.gettempdir()) / "allmende-bench-validate"
    work.mkdir(parents=True, exist_ok=True)
    csv_path, schema_path = work / f"validate-{args.rows}.csv", work / "schema.json"
    generate(csv_path, args.rows)
    schema_path.write_text(json.dumps(SCHEMA), encoding="utf-8")
    console.print(f"{args.rows:,} rows, {csv_path.stat().st_size / 1e6:.0f} MB; load "
                  f"{load_average()}")

    ours_cpu, runs = [], []
    for _ in range(args.repeat):
        cpu, run = timed_cpu(lambda: run_child([str(ALLMENDE), "validate", str(csv_path),
                                                "--schema", str(schema_path), "--json"]))
        ours_cpu.append(cpu)
        runs.append(run)
    ours = json.loads(runs[-1].stdout)
    baseline_cpu, baseline = timed_cpu(lambda: run_child(
        [str(PYTHON), "-c", FRICTIONLESS, str(csv_path), str(schema_path)], timeout=3600))
    theirs = json.loads(baseline.stdout) if baseline.returncode == 0 else {"errors": {}}
    seconds = statistics.median(r.seconds for r in runs)
    speedup = baseline.seconds / seconds
    equal = ours["errors"] == theirs["errors"] and ours["rows"] == theirs.get("rows")

    table = Table("", "allmende validate", BASELINE_NAME)
    table.add_row("seconds", f"{seconds:.2f} (median of {len(runs)}: "
                  + ", ".join(f"{r.seconds:.2f}" for r in runs) + ")", f"{baseline.seconds:.1f}")
    # CPU time says what a loaded machine hides: allmende's two threads wait for their share.
    table.add_row("CPU seconds (user + sys)", f"{statistics.median(ours_cpu):.2f}",
                  f"{baseline_cpu:.1f}")
    table.add_row("peak RSS", f"{max(r.max_rss_mb for r in runs):.0f} MB",
                  f"{baseline.max_rss_mb:.0f} MB")
    table.add_row("rows", str(ours["rows"]), str(theirs.get("rows")))
    for kind in sorted(set(ours["errors"]) | set(theirs["errors"])):
        table.add_row(kind, str(ours["errors"].get(kind, 0)), str(theirs["errors"].get(kind, 0)))
    console.print(table)
    cpu_ratio = baseline_cpu / statistics.median(ours_cpu)
    console.print(f"speedup {speedup:.1f}× (CPU time {cpu_ratio:.1f}×), "
                  f"error counts {'equal' if equal else 'DIFFERENT'}")
    # The metric is the speedup; the baseline's own speedup is 1 by definition.
    print(json.dumps({"bench": "validate", "metric": "speedup", "unit": "x",
                      "allmende": round(speedup, 1), "baseline_name": BASELINE_NAME,
                      "baseline": 1.0, "allmende_seconds": round(seconds, 3),
                      "baseline_seconds": round(baseline.seconds, 3),
                      "cpu_ratio": round(cpu_ratio, 1),
                      "errors_equal": equal, "target": f"speedup >= {TARGET:g}",
                      "met": bool(equal and speedup >= TARGET)}))


if __name__ == "__main__":
    main()
