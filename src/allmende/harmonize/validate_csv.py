"""Reading a CSV file for validation as frictionless-py reads it.

The layout is decided on the first lines as frictionless does: UTF-8 (with or without BOM) when
the first 100 kB decode, else Latin-1; Python's ``csv.Sniffer`` over the first 100 lines with
the delimiters ``, \\t ; |`` (``,`` when it cannot decide); quotes ``"`` doubled inside a
quoted cell and no escape character (frictionless keeps only the sniffed delimiter, quote and
``skipinitialspace``); the header row by the widths of the first 100 records.

The cells are read by DuckDB's parallel CSV reader straight into the validation query, as the
relation ``__row, __width, c1 … cW`` (VARCHAR, NULL where a row has fewer cells), rows numbered
by their place (:class:`Cells`). DuckDB skips
empty lines, which are records for Python's reader: their numbers are found by a byte scan and
put back. Where DuckDB would read otherwise than Python, Python's own reader reads the cells:
spaces after a delimiter that the sniffer told Python's reader to skip; spaces between a quote
and a delimiter, which DuckDB drops; quotes that DuckDB's strict reader refuses (``"a"b``, a
quote never closed), where Python reads on.
"""

from __future__ import annotations

import codecs
import csv
import io
import itertools
import mmap
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import duckdb

from allmende import sql

# frictionless reads the first 100 lines (at most its 100 kB buffer) to sniff the dialect.
_SNIFF_LINES = 100
_SNIFF_BYTES = 100_000
_SAMPLE_ROWS = 100
_NULL_MARK = "\x1e\x1f\x1eallmende-null\x1e\x1f\x1e"
_DELIMITERS = ",\t;|"
# frictionless lifts Python's limit of a cell (128 kB) for the whole process; so do we, or a
# long cell would stop the reader where frictionless reads on.
csv.field_size_limit(2_147_483_646)
# Cells beyond the header that one read takes in: rows with a few extra cells are common, and a
# second read of the whole file costs as much as the first.
SPARE_CELLS = 8


@dataclass(frozen=True)
class CsvLayout:
    """How frictionless reads a file: dialect, header labels and the header's record number;
    ``empty`` are the numbers of the records that are empty lines; ``python`` says that
    DuckDB would read some cells otherwise than Python."""

    encoding: str
    delimiter: str
    skip_initial_space: bool
    labels: list[str]
    header: int
    empty: list[int] = field(default_factory=list)
    python: bool = False

    @property
    def python_encoding(self) -> str:
        return "utf-8-sig" if self.encoding == "utf-8" else self.encoding

    def reader(self, text: io.TextIOBase) -> Iterator[list[str]]:
        """Python's csv reader with frictionless' dialect."""
        return csv.reader(text, delimiter=self.delimiter, quotechar='"', doublequote=True,
                          skipinitialspace=self.skip_initial_space)


def sniff(path: Path) -> CsvLayout:
    """Encoding, dialect, header labels (trimmed) and header row, as frictionless decides."""
    with path.open("rb") as handle:
        buffer = handle.read(_SNIFF_BYTES)
    try:
        codecs.getincrementaldecoder("utf-8")().decode(buffer, final=False)
        encoding = "utf-8"
    except UnicodeDecodeError:
        encoding = "latin-1"
    with path.open(encoding="utf-8-sig" if encoding == "utf-8" else encoding,
                   newline="") as text:
        sample = "".join(itertools.islice(text, _SNIFF_LINES))
    try:
        found = csv.Sniffer().sniff(sample, _DELIMITERS)
        delimiter, skip_space = found.delimiter, bool(found.skipinitialspace)
    except csv.Error:
        delimiter, skip_space = ",", False
    layout = CsvLayout(encoding, delimiter, skip_space, [], 1)
    with path.open(encoding=layout.python_encoding, newline="", errors="replace") as text:
        records = list(itertools.islice(layout.reader(text), _SAMPLE_ROWS))
    header = _header_row(records)
    labels = [cell.strip() for cell in records[header - 1]] if records else []
    gaps, spaces = _byte_scan(path, delimiter)
    return CsvLayout(encoding, delimiter, skip_space, labels, header,
                     _empty_records(path, layout) if gaps else [], skip_space or spaces)


def _header_row(records: list[list[str]]) -> int:
    """frictionless' header detection: the first of the first 100 rows whose width is within
    10 % (at least 1) of their mean width; row 1 when none is."""
    if not records:
        return 1
    width = round(sum(len(r) for r in records) / len(records))
    drift = max(round(width * 0.1), 1)
    for number, cells in enumerate(records, start=1):
        if abs(len(cells) - width) <= drift:
            return number
    return 1


def _byte_scan(path: Path, delimiter: str) -> tuple[bool, bool]:
    """(whether the file may have empty lines, whether it has spaces between a quote and a
    delimiter or line break), by a scan of its bytes (``re`` finds a literal faster than
    ``bytes.find`` does)."""
    if path.stat().st_size == 0:
        return False, False
    with path.open("rb") as handle, mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ) as data:
        gaps = [b"\n\n", b"\r\r", b"\r\n\r\n"] if data.find(b"\r") >= 0 else [b"\n\n"]
        starts = data[:1] in (b"\n", b"\r") or data[:4] in (codecs.BOM_UTF8 + b"\n",
                                                             codecs.BOM_UTF8 + b"\r")
        empty = starts or any(re.search(re.escape(gap), data) for gap in gaps)
        return empty, data.find(b'"') >= 0 and _spaces_by_quotes(data, delimiter.encode())


def _spaces_by_quotes(data: mmap.mmap, delimiter: bytes) -> bool:
    """Whether spaces stand between a quote and a delimiter, a line break or the file's edge
    (``a, "b"`` or ``"a" ,b``): DuckDB's reader drops them, Python's keeps them (and reads the
    quotes of ``a, "b"`` as text). Inside a quoted cell such spaces are harmless; finding them
    there only sends the file to the slower reader."""
    ends = (delimiter, b"\n", b"\r", b"")
    for needle, step in ((b' "', -1), (b'" ', 1)):
        for found in re.finditer(re.escape(needle), data):
            edge = found.start() if step < 0 else found.start() + 1
            while 0 <= edge < len(data) and data[edge] == ord(" "):
                edge += step
            if edge < 0 or data[edge:edge + 1] in ends:
                return True
    return False


def _empty_records(path: Path, layout: CsvLayout) -> list[int]:
    """Numbers of the records that are empty lines (Python's reader reads them)."""
    with path.open(encoding=layout.python_encoding, newline="", errors="replace") as text:
        return [number for number, cells in enumerate(layout.reader(text), start=1)
                if not cells]


def _read_csv(path: Path, layout: CsvLayout, width: int, *, parallel: bool = True,
              strict: bool = True) -> str:
    return sql.table_function(
        "read_csv", str(path), auto_detect=False, header=False,
        columns={f"c{i}": "VARCHAR" for i in range(1, width + 1)}, delim=layout.delimiter,
        quote='"', escape='"', nullstr=_NULL_MARK, null_padding=True, strict_mode=strict,
        parallel=parallel, encoding=layout.encoding)


@dataclass(frozen=True)
class Cells:
    """The cells of a table as relations ``__row, __width, c1 … cW`` (VARCHAR, NULL where a
    row has fewer cells): ``rows`` (where ``__row`` is NULL, the row's place in ``rows``
    numbers it, so that DuckDB may read in parallel) and ``empty``, numbered rows without cells
    (empty lines) or None. A table made of ``rows`` keeps their order; :meth:`numbered` turns
    it into the data rows, numbered as frictionless numbers them."""

    rows: str
    empty: str | None = None
    header: int = 0
    gaps: bool = False

    def numbered(self, table: str, empty: str | None = None) -> str:
        """The data rows of ``table`` (made of :attr:`rows`) and ``empty`` (made of
        :attr:`empty` the same way), numbered as frictionless numbers them."""
        if not self.gaps:
            number = "coalesce(t.__row, t.rowid + 1)"
            source = f"{sql.ident(table)} t"
        else:
            # The k-th record DuckDB reads is record k + (the empty lines before it).
            number = "coalesce(t.__row, t.rowid + 1 + coalesce(g.before, 0))"
            source = f"{sql.ident(table)} t ASOF LEFT JOIN __gaps g ON t.rowid + 1 >= g.threshold"
        rows = sql.select(f"t.* REPLACE ({number} AS __row)", source)
        if empty:
            rows = f"{rows} UNION ALL BY NAME {empty}"
        return sql.select("*", f"({rows})", where=f"__row > {sql.number(self.header)}")


def duckdb_cells(path: Path, layout: CsvLayout, width: int, *, parallel: bool = True) -> Cells:
    """The cells as DuckDB reads them; needs :func:`prepare` on the connection when the file
    has empty lines."""
    names = [f"c{i}" for i in range(1, width + 1)]
    # Missing cells are padded at the end, so the present ones are counted; most rows have
    # as many as the header, which one look at two cells tells.
    present = " + ".join(f"({name} IS NOT NULL)::INTEGER" for name in names)
    usual = len(layout.labels)
    if 0 < usual < width:
        present = (f"CASE WHEN c{usual} IS NOT NULL AND c{usual + 1} IS NULL THEN {usual} "
                   f"ELSE {present} END")
    rows = sql.select([f"NULL::BIGINT AS __row, {present} AS __width", *names],
                      _read_csv(path, layout, width, parallel=parallel))
    empty = sql.select(["e AS __row", "0 AS __width", *(f"NULL::VARCHAR AS {n}" for n in names)],
                       "__empty") if layout.empty else None
    return Cells(rows, empty, layout.header, bool(layout.empty))


def prepare(con: duckdb.DuckDBPyConnection, layout: CsvLayout) -> None:
    """The tables of empty lines :func:`duckdb_cells` refers to."""
    if not layout.empty:
        return
    # Before the j-th empty line (0-based) come e_j - j records DuckDB reads.
    before: dict[int, int] = {}
    for j, number in enumerate(layout.empty):
        before[number - j] = j + 1
    con.execute(sql.create_table("__gaps", sql.select(
        ["unnest(?::BIGINT[]) AS threshold", "unnest(?::BIGINT[]) AS before"])),
        [list(before), list(before.values())])
    con.execute(sql.create_table("__empty", sql.select("unnest(?::BIGINT[]) AS e")),
                [layout.empty])


def python_cells(con: duckdb.DuckDBPyConnection, path: Path, layout: CsvLayout,
                 min_width: int) -> Cells:
    """The cells read by Python's csv module (frictionless' own reader), registered on
    ``con`` as ``__python_cells``."""
    import pyarrow as pa

    with path.open(encoding=layout.python_encoding, newline="", errors="replace") as text:
        records = [(number, cells) for number, cells in enumerate(layout.reader(text), start=1)
                   if number > layout.header]
    width = max([min_width, *(len(cells) for _, cells in records)])
    columns = {"__row": pa.array([number for number, _ in records], pa.int64()),
               "__width": pa.array([len(cells) for _, cells in records], pa.int32())}
    for i in range(width):
        columns[f"c{i + 1}"] = pa.array([cells[i] if i < len(cells) else None
                                         for _, cells in records], pa.string())
    con.register("__python_cells", pa.table(columns))
    return Cells(sql.select("*", "__python_cells"))


def read_cells(con: duckdb.DuckDBPyConnection, path: Path, layout: CsvLayout, fields: int,
               run: Callable[[Cells], Any]) -> Any:
    """``run`` over the cells of the CSV, at least ``fields`` cells wide: DuckDB's strict
    reader, wide enough for every row and sequential where the parallel one gives up;
    Python's reader where DuckDB finds quotes it would read otherwise than Python."""
    if layout.python:
        return run(python_cells(con, path, layout, fields))
    prepare(con, layout)
    width, parallel = max(len(layout.labels), fields) + SPARE_CELLS, True
    while True:
        try:
            if not parallel and _drops_the_end(con, path, layout, width):
                return run(python_cells(con, path, layout, fields))
            return run(duckdb_cells(path, layout, width, parallel=parallel))
        except duckdb.Error as error:
            message = str(error)
            if "CSV" not in message:
                raise
            if "Expected Number of Columns" in message:
                width *= 2  # a row has more cells than were read
            elif parallel and "parallel" in message:
                parallel = False  # short rows together with quoted line breaks
            else:
                return run(python_cells(con, path, layout, fields))


def _drops_the_end(con: duckdb.DuckDBPyConnection, path: Path, layout: CsvLayout,
                   width: int) -> bool:
    """Whether the file ends inside a quoted cell, which DuckDB's sequential reader, even the
    strict one, drops without a word (the lenient one keeps some of it)."""
    present = " + ".join(f"count(c{i})" for i in range(1, width + 1))
    counts = [sql.select(f"[count(*), {present}]", _read_csv(path, layout, width, parallel=False,
                                                             strict=strict))
              for strict in (True, False)]
    return bool(con.execute(sql.select(f"({counts[0]}) <> ({counts[1]})")).fetchall()[0][0])
