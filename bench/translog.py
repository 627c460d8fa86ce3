"""Transparency log benchmark: appends per second and inclusion proofs at 1,000,000 entries,
each beside a naive log measured in the same run on the same data.

- appends: one event per transaction (as a request logs its access), through
  ``transparency.log.append``, by one writer and by four processes at once (the log's
  throughput when a server's workers append together: the target); the naive log stores the leaf and
  recomputes the root from every stored leaf (what a log without stored subtree hashes does
  to sign a checkpoint);
- inclusion proofs: random indexes against the whole tree, one transaction each, from the
  stored subtree hashes; the naive log reads every leaf and recomputes the audit path.

Usage: ``python bench/translog.py [--entries 1000000] [--database-url URL]`` (default: SQLite
in a temporary directory; a PostgreSQL database given here is emptied of its log). The last
line of stdout is the JSON result.
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from multiprocessing import get_context
from pathlib import Path

from sqlalchemy import select, text

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "src"))

from allmende.config import Settings
from allmende.db.models import LogEntry
from allmende.platform import Platform
from allmende.transparency import log, merkle

TARGET_PROOF_MS = 10.0
TARGET_APPENDS = 1000.0
BATCH = 20_000
WRITERS = 4


def event(i: int) -> dict:
    return {"type": "access.rows", "organization": "dortmund", "rows": i % 500,
            "dataset": f"{i % 97:08d}-0000-4000-8000-000000000000",
            "reader": f"{i * 2654435761 % 2**64:032x}", "time": "2026-12-14T10:00:00Z"}


def fill(platform: Platform, count: int) -> float:
    started = time.perf_counter()
    for start in range(0, count, BATCH):
        with platform.db.session() as session:
            log.append_many(session, [event(i) for i in range(start, min(count, start + BATCH))])
    return time.perf_counter() - started


def appends(platform: Platform, count: int) -> float:
    started = time.perf_counter()
    for i in range(count):
        with platform.db.session() as session:
            log.append(session, event(i))
    return count / (time.perf_counter() - started)


def _write_share(database_url: str | None, folder: Path, share: range, start_at: float
                 ) -> tuple[float, float]:
    """One writer process: its appends, begun at ``start_at`` (monotonic, the same clock in
    every process) so that all writers run at once; when it began and ended."""
    platform = Platform(Settings(data_dir=folder, secret_key="bench",
                                 database_url=database_url))
    try:
        time.sleep(max(0.0, start_at - time.monotonic()))
        began = time.monotonic()
        for i in share:
            with platform.db.session() as session:
                log.append(session, event(i))
        return began, time.monotonic()
    finally:
        platform.close()


def concurrent_appends(database_url: str | None, folder: Path, count: int,
                       writers: int = WRITERS) -> float:
    """The log's throughput when requests append at once, as a server's workers do:
    ``writers`` processes, each appending one event per transaction."""
    start_at = time.monotonic() + 10  # after every process has started
    with ProcessPoolExecutor(writers, mp_context=get_context("spawn")) as pool:
        spans = list(pool.map(_write_share, [database_url] * writers, [folder] * writers,
                              [range(w, count, writers) for w in range(writers)],
                              [start_at] * writers))
    return count / (max(end for _, end in spans) - min(began for began, _ in spans))


def naive_appends(platform: Platform, count: int) -> float:
    """Store the leaf, then recompute the root from all leaves."""
    started = time.perf_counter()
    for i in range(count):
        with platform.db.session() as session:
            index = session.scalar(text("SELECT max(\"index\") FROM log_entries")) + 1
            leaf = log.leaf_bytes(event(i))
            session.add(LogEntry(index=index, leaf=leaf, type="access.rows"))
            session.flush()
            merkle.root_of(bytes(b) for b in session.scalars(
                select(LogEntry.leaf).order_by(LogEntry.index)))
    return count / (time.perf_counter() - started)


def proofs(platform: Platform, size: int, count: int) -> list[float]:
    rng = random.Random(7)
    times = []
    for _ in range(count):
        index = rng.randrange(size)
        started = time.perf_counter()
        with platform.db.session() as session:
            log.inclusion_proof(session, index, size)
        times.append((time.perf_counter() - started) * 1000)
    return times


def naive_proof(platform: Platform, index: int, size: int) -> float:
    started = time.perf_counter()
    with platform.db.session() as session:
        hashes = [merkle.leaf_hash(bytes(b)) for b in session.scalars(
            select(LogEntry.leaf).where(LogEntry.index < size).order_by(LogEntry.index))]
    path = _path(index, hashes)
    assert len(path) == len(merkle.inclusion_ranges(index, size))
    return (time.perf_counter() - started) * 1000


def _path(index: int, hashes: list[bytes]) -> list[bytes]:
    if len(hashes) <= 1:
        return []
    k = merkle.split(len(hashes))
    if index < k:
        return [*_path(index, hashes[:k]), _root(hashes[k:])]
    return [*_path(index - k, hashes[k:]), _root(hashes[:k])]


def _root(hashes: list[bytes]) -> bytes:
    if len(hashes) == 1:
        return hashes[0]
    k = merkle.split(len(hashes))
    return merkle.node_hash(_root(hashes[:k]), _root(hashes[k:]))


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--entries", type=int, default=1_000_000)
    parser.add_argument("--appends", type=int, default=3000)
    parser.add_argument("--proofs", type=int, default=300)
    parser.add_argument("--database-url")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        platform = Platform(Settings(data_dir=Path(folder), secret_key="bench",
                                     database_url=args.database_url))
        platform.upgrade()
        if args.database_url:
            with platform.db.session() as session:
                session.execute(text("DELETE FROM log_entries"))
                session.execute(text("DELETE FROM log_nodes"))
                session.execute(text("UPDATE log_state SET size = 0, frontier = :e"),
                                {"e": b""})
        backend = platform.db.engine.dialect.name
        print(f"translog benchmark on {backend}: filling {args.entries:,} entries ...")
        filled = fill(platform, args.entries)
        print(f"  filled in {filled:.1f} s ({args.entries / filled:,.0f} events/s in batches "
              f"of {BATCH:,})")
        times = proofs(platform, args.entries, args.proofs)
        p50, p95 = statistics.median(times), statistics.quantiles(times, n=20)[18]
        naive = [naive_proof(platform, random.Random(n).randrange(args.entries), args.entries)
                 for n in range(2)]
        rate = appends(platform, args.appends)
        together = concurrent_appends(args.database_url, Path(folder), args.appends)
        naive_rate = naive_appends(platform, 3)
        platform.close()
    # the target is the log's throughput: what it takes when a server's requests append at
    # once; one writer alone (each append waiting for the one before) is shown beside it
    proof_met, append_met = p95 < TARGET_PROOF_MS, together >= TARGET_APPENDS
    print(f"{'':34}{'allmende':>14}{'naive':>14}{'target':>12}")
    print(f"{'inclusion proof p50 (ms)':34}{p50:>14.2f}{min(naive):>14.0f}")
    print(f"{'inclusion proof p95 (ms)':34}{p95:>14.2f}{max(naive):>14.0f}"
          f"{'< 10':>12}")
    print(f"{'appends, 1 writer (/s)':34}{rate:>14,.0f}{naive_rate:>14,.2f}")
    print(f"{f'appends, {WRITERS} writer processes (/s)':34}{together:>14,.0f}{'':>14}"
          f"{'>= 1,000':>12}")
    print("(each append one event in a transaction of its own, as a request logs its access)")
    print(f"(tree of {args.entries:,} entries on {backend}; appends measured on top of it)")
    sys.stdout.flush()
    print(json.dumps({
        "bench": "translog",
        "metric": f"inclusion proof p95 at {args.entries:,} entries ({backend}); appends/s "
                  f"{together:,.0f} with {WRITERS} writer processes, {rate:,.0f} with one (naive "
                  f"{naive_rate:.2f})",
        "unit": "ms", "allmende": round(p95, 3),
        "baseline_name": "naive log (recompute from all leaves)",
        "baseline": round(max(naive), 1),
        "target": "proof p95 < 10 ms and appends >= 1000/s", "met": proof_met and append_met,
    }, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    sys.exit(main())
