"""The groups step of a mapping: repeated column groups of a row become rows of their own
(wide → long) before the field rules run. Rows and their order, empty groups left out, the
identifier ``<row key>/<number>`` and the fallback to it, failed cells reported with source row
and group, array steps (CRS) on the long rows, the checks, the JSON format, and
``allmende validate --mapping`` with groups."""

from __future__ import annotations

import json
from pathlib import Path

import duckdb
import pytest

from allmende.errors import Invalid
from allmende.harmonize.mapping import (
    GROUP,
    SOURCE_ROW,
    Mapping,
    apply_mapping,
    load_mapping,
    mapped_table_for_file,
    parse_mapping,
)
from allmende.harmonize.registry import load_schema
from allmende.tables import store

DATA = Path(__file__).parent / "data"
SYNTHETIC_2022 = DATA / "ladesaeulen_2022_synthetic.csv"
COLUMNS = [("id", "string", "VARCHAR"), ("betreiber", "string", "VARCHAR"),
           ("rw", "number", "DOUBLE"), ("hw", "number", "DOUBLE"),
           ("typ1", "string", "VARCHAR"), ("kw1", "number", "DOUBLE"),
           ("evse1", "string", "VARCHAR"),
           ("typ2", "string", "VARCHAR"), ("kw2", "string", "VARCHAR"),
           ("evse2", "string", "VARCHAR"),
           ("typ3", "string", "VARCHAR"), ("kw3", "integer", "BIGINT"),
           ("evse3", "string", "VARCHAR")]
ROWS = [
    # three points, the second without an EVSE-ID
    ("S1", "Beispiel", 378173.0, 5706591.0, "AC Typ 2", 22.0, "DE*BSP*E1*1",
     "DC CCS", "150", None, "AC Schuko", 4, "DE*BSP*E1*3"),
    # the second group empty ("" and blanks count as empty), the third's power no number
    ("S2", "Muster", 378200.0, 5706600.0, "AC Typ 2", 11.0, None,
     "", " ", None, "AC Typ 2", None, None),
    # no group with a value, no row key
    (None, "Probe", None, None, None, None, None, None, None, None, None, None, None),
    # only the third group, a power that is no number in the second group's text column
    ("S4", "Beispiel", 378300.0, 5706700.0, None, None, None,
     None, "viel", None, "AC Typ 2", 22, "DE*BSP*E4*3"),
]
SOURCE_COLUMNS = [{"name": n, "type": t} for n, t, _ in COLUMNS]
GROUPS = {"number": "Ladepunkt", "key": "id", "members": {
    "Typ": ["typ1", "typ2", "typ3"], "kW": ["kw1", "kw2", "kw3"],
    "EVSE": ["evse1", "evse2", "evse3"]}}


@pytest.fixture
def con() -> duckdb.DuckDBPyConnection:
    connection = duckdb.connect()
    columns = ", ".join(f"{name} {duck}" for name, _, duck in COLUMNS)
    connection.execute(f"CREATE TABLE src ({columns})")
    connection.executemany(f"INSERT INTO src VALUES ({', '.join('?' * len(COLUMNS))})", ROWS)
    return connection


def _schema(*names: str) -> dict:
    return {"name": "test", "fields": [{"name": name, "type": "string"} for name in names]}


def _apply(con, fields: dict, groups: dict | None = None, limit: int | None = None):
    mapping = parse_mapping({"schema_name": "test", "groups": groups or GROUPS,
                             "fields": fields})
    result = apply_mapping(con, "src", SOURCE_COLUMNS, mapping, _schema(*fields), limit)
    cursor = con.execute(f"SELECT * FROM {result.relation}")  # in the table's own order
    names = [d[0] for d in cursor.description]
    return result, [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]


def test_one_row_per_group_with_a_value_in_source_order(con):
    result, rows = _apply(con, {"typ": {"source": "Typ"}, "kw": {"source": "kW"},
                                "betreiber": {"source": "betreiber"},
                                "nummer": {"source": "Ladepunkt"}})
    assert [(r[SOURCE_ROW], r[GROUP]) for r in rows] == [(1, 1), (1, 2), (1, 3), (2, 1),
                                                         (2, 3), (3, 1), (4, 2), (4, 3)]
    assert [r["typ"] for r in rows] == ["AC Typ 2", "DC CCS", "AC Schuko", "AC Typ 2",
                                        "AC Typ 2", None, None, "AC Typ 2"]
    # each member's cells as canonical text, whatever the type of its column in each group
    assert [r["kw"] for r in rows] == ["22", "150", "4", "11", None, None, "viel", "22"]
    # the source row's other columns are repeated on each of its groups
    assert [r["betreiber"] for r in rows] == ["Beispiel"] * 3 + ["Muster"] * 2 + ["Probe"] + \
        ["Beispiel"] * 2
    assert [r["nummer"] for r in rows] == ["1", "2", "3", "1", "3", "1", "2", "3"]
    assert result.rows == 8 and result.groups == "Ladepunkt"
    assert result.order == [SOURCE_ROW, GROUP]


def test_a_row_without_any_group_keeps_one_row_and_empty_groups_are_dropped(con):
    _, rows = _apply(con, {"typ": {"source": "Typ"}})
    by_row = {}
    for row in rows:
        by_row.setdefault(row[SOURCE_ROW], []).append(row[GROUP])
    assert by_row == {1: [1, 2, 3], 2: [1, 3], 3: [1], 4: [2, 3]}


def test_identifier_is_the_row_key_and_number_else_the_row_number(con):
    _, rows = _apply(con, {"id": {"source": "Ladepunkt-Kennung"},
                           "ladepunkt_id": {"source": ["EVSE", "Ladepunkt-Kennung"],
                                            "transforms": [{"kind": "fallback"}]}})
    assert [r["id"] for r in rows] == ["S1/1", "S1/2", "S1/3", "S2/1", "S2/3", "3/1", "S4/2",
                                       "S4/3"]
    # the point's own EVSE-ID where the source has one, else the identifier
    assert [r["ladepunkt_id"] for r in rows] == [
        "DE*BSP*E1*1", "S1/2", "DE*BSP*E1*3", "S2/1", "S2/3", "3/1", "S4/2", "DE*BSP*E4*3"]
    # without a key column: the source row's number
    _, rows = _apply(con, {"id": {"source": "Punkt"}},
                     {**GROUPS, "key": None, "identifier": "Punkt"})
    assert [r["id"] for r in rows] == ["1/1", "1/2", "1/3", "2/1", "2/3", "3/1", "4/2", "4/3"]


def test_a_failed_cell_names_its_source_row_and_group(con):
    result, rows = _apply(con, {"kw": {"source": "kW", "transforms": [{"kind": "number"}]}})
    assert [r["kw"] for r in rows] == ["22", "150", "4", "11", None, None, None, "22"]
    assert [(e.field, e.column, e.row, e.group, e.value) for e in result.errors] == [
        ("kw", "kW", 4, 2, "viel")]
    assert result.errors[0].message == "Ladepunkt 2: „viel“ ist keine Zahl (Dezimalzeichen „,“)."
    assert result.error_counts == {"kw": 1}


def test_array_steps_line_up_with_the_rows_of_the_groups(con):
    """CRS runs on whole arrays beside the SQL; with groups every point of a station gets the
    station's coordinates."""
    result, rows = _apply(con, {"lon": {"source": ["rw", "hw"], "transforms": [
        {"kind": "crs", "source_crs": "EPSG:25832", "output": "lon"}]},
        "typ": {"source": "Typ"}})
    lons = [r["lon"] for r in rows]
    assert lons[0] == lons[1] == lons[2] and lons[3] == lons[4] and lons[0] != lons[3]
    assert lons[5] is None and lons[6] == lons[7]
    assert 7.2 < float(lons[0]) < 7.3 and not result.errors


def test_a_preview_takes_the_first_source_rows(con):
    result, rows = _apply(con, {"typ": {"source": "Typ"}}, limit=2)
    assert [(r[SOURCE_ROW], r[GROUP]) for r in rows] == [(1, 1), (1, 2), (1, 3), (2, 1), (2, 3)]
    assert result.rows == 5


def test_fallback_without_groups_takes_the_first_column_with_a_value(con):
    mapping = parse_mapping({"schema_name": "test", "fields": {"x": {
        "source": ["evse2", "typ2", "betreiber"], "transforms": [{"kind": "fallback"}]}}})
    result = apply_mapping(con, "src", SOURCE_COLUMNS, mapping, _schema("x"))
    assert result.groups is None and result.order == [SOURCE_ROW]
    values = con.execute(f"SELECT x FROM {result.relation} ORDER BY {SOURCE_ROW}").fetchall()
    assert [v for (v,) in values] == ["DC CCS", "Muster", "Probe", "Beispiel"]


@pytest.mark.parametrize(("groups", "words"), [
    ({**GROUPS, "members": {"Typ": ["typ1", "typ9", "typ3"]}}, "„typ9“ (Typ, Ladepunkt 2)"),
    ({**GROUPS, "members": {"betreiber": ["typ1", "typ2", "typ3"]}},
     "„betreiber“ heißt schon eine Spalte"),
    ({**GROUPS, "members": {"Typ": ["typ1", None, "typ3"], "kW": ["kw1", None, "kw3"]}},
     "Ladepunkt 2 hat keine Spalte"),
    ({**GROUPS, "key": "gibtsnicht"}, "Schlüsselspalte „gibtsnicht“"),
])
def test_groups_that_do_not_fit_the_source_are_rejected(con, groups, words):
    with pytest.raises(Invalid) as caught:
        _apply(con, {"typ": {"source": "typ1"}}, groups)
    assert [e.field for e in caught.value.field_errors] == ["groups"]
    assert words in caught.value.field_errors[0].message


@pytest.mark.parametrize(("groups", "words"), [
    ({"members": {"Typ": ["a", "b"], "kW": ["c"]}}, "gleich viele Spalten"),
    ({"members": {}}, "members"),
    ({"members": {" ": ["a", "b"]}}, "braucht einen Namen"),
    ({"members": {"Gruppe": ["a", "b"]}}, "„Gruppe“ steht mehrfach"),
    ({"members": {"Typ": ["a"]}, "anders": 1}, "unbekannte Angabe"),
])
def test_malformed_groups_are_named_in_german(groups, words):
    with pytest.raises(Invalid) as caught:
        parse_mapping({"schema_name": "test", "groups": groups, "fields": {}})
    messages = [f"{e.field}: {e.message}" for e in caught.value.field_errors]
    assert any(words in m for m in messages), messages
    assert all(e.field.startswith("groups") for e in caught.value.field_errors)


def test_rules_may_only_name_members_the_groups_have(con):
    with pytest.raises(Invalid) as caught:
        _apply(con, {"typ": {"source": "Stecker"}})
    assert "die Quellspalte „Stecker“ gibt es in der Datei nicht" in \
        caught.value.field_errors[0].message


def test_the_json_format_round_trips_with_defaults_spelt_out():
    mapping = parse_mapping({"schema_name": "test", "groups": {
        "members": {"Typ": ["typ1", ""]}}, "fields": {}})
    assert mapping.groups is not None
    assert mapping.groups.members == {"Typ": ["typ1", None]}
    assert (mapping.groups.number, mapping.groups.identifier) == ("Gruppe", "Gruppe-Kennung")
    again = parse_mapping(mapping.to_json())
    assert again == mapping
    assert json.loads(mapping.to_json())["groups"] == {
        "members": {"Typ": ["typ1", None]}, "number": "Gruppe",
        "identifier": "Gruppe-Kennung"}


# --- a file ------------------------------------------------------------------------------------

def _points_mapping() -> Mapping:
    members = {"Steckertypen": [f"Steckertypen{n}" for n in range(1, 5)],
               "P [kW]": [f"P{n} [kW]" for n in range(1, 5)],
               "Public Key": [f"Public Key{n}" for n in range(1, 5)]}
    return parse_mapping({"schema_name": "ladesaeulen", "groups": {
        "number": "Ladepunkt", "members": members}, "fields": {
        "ladepunkt_id": {"source": "Ladepunkt-Kennung"}, "betreiber": {"source": "Betreiber"},
        "ort": {"source": "Ort"}, "steckertypen": {"source": "Steckertypen"},
        "nennleistung_kw": {"source": "P [kW]", "transforms": [{"kind": "number"}]}}})


def test_a_typed_file_gives_one_row_per_charging_point():
    with store.connection() as con:
        result = mapped_table_for_file(con, SYNTHETIC_2022, _points_mapping(),
                                       load_schema("ladesaeulen"))
        rows = con.execute(f"SELECT ladepunkt_id, steckertypen, nennleistung_kw FROM "
                           f"{result.relation} ORDER BY {SOURCE_ROW}, {GROUP}").fetchall()
    assert rows == [("1/1", "AC Steckdose Typ 2", "22"), ("1/2", "AC Steckdose Typ 2", "22"),
                    ("2/1", "AC Schuko", "3.7"), ("3/1", "DC CCS", "150"),
                    ("3/3", "DC CCS, DC CHAdeMO", "100"), ("3/4", "AC Kupplung Typ 2", "50"),
                    ("4/1", None, None), ("5/1", "AC Steckdose Typ 2", "11"),
                    ("5/2", "AC Steckdose Typ 2", None)]
    assert [(e.row, e.group, e.value) for e in result.errors] == [(5, 2, "viel")]


def test_validate_with_a_groups_mapping_counts_points(allmende, tmp_path):
    """``allmende validate --mapping`` reads the file as frictionless does and applies the
    same mapping file: one row per charging point, the failed cell with row and group."""
    mapping = tmp_path / "zuordnung.json"
    mapping.write_text(_points_mapping().to_json(), encoding="utf-8")
    assert load_mapping(mapping).groups is not None
    result = allmende("validate", SYNTHETIC_2022, "--schema", "ladesaeulen", "--mapping",
                      mapping, "--json", cwd=tmp_path)
    assert result.returncode == 1, result.stderr
    report = json.loads(result.stdout)
    assert report["rows"] == 9  # 2 + 1 + 3 + 1 (no point data) + 2
    assert report["errors"]["mapping-error"] == 1
    failed = [s for s in report["samples"] if s["type"] == "mapping-error"]
    assert [{k: v for k, v in s.items() if k != "i18n"} for s in failed] == [
        {"type": "mapping-error", "row": 6, "field": "nennleistung_kw",
         "message": "Ladepunkt 2: „viel“ ist keine Zahl (Dezimalzeichen „,“)."}]
    # beside the German text, its template and parameters: for a reader in another language
    assert failed[0]["i18n"]["params"]["problem"]["params"] == {"value": "viel", "decimal": ","}
    # the row without point data misses its required power, once
    assert report["completeness"]["nennleistung_kw"] == pytest.approx(7 / 9, abs=1e-4)
    # every sample names the file's row and the point
    power = [(s["row"], s["message"].split(": ")[0]) for s in report["samples"]
             if s["type"] == "constraint-error" and s["field"] == "nennleistung_kw"]
    assert power == [(5, "ladesaeulen_2022_synthetic.csv, Zeile 5, Ladepunkt 1, Feld "
                         "„nennleistung_kw“"),
                     (6, "ladesaeulen_2022_synthetic.csv, Zeile 6, Ladepunkt 2, Feld "
                         "„nennleistung_kw“")]
