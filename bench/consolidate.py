"""Consolidation benchmark: one regional table from 20 sources × 50,000 rows.

Setup (untimed): a fresh data directory on SQLite with 20 municipalities; each uploads a
generated charging-station CSV of 50,000 rows (``;``, decimal comma, ``dd.mm.yyyy``; column
names differ between the sources, so every mapping is a real suggestion), its mapping is
suggested and saved, and its latest version is harmonized (mapped, validated, typed rows kept
as Parquet). About 2 % of each source's charge-point ids also appear in the next source, so
the primary-key rule has duplicates to resolve.

Timed: ``harmonize.service.consolidate`` — reading the 20 harmonized tables, the union with
provenance, duplicates resolved on the primary key, the regional Parquet version written and
published, the catalog updated. Median of ``--repeat`` runs. Target: under 10 s. There is no
named baseline; for orientation the script also times a plain DuckDB union of the same files
without duplicate resolution (``baseline`` in the JSON line stays null).

    .venv/bin/python bench/consolidate.py [--sources 20] [--rows 50000] [--repeat 3]

The last line of stdout is the JSON result.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

import duckdb
from rich.console import Console
from rich.table import Table

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _data import load_average
from allmende.access.policy import Actor
from allmende.catalog import datasets, organizations
from allmende.config import Settings
from allmende.harmonize import service
from allmende.ingest.service import IngestRequest, ingest
from allmende.platform import Platform

console = Console()
OPERATOR = Actor(is_sysadmin=True, name="bench")
TARGET_SECONDS = 10.0
# Column names as different municipalities write them.
LAYOUTS = [
    ("EVSE-ID", "Betreiber", "Straße", "Hausnummer", "PLZ", "Ort", "Breitengrad",
     "Längengrad", "Nennleistung (kW)", "Anzahl Ladepunkte", "Inbetriebnahme"),
    ("Ladepunkt-ID", "Betreiber", "Strasse", "Hausnr.", "Postleitzahl", "Ort", "lat", "lon",
     "Leistung [kW]", "Ladepunkte", "In Betrieb seit"),
]
OPERATORS = ["DEW21", "Stadtwerke Bochum", "ELE", "innogy", "EnBW", "Allego", "E.ON Drive"]
STREETS = ["Hauptstraße", "Bahnhofstraße", "Kampstraße", "Hohe Straße", "Westenhellweg",
           "Kortumstraße", "Rüttenscheider Straße", "Bochumer Straße"]


def _list(values: list[str]) -> str:
    return "[" + ", ".join("'" + v + "'" for v in values) + "]"


def generate(path: Path, source: int, rows: int) -> None:
    """A source's CSV; ids overlap with the next source for ~2 % of the rows."""
    names = LAYOUTS[source % len(LAYOUTS)]
    shared = rows // 50
    lat0, lon0 = 51.35 + (source % 5) * 0.05, 6.80 + (source // 5) * 0.2
    query = f"""
        WITH r AS (SELECT range AS i, (range * 2654435761 + {source}) % 4294967296 AS h
                   FROM range({rows}))
        SELECT
          CASE WHEN i < {shared}  -- an id the next source has too
               THEN 'DE*S{source + 1:02d}*E' || lpad((i + {shared})::VARCHAR, 7, '0')
               ELSE 'DE*S{source:02d}*E' || lpad(i::VARCHAR, 7, '0') END AS "{names[0]}",
          {_list(OPERATORS)}[1 + h % {len(OPERATORS)}] AS "{names[1]}",
          {_list(STREETS)}[1 + (h // 7) % {len(STREETS)}] AS "{names[2]}",
          (1 + h % 150)::VARCHAR AS "{names[3]}",
          lpad((44000 + h % 900)::VARCHAR, 5, '0') AS "{names[4]}",
          'Stadt {source + 1}' AS "{names[5]}",
          replace(printf('%.6f', {lat0} + (h % 40000)::DOUBLE / 1000000), '.', ',')
              AS "{names[6]}",
          replace(printf('%.6f', {lon0} + (h % 90000)::DOUBLE / 1000000), '.', ',')
              AS "{names[7]}",
          replace(printf('%.1f', [3.7, 11, 22, 50, 150, 300][1 + h % 6]), '.', ',')
              AS "{names[8]}",
          (1 + h % 4)::VARCHAR AS "{names[9]}",
          strftime(DATE '2012-01-01' + CAST(h % 5000 AS INTEGER), '%d.%m.%Y') AS "{names[10]}"
        FROM r"""
    duckdb.execute(f"COPY ({query}) TO '{path}' (FORMAT csv, HEADER, DELIMITER ';')")


def setup(platform: Platform, workdir: Path, sources: int, rows: int) -> dict[str, float]:
    timings = {"generate": 0.0, "ingest": 0.0, "suggest+save": 0.0, "harmonize": 0.0}
    for source in range(sources):
        slug, dataset = f"stadt-{source + 1}", f"ladesaeulen-{source + 1}"
        with platform.db.session() as session:
            organizations.create_organization(session, OPERATOR, {
                "slug": slug, "name": f"Stadt {source + 1}", "ags": f"0591{source:04d}"})
            datasets.create_dataset(session, OPERATOR, {
                "name": dataset, "organization": slug, "title": f"Ladesäulen Stadt {source + 1}",
                "description": "Erzeugte Ladesäulen für den Benchmark."})
        started = time.perf_counter()
        csv = workdir / f"{dataset}.csv"
        generate(csv, source, rows)
        timings["generate"] += time.perf_counter() - started
        started = time.perf_counter()
        resource = ingest(platform, OPERATOR, IngestRequest(dataset, csv, csv.name)).resource
        timings["ingest"] += time.perf_counter() - started
        started = time.perf_counter()
        with platform.db.session() as session:
            mapping = service.suggest(platform, session, OPERATOR, resource, "ladesaeulen")
            service.save_mapping(platform, session, OPERATOR, resource, mapping)
        timings["suggest+save"] += time.perf_counter() - started
        started = time.perf_counter()
        report = service.harmonize_resource(platform, resource)
        timings["harmonize"] += time.perf_counter() - started
        if report is None or report.rows != rows:
            raise SystemExit(f"source {source + 1}: harmonization failed")
    return timings


def plain_union(platform: Platform) -> float:
    with platform.db.sessions() as session:
        record = service.get_consolidation(session, service.SYSTEM, "ladesaeulen")
        paths = [str(platform.settings.data_dir / service.find_report(
            session, service.SYSTEM, s["resource"]).mapped_path) for s in record.sources]
    started = time.perf_counter()
    con = duckdb.connect()
    con.execute("COPY (SELECT * FROM read_parquet(?)) TO '/dev/null' (FORMAT parquet)",
                [paths])
    con.close()
    return time.perf_counter() - started


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sources", type=int, default=20)
    parser.add_argument("--rows", type=int, default=50_000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args(argv)
    load_before = load_average()
    with tempfile.TemporaryDirectory(prefix="allmende-bench-consolidate-") as folder:
        workdir = Path(folder)
        platform = Platform(Settings(data_dir=workdir / "data", secret_key="bench"))
        platform.upgrade()
        console.print(f"setup: {args.sources} sources × {args.rows:,} rows ...")
        timings = setup(platform, workdir, args.sources, args.rows)
        runs = []
        for index in range(args.repeat):
            started = time.perf_counter()
            record = service.consolidate(platform, "ladesaeulen")
            runs.append(time.perf_counter() - started)
            console.print(f"  run {index + 1}: consolidation {runs[-1]:.2f} s")
        with platform.db.sessions() as session:
            record = service.get_consolidation(session, service.SYSTEM, "ladesaeulen")
            rows = sum(s["kept"] for s in record.sources)
            duplicates = sum(s["rows"] for s in record.sources) - rows
        union = plain_union(platform)
        platform.close()
    median = statistics.median(runs)
    table = Table(title=f"Consolidation of {args.sources} sources × {args.rows:,} rows")
    table.add_column("what")
    table.add_column("value", justify="right")
    table.add_row("consolidation, median of runs (s)", f"{median:.2f}")
    table.add_row("runs (s)", ", ".join(f"{r:.2f}" for r in runs))
    table.add_row("regional rows / duplicates resolved", f"{rows:,} / {duplicates:,}")
    table.add_row("orientation: plain DuckDB union, no duplicate rule (s)", f"{union:.2f}")
    for name, seconds in timings.items():
        table.add_row(f"setup, all sources: {name} (s)", f"{seconds:.1f}")
    table.add_row("load average before / after", f"{load_before} / {load_average()}")
    console.print(table)
    met = median < TARGET_SECONDS
    console.print(f"consolidation {median:.2f} s (target < {TARGET_SECONDS:.0f} s) -> "
                  f"{'met' if met else 'NOT met'}")
    print(json.dumps({"bench": "consolidate", "metric": "consolidation time, median",
                      "unit": "s", "allmende": round(median, 3), "baseline_name": None,
                      "baseline": None, "target": "< 10 s", "met": met}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
