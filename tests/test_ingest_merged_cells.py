"""Excel exports with merged cells: continuation rows are filled from the row above."""

from __future__ import annotations

from pathlib import Path

import pyarrow.parquet as pq
import xlsxwriter

from allmende.ingest.pipeline import build
from allmende.ingest.sniff import ReadOptions

HEADER = ["Schule", "Adresse", "Klasse", "Schüler"]
# Gesamtschule with three classes: the school's cells are merged over its three rows
ROWS = [("Gesamtschule Gartenstadt", "Hueckstraße 25", "5a", 28), (None, None, "5b", 27),
        (None, None, "5c", 29), ("Goethe-Gymnasium", "Stettiner Straße 12", "5a", 30),
        (None, None, "5b", 31)]


def _workbook(path: Path, rows, merge: bool = True) -> Path:
    workbook = xlsxwriter.Workbook(str(path))
    sheet = workbook.add_worksheet("Klassen")
    sheet.write_row(0, 0, HEADER)
    for index, row in enumerate(rows, start=1):
        sheet.write_row(index, 0, [v for v in row if v is not None] if all(row) else
                        ["" if v is None else v for v in row])
    if merge:  # what Excel writes: the value in the first cell, the others blank
        sheet.merge_range(1, 0, 3, 0, "Gesamtschule Gartenstadt")
        sheet.merge_range(1, 1, 3, 1, "Hueckstraße 25")
    workbook.close()
    return path


def _rows(tmp_path: Path, source: Path, **options) -> tuple[list[dict], list[str]]:
    work = tmp_path / f"work-{len(list(tmp_path.glob('work-*')))}"
    work.mkdir()
    built = build(source, source.name, ReadOptions(**options), work, None, lambda _f, _m: None)
    return pq.read_table(built.parquet).to_pylist(), [w.code for w in built.warnings]


def test_merged_block_is_filled_from_the_row_above(tmp_path):
    rows, warnings = _rows(tmp_path, _workbook(tmp_path / "klassen.xlsx", ROWS))
    assert [(r["Schule"], r["Adresse"], r["Klasse"]) for r in rows] == [
        ("Gesamtschule Gartenstadt", "Hueckstraße 25", "5a"),
        ("Gesamtschule Gartenstadt", "Hueckstraße 25", "5b"),
        ("Gesamtschule Gartenstadt", "Hueckstraße 25", "5c"),
        ("Goethe-Gymnasium", "Stettiner Straße 12", "5a"),
        ("Goethe-Gymnasium", "Stettiner Straße 12", "5b")]
    assert [r["Schüler"] for r in rows] == [28, 27, 29, 30, 31]
    assert warnings.count("filled_down") == 1


def test_fill_down_switched_off(tmp_path):
    rows, warnings = _rows(tmp_path, _workbook(tmp_path / "klassen.xlsx", ROWS),
                           fill_down=False)
    assert [r["Schule"] for r in rows][:3] == ["Gesamtschule Gartenstadt", None, None]
    assert "filled_down" not in warnings


def test_one_optional_leading_column_is_no_merged_block(tmp_path):
    source = tmp_path / "hinweise.csv"
    source.write_text("Hinweis;Straße;Hausnummer\nBaustelle;Hohe Straße;3\n;Kampstraße;12\n"
                      ";Westenhellweg;40\n", encoding="utf-8")
    rows, warnings = _rows(tmp_path, source)
    assert [r["Hinweis"] for r in rows] == ["Baustelle", None, None]
    assert "filled_down" not in warnings
    forced, warnings = _rows(tmp_path, source, fill_down=True)
    assert [r["Hinweis"] for r in forced] == ["Baustelle"] * 3 and "filled_down" in warnings


def test_blank_first_row_is_no_continuation(tmp_path):
    source = tmp_path / "liste.csv"
    source.write_text("Art;Name;Wert;Menge\n;;1;5\nA;x;2;6\n;;3;7\n", encoding="utf-8")
    rows, warnings = _rows(tmp_path, source)
    assert [r["Art"] for r in rows] == [None, "A", None] and "filled_down" not in warnings
