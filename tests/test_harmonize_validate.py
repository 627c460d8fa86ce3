"""Validation against frictionless-py 5, the judge: same error counts per type, no other type."""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

import duckdb
import frictionless
import pytest
from hypothesis import given
from hypothesis import strategies as st
from typer.testing import CliRunner

from allmende import sql
from allmende.cli import app
from allmende.harmonize.validate import (
    register_functions,
    typed_expressions,
    validate_columns,
    validate_file,
)
from properties import property_test

DATA = Path(__file__).parent / "data"
REAL = DATA / "realdata" / "bnetza_ladesaeulen_koeln_2022.csv"

SCHEMA: dict[str, Any] = {
    "fields": [
        {"name": "id", "type": "integer", "constraints": {"required": True, "minimum": 1}},
        {"name": "code", "type": "string",
         "constraints": {"pattern": "[A-Z]{2}-[0-9]+", "unique": True, "maxLength": 8}},
        {"name": "betrag", "type": "number", "decimalChar": ",", "groupChar": ".",
         "constraints": {"minimum": 0, "maximum": "1.000,5"}},
        {"name": "anzahl", "type": "integer", "bareNumber": False,
         "constraints": {"enum": [1, 2, 3, 10]}},
        {"name": "aktiv", "type": "boolean", "trueValues": ["ja", "J"], "falseValues": ["nein"]},
        {"name": "datum", "type": "date", "constraints": {"minimum": "2000-01-01"}},
        {"name": "tag", "type": "date", "format": "%d.%m.%Y"},
        {"name": "zeit", "type": "datetime"},
        {"name": "jahr", "type": "year", "constraints": {"maximum": 2099}},
        {"name": "art", "type": "string", "constraints": {"enum": ["A", "B"], "minLength": 1}},
        {"name": "mail", "type": "string", "format": "email"},
        {"name": "web", "type": "string", "format": "uri"},
        {"name": "kennung", "type": "string", "format": "uuid", "constraints": {"unique": True}},
        {"name": "wert", "type": "number", "constraints": {"unique": True}},
        {"name": "uhr", "type": "time"},
    ],
    "primaryKey": ["id", "art"],
    "missingValues": ["", "-", "NA"],
}

TOKENS = {
    "id": ["1", "2", "3", "0", "-4", " 5 ", "+6", "007", "1_000", "1.0", "x", "1e3", "-", "-0",
           "9223372036854775808", "123456789012345678901234", "1" * 19],
    "code": ["AB-1", "AB-1", "CD-22", "ab-1", "AB-123456", "AB-1\n", "", "XY-9", "A-1"],
    "betrag": ["1,5", "1.000,5", "1.000,6", "-1", "1.5", "NaN", "Infinity", "1e2", ",5",
               "2,", "x", "1.2.3,4", "NA", "0", "-0,0", "12,50", "1000,50", "--1", "1,5,0",
               "+-1,5", " 7,5 ", "1.5,0"],
    "anzahl": ["1", "2", "€ 3", "10 Stück", "4", "abc", "-2", "3.0", ""],
    "aktiv": ["ja", "J", "nein", "true", "1", "Ja", "", " ja"],
    "datum": ["2020-01-05", "2020-1-5", "1999-12-31", "2020-02-30", "2020-01-5", "05.01.2020",
              " 2020-01-05", "2020-01-123", "", "0000-01-01", "0999-12-31", "2020-13-01",
              "2020-00-10", "2020-12-00", "2020-02-29", "2021-02-29", "10000-01-01"],
    "tag": ["05.01.2020", "5.1.2020", "31.02.2020", "2020-01-05", "05.01.20", "", "00.01.2020",
            "31.04.2020", "01.13.2020", "01.01.0000", "29.02.2024", "01.01.0999"],
    "zeit": ["2020-01-05T10:00:00", "2020-01-05T10:00:00Z", "2020-01-05 10:00:00+01:00",
             "2020-01-05T10:00", "2020-01-05", "2020-01-05T25:00:00", ""],
    "jahr": ["2020", "2100", "0999", "999", "+999", "20x0", "-999", " 999", ""],
    "art": ["A", "B", "C", "a", "", "-"],
    "mail": ["a@example.com", "a.b@sub.example.de", "a@b", "a@@b.de", "@b.de", "a b@c.de",
             "ä@example.com", ""],
    "web": ["https://example.com", "mailto:a@b", "example.com", "1http://x", "a+b:c", ""],
    "kennung": ["2bc1c94f-0deb-43e9-92a1-4775189ec9f8", "{2bc1c94f0deb43e992a14775189ec9f8}",
                "urn:uuid:2bc1c94f-0deb-43e9-92a1-4775189ec9f8", "2bc1c94f", "xyz", ""],
    "wert": ["1", "1.0", "1.00", "2", "nan", "NaN", "-0", "0", "1e0", "inf", "Infinity", "",
             "0.5", ".5", "5.", "+0.5", "1_0.5", "00.5", "+-1", "-+1", " 3 ", "1__0", "1e-3",
             "-inf"],
    "uhr": ["10:00:00", "10:00", "10:00:00Z", "25:00:00", "10:00:00+02:00", ""],
}


def frictionless_counts(path: Path, schema: dict[str, Any]) -> tuple[dict[str, int], int]:
    descriptor = json.loads(json.dumps(schema))
    descriptor.pop("x-allmende", None)
    for spec in descriptor["fields"]:
        if spec.get("type") == "geometry":
            spec["type"] = "string"
    with frictionless.system.use_context(trusted=True):
        report = frictionless.validate(
            str(path), schema=frictionless.Schema.from_descriptor(descriptor), limit_errors=0)
    counts: dict[str, int] = {}
    for (kind,) in report.flatten(["type"]):
        counts[kind] = counts.get(kind, 0) + 1
    return counts, report.tasks[0].stats.get("rows") or 0


def assert_same_as_frictionless(path: Path, schema: dict[str, Any]) -> None:
    ours = validate_file(path, schema)
    theirs, rows = frictionless_counts(path, schema)
    assert ours.errors == theirs, path.read_text(encoding="utf-8", errors="replace")[:2000]
    assert ours.rows == rows
    assert ours.valid == (not theirs)


def write_csv(path: Path, rows: list[list[str]], delimiter: str = ",") -> Path:
    with path.open("w", newline="", encoding="utf-8") as handle:
        csv.writer(handle, delimiter=delimiter).writerows(rows)
    return path


def test_every_cell_token_alone(tmp_path: Path) -> None:
    """Each token of each field in an otherwise valid row."""
    names = [f["name"] for f in SCHEMA["fields"]]
    good = ["1", "AB-1", "1,5", "1", "ja", "2020-01-05", "05.01.2020", "2020-01-05T10:00:00",
            "2020", "A", "a@example.com", "https://example.com",
            "2bc1c94f-0deb-43e9-92a1-4775189ec9f8", "7", "10:00:00"]
    rows = [names]
    for column, name in enumerate(names):
        for token in TOKENS[name]:
            row = list(good)
            row[column] = token
            rows.append(row)
    assert_same_as_frictionless(write_csv(tmp_path / "tokens.csv", rows), SCHEMA)


def test_row_and_label_errors(tmp_path: Path) -> None:
    path = tmp_path / "rows.csv"
    path.write_text("id,kode,id,,extra\n1,AB-1,2,,\n\n,,,,\n1,AB-1,3,4,5,6\n2,,,,\n"
                    "\"x\ny\",a,b,c,d\n1,AB-1,2,,\n3,XY,1\n", encoding="utf-8")
    schema = {"fields": [{"name": "id", "type": "integer", "constraints": {"unique": True}},
                         {"name": "code"}, {"name": "nr", "type": "integer"},
                         {"name": "leer"}],
              "primaryKey": ["id", "code"]}
    assert_same_as_frictionless(path, schema)
    report = validate_file(path, schema)
    assert {"blank-row", "extra-cell", "missing-cell", "duplicate-label", "blank-label",
            "extra-label", "incorrect-label", "primary-key", "unique-error",
            "type-error"} <= set(report.errors)
    assert report.samples[0].row == 1 and report.samples[-1].row is not None


def test_missing_labels_and_semicolons(tmp_path: Path) -> None:
    rows = [["a", "b"], ["1", "x"], ["2"], ["3", "y", "z"]] + [[str(i), "w"] for i in range(9)]
    path = write_csv(tmp_path / "semi.csv", rows, delimiter=";")
    schema = {"fields": [{"name": "a", "type": "integer"}, {"name": "b"},
                         {"name": "c", "constraints": {"required": True}}]}
    assert_same_as_frictionless(path, schema)
    # csv.Sniffer cannot decide on so few cells; frictionless then reads ',' and so do we.
    assert "missing-label" in validate_file(path, schema).errors


def test_real_file_with_duplicates() -> None:
    """The BNetzA extract (66 duplicate rows; decimal comma, dd.mm.yy dates) against a plain
    Table Schema with a primary key."""
    schema = json.loads((DATA / "bnetza_ladesaeulen_koeln_2022.schema.json").read_text())
    assert_same_as_frictionless(REAL, schema)
    report = validate_file(REAL, schema)
    assert report.rows == 292
    assert report.errors["primary-key"] >= 66


def test_real_file_fully_unique_row(tmp_path: Path) -> None:
    """With every column in the key, exactly the 66 exact duplicates are reported."""
    schema = json.loads((DATA / "bnetza_ladesaeulen_koeln_2022.schema.json").read_text())
    schema["primaryKey"] = [f["name"] for f in schema["fields"]]
    report = validate_file(REAL, schema)
    assert report.errors["primary-key"] == 66
    assert_same_as_frictionless(REAL, schema)


cell = st.one_of(
    st.sampled_from(sorted({t for tokens in TOKENS.values() for t in tokens})),
    st.text(alphabet="0123456789abcAB,.-+ _:eTZ@/äß\"'", max_size=8))


@property_test(examples=60, fixed_seed=20240806)
@given(rows=st.lists(st.lists(cell, min_size=0, max_size=len(SCHEMA["fields"]) + 2),
                     min_size=0, max_size=25),
       header_cut=st.integers(min_value=len(SCHEMA["fields"]) - 2,
                              max_value=len(SCHEMA["fields"]) + 1))
def test_random_rows_like_frictionless(tmp_path: Path, rows: list[list[str]],
                                       header_cut: int) -> None:
    names = [f["name"] for f in SCHEMA["fields"]]
    header = [*names, "zusatz"][:header_cut]
    # A row of one empty cell is written as an empty line.
    path = write_csv(tmp_path / "random.csv", [header, *rows])
    assert_same_as_frictionless(path, SCHEMA)


def test_doubled_quote_at_the_end_of_a_cell(tmp_path: Path) -> None:
    """Found by the property test: csv.Sniffer guesses ``doublequote=False`` for this row, and
    frictionless keeps only its delimiter, quote and skipinitialspace, so the cell is
    ``00000,0"`` (8 characters, within maxLength 8) – not ``00000,0""``."""
    names = [f["name"] for f in SCHEMA["fields"]]
    path = tmp_path / "quote.csv"
    path.write_text(",".join(names) + '\n,"00000,0""",\n', encoding="utf-8")
    assert_same_as_frictionless(path, SCHEMA)
    code = [s.message for s in validate_file(path, SCHEMA).samples if s.field == "code"]
    assert len(code) == 1 and "Muster" in code[0] and '„00000,0"“' in code[0]


def test_nan_in_a_primary_key_equals_nothing(tmp_path: Path) -> None:
    path = write_csv(tmp_path / "nan.csv", [["x", "y"], ["NaN", "a"], ["nan", "a"], ["1", "a"],
                                            ["1.0", "a"], ["", ""], ["NaN", ""], ["-0", "a"],
                                            ["0", "a"]])
    schema = {"fields": [{"name": "x", "type": "number"}, {"name": "y"}],
              "primaryKey": ["x", "y"]}
    assert_same_as_frictionless(path, schema)
    assert validate_file(path, schema).errors == {"primary-key": 3, "blank-row": 1}


def test_sum_rule_checks_only_rows_with_every_part(tmp_path: Path) -> None:
    path = write_csv(tmp_path / "einwohner.csv", [
        ["bezirk", "insgesamt", "maennlich", "weiblich", "divers"],
        ["Innenstadt-West", "100", "48", "51", "1"],
        ["Eving", "100", "48", "50", "1"],
        ["Hörde", "100", "48", "51", ""],
        ["Hombruch", "", "48", "51", "1"]])
    schema = {"fields": [{"name": "bezirk", "type": "string"},
                         *({"name": n, "type": "integer"} for n in
                           ("insgesamt", "maennlich", "weiblich", "divers"))],
              "x-allmende": {"rules": [{"type": "sum-equals", "field": "insgesamt",
                                        "of": ["maennlich", "weiblich", "divers"]}]}}
    report = validate_file(path, schema)
    assert report.errors == {"cross-field-error": 1}
    assert [(s.row, s.field) for s in report.samples] == [(3, "insgesamt")]


def test_x_allmende_checks_only_when_asked(tmp_path: Path) -> None:
    path = write_csv(tmp_path / "bau.csv", [
        ["id", "beginn", "ende", "geometry"],
        ["1", "2024-03-01", "2024-02-01", "POINT (7.46 51.51)"],
        ["2", "2024-03-01", "2024-04-01", "POINT (13.4 52.5)"],
        ["3", "2024-03-01", "", '{"type": "Point", "coordinates": [7.5, 51.5]}'],
        ["4", "2024-03-01", "2024-04-01", "kein Punkt"]])
    plain = {"fields": [{"name": "id", "type": "integer"}, {"name": "beginn", "type": "date"},
                        {"name": "ende", "type": "date"}, {"name": "geometry", "type": "geometry"}]}
    assert validate_file(path, plain).errors == {"type-error": 1}
    asking = {**plain, "x-allmende": {"rules": [{"type": "greater-or-equal", "field": "ende",
                                                 "than": "beginn"}], "areaCheck": True}}
    report = validate_file(path, asking, area=(7.3, 51.4, 7.7, 51.6))
    assert report.errors == {"type-error": 1, "cross-field-error": 1, "area-error": 1}
    assert [s.row for s in report.samples] == [2, 3, 5]


def test_report_completeness_and_score(tmp_path: Path) -> None:
    path = write_csv(tmp_path / "q.csv", [["a", "b"], ["1", ""], ["2", "x"], ["x", "y"],
                                          ["4", ""]])
    report = validate_file(path, {"fields": [{"name": "a", "type": "integer"},
                                             {"name": "b"}]})
    assert report.completeness == {"a": 1.0, "b": 0.5}
    # 60 × 3/4 error-free rows + 30 × 0.75 completeness + 10 × header
    assert report.score == pytest.approx(45 + 22.5 + 10)


def test_typed_expressions_cast_valid_cells() -> None:
    con = duckdb.connect()
    register_functions(con)
    con.execute("CREATE TABLE t AS SELECT * FROM (VALUES ('1,5', '05.01.2020', 'ja'), "
                "('x', '31.02.2020', 'nein'), ('', '', 'vielleicht')) v(betrag, tag, aktiv)")
    schema = {"fields": [{"name": "betrag", "type": "number", "decimalChar": ","},
                         {"name": "tag", "type": "date", "format": "%d.%m.%Y"},
                         {"name": "aktiv", "type": "boolean", "trueValues": ["ja"],
                          "falseValues": ["nein"]}]}
    typed = [f"{expression} AS {sql.ident(name)}"
             for name, expression in typed_expressions(schema).items()]
    rows = con.execute(sql.select(typed, "t")).fetchall()
    assert [(r[0], str(r[1]) if r[1] else None, r[2]) for r in rows] == [
        (1.5, "2020-01-05", True), (None, None, False), (None, None, None)]


def test_validate_columns_of_a_relation() -> None:
    con = duckdb.connect()
    con.execute("CREATE TABLE t AS SELECT * FROM (VALUES (2, '1', 'a'), (3, '1', 'b'), "
                "(4, 'x', NULL)) v(nr, id, name)")
    schema = {"fields": [{"name": "id", "type": "integer", "constraints": {"unique": True}},
                         {"name": "name", "constraints": {"required": True}}]}
    report = validate_columns(con, "t", schema, row_column="nr")
    assert report.errors == {"unique-error": 1, "type-error": 1, "constraint-error": 1}
    assert {s.row for s in report.samples} == {3, 4}


# --- CLI ------------------------------------------------------------------------------------

runner = CliRunner()


def test_cli_json_shape_and_exit_codes(tmp_path: Path) -> None:
    schema_path = tmp_path / "s.json"
    schema_path.write_text(json.dumps(SCHEMA), encoding="utf-8")
    names = [f["name"] for f in SCHEMA["fields"]]
    bad = write_csv(tmp_path / "bad.csv", [names, ["x"] * len(names)])
    result = runner.invoke(app, ["validate", str(bad), "--schema", str(schema_path), "--json"])
    assert result.exit_code == 1
    body = json.loads(result.stdout)
    assert body["valid"] is False and body["rows"] == 1
    assert body["errors"] == frictionless_counts(bad, SCHEMA)[0]
    assert set(body["samples"][0]) >= {"type", "row", "field", "message"}
    assert body["samples"][0]["row"] == 2 and "bad.csv" in body["samples"][0]["message"]

    good = tmp_path / "good.csv"
    good.write_text("ags,bezirk_schluessel,bezirk_name,stichtag,insgesamt,maennlich,weiblich,"
                    "divers,unter_18,18_bis_64,65_und_aelter\n05913000,0,Dortmund,2023-12-31,"
                    "10,5,5,0,2,6,2\n", encoding="utf-8")
    result = runner.invoke(app, ["validate", str(good), "--schema", "einwohner", "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["valid"] is True

    assert runner.invoke(app, ["validate", str(tmp_path / "fehlt.csv"), "--schema",
                               "einwohner"]).exit_code == 2
    missing = runner.invoke(app, ["validate", str(good), "--schema", "gibtsnicht", "--json"])
    assert missing.exit_code == 2 and "gibtsnicht" in json.loads(missing.stdout)["error"][
        "message"]
    assert runner.invoke(app, ["validate", str(good)]).exit_code == 2


def test_cli_with_a_mapping_keeps_the_files_rows(tmp_path: Path) -> None:
    """A mapping that only renames columns validates like frictionless on the renamed file,
    with the same row numbers (the empty line is row 3)."""
    rows = "1;a\n\nx;b\n3;\n5;e\n6;f\n"
    source = tmp_path / "quelle.csv"
    source.write_text("Nummer;Name\n" + rows, encoding="utf-8")
    renamed = tmp_path / "umbenannt.csv"
    renamed.write_text("id;name\n" + rows, encoding="utf-8")
    schema = {"fields": [{"name": "id", "type": "integer"},
                         {"name": "name", "constraints": {"required": True}}]}
    schema_path = tmp_path / "schema.json"
    schema_path.write_text(json.dumps(schema), encoding="utf-8")
    mapping = tmp_path / "zuordnung.json"
    mapping.write_text(json.dumps({"schema_name": "test", "fields": {
        "id": {"source": ["Nummer"]}, "name": {"source": ["Name"]}}}), encoding="utf-8")
    result = runner.invoke(app, ["validate", str(source), "--schema", str(schema_path),
                                 "--mapping", str(mapping), "--json"])
    assert result.exit_code == 1, result.output
    body = json.loads(result.stdout)
    assert body["errors"] == frictionless_counts(renamed, schema)[0] == {
        "blank-row": 1, "type-error": 1, "constraint-error": 1}
    assert [(s["type"], s["row"]) for s in body["samples"]] == [
        ("blank-row", 3), ("type-error", 4), ("constraint-error", 5)]


def test_cli_invalid_schema_file_names_the_field(tmp_path: Path) -> None:
    schema_path = tmp_path / "kaputt.json"
    schema_path.write_text(json.dumps({"fields": [{"name": "a", "type": "zahl"}]}))
    csv_path = write_csv(tmp_path / "a.csv", [["a"], ["1"]])
    result = runner.invoke(app, ["validate", str(csv_path), "--schema", str(schema_path),
                                 "--json"])
    assert result.exit_code == 1
    assert "zahl" in json.loads(result.stdout)["error"]["message"]


def test_cli_schema_list_and_show() -> None:
    listing = runner.invoke(app, ["schema", "list", "--json"])
    assert listing.exit_code == 0
    assert [s["name"] for s in json.loads(listing.stdout)["schemas"]] == [
        "baustellen", "bildungsangebote", "einwohner", "ladesaeulen", "parkplaetze"]
    shown = runner.invoke(app, ["schema", "show", "baustellen"])
    assert shown.exit_code == 0 and "Einschränkung" in shown.stdout
    assert json.loads(runner.invoke(app, ["schema", "show", "einwohner", "--json"]).stdout)[
        "primaryKey"] == ["ags", "bezirk_schluessel", "stichtag"]
    assert runner.invoke(app, ["schema", "show", "gibtsnicht"]).exit_code == 1
