"""Mappings: every transform with concrete values, failed cells reported per row and field
without losing the rest, checks naming field and column, the JSON file format, and a real file
mapped onto a shipped schema."""

from __future__ import annotations

import json
from pathlib import Path

import duckdb
import pytest
import shapely

from allmende.errors import Invalid
from allmende.harmonize.mapping import (
    SOURCE_ROW,
    MappedTable,
    Mapping,
    apply_mapping,
    load_mapping,
    mapped_table_for_file,
    parse_mapping,
)
from allmende.harmonize.registry import load_schema
from allmende.tables import store

REALDATA = Path(__file__).parent / "data" / "realdata"
ROWS = [
    # plz_ort, flag, watt, street, number, day, amount, x (EPSG:25832), y, since, status
    ("44807 Bochum", "Ja", 3700, "Lenneplatz", "21", "22.07.2021", "1.234,5", 378173.0,
     5706591.0, "22.07.2021 08:30", "B"),
    ("Bochum", "nein", 22000, "Von-der-Recke-Str.", None, "31.02.2021", "x", None, 5705976.0,
     "gestern", "A"),
    ("44137 Dortmund", None, None, None, None, "01.01.2020", "12", 394000.0, 5710000.0,
     "01.01.2020 00:00", "Z"),
]
COLUMNS = [("plz_ort", "string", "VARCHAR"), ("flag", "string", "VARCHAR"),
           ("watt", "integer", "BIGINT"), ("street", "string", "VARCHAR"),
           ("number", "string", "VARCHAR"), ("day", "string", "VARCHAR"),
           ("amount", "string", "VARCHAR"), ("x", "number", "DOUBLE"), ("y", "number", "DOUBLE"),
           ("since", "string", "VARCHAR"), ("status", "string", "VARCHAR")]
SOURCE_COLUMNS = [{"name": name, "type": kind} for name, kind, _ in COLUMNS]
SPLIT = r"^(\d{5})\s+(.+)$"


@pytest.fixture
def con() -> duckdb.DuckDBPyConnection:
    connection = duckdb.connect()
    columns = ", ".join(f"{name} {duck}" for name, _, duck in COLUMNS)
    connection.execute(f"CREATE TABLE src ({columns})")
    connection.executemany(f"INSERT INTO src VALUES ({', '.join('?' * len(COLUMNS))})", ROWS)
    return connection


def _schema(*names: str) -> dict:
    return {"name": "test", "version": "1.0.0",
            "fields": [{"name": name, "type": "string"} for name in names]}


def _apply(con, fields: dict, limit: int | None = None) -> tuple[MappedTable, list[dict]]:
    mapping = parse_mapping({"schema_name": "test", "fields": fields})
    result = apply_mapping(con, "src", SOURCE_COLUMNS, mapping, _schema(*fields), limit)
    cursor = con.execute(f"SELECT * FROM {result.relation} ORDER BY {SOURCE_ROW}")
    names = [d[0] for d in cursor.description]
    return result, [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]


def _column(rows: list[dict], name: str) -> list:
    return [row[name] for row in rows]


def test_rename_and_constant_with_source_rows(con):
    result, rows = _apply(con, {"ort": {"source": "street"}, "ags": {"constant": "05911000"}})
    assert _column(rows, "ort") == ["Lenneplatz", "Von-der-Recke-Str.", None]
    assert _column(rows, "ags") == ["05911000"] * 3
    assert _column(rows, SOURCE_ROW) == [1, 2, 3]
    assert result.fields == ["ort", "ags"] and result.rows == 3 and not result.errors


def test_value_map_ignores_case_and_keeps_or_fails_other_values(con):
    _, rows = _apply(con, {
        "ok": {"source": "flag", "transforms": [
            {"kind": "value_map", "values": {"ja": "true", "nein": "false"}}]},
        "status": {"source": "status", "transforms": [
            {"kind": "value_map", "values": {"A": "aktiv", "B": "beendet"},
             "case_sensitive": True, "otherwise": "fail"}]},
        "kept": {"source": "status", "transforms": [
            {"kind": "value_map", "values": {"A": "aktiv"}}]}})
    assert _column(rows, "ok") == ["true", "false", None]
    assert _column(rows, "status") == ["beendet", "aktiv", None]
    assert _column(rows, "kept") == ["B", "aktiv", "Z"]


def test_value_map_failure_names_the_value(con):
    result, _ = _apply(con, {"status": {"source": "status", "transforms": [
        {"kind": "value_map", "values": {"A": "aktiv"}, "otherwise": "fail"}]}})
    assert [(e.row, e.value) for e in result.errors] == [(1, "B"), (3, "Z")]
    assert "Werteliste" in result.errors[0].message


def test_split_takes_a_regex_group_and_reports_values_without_match(con):
    result, rows = _apply(con, {
        "plz": {"source": "plz_ort", "transforms": [{"kind": "split", "pattern": SPLIT}]},
        "ort": {"source": "plz_ort",
                "transforms": [{"kind": "split", "pattern": SPLIT, "group": 2}]}})
    assert _column(rows, "plz") == ["44807", None, "44137"]
    assert _column(rows, "ort") == ["Bochum", None, "Dortmund"]
    assert [(e.field, e.column, e.row, e.value) for e in result.errors] == [
        ("plz", "plz_ort", 2, "Bochum"), ("ort", "plz_ort", 2, "Bochum")]
    assert result.error_counts == {"plz": 1, "ort": 1}


def test_join_leaves_out_missing_parts(con):
    _, rows = _apply(con, {"adresse": {"source": ["street", "number"],
                                       "transforms": [{"kind": "join", "separator": " "}]}})
    assert _column(rows, "adresse") == ["Lenneplatz 21", "Von-der-Recke-Str.", None]


def test_prefix_completes_links_without_scheme():
    con = duckdb.connect()
    con.execute("CREATE TABLE src AS SELECT * FROM (VALUES ('www.bochum.de/vhs'), "
                "('https://www.vhs-essen.de'), ('mailto:info@vhs.de'), (NULL)) t(link)")
    mapping = parse_mapping({"schema_name": "test", "fields": {"url": {
        "source": "link", "transforms": [{"kind": "prefix", "prefix": "https://"}]}}})
    result = apply_mapping(con, "src", [{"name": "link", "type": "string"}], mapping,
                           _schema("url"))
    assert result.errors == []
    assert [r[0] for r in con.execute("SELECT url FROM mapped ORDER BY __row").fetchall()] == [
        "https://www.bochum.de/vhs", "https://www.vhs-essen.de", "mailto:info@vhs.de", None]


def test_scale_watt_to_kilowatt_and_metres_to_centimetres(con):
    _, rows = _apply(con, {
        "kw": {"source": "watt", "transforms": [{"kind": "scale", "factor": 0.001}]},
        "cm": {"source": "x", "transforms": [{"kind": "scale", "factor": 100}]}})
    assert _column(rows, "kw") == ["3.7", "22", None]
    assert _column(rows, "cm") == ["37817300", None, "39400000"]


def test_scale_reports_text_that_is_no_number(con):
    result, rows = _apply(con, {"n": {"source": "amount",
                                      "transforms": [{"kind": "scale", "factor": 2}]}})
    assert _column(rows, "n") == [None, None, "24"]
    assert [(e.row, e.value) for e in result.errors] == [(1, "1.234,5"), (2, "x")]


def test_number_format_reads_german_numbers(con):
    result, rows = _apply(con, {"n": {"source": "amount", "transforms": [{"kind": "number"}]}})
    assert _column(rows, "n") == ["1234.5", None, "12"]
    assert [(e.row, e.value) for e in result.errors] == [(2, "x")]
    assert "keine Zahl" in result.errors[0].message


def test_date_and_datetime_formats_become_iso(con):
    result, rows = _apply(con, {
        "tag": {"source": "day", "transforms": [{"kind": "date", "format": "%d.%m.%Y"}]},
        "seit": {"source": "since",
                 "transforms": [{"kind": "datetime", "format": "%d.%m.%Y %H:%M"}]}})
    assert _column(rows, "tag") == ["2021-07-22", None, "2020-01-01"]
    assert _column(rows, "seit") == ["2021-07-22T08:30:00", None, "2020-01-01T00:00:00"]
    assert [(e.field, e.row, e.value) for e in result.errors] == [
        ("tag", 2, "31.02.2021"), ("seit", 2, "gestern")]
    assert result.errors[0].message == "„31.02.2021“ entspricht nicht dem Format %d.%m.%Y."


def test_date_of_a_typed_timestamp_column():
    # what the suggestion proposes for a timestamp column onto a date field; a column with a
    # time zone reads as UTC text with "Z" (GeoJSON/JSON exports with offsets)
    con = duckdb.connect()
    con.execute("CREATE TABLE src AS SELECT * FROM (VALUES "
                "(TIMESTAMP '2025-08-29 18:00:00', TIMESTAMPTZ '2025-08-29 20:00:00+02:00'), "
                "(NULL, NULL)) t(ts, tz)")
    columns = [{"name": "ts", "type": "datetime"}, {"name": "tz", "type": "datetime"}]
    step = [{"kind": "date", "format": "%Y-%m-%dT%H:%M:%S"}]
    mapping = parse_mapping({"schema_name": "test", "fields": {
        "a": {"source": "ts", "transforms": step}, "b": {"source": "tz", "transforms": step}}})
    result = apply_mapping(con, "src", columns, mapping, _schema("a", "b"))
    rows = con.execute("SELECT a, b FROM mapped ORDER BY __row").fetchall()
    assert rows == [("2025-08-29", "2025-08-29"), (None, None)]
    assert result.errors == [] and result.error_counts == {}


def test_blank_cells_are_missing_not_failures():
    con = duckdb.connect()
    con.execute("CREATE TABLE source AS SELECT * FROM (VALUES ('01.02.2021', '44137 Dortmund'), "
                "('', ''), ('  ', NULL)) t(day, town)")
    columns = [{"name": "day", "type": "string"}, {"name": "town", "type": "string"}]
    schema = _schema("tag", "plz")
    mapping = parse_mapping({"schema_name": schema["name"], "fields": {
        "tag": {"source": "day", "transforms": [{"kind": "date", "format": "%d.%m.%Y"}]},
        "plz": {"source": "town", "transforms": [
            {"kind": "split", "pattern": "^(\\d{5}) ", "group": 1}]}}})
    result = apply_mapping(con, "source", columns, mapping, schema)
    assert result.errors == [] and result.error_counts == {}
    assert con.execute("SELECT tag, plz FROM mapped ORDER BY __row").fetchall() == [
        ("2021-02-01", "44137"), (None, None), (None, None)]


def test_instants_give_the_local_day_and_stay_instants():
    con = duckdb.connect()
    con.execute("CREATE TABLE src AS SELECT * FROM (VALUES ('2025-03-01T00:30:00+01:00'), "
                "('2025-07-01 00:30:00+02:00'), ('2025-07-01T12:00:00Z'), ('01.07.2025')) "
                "t(beginn)")
    mapping = parse_mapping({"schema_name": "test", "fields": {
        "tag": {"source": "beginn", "transforms": [{"kind": "date", "format": "%d.%m.%Y"}]},
        "zeit": {"source": "beginn",
                 "transforms": [{"kind": "datetime", "format": "%d.%m.%Y"}]}}})
    result = apply_mapping(con, "src", [{"name": "beginn", "type": "string"}], mapping,
                           _schema("tag", "zeit"))
    assert result.errors == []
    assert con.execute("SELECT tag, zeit FROM mapped ORDER BY __row").fetchall() == [
        ("2025-03-01", "2025-02-28T23:30:00Z"), ("2025-07-01", "2025-06-30T22:30:00Z"),
        ("2025-07-01", "2025-07-01T12:00:00Z"), ("2025-07-01", "2025-07-01T00:00:00")]


def test_crs_turns_utm_coordinates_into_wgs84(con):
    result, rows = _apply(con, {
        "lon": {"source": ["x", "y"], "transforms": [
            {"kind": "crs", "source_crs": "EPSG:25832", "output": "lon"}]},
        "lat": {"source": ["x", "y"], "transforms": [
            {"kind": "crs", "source_crs": "EPSG:25832", "output": "lat"}]},
        "lage": {"source": ["x", "y"], "transforms": [
            {"kind": "crs", "source_crs": "EPSG:25832"}]}})
    # Lenneplatz 21, Bochum: 51.4973 N, 7.2449 E
    assert float(rows[0]["lon"]) == pytest.approx(7.2449, abs=1e-3)
    assert float(rows[0]["lat"]) == pytest.approx(51.4973, abs=1e-3)
    point = shapely.from_wkt(rows[0]["lage"])
    assert (point.x, point.y) == (float(rows[0]["lon"]), float(rows[0]["lat"]))
    assert rows[1]["lon"] is None and rows[1]["lage"] is None
    assert float(rows[2]["lat"]) == pytest.approx(51.53, abs=0.01)
    assert {(e.field, e.row, e.column) for e in result.errors} == {
        ("lon", 2, "x, y"), ("lat", 2, "x, y"), ("lage", 2, "x, y")}
    assert "EPSG:25832" in result.errors[0].message


def test_failed_cells_keep_the_row_and_its_other_fields(con):
    result, rows = _apply(con, {
        "tag": {"source": "day", "transforms": [{"kind": "date", "format": "%d.%m.%Y"}]},
        "n": {"source": "amount", "transforms": [{"kind": "number"}]},
        "strasse": {"source": "street"}})
    assert result.rows == 3
    assert rows[1] == {"tag": None, "n": None, "strasse": "Von-der-Recke-Str.", SOURCE_ROW: 2}
    assert rows[2]["tag"] == "2020-01-01" and rows[2]["n"] == "12"
    assert [(e.field, e.row) for e in result.errors] == [("tag", 2), ("n", 2)]


def test_preview_maps_only_the_first_rows(con):
    result, rows = _apply(con, {"ort": {"source": "street"}}, limit=2)
    assert result.rows == 2 and _column(rows, SOURCE_ROW) == [1, 2]


def test_typed_source_values_become_canonical_text():
    con = duckdb.connect()
    con.execute("CREATE TABLE src AS SELECT DATE '2021-07-22' AS d, true AS b, 3.50::DOUBLE AS n,"
                " 22.0::DOUBLE AS whole, TIMESTAMP '2022-05-01 08:30:00' AS ts, "
                "TIMESTAMPTZ '2022-05-01 08:30:00+02:00' AS tz, 44 AS i")
    columns = [{"name": n, "type": t} for n, t in (("d", "date"), ("b", "boolean"), (
        "n", "number"), ("whole", "number"), ("ts", "datetime"), ("tz", "datetime"),
        ("i", "integer"))]
    mapping = Mapping(schema_name="test", fields={c["name"]: {"source": c["name"]}
                                                  for c in columns})
    apply_mapping(con, "src", columns, mapping, _schema(*(c["name"] for c in columns)))
    row = con.execute("SELECT d, b, n, whole, ts, tz, i FROM mapped").fetchone()
    assert row == ("2021-07-22", "true", "3.5", "22", "2022-05-01T08:30:00",
                   "2022-05-01T06:30:00Z", "44")


def test_geometry_column_as_wkt_longitude_and_latitude():
    con = duckdb.connect()
    polygon = shapely.box(7.0, 51.0, 7.2, 51.2)
    con.execute("CREATE TABLE src (geometry BLOB)")
    con.executemany("INSERT INTO src VALUES (?)", [
        [shapely.to_wkb(shapely.Point(7.4652981234, 51.5135871234))], [None],
        [shapely.to_wkb(polygon)], [b"\x01\x02"]])
    columns = [{"name": "geometry", "type": "geometry"}]
    mapping = parse_mapping({"schema_name": "test", "fields": {
        "lage": {"source": "geometry"},
        "lon": {"source": "geometry", "transforms": [{"kind": "geometry", "output": "lon"}]},
        "lat": {"source": "geometry", "transforms": [{"kind": "geometry", "output": "lat"}]}}})
    result = apply_mapping(con, "src", columns, mapping, _schema("lage", "lon", "lat"))
    rows = con.execute("SELECT lage, lon, lat FROM mapped ORDER BY __row").fetchall()
    assert rows[0] == ("POINT (7.4652981 51.5135871)", "7.4652981", "51.5135871")
    assert rows[1] == (None, None, None)
    assert shapely.from_wkt(rows[2][0]).equals(polygon)
    assert rows[2][1:] == ("7.1", "51.1")  # the centroid of an area
    assert rows[3] == (None, None, None)
    assert {(e.field, e.row) for e in result.errors} == {("lage", 4), ("lon", 4), ("lat", 4)}


def test_missing_columns_and_fields_are_named(con):
    mapping = parse_mapping({"schema_name": "test", "fields": {
        "betreiber": {"source": "Operator"}, "gibtsnicht": {"source": "street"}}})
    with pytest.raises(Invalid) as caught:
        apply_mapping(con, "src", SOURCE_COLUMNS, mapping, _schema("betreiber"))
    errors = {e.field: e.message for e in caught.value.field_errors}
    assert "„betreiber“" in errors["betreiber"] and "„Operator“" in errors["betreiber"]
    assert "gibt es in der Datei nicht" in errors["betreiber"]
    assert errors["gibtsnicht"] == "Das Feld „gibtsnicht“ gibt es im Schema „test“ nicht."
    assert not con.execute("SELECT count(*) FROM duckdb_tables() WHERE table_name = 'mapped'"
                           ).fetchone()[0]


@pytest.mark.parametrize(("rule", "words"), [
    ({"source": ["street", "number"]}, "brauchen „join“, „fallback“ oder „crs“"),
    ({"source": ["x"], "transforms": [{"kind": "crs", "source_crs": "EPSG:25832"}]},
     "genau zwei Quellspalten"),
    ({"source": ["street"], "transforms": [{"kind": "geometry"}]}, "keine"),
    ({"source": ["street"], "constant": "x"}, "nicht beides"),
    ({"source": ["street"], "transforms": [{"kind": "number"}, {"kind": "join"}]},
     "nur die erste Umwandlung"),
])
def test_rules_that_cannot_work_are_rejected(con, rule, words):
    mapping = parse_mapping({"schema_name": "test", "fields": {"f": rule}})
    with pytest.raises(Invalid) as caught:
        apply_mapping(con, "src", SOURCE_COLUMNS, mapping, _schema("f"))
    assert caught.value.field_errors[0].field == "f"
    assert words in caught.value.field_errors[0].message


def test_mapping_for_another_schema_is_rejected(con):
    mapping = parse_mapping({"schema_name": "parkplaetze", "fields": {}})
    with pytest.raises(Invalid, match="gilt für das Schema „parkplaetze“"):
        apply_mapping(con, "src", SOURCE_COLUMNS, mapping, _schema())


@pytest.mark.parametrize(("data", "where", "words"), [
    ({"schema_name": "t", "fields": {"f": {"source": "a", "transforms": [{"kind": "zoom"}]}}},
     "fields.f.transforms.0", "unbekannte Umwandlung"),
    ({"schema_name": "t", "fields": {"f": {"source": "a", "transforms": [
        {"kind": "split", "pattern": "(a"}]}}}, "fields.f.transforms.0.split.pattern",
     "ungültiger regulärer Ausdruck"),
    ({"schema_name": "t", "fields": {"f": {"source": "a", "transforms": [
        {"kind": "split", "pattern": "(a)", "group": 2}]}}}, "fields.f.transforms.0.split",
     "keine Gruppe 2"),
    ({"schema_name": "t", "fields": {"f": {"source": "a", "transforms": [
        {"kind": "crs", "source_crs": "EPSG:999999"}]}}}, "fields.f.transforms.0.crs.source_crs",
     "unbekanntes Koordinatensystem"),
    ({"fields": {}}, "schema_name", "Angabe fehlt"),
    ({"schema_name": "t", "felder": {}}, "felder", "unbekannte Angabe"),
])
def test_malformed_mappings_get_german_messages(data, where, words):
    with pytest.raises(Invalid) as caught:
        parse_mapping(data)
    assert caught.value.code == "invalid_mapping"
    error = caught.value.field_errors[0]
    assert error.field == where and words in error.message


def test_mapping_file_round_trip(tmp_path):
    mapping = parse_mapping({"schema_name": "test", "schema_version": "1.0.0", "fields": {
        "plz": {"source": "plz_ort", "transforms": [{"kind": "split", "pattern": SPLIT}],
                "confidence": 0.8, "reason": "PLZ und Ort in einer Spalte"},
        "ags": {"constant": "05911000"}, "leer": {}}})
    path = tmp_path / "mapping.json"
    path.write_text(mapping.to_json(), encoding="utf-8")
    assert load_mapping(path) == mapping
    written = json.loads(path.read_text())
    assert written["fields"]["plz"]["source"] == ["plz_ort"]
    assert written["fields"]["plz"]["transforms"][0] == {"kind": "split", "pattern": SPLIT,
                                                         "group": 1}
    path.write_text("{kein json", encoding="utf-8")
    with pytest.raises(Invalid, match="kein gültiges JSON"):
        load_mapping(path)


def test_real_bnetza_file_mapped_onto_the_shipped_schema():
    schema = load_schema("ladesaeulen")
    mapping = parse_mapping({"schema_name": "ladesaeulen", "fields": {
        "betreiber": {"source": "Betreiber"},
        "plz": {"source": "Postleitzahl"},
        "geometry": {"source": "geometry"},
        "breitengrad": {"source": "geometry",
                        "transforms": [{"kind": "geometry", "output": "lat"}]},
        "inbetriebnahme": {"source": "Inbetriebnahmedatum"},
        "nennleistung_kw": {"source": "Anschlussleistung"},
        "ags": {"constant": "05315000"}}})
    with store.connection() as con:
        result = mapped_table_for_file(con, REALDATA / "bnetza_ladesaeulen_koeln_2022.csv",
                                       mapping, schema)
        assert result.rows == 292 and not result.errors
        assert result.fields == [f["name"] for f in schema["fields"]]
        first = con.execute("SELECT betreiber, plz, geometry, breitengrad, inbetriebnahme, "
                            "nennleistung_kw, ags, ort FROM mapped WHERE __row = 1").fetchone()
        assert first == ("LANXESS Deutschland GmbH", "50569", "POINT (6.97069 50.937417)",
                         "50.937417", "2021-07-22", "44", "05315000", None)
        powers = dict(con.execute("SELECT nennleistung_kw, count(*) FROM mapped GROUP BY 1"
                                  ).fetchall())
        # "3,5" (decimal comma) in 20 source rows, "44" in 174 (counted with cut/uniq)
        assert powers["3.5"] == 20 and powers["44"] == 174 and not any("," in p for p in powers)
