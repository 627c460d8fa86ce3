"""Reading a CSV for validation as frictionless-py reads it: the same rows, numbered alike,
with the same cells – judged by frictionless' own row stream."""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

import duckdb
import frictionless
from hypothesis import assume, given
from hypothesis import strategies as st

from allmende import sql
from allmende.harmonize.validate import validate_file
from allmende.harmonize.validate_csv import Cells, read_cells, sniff
from properties import property_test
from test_harmonize_validate import assert_same_as_frictionless

Rows = list[tuple[int, list[str]]]


def our_rows(path: Path) -> tuple[list[str], int, Rows]:
    """Header labels, header row and the data rows (number, cells) as validation reads them."""
    layout = sniff(path)
    con = duckdb.connect()

    def fetch(cells: Cells) -> list[tuple[Any, ...]]:
        con.execute(sql.create_table("read", cells.rows))
        return con.execute(sql.select("*", f"({cells.numbered('read', cells.empty)})",
                                      order_by="__row")).fetchall()

    rows = read_cells(con, path, layout, len(layout.labels), fetch)
    con.close()
    return layout.labels, layout.header, [(r[0], list(r[2:2 + r[1]])) for r in rows]


def their_rows(path: Path) -> tuple[list[str], int, Rows]:
    with frictionless.system.use_context(trusted=True):
        resource = frictionless.Resource(str(path))
        resource.open()
        try:
            return (list(resource.labels), resource.header.row_numbers[0],
                    [(row.row_number, list(row.cells)) for row in resource.row_stream])
        finally:
            resource.close()


def test_quotes_duckdb_reads_otherwise_go_to_pythons_reader(tmp_path: Path) -> None:
    cases = {"after": 'a,b\n"x"y,2\n3,4\n', "open": 'a,b\n1,"x\n2,3\n',
             "backslash": 'a,b\n1,"x\\"y"\n2,3\n', "inside": 'a,b\n1,x"y\n2,z\n'}
    for name, text in cases.items():
        path = tmp_path / f"{name}.csv"
        path.write_text(text, encoding="utf-8")
        assert our_rows(path) == their_rows(path), name
    assert our_rows(tmp_path / "after.csv")[2][0] == (2, ["xy", "2"])


def test_spaces_after_the_delimiter_are_skipped_when_the_header_has_them(tmp_path: Path) -> None:
    path = tmp_path / "spaces.csv"
    path.write_text('a, b, c\n1, "x, y", 3\n 4,  5 ,6\n', encoding="utf-8")
    assert sniff(path).skip_initial_space
    assert our_rows(path) == their_rows(path)
    assert our_rows(path)[2] == [(2, ["1", "x, y", "3"]), (3, ["4", "5 ", "6"])]
    schema = {"fields": [{"name": n, "type": "string", "constraints": {"maxLength": 1}}
                         for n in "abc"]}
    assert_same_as_frictionless(path, schema)


def test_empty_lines_are_rows_and_keep_the_numbering(tmp_path: Path) -> None:
    path = tmp_path / "gaps.csv"
    path.write_text("\n\nid,name\n1,a\n\n\n2,b\n\nx,c\n", encoding="utf-8")
    assert our_rows(path) == their_rows(path)
    schema = {"fields": [{"name": "id", "type": "integer"}, {"name": "name"}]}
    assert_same_as_frictionless(path, schema)
    with frictionless.system.use_context(trusted=True):
        theirs = frictionless.validate(str(path), schema=frictionless.Schema.from_descriptor(
            schema)).flatten(["type", "rowNumber"])
    # the first line is the (empty) header: no header, no label errors
    assert theirs == [["blank-row", 2], ["type-error", 3], ["blank-row", 5], ["blank-row", 6],
                      ["blank-row", 8], ["type-error", 9]]
    assert [[s.type, s.row] for s in validate_file(path, schema).samples] == theirs


def test_rows_wider_than_the_spare_cells_are_read_whole(tmp_path: Path) -> None:
    path = tmp_path / "wide.csv"
    rows = [["a", "b"], ["1", "2"], [str(i) for i in range(40)], ["3"]]
    with path.open("w", newline="", encoding="utf-8") as handle:
        csv.writer(handle).writerows(rows)
    assert our_rows(path) == their_rows(path)
    schema = {"fields": [{"name": "a", "type": "integer"}, {"name": "b"}]}
    assert_same_as_frictionless(path, schema)
    assert validate_file(path, schema).errors["extra-cell"] == 38


def test_a_byte_order_mark_and_latin_1(tmp_path: Path) -> None:
    text = "Straße;Größe;Ort\n" + "".join(f"Hauptstraße {i};{i},5;Lünen\n" for i in range(30))
    bom = tmp_path / "bom.csv"
    bom.write_bytes(b"\xef\xbb\xbf" + text.encode("utf-8"))
    assert our_rows(bom) == their_rows(bom)
    assert our_rows(bom)[0] == ["Straße", "Größe", "Ort"]
    # Not UTF-8: Latin-1 (frictionless' chardet reads this one as ISO-8859-9, "Straşe" – a
    # documented difference)
    latin = tmp_path / "latin.csv"
    latin.write_bytes(text.encode("latin-1"))
    assert our_rows(latin) == our_rows(bom)


def test_rows_keep_their_numbers_across_the_parallel_readers_chunks(tmp_path: Path) -> None:
    """DuckDB reads a file of more than 8 MB in chunks on several threads; the numbering comes
    from the order the flag table keeps (no judge needed: the bad rows are known)."""
    path = tmp_path / "gross.csv"
    bad = [10, 300_000, 555_555, 1_199_999]
    con = duckdb.connect()
    cases = " ".join(f"WHEN {i} THEN 'x'" for i in bad)
    con.sql(sql.select([f"CASE range {cases} ELSE range::VARCHAR END AS id",
                        "'Wert ' || (range % 97)::VARCHAR AS name"],
                       sql.table_function("range", 1_200_000))).write_csv(str(path), sep=";")
    con.close()
    assert path.stat().st_size > 16_000_000
    schema = {"fields": [{"name": "id", "type": "integer"}, {"name": "name"}]}
    report = validate_file(path, schema)
    assert report.rows == 1_200_000 and report.errors == {"type-error": len(bad)}
    assert [s.row for s in report.samples] == [i + 2 for i in bad]  # header is row 1


def test_a_cell_longer_than_duckdbs_line_limit(tmp_path: Path) -> None:
    """DuckDB refuses lines over 2 MB (its default, which keeps its reader parallel); Python's
    reader takes the file, as frictionless does with its lifted cell limit."""
    path = tmp_path / "lang.csv"
    path.write_text("a,b\n1," + "x" * 3_000_000 + "\n" + "".join(f"{i},z\n" for i in range(2, 20)),
                    encoding="utf-8")
    assert our_rows(path) == their_rows(path)
    schema = {"fields": [{"name": "a", "type": "integer"},
                         {"name": "b", "constraints": {"maxLength": 5}}]}
    assert_same_as_frictionless(path, schema)


def test_quoted_line_breaks_with_short_rows(tmp_path: Path) -> None:
    """DuckDB's parallel reader gives up on this; the sequential one reads it."""
    path = tmp_path / "breaks.csv"
    path.write_text('a,b,c\r\n1,"x\r\ny",3\r\n2\r\n', encoding="utf-8")
    assert our_rows(path) == their_rows(path)


cell = st.text(alphabet='ab1 ,;\t|"\n\rä', max_size=4)
row = st.lists(cell, max_size=5)


@property_test(examples=80, fixed_seed=20240807)
@given(rows=st.lists(row, min_size=1, max_size=8), delimiter=st.sampled_from(",;\t|"),
       ending=st.sampled_from(["\n", "\r\n"]), quoted=st.booleans())
def test_random_files_read_like_frictionless(tmp_path: Path, rows: list[list[str]],
                                             delimiter: str, ending: str,
                                             quoted: bool) -> None:
    """Well-formed files (csv.writer) and raw ones (cells joined as they are, so quotes and
    line breaks land anywhere)."""
    path = tmp_path / "random.csv"
    with path.open("w", newline="", encoding="utf-8") as handle:
        if quoted:
            csv.writer(handle, delimiter=delimiter, lineterminator=ending).writerows(rows)
        else:
            handle.write("".join(delimiter.join(r) + ending for r in rows))
    try:
        theirs = their_rows(path)
    except frictionless.FrictionlessException:
        assume(False)  # frictionless refuses the file (e.g. no header at all)
    assert our_rows(path) == theirs
