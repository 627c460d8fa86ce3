"""Shared helpers of the ingest and data-API benchmarks: the generated municipal CSV, child
processes with their peak memory, and the machine's load.

The CSV is what a German city exports from a spreadsheet or a specialist application:
``;`` as delimiter, UTF-8 with BOM, CRLF line ends, decimal comma, ``dd.mm.yyyy`` dates,
about 1 % quoted cells holding ``;`` and ``""``, a PLZ column with leading zeros (postcodes of
owners living in eastern Germany) and ``Breitengrad``/``Längengrad`` in decimal comma inside
Dortmund, so that the ingest produces a geometry column. Deterministic: every value is a
function of the row number (multiplicative hashing in DuckDB SQL), no random state.
"""

from __future__ import annotations

import codecs
import os
import shutil
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import duckdb
import httpx

ROOT = Path(__file__).resolve().parent.parent
VENV_BIN = ROOT / ".venv" / "bin"
ALLMENDE = VENV_BIN / "allmende"
PYTHON = VENV_BIN / "python"

COLUMNS = ["Nr", "Bezeichnung", "Kategorie", "Straße", "Hausnummer", "PLZ", "Ort",
           "Stadtbezirk", "Datum", "Betrag", "Anzahl", "Breitengrad", "Längengrad"]

_CATEGORIES = ["Kiosk", "Bäckerei", "Apotheke", "Gaststätte", "Friseur", "Kita", "Spielplatz",
               "Ladesäule", "Parkhaus", "Sporthalle", "Bibliothek", "Grünfläche"]
_STREETS = ["Hauptstraße", "Bahnhofstraße", "Kampstraße", "Hohe Straße", "Westenhellweg",
            "Ostenhellweg", "Rheinische Straße", "Märkische Straße", "Hörder Bahnhofstraße",
            "Brackeler Hellweg", "Evinger Straße", "Mengeder Straße", "Lütgendortmunder Str.",
            "Aplerbecker Marktplatz", "Hombrucher Straße", "Hansastraße"]
# Dortmund's postcodes plus a few with leading zeros (owners elsewhere): the column must stay
# text. Weighted by repetition.
_PLZ = ["44135", "44137", "44139", "44141", "44143", "44145", "44147", "44149", "44225",
        "44227", "44229", "44263", "44265", "44267", "44269", "44287", "44289", "44309",
        "44319", "44328", "44329", "44339", "44357", "44359", "44369", "44379", "44388",
        "01067", "04109", "09111", "06108"]
# Dortmund for ~70 % of the rows; the filter benchmark asks for Ort=Dortmund and for a rare one.
_ORTE = ["Dortmund"] * 14 + ["Lünen", "Schwerte", "Castrop-Rauxel", "Unna", "Herdecke",
                            "Holzwickede"]
_BEZIRKE = ["Innenstadt-West", "Innenstadt-Nord", "Innenstadt-Ost", "Eving", "Scharnhorst",
            "Brackel", "Aplerbeck", "Hörde", "Hombruch", "Lütgendortmund", "Huckarde",
            "Mengede"]
_NOTES = ['Inh. Müller; geöffnet Mo–Fr', 'sog. "Alte Wache"; Eingang hinten',
          'Betreiber: "Stadtwerke"; 24 h', 'barrierefrei; "Zugang" über Hof']

RARE_ORT = "Holzwickede"
QUOTED_PERCENT_OF_ROWS = 13


def _list(values: list[str]) -> str:
    return "[" + ", ".join("'" + v.replace("'", "''") + "'" for v in values) + "]"


def _pick(values: list[str], h: str) -> str:
    return f"{_list(values)}[1 + ({h}) % {len(values)}]"


def _select(rows: int) -> str:
    # Multiplicative hashes of the row number: deterministic, independent enough per column.
    hashes = ", ".join(
        f"(range * {m} + {a}) % 4294967296 AS h{k}" for k, (m, a) in enumerate([
            (2654435761, 12345), (2246822519, 777), (3266489917, 99), (668265263, 4242),
            (374761393, 31337), (1597334677, 2024)]))
    # ~13 % of the rows get a quoted Bezeichnung with ; and "": ~1 % of all cells are quoted.
    quoted = f"h5 % 100 < {QUOTED_PERCENT_OF_ROWS}"
    name = (f"CASE WHEN {quoted} THEN {_pick(_CATEGORIES, 'h0 // 7')} || ' ' || "
            f"{_pick(_NOTES, 'h1 // 11')} ELSE {_pick(_CATEGORIES, 'h0 // 7')} || ' ' || "
            f"{_pick(_STREETS, 'h2 // 5')} || ' ' || (1 + h3 % 180)::VARCHAR END")
    return f"""
        WITH r AS (SELECT range AS i, {hashes} FROM range({rows}))
        SELECT
          (i + 1)::VARCHAR AS "Nr",
          {name} AS "Bezeichnung",
          {_pick(_CATEGORIES, 'h0 // 7')} AS "Kategorie",
          {_pick(_STREETS, 'h2 // 5')} AS "Straße",
          (1 + h3 % 180)::VARCHAR AS "Hausnummer",
          {_pick(_PLZ, 'h1 // 3')} AS "PLZ",
          {_pick(_ORTE, 'h4 // 13')} AS "Ort",
          {_pick(_BEZIRKE, 'h2 // 17')} AS "Stadtbezirk",
          strftime(DATE '2000-01-01' + CAST(h3 % 9497 AS INTEGER), '%d.%m.%Y') AS "Datum",
          replace(printf('%.2f', ((h0 % 5000000)::DOUBLE - 500000) / 100), '.', ',')
              AS "Betrag",
          (h4 % 1000)::VARCHAR AS "Anzahl",
          replace(printf('%.6f', 51.42 + (h1 % 170000)::DOUBLE / 1000000), '.', ',')
              AS "Breitengrad",
          replace(printf('%.6f', 7.31 + (h2 % 320000)::DOUBLE / 1000000), '.', ',')
              AS "Längengrad"
        FROM r"""


@dataclass
class GeneratedCsv:
    path: Path
    rows: int
    size: int
    seconds: float
    quoted_rows: int


def generate_csv(path: Path, rows: int) -> GeneratedCsv:
    """Write the benchmark CSV (``rows`` data rows) to ``path``; reused when already there."""
    started = time.perf_counter()
    marker = path.with_suffix(path.suffix + ".rows")
    if path.exists() and marker.exists() and marker.read_text() == str(rows):
        return GeneratedCsv(path, rows, path.stat().st_size, 0.0, _quoted(rows))
    path.parent.mkdir(parents=True, exist_ok=True)
    plain = path.with_suffix(".lf.tmp")
    con = duckdb.connect()
    try:
        con.execute(f"COPY ({_select(rows)}) TO '{plain}' "
                    "(FORMAT csv, HEADER, DELIMITER ';', QUOTE '\"', ESCAPE '\"')")
    finally:
        con.close()
    # BOM and CRLF: DuckDB writes LF. No cell holds a line break, so a byte replace is safe.
    with plain.open("rb") as source, path.open("wb") as out:
        out.write(codecs.BOM_UTF8)
        while chunk := source.read(16 << 20):
            out.write(chunk.replace(b"\n", b"\r\n"))
    plain.unlink()
    marker.write_text(str(rows))
    return GeneratedCsv(path, rows, path.stat().st_size, time.perf_counter() - started,
                        _quoted(rows))


def _quoted(rows: int) -> int:
    con = duckdb.connect()
    try:
        return con.execute("SELECT count(*) FROM (SELECT (range * 1597334677 + 2024) "
                           f"% 4294967296 AS h5 FROM range({rows})) "
                           f"WHERE h5 % 100 < {QUOTED_PERCENT_OF_ROWS}").fetchone()[0]
    finally:
        con.close()


# --- child processes ------------------------------------------------------------------------

@dataclass
class ChildRun:
    seconds: float
    max_rss_mb: float
    returncode: int
    stdout: str
    stderr: str


def run_child(argv: list[str], *, env: dict[str, str] | None = None,
              cwd: Path | None = None, timeout: float = 1800) -> ChildRun:
    """Run a process to its end; wall time from spawn to exit and its own peak RSS
    (``wait4`` reports the rusage of exactly this child, its waited-for children included)."""
    import threading

    started = time.perf_counter()
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env,
                            cwd=cwd, start_new_session=True)
    # Pipes are drained by threads so that a chatty child never blocks; wait4 reaps it.
    chunks: dict[str, bytes] = {}

    def drain(name: str, stream) -> None:  # type: ignore[no-untyped-def]
        chunks[name] = stream.read()

    threads = [threading.Thread(target=drain, args=(n, s), daemon=True)
               for n, s in (("out", proc.stdout), ("err", proc.stderr))]
    for thread in threads:
        thread.start()
    killer = threading.Timer(timeout, lambda: os.killpg(proc.pid, 9))
    killer.daemon = True
    killer.start()
    try:
        _, status, usage = os.wait4(proc.pid, 0)
    finally:
        killer.cancel()
    seconds = time.perf_counter() - started
    proc.returncode = os.waitstatus_to_exitcode(status)
    for thread in threads:
        thread.join()
    return ChildRun(seconds, usage.ru_maxrss / 1024, proc.returncode,
                    chunks.get("out", b"").decode(errors="replace"),
                    chunks.get("err", b"").decode(errors="replace"))


class Server:
    """`allmende serve` over an installation, in a child process that names itself by its own
    address (ALLMENDE_BASE_URL)."""

    def __init__(self, data_dir: Path, database_url: str | None) -> None:
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            self.port = probe.getsockname()[1]
        env = {**os.environ, "ALLMENDE_DATA_DIR": str(data_dir),
               "ALLMENDE_SECRET_KEY": "bench-secret", "ALLMENDE_INPROCESS_WORKER": "false",
               "ALLMENDE_BASE_URL": f"http://127.0.0.1:{self.port}"}
        if database_url:
            env["ALLMENDE_DATABASE_URL"] = database_url
        self.log = data_dir.parent / "server.log"
        with self.log.open("wb") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-c", "from allmende.cli import main; main()", "serve",
                 "--port", str(self.port)], env=env, stdout=log, stderr=log,
                start_new_session=True)
        self.url = f"http://127.0.0.1:{self.port}"

    def tail(self) -> str:
        """The end of the server's log (why a request failed)."""
        return self.log.read_text(errors="replace")[-3000:]

    def wait(self, client: httpx.Client) -> None:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            try:
                if client.get(f"{self.url}/healthz").status_code == 200:
                    return
            except httpx.TransportError:
                time.sleep(0.2)
        raise RuntimeError("the server did not start")

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(30)


def load_average() -> str:
    one, five, fifteen = os.getloadavg()
    return f"{one:.2f} / {five:.2f} / {fifteen:.2f} (1/5/15 min, {os.cpu_count()} CPUs)"


def remove(path: Path) -> None:
    shutil.rmtree(path, ignore_errors=True)


if __name__ == "__main__":  # a quick look: python bench/_data.py OUT.csv ROWS
    result = generate_csv(Path(sys.argv[1]), int(sys.argv[2]))
    print(result)
