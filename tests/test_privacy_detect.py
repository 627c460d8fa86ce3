"""The personal-data guard's detection (headers and value validators) and the small-cell
suppression rule, without a database."""

from __future__ import annotations

import csv
import io
import time

import pytest

from allmende.privacy import detect, suppression
from allmende.privacy.detect import scan_values
from privacy_data import iban, residents_csv, social_security, stations_csv, tax_id


def _scan(text: str) -> dict[str, detect.Finding]:
    rows = list(csv.reader(io.StringIO(text), delimiter=";"))
    return {f.column: f for f in scan_values(rows[0], rows[1:])}


def test_every_kind_is_found_in_a_realistic_german_table():
    found = _scan(residents_csv())
    kinds = {column: f.kind for column, f in found.items()}
    assert kinds == {
        "Vorname": "name", "Nachname": "name", "E-Mail": "email", "Telefon": "phone",
        "Geburtsdatum": "birth_date", "Kfz-Kennzeichen": "licence_plate", "IBAN": "iban",
        "Steuer-ID": "tax_id", "Versicherungsnummer": "social_security"}
    # header and values together are stronger than a header alone (surnames have no pattern)
    assert found["Vorname"].confidence > found["Nachname"].confidence >= detect.THRESHOLD
    assert all(0 < f.confidence <= 1 for f in found.values())


def test_columns_that_only_look_personal_are_not_flagged():
    """Postcodes, running numbers, a station's name, a yes/no 'Kennzeichen', an office's
    mailbox and commissioning dates."""
    assert _scan(stations_csv()) == {}


@pytest.mark.parametrize(("header", "values", "kind"), [
    ("Mail-Adresse", ["jan.kowalski@wp.pl", "e.yildiz@web.de"], "email"),
    ("Rufnummer", ["(0231) 50-23456", "0049 201 8812345", "+49 171 2345678"], "phone"),
    ("Bankverbindung", [iban("37040044", 532013000), iban("44050199", 9876543)], "iban"),
    ("IdNr", [tax_id(1), tax_id(2), tax_id(3)], "tax_id"),
    ("SV-Nummer", ["15 070649 C 103", social_security("65", "170839", "J", "00")],
     "social_security"),
    ("amtl. Kennzeichen", ["DO-AB 123", "BO-X 7", "HAM-ZZ 999E"], "licence_plate"),
    ("geb. am", ["1984-03-12", "1990-07-01"], "birth_date"),
    ("Geburtsjahr", ["1984", "1955", "2003"], "birth_date"),
    ("Ansprechpartnerin", ["Frau Dr. Petra Schulz", "Herr Ali Kaya"], "name"),
    ("Name", ["Schmidt, Anna", "Mehmet Yilmaz", "Laura Hoffmann"], "name"),
])
def test_each_kind_by_its_header_and_values(header, values, kind):
    found = scan_values([header], [[v] for v in values])
    assert [(f.column, f.kind) for f in found] == [(header, kind)]


@pytest.mark.parametrize(("header", "values"), [
    ("E-Mail", ["anna.schmidt@web.de", "p.nowak@gmx.de", "s.mueller@posteo.de"]),
    ("Spalte 3", ["DE89 3704 0044 0532 0130 00", iban("44050199", 1234567)]),
    ("Nummer", ["15 070649 C 103", social_security("65", "170839", "J", "00")]),
    ("Kunden-ID", ["anna.schmidt@web.de", "p.nowak@gmx.de"]),  # a checksum or format wins
])
def test_strong_validators_need_no_header(header, values):
    assert len(scan_values([header], [[v] for v in values])) == 1


@pytest.mark.parametrize(("header", "values"), [
    ("PLZ", ["44137", "44263", "44339", "44309"]),
    ("AGS", ["05913000", "05911000", "05113000"]),  # municipality keys look like numbers
    ("Gemeindeschlüssel", ["05913000", "05911000"]),
    ("Objekt-ID", ["12345678901", "23456789012", "34567890123"]),  # 11 digits, no Steuer-ID
    ("Kundennummer", ["4711000", "4711013", "4711026"]),
    ("Datum", ["12.03.1984", "01.07.1990"]),  # a date is no birthday without a header
    ("Name", ["Ladesäule Markt", "Zeche Zollern", "Westfalenpark"]),
    ("Kennzeichen", ["ja", "nein", "ja"]),
    ("Kontakt", ["info@dortmund.de", "poststelle@bochum.de"]),
    ("Referenz", ["DE89 3704 0044 0532 0130 01", "DE00 1234 5678 9012 3456 78"]),  # checksums wrong
    ("Stadtteil", ["Hörde", "Eving", "Brackel", "Mengede"]),
])
def test_false_positives_stay_low(header, values):
    assert scan_values([header], [[v] for v in values]) == []


def test_an_invalid_iban_under_its_header_is_still_flagged_by_the_header():
    """A header that names the kind outright is enough: a typo in the numbers does not make
    them anonymous (the header alone gives a lower confidence)."""
    found = scan_values(["IBAN"], [["DE89 3704 0044 0532 0130 01"]])
    assert [(f.kind, f.confidence) for f in found] == [("iban", detect.HEADER_ONLY)]


def test_the_first_name_list_ships_with_its_source():
    names = detect.first_names()
    assert {"anna", "mehmet", "piotr", "paul"} <= names and len(names) > 3000
    from importlib import resources
    sources = resources.files("allmende.privacy").joinpath("SOURCES.md").read_text("utf-8")
    assert "first_names.txt" in sources and "MIT" in sources


def test_scanning_a_wide_sample_is_fast():
    labels = [f"Spalte {i}" for i in range(60)]
    rows = [[f"Wert {r} {c}" if c % 3 else f"0231 {r:06d}" for c in range(60)]
            for r in range(detect.SAMPLE_ROWS)]
    started = time.process_time()  # CPU time: the machine may be shared
    scan_values(labels, rows)
    assert time.process_time() - started < 2.0


# --- small-cell suppression ----------------------------------------------------------------

def test_primary_suppression_hides_small_counts():
    assert suppression.suppressed_cells([("a",), ("b",), ("c",), ("d",)], [10, 2, 1, 7], 3) \
        == [False, True, True, False]


def test_a_lone_suppressed_cell_takes_the_smallest_other_one_with_it():
    """With one cell hidden, the total (known from the rows endpoint) gives it away: the
    next smallest cell is hidden too."""
    hidden = suppression.suppressed_cells([("a",), ("b",), ("c",), ("d",)], [10, 2, 5, 7], 3)
    assert hidden == [False, True, True, False]


def test_secondary_suppression_in_two_dimensions_leaves_no_lone_cell_in_any_line():
    keys = [(r, c) for r in "xyz" for c in "pqr"]
    counts = [9, 1, 8,
              7, 6, 5,
              4, 9, 9]
    hidden = suppression.suppressed_cells(keys, counts, 3)
    for axis in (0, 1):
        lines: dict[str, list[bool]] = {}
        for key, gone in zip(keys, hidden, strict=True):
            lines.setdefault(key[1 - axis], []).append(gone)
        assert all(sum(line) != 1 for line in lines.values())
    assert hidden[1]  # the primary cell
    # nothing can be recomputed: every hidden cell shares each of its lines with another one
    assert sum(hidden) == 4


def test_without_small_counts_nothing_is_suppressed():
    assert suppression.suppressed_cells([("a",), ("b",)], [3, 4], 3) == [False, False]
    assert suppression.suppressed_cells([()], [2], 3) == [True]  # a total below k
