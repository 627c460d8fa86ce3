"""The tables capability: queries and exports straight from a Parquet table version."""

from __future__ import annotations

import csv
import io
import os
import subprocess
import threading
import zipfile
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, date, datetime, time
from pathlib import Path

import duckdb
import orjson
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import shapely
from python_calamine import CalamineWorkbook

from allmende.errors import BadRequest, Invalid, TooLarge
from allmende.tables import export as export_module
from allmende.tables import store
from allmende.tables.errors import QueryTimeout
from allmende.tables.export import export
from allmende.tables.query import (
    Metric,
    RowQuery,
    aggregate,
    count_rows,
    cursor,
    distinct,
    page_json,
    parse_metrics,
    parse_names,
    parse_query,
    select_rows,
    split_list,
)
from allmende.tables.schema import TableSchema

SCHEMA = [
    {"name": "Name", "type": "string"},
    {"name": "PLZ", "type": "string"},
    {"name": "Leistung [kW]", "type": "number"},
    {"name": "Anzahl", "type": "integer"},
    {"name": "Inbetriebnahme", "type": "date"},
    {"name": "Zeit", "type": "datetime"},
    {"name": "öffentlich", "type": "boolean"},
    {"name": "limit", "type": "integer"},
    {"name": "a__b", "type": "string"},
    {"name": "geometry", "type": "geometry"},
]
INJECTION = "x' OR '1'='1"
POINTS = [  # Dortmund, Bochum, Dortmund-Bövinghausen, Dortmund, Bochum, none
    (7.4653, 51.5136), (7.2162, 51.4818), (7.3325, 51.5139), (7.4600, 51.5100),
    (7.2200, 51.4800), None,
]
BOCHUM = "7.1,51.4,7.3,51.5"


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


@pytest.fixture
def table(tmp_path: Path) -> Path:
    shapes = [shapely.Point(p) if p else None for p in POINTS]
    envelopes = [shapely.bounds(s) if s is not None else [None] * 4 for s in shapes]
    data = pa.table({
        "Name": ["Müller Straße", "Öko-Anlage Bochum", "Zeche Zollern", "Ärztehaus", None,
                 INJECTION],
        "PLZ": ["04109", "44787", "44388", "44135", "44791", "04109"],
        "Leistung [kW]": pa.array([3.7, 10.5, None, 99.9, 0.5, 7.25], pa.float64()),
        "Anzahl": pa.array([1, 2, 3, 4, 5, None], pa.int64()),
        "Inbetriebnahme": pa.array([date(2024, 5, 1), date(2023, 1, 15), date(1966, 3, 1),
                                    date(2024, 12, 24), None, date(2024, 5, 1)]),
        "Zeit": pa.array([utc(2024, 5, 1, 12), utc(2023, 1, 15, 8, 30), utc(2020, 1, 1),
                          utc(2024, 12, 24, 18), None, utc(2024, 5, 1, 23, 59)],
                         pa.timestamp("us", tz="UTC")),
        "öffentlich": [True, False, True, None, False, True],
        "limit": pa.array([10, 20, 30, 40, 50, 60], pa.int64()),
        "a__b": ["eins", "zwei", "drei", "vier", "fünf", "sechs"],
        "geometry": pa.array([None if s is None else shapely.to_wkb(s) for s in shapes],
                             pa.binary()),
        "__minx": pa.array([e[0] for e in envelopes], pa.float64()),
        "__miny": pa.array([e[1] for e in envelopes], pa.float64()),
        "__maxx": pa.array([e[2] for e in envelopes], pa.float64()),
        "__maxy": pa.array([e[3] for e in envelopes], pa.float64()),
    })
    path = tmp_path / "v1.parquet"
    pq.write_table(data, path)
    return path


PLAIN_SCHEMA = [
    {"name": "Titel", "type": "string"},
    {"name": 'Spalte "x"; y.z', "type": "integer"},
    {"name": "Meta", "type": "json"},
    {"name": "Uhrzeit", "type": "time"},
    {"name": '"; DROP TABLE x; --', "type": "string"},
]


@pytest.fixture
def plain(tmp_path: Path) -> Path:
    data = pa.table({
        "Titel": ["a", "b", "c"],
        'Spalte "x"; y.z': pa.array([3, 1, 2], pa.int64()),
        "Meta": ['{"k": [1, 2]}', None, '"text"'],
        "Uhrzeit": pa.array([time(8, 0), time(14, 30, 5), None], pa.time64("us")),
        '"; DROP TABLE x; --': ["p", "q", "r"],
    })
    path = tmp_path / "plain.parquet"
    pq.write_table(data, path)
    return path


def rows(path: Path, params: dict | list, schema: list = SCHEMA) -> list[dict]:
    return select_rows(path, schema, parse_query(params, schema)).rows


def names(path: Path, params: dict | list) -> list[str | None]:
    return [r["Name"] for r in rows(path, params)]


def field_errors(error: pytest.ExceptionInfo) -> dict[str, str]:
    return {f.field: f.message for f in error.value.field_errors}


# --- rows ---------------------------------------------------------------------------------

def test_page_json_is_kept_per_file_and_query(table: Path, monkeypatch: pytest.MonkeyPatch
                                              ) -> None:
    import allmende.tables.query as query_module

    calls: list[RowQuery] = []
    original = query_module.select_rows

    def counting(path, schema, query, **kwargs):
        calls.append(query)
        return original(path, schema, query, **kwargs)

    monkeypatch.setattr(query_module, "select_rows", counting)
    query_module.clear_caches()
    plz = parse_query({"PLZ": "04109"}, SCHEMA)
    first = page_json(table, SCHEMA, plz)
    assert orjson.loads(first.body)["total"] == 2 and first.rows == 2
    assert page_json(table, SCHEMA, plz) == first
    assert len(calls) == 1
    other = page_json(table, SCHEMA, parse_query({"limit": "4"}, SCHEMA))
    assert orjson.loads(other.body)["total"] == 6 and other.rows == 4 and len(calls) == 2
    copy = table.with_name("copy.parquet")  # another version file: its own answers
    copy.write_bytes(table.read_bytes())
    assert page_json(copy, SCHEMA, plz) == first and len(calls) == 3


def test_rows_shape_and_json_values(table: Path) -> None:
    result = select_rows(table, SCHEMA, parse_query({}, SCHEMA))
    assert result.total == 6
    assert result.fields == SCHEMA
    first = result.rows[0]
    assert list(first) == [c["name"] for c in SCHEMA]  # hidden envelope columns dropped
    assert first["Name"] == "Müller Straße"
    assert first["PLZ"] == "04109"
    assert first["Leistung [kW]"] == 3.7
    assert first["Anzahl"] == 1
    assert first["Inbetriebnahme"] == "2024-05-01"
    assert first["Zeit"] == "2024-05-01T12:00:00Z"
    assert first["öffentlich"] is True
    assert first["geometry"] == {"type": "Point", "coordinates": [7.4653, 51.5136]}
    assert result.rows[5]["geometry"] is None
    assert result.rows[5]["Anzahl"] is None
    orjson.dumps(result.as_dict())  # JSON-ready as is


def test_json_and_time_values_and_odd_column_names(plain: Path) -> None:
    result = rows(plain, {"sort": '-"Spalte ""x""; y.z"'}, PLAIN_SCHEMA)
    assert [r["Titel"] for r in result] == ["a", "c", "b"]
    assert result[0]["Meta"] == {"k": [1, 2]}
    assert result[1]["Meta"] == "text"
    assert result[0]["Uhrzeit"] == "08:00:00"
    assert result[0]['"; DROP TABLE x; --'] == "p"
    assert rows(plain, {"filter.Spalte \"x\"; y.z__gte": "2"}, PLAIN_SCHEMA)[0]["Titel"] == "a"
    assert [r["Titel"] for r in rows(plain, {"Uhrzeit__gt": "9:00"}, PLAIN_SCHEMA)] == ["b"]
    assert [r["Titel"] for r in rows(plain, {"Meta__contains": "K"}, PLAIN_SCHEMA)] == ["a"]


def test_equals_keeps_strings_and_umlauts(table: Path) -> None:
    assert names(table, {"Name": "Ärztehaus"}) == ["Ärztehaus"]
    assert names(table, {"PLZ": "04109"}) == ["Müller Straße", INJECTION]
    assert names(table, {"Anzahl": "3"}) == ["Zeche Zollern"]
    assert names(table, {"Leistung [kW]": "3,7"}) == ["Müller Straße"]
    assert names(table, {"Inbetriebnahme": "01.05.2024"}) == ["Müller Straße", INJECTION]
    assert names(table, {"öffentlich": "nein"}) == ["Öko-Anlage Bochum", None]


def test_in(table: Path) -> None:
    assert names(table, {"PLZ__in": "44787,44135"}) == ["Öko-Anlage Bochum", "Ärztehaus"]
    assert names(table, {"Anzahl__in": "1,5"}) == ["Müller Straße", None]
    assert names(table, {"Leistung [kW]__in": '"3,7",10.5'}) == ["Müller Straße",
                                                                  "Öko-Anlage Bochum"]


def test_comparisons(table: Path) -> None:
    assert names(table, {"Leistung [kW]__gt": "7,25"}) == ["Öko-Anlage Bochum", "Ärztehaus"]
    assert names(table, {"Leistung [kW]__gte": "7.25"}) == ["Öko-Anlage Bochum", "Ärztehaus",
                                                             INJECTION]
    assert names(table, {"Anzahl__lt": "2.5"}) == ["Müller Straße", "Öko-Anlage Bochum"]
    assert names(table, {"Anzahl__lte": "2"}) == ["Müller Straße", "Öko-Anlage Bochum"]
    assert names(table, {"Inbetriebnahme__lt": "2000-01-01"}) == ["Zeche Zollern"]
    assert names(table, {"Inbetriebnahme__gte": "24.12.2024"}) == ["Ärztehaus"]
    assert names(table, {"Zeit__gt": "2024-05-01T22:00:00Z"}) == ["Ärztehaus", INJECTION]
    assert names(table, {"Zeit__gt": "2024-05-02T02:00:00+02:00"}) == ["Ärztehaus"]
    assert names(table, {"Name__lt": "N"}) == ["Müller Straße"]  # binary (code point) order
    combined = {"Anzahl__gte": "2", "Anzahl__lte": "4"}
    assert names(table, combined) == ["Öko-Anlage Bochum", "Zeche Zollern", "Ärztehaus"]


def test_contains_is_case_insensitive(table: Path) -> None:
    assert names(table, {"Name__contains": "MÜLLER"}) == ["Müller Straße"]
    assert names(table, {"Name__contains": "öko"}) == ["Öko-Anlage Bochum"]
    assert names(table, {"Name__contains": "%"}) == []  # no LIKE wildcards


def test_null(table: Path) -> None:
    assert names(table, {"Leistung [kW]__null": "true"}) == ["Zeche Zollern"]
    assert len(rows(table, {"Name__null": "false"})) == 5
    assert names(table, {"geometry__null": "ja"}) == [INJECTION]


def test_reserved_and_double_underscore_columns_via_filter_prefix(table: Path) -> None:
    assert names(table, {"filter.limit": "20"}) == ["Öko-Anlage Bochum"]
    assert names(table, {"filter.limit__gte": "50"}) == [None, INJECTION]
    assert names(table, {"filter.a__b": "zwei"}) == ["Öko-Anlage Bochum"]
    assert names(table, {"filter.a__b__in": "eins,drei"}) == ["Müller Straße", "Zeche Zollern"]
    assert names(table, {"filter.Name__contains": "zeche"}) == ["Zeche Zollern"]
    with pytest.raises(Invalid) as error:
        parse_query({"a__b": "zwei"}, SCHEMA)
    assert "filter.a__b" in field_errors(error)["a__b"]
    # ``limit`` itself stays the page size
    assert len(rows(table, {"limit": "2"})) == 2


def test_sort(table: Path) -> None:
    assert names(table, {"sort": "-Anzahl"}) == [None, "Ärztehaus", "Zeche Zollern",
                                                 "Öko-Anlage Bochum", "Müller Straße", INJECTION]
    by_two = names(table, {"sort": "öffentlich,-Leistung [kW]"})
    assert by_two == ["Öko-Anlage Bochum", None, INJECTION, "Müller Straße", "Zeche Zollern",
                      "Ärztehaus"]
    assert names(table, {"sort": "PLZ,-Zeit"})[:2] == [INJECTION, "Müller Straße"]
    assert names(table, {"sort": "-limit"})[0] == INJECTION  # a column named like a parameter


def test_fields(table: Path) -> None:
    result = select_rows(table, SCHEMA, parse_query({"fields": "PLZ, Name"}, SCHEMA))
    assert result.fields == [{"name": "PLZ", "type": "string"}, {"name": "Name", "type": "string"}]
    assert result.rows[0] == {"PLZ": "04109", "Name": "Müller Straße"}
    with pytest.raises(Invalid) as error:
        parse_query({"fields": "Name,__minx"}, SCHEMA)
    assert "__minx" in field_errors(error)["fields"]


def test_limit_offset_and_total(table: Path) -> None:
    result = select_rows(table, SCHEMA, parse_query({"limit": "2", "offset": "1"}, SCHEMA))
    assert result.total == 6
    assert [r["Name"] for r in result.rows] == ["Öko-Anlage Bochum", "Zeche Zollern"]
    page = select_rows(table, SCHEMA, parse_query(
        {"PLZ__in": "04109,44787,44388", "sort": "-Anzahl", "limit": "1", "offset": "1"},
        SCHEMA))
    assert page.total == 4
    assert [r["Name"] for r in page.rows] == ["Öko-Anlage Bochum"]
    assert select_rows(table, SCHEMA, parse_query({"offset": "99"}, SCHEMA)).rows == []
    assert select_rows(table, SCHEMA, parse_query({"limit": "0"}, SCHEMA)).total == 6
    assert count_rows(table, SCHEMA, parse_query({"Anzahl__gt": "2"}, SCHEMA)) == 3


def test_limit_above_maximum_is_400(table: Path) -> None:
    with pytest.raises(BadRequest) as error:
        parse_query({"limit": "10001"}, SCHEMA)
    assert error.value.status == 400
    assert parse_query({"limit": "10000"}, SCHEMA).limit == 10_000
    assert parse_query({"limit": "20000", "format": "csv"}, SCHEMA).limit == 20_000
    with pytest.raises(Invalid):
        parse_query({"limit": "-1"}, SCHEMA)


def test_unknown_column_is_422_naming_it(table: Path) -> None:
    with pytest.raises(Invalid) as error:
        parse_query({"Strasse": "x", "sort": "-Höhe", "fields": "Name,Breite"}, SCHEMA)
    assert error.value.status == 422
    errors = field_errors(error)
    assert "„Strasse“" in errors["Strasse"]
    assert "„Höhe“" in errors["sort"]
    assert "„Breite“" in errors["fields"]
    with pytest.raises(Invalid) as error:
        parse_query({"filter.Nix__gt": "1"}, SCHEMA)
    assert "„Nix__gt“" in field_errors(error)["filter.Nix__gt"]
    with pytest.raises(Invalid) as error:
        parse_query({"Anzahl__between": "1"}, SCHEMA)
    assert "__between" in field_errors(error)["Anzahl__between"]


def test_bad_values_are_422_in_german(table: Path) -> None:
    params = {"Anzahl__gt": "viel", "Inbetriebnahme": "31.02.2024", "öffentlich": "vielleicht",
              "Zeit__lt": "gestern", "Name__null": "egal", "format": "pdf", "offset": "x"}
    with pytest.raises(Invalid) as error:
        parse_query(params, SCHEMA)
    errors = field_errors(error)
    assert set(errors) == set(params)
    assert "„viel“ ist keine Zahl" in errors["Anzahl__gt"]
    assert "„Anzahl“" in errors["Anzahl__gt"]
    assert "„31.02.2024“ ist kein gültiges Datum" in errors["Inbetriebnahme"]
    assert "„vielleicht“" in errors["öffentlich"]
    assert "„pdf“" in errors["format"]
    with pytest.raises(Invalid) as error:
        parse_query({"geometry": "POINT(1 2)", "öffentlich__gt": "ja"}, SCHEMA)
    assert set(field_errors(error)) == {"geometry", "öffentlich__gt"}
    with pytest.raises(Invalid):
        parse_query([("limit", "1"), ("limit", "2")], SCHEMA)


def test_bbox(table: Path) -> None:
    assert names(table, {"bbox": BOCHUM}) == ["Öko-Anlage Bochum", None]
    assert names(table, {"bbox": "7.4,51.5,7.5,51.6", "Anzahl__gt": "1"}) == ["Ärztehaus"]
    assert names(table, {"bbox": "7.3,51.51,7.34,51.52"}) == ["Zeche Zollern"]
    assert names(table, {"bbox": "7.2162,51.4818,7.2162,51.4818"}) == ["Öko-Anlage Bochum"]
    assert names(table, {"bbox": "51.4,7.1,51.6,7.5"}) == []  # lat/lon swapped: nothing
    assert len(rows(table, {"bbox": "-180,-90,180,90"})) == 5
    total = select_rows(table, SCHEMA, parse_query({"bbox": BOCHUM}, SCHEMA)).total
    assert total == 2
    for bad in ("7,51,8", "8,51,7,52", "a,b,c,d", "7,51,200,52"):
        with pytest.raises(Invalid) as error:
            parse_query({"bbox": bad}, SCHEMA)
        assert "bbox" in field_errors(error)


def test_bbox_on_table_without_geometry(plain: Path) -> None:
    with pytest.raises(Invalid) as error:
        parse_query({"bbox": BOCHUM}, PLAIN_SCHEMA)
    assert "Geometrie" in field_errors(error)["bbox"]


def test_multidict_and_repeated_filters(table: Path) -> None:
    query = parse_query([("Anzahl__gt", "1"), ("Anzahl__lt", "4"), ("version", "3")], SCHEMA)
    assert names(table, [("Anzahl__gt", "1"), ("Anzahl__lt", "4")]) == [
        "Öko-Anlage Bochum", "Zeche Zollern"]
    assert len(query.filters) == 2
    assert parse_query({"token": "x"}, SCHEMA, ignore={"token"}) == RowQuery()
    assert split_list('a,"b,c",-"d""e",f:"g,h"') == ["a", "b,c", "-d\"e", "f:g,h"]


# --- injection ----------------------------------------------------------------------------

def test_injection_in_values_is_data(table: Path) -> None:
    assert names(table, {"Name": INJECTION}) == [INJECTION]
    assert names(table, {"Name__contains": "' OR 1=1 --"}) == []
    assert names(table, {"PLZ__in": f"{INJECTION},04109"}) == ["Müller Straße", INJECTION]
    assert len(rows(table, {})) == 6  # the table is intact


def test_injection_in_column_names_is_rejected_or_quoted(table: Path, plain: Path) -> None:
    evil = '"; DROP TABLE x; --'
    for params in ({evil: "1"}, {"sort": evil}, {"fields": evil},
                   {f"filter.{evil}": "x"}, {'Name" = Name OR "1': "x"}):
        with pytest.raises(Invalid):
            parse_query(params, SCHEMA)
    # where such a column really exists, it is just a column
    assert [r["Titel"] for r in rows(plain, {f"filter.{evil}": "q"}, PLAIN_SCHEMA)] == ["b"]
    assert rows(plain, {"fields": f'"{evil.replace(chr(34), 2 * chr(34))}"'},
                PLAIN_SCHEMA)[0] == {evil: "p"}


# --- distinct and aggregates --------------------------------------------------------------

def test_distinct(table: Path) -> None:
    result = distinct(table, SCHEMA, "PLZ")
    assert result.total == 5
    assert result.values[0] == {"value": "04109", "count": 2}
    by_value = distinct(table, SCHEMA, "öffentlich", order="value")
    assert by_value.values == [{"value": False, "count": 2}, {"value": True, "count": 3},
                               {"value": None, "count": 1}]
    filtered = distinct(table, SCHEMA, "PLZ", query=parse_query({"bbox": BOCHUM}, SCHEMA),
                        limit=1, order="value")
    assert filtered.total == 2
    assert filtered.values == [{"value": "44787", "count": 1}]
    with pytest.raises(Invalid):
        distinct(table, SCHEMA, "Nix")
    with pytest.raises(BadRequest):
        distinct(table, SCHEMA, "PLZ", limit=10_001)


def test_aggregate_grouped(table: Path) -> None:
    metrics = parse_metrics("count,sum:Leistung [kW],avg:Anzahl,min:Inbetriebnahme,"
                            "max:Zeit,count_distinct:öffentlich", SCHEMA)
    result = aggregate(table, SCHEMA, group_by=parse_names("PLZ", SCHEMA), metrics=metrics)
    assert result.total == 5
    assert [f["name"] for f in result.fields] == [
        "PLZ", "count", "sum(Leistung [kW])", "avg(Anzahl)", "min(Inbetriebnahme)",
        "max(Zeit)", "count_distinct(öffentlich)"]
    first = result.rows[0]
    assert first == {"PLZ": "04109", "count": 2, "sum(Leistung [kW])": 10.95,
                     "avg(Anzahl)": 1.0, "min(Inbetriebnahme)": "2024-05-01",
                     "max(Zeit)": "2024-05-01T23:59:00Z", "count_distinct(öffentlich)": 1}
    total = aggregate(table, SCHEMA, metrics=[("count", None), ("sum", "Anzahl")],
                      query=parse_query({"öffentlich": "true"}, SCHEMA))
    assert total.rows == [{"count": 3, "sum(Anzahl)": 4}]
    assert total.fields[1] == {"name": "sum(Anzahl)", "type": "integer"}
    two = aggregate(table, SCHEMA, group_by=["öffentlich", "PLZ"], metrics=[Metric("count")],
                    limit=2)
    assert two.total == 5 and len(two.rows) == 2
    assert two.rows[0] == {"öffentlich": False, "PLZ": "44787", "count": 1}
    for bad in ([("sum", "Name")], [("median", "Anzahl")], [("avg", None)]):
        with pytest.raises(Invalid):
            aggregate(table, SCHEMA, metrics=bad)
    with pytest.raises(Invalid):
        aggregate(table, SCHEMA, group_by=["Nix"])


# --- exports ------------------------------------------------------------------------------

def exported(path: Path, params: dict, schema: list = SCHEMA) -> tuple[str, bytes]:
    stream = export(path, schema, parse_query(params, schema))
    return stream.media_type, stream.read_all()


def test_export_csv(table: Path) -> None:
    media, body = exported(table, {"format": "csv", "sort": "Anzahl"})
    assert media.startswith("text/csv")
    records = list(csv.reader(io.StringIO(body.decode("utf-8"))))
    assert records[0] == [c["name"] for c in SCHEMA]
    assert records[1][:7] == ["Müller Straße", "04109", "3.7", "1", "2024-05-01",
                              "2024-05-01T12:00:00Z", "true"]
    assert records[1][9] == "POINT (7.4653 51.5136)"
    assert len(records) == 7
    assert records[6][0] == INJECTION and records[6][3] == ""


def test_export_csv_de(table: Path) -> None:
    _, body = exported(table, {"format": "csv-de", "fields": "Name,Leistung [kW],"
                                                             "Inbetriebnahme,öffentlich"})
    assert body.startswith(b"\xef\xbb\xbf")
    records = list(csv.reader(io.StringIO(body.decode("utf-8-sig")), delimiter=";"))
    assert records[0] == ["Name", "Leistung [kW]", "Inbetriebnahme", "öffentlich"]
    assert records[1] == ["Müller Straße", "3,7", "01.05.2024", "WAHR"]
    assert records[3] == ["Zeche Zollern", "", "01.03.1966", "WAHR"]
    assert b";3,7;" in body


FORMULAS = ["=HYPERLINK(\"http://x\")", "+49 231 0", "-Sonderfall", "@SUMME(A1)", "\tTab",
            "\rZeile", "ohne Formel", None]


def test_csv_de_neutralizes_formulas_in_text_cells_and_keeps_numbers(tmp_path: Path) -> None:
    path = tmp_path / "formeln.parquet"
    pq.write_table(pa.table({
        "=Spalte": FORMULAS, "Wert": pa.array([-3.5, 1.0, -2.0, 0.5, 7.0, 8.0, 9.0, None]),
        "Meta": ['"=1+2"', None, None, None, None, None, None, None]}), path)
    schema = [{"name": "=Spalte", "type": "string"}, {"name": "Wert", "type": "number"},
              {"name": "Meta", "type": "json"}]

    def export_as(fmt: str) -> list[list[str]]:
        body = export(path, schema, parse_query([], schema), fmt).read_all()
        text = body.decode("utf-8-sig")
        return list(csv.reader(io.StringIO(text, newline=""), delimiter=";" if fmt == "csv-de"
                               else ","))

    german = export_as("csv-de")
    assert german[0] == ["'=Spalte", "Wert", "Meta"]
    assert [r[0] for r in german[1:]] == ["'" + f for f in FORMULAS[:6]] + ["ohne Formel", ""]
    assert [r[1] for r in german[1:]] == ["-3,5", "1", "-2", "0,5", "7", "8", "9", ""]
    assert german[1][2] == '"=1+2"'  # JSON text starts with a quote: no formula
    plain = export_as("csv")  # data for programs: as stored
    assert plain[0][0] == "=Spalte" and [r[0] for r in plain[1:7]] == FORMULAS[:6]


def test_export_json_with_filters_limit_offset(table: Path) -> None:
    media, body = exported(table, {"format": "json", "Anzahl__gte": "2", "sort": "-Anzahl",
                                   "limit": "2", "offset": "1"})
    assert media == "application/json"
    data = orjson.loads(body)
    assert [r["Name"] for r in data] == ["Ärztehaus", "Zeche Zollern"]
    assert data[0]["geometry"] == {"type": "Point", "coordinates": [7.46, 51.51]}
    assert data[0]["Zeit"] == "2024-12-24T18:00:00Z"
    assert orjson.loads(exported(table, {"format": "json", "Name": "nix"})[1]) == []
    assert len(orjson.loads(exported(table, {"format": "json"})[1])) == 6  # no page cap


def test_export_geojson(table: Path) -> None:
    media, body = exported(table, {"format": "geojson", "fields": "Name,Anzahl"})
    assert media == "application/geo+json"
    data = orjson.loads(body)
    assert data["type"] == "FeatureCollection"
    assert len(data["features"]) == 6
    feature = data["features"][1]
    assert feature["type"] == "Feature"
    assert feature["geometry"] == {"type": "Point", "coordinates": [7.2162, 51.4818]}
    assert feature["properties"] == {"Name": "Öko-Anlage Bochum", "Anzahl": 2}
    assert data["features"][5]["geometry"] is None
    _, all_fields = exported(table, {"format": "geojson", "bbox": BOCHUM})
    features = orjson.loads(all_fields)["features"]
    assert len(features) == 2
    assert "geometry" not in features[0]["properties"]
    assert "__minx" not in features[0]["properties"]


def test_export_geojson_without_geometry_is_400(plain: Path) -> None:
    with pytest.raises(BadRequest) as error:
        export(plain, PLAIN_SCHEMA, parse_query({"format": "geojson"}, PLAIN_SCHEMA))
    assert error.value.status == 400


def test_export_parquet(table: Path) -> None:
    media, body = exported(table, {"format": "parquet", "öffentlich": "true",
                                   "sort": "-Leistung [kW]"})
    assert media == "application/vnd.apache.parquet"
    result = pq.read_table(io.BytesIO(body))
    assert result.column_names == [c["name"] for c in SCHEMA]
    assert result.column("Name").to_pylist() == [INJECTION, "Müller Straße", "Zeche Zollern"]
    assert result.column("PLZ").to_pylist()[1] == "04109"
    point = shapely.from_wkb(result.column("geometry").to_pylist()[1])
    assert (point.x, point.y) == (7.4653, 51.5136)
    assert b"geo" in result.schema.metadata


def test_export_xlsx(table: Path, tmp_path: Path) -> None:
    media, body = exported(table, {"format": "xlsx", "sort": "Anzahl"})
    assert media.endswith("spreadsheetml.sheet")
    assert "xl/worksheets/sheet1.xml" in zipfile.ZipFile(io.BytesIO(body)).namelist()
    target = tmp_path / "out.xlsx"
    target.write_bytes(body)
    sheet = CalamineWorkbook.from_path(str(target)).get_sheet_by_name("Daten").to_python()
    assert sheet[0][:4] == ["Name", "PLZ", "Leistung [kW]", "Anzahl"]
    assert sheet[1][0] == "Müller Straße"
    assert sheet[1][1] == "04109"
    assert sheet[1][2] == 3.7
    assert sheet[1][4] == date(2024, 5, 1)
    assert sheet[1][6] is True
    assert sheet[1][9] == "POINT (7.4653 51.5136)"
    assert len(sheet) == 7



def test_export_xlsx_is_dated_by_the_version_not_the_clock(table: Path) -> None:
    """Two downloads of one selection are the same bytes: a workbook dated by the clock
    differed whenever the downloads fell into different seconds."""
    written = datetime(2024, 5, 1, 8, 30, 15, tzinfo=UTC)
    os.utime(table, (written.timestamp(), written.timestamp()))
    _, body = exported(table, {"format": "xlsx"})
    core = zipfile.ZipFile(io.BytesIO(body)).read("docProps/core.xml").decode()
    assert '<dcterms:created xsi:type="dcterms:W3CDTF">2024-05-01T08:30:15Z' in core
    assert exported(table, {"format": "xlsx"})[1] == body

def test_export_xlsx_beyond_sheet_limit_is_413(table: Path,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(export_module, "XLSX_MAX_ROWS", 5)
    with pytest.raises(TooLarge) as error:
        export(table, SCHEMA, parse_query({"format": "xlsx"}, SCHEMA))
    assert error.value.status == 413
    assert "CSV" in error.value.message
    export(table, SCHEMA, parse_query({"format": "xlsx", "limit": "5"}, SCHEMA))  # fits


def test_export_formula_like_strings_stay_text(tmp_path: Path) -> None:
    path = tmp_path / "f.parquet"
    pq.write_table(pa.table({"T": ["=1+1", "https://example.org"]}), path)
    schema = [{"name": "T", "type": "string"}]
    body = export(path, schema, parse_query({}, schema), "xlsx").read_all()
    target = tmp_path / "f.xlsx"
    target.write_bytes(body)
    sheet = CalamineWorkbook.from_path(str(target)).get_sheet_by_name("Daten").to_python()
    assert sheet[1] == ["=1+1"] and sheet[2] == ["https://example.org"]


def test_export_streams_in_batches(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(export_module, "BATCH_ROWS", 1000)
    path = tmp_path / "big.parquet"
    pq.write_table(pa.table({"n": pa.array(range(5000), pa.int64())}), path)
    schema = [{"name": "n", "type": "integer"}]
    for fmt in ("csv", "json", "parquet"):
        stream = export(path, schema, parse_query({"format": fmt, "limit": "12000"}, schema))
        chunks = list(stream.chunks)
        assert len(chunks) >= 5, fmt
    data = orjson.loads(export(path, schema, RowQuery(), "json").read_all())
    assert data[-1] == {"n": 4999} and len(data) == 5000


def test_export_unknown_format(table: Path) -> None:
    with pytest.raises(Invalid):
        export(table, SCHEMA, RowQuery(), "pdf")


# --- engine -------------------------------------------------------------------------------

def test_query_time_limit_interrupts() -> None:
    with pytest.raises(QueryTimeout) as error, cursor(timeout=0.05) as cur:
        cur.execute("SELECT sum(hash(a * b)) FROM range(100000) t(a), range(100000) u(b)")
    assert error.value.status == 503


def test_schema_drops_hidden_columns_and_rejects_case_duplicates() -> None:
    schema = TableSchema.of([*SCHEMA, {"name": "__minx", "type": "number"}])
    assert "__minx" not in schema.names
    with pytest.raises(ValueError, match="duplicate"):
        TableSchema.of([{"name": "A", "type": "string"}, {"name": "a", "type": "string"}])


def test_wall_clock_datetimes_and_nan_envelopes(tmp_path: Path) -> None:
    path = tmp_path / "naive.parquet"
    nan = float("nan")
    pq.write_table(pa.table({
        "T": pa.array([datetime(2024, 5, 1, 12), datetime(2024, 5, 2, 8)], pa.timestamp("us")),
        "geometry": pa.array([shapely.to_wkb(shapely.Point(7.2, 51.48)), None], pa.binary()),
        "__minx": [7.2, nan], "__miny": [51.48, nan], "__maxx": [7.2, nan],
        "__maxy": [51.48, nan],
    }), path)
    schema = [{"name": "T", "type": "datetime"}, {"name": "geometry", "type": "geometry"}]
    assert [r["T"] for r in rows(path, {}, schema)] == ["2024-05-01T12:00:00",
                                                       "2024-05-02T08:00:00"]
    assert [r["T"] for r in rows(path, {"T__gt": "2024-05-01 13:00"}, schema)] == [
        "2024-05-02T08:00:00"]
    assert len(rows(path, {"bbox": BOCHUM}, schema)) == 1
    assert len(rows(path, {"bbox": "-180,-90,180,90"}, schema)) == 1
    _, body = exported(path, {"format": "csv-de"}, schema)
    assert "01.05.2024 12:00:00" in body.decode("utf-8-sig")


def test_a_sweep_removes_what_a_killed_process_was_receiving_at_once(tmp_path):
    """A staged upload carries its process: once that process is gone (a web server killed
    mid-upload), the next sweep removes it, young as it is — unless a job needs it. Uploads of
    living processes, and those named before uploads carried their process, wait ten minutes."""
    folder = store.uploads_folder(tmp_path)
    folder.mkdir(parents=True)
    ended = subprocess.Popen(["true"])
    ended.wait()
    mine = store.staged_upload(folder)
    dead, needed = (folder / mine.name.replace(f"-{os.getpid()}-", f"-{ended.pid}-", 1)
                    .replace(".upload", f"{n}.upload") for n in "ab")
    legacy = folder / "0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0.upload"
    for path in (mine, dead, needed, legacy):
        path.write_text("Messstelle;Wert\nDOBR;31,5\n", encoding="utf-8")

    removed = store.sweep_scratch(tmp_path, staged_in_use=[str(needed)])

    assert removed == [dead]
    assert mine.exists() and needed.exists() and legacy.exists()


# --- DuckDB connections of operations ---------------------------------------------------------

@pytest.fixture
def databases(monkeypatch: pytest.MonkeyPatch) -> list[object]:
    """The DuckDB databases store.connection opens from here on (none kept from before)."""
    opened: list[object] = []
    connect = duckdb.connect

    def counting(*args: object, **kwargs: object) -> object:
        opened.append(connect(*args, **kwargs))
        return opened[-1]

    monkeypatch.setattr(store, "_idle", [])
    monkeypatch.setattr(duckdb, "connect", counting)
    return opened


def _leftovers(con: duckdb.DuckDBPyConnection) -> list[str]:
    """What an operation could have left: tables, views, temporary tables, macros."""
    found = con.execute("SELECT table_name FROM duckdb_tables() UNION ALL "
                        "SELECT view_name FROM duckdb_views() WHERE NOT internal UNION ALL "
                        "SELECT function_name FROM duckdb_functions() "
                        "WHERE function_type = 'macro' AND NOT internal").fetchall()
    return sorted(name for (name,) in found)


def test_an_operation_sees_nothing_of_the_one_before_on_a_reused_database(databases, tmp_path):
    with store.connection(tmp_path / "spill") as con:
        assert _leftovers(con) == []
        con.execute("CREATE TABLE raw AS SELECT 1 AS x")
        con.execute("CREATE TEMP TABLE zwischen AS SELECT 2 AS y")
        con.execute("CREATE VIEW sicht AS SELECT * FROM raw")
        con.execute("CREATE MACRO doppelt(t) AS t * 2")
        con.register("pfeil", pa.table({"z": [3]}))
        assert {"raw", "zwischen", "sicht", "doppelt"} <= set(_leftovers(con))
    with store.connection(tmp_path / "spill") as con:
        assert _leftovers(con) == []
        with pytest.raises(duckdb.CatalogException):
            con.execute("SELECT * FROM pfeil")
        memory = con.execute("SELECT current_setting('memory_limit')").fetchone()[0]
        assert memory == duckdb.connect(config={"memory_limit": store.DUCKDB_MEMORY_LIMIT}) \
            .execute("SELECT current_setting('memory_limit')").fetchone()[0]
    assert len(databases) == 2  # one for both operations, one for the comparison


def test_a_failed_or_spilled_operation_leaves_its_database_closed(databases, tmp_path):
    with pytest.raises(duckdb.CatalogException), store.connection() as con:
        con.execute("SELECT * FROM gibt_es_nicht")
    spill = tmp_path / "spill"
    with store.connection(spill) as con:
        spill.mkdir()  # as DuckDB makes it when a query does not fit into memory
        con.execute("SELECT 1")
    with store.connection(tmp_path / "anderswo") as con:
        setting = con.execute("SELECT current_setting('temp_directory')").fetchone()[0]
    assert setting == str(tmp_path / "anderswo")
    assert len(databases) == 3  # a new one after each


def test_concurrent_operations_get_databases_of_their_own(databases, tmp_path):
    barrier = threading.Barrier(3)

    def operation(n: int) -> list[tuple[int]]:
        with store.connection(tmp_path / f"spill-{n}") as con:
            con.execute("CREATE TABLE raw AS SELECT ? AS x", [n])
            barrier.wait(timeout=30)
            return con.execute("SELECT x FROM raw").fetchall()

    with ThreadPoolExecutor(max_workers=3) as pool:
        assert list(pool.map(operation, range(3))) == [[(0,)], [(1,)], [(2,)]]
    assert len(databases) == 3
