"""The correctness judge on real data: the Bundesnetzagentur register of Köln, mapped onto the
shared schema ``ladesaeulen`` as a data officer gets it suggested (one row per charging point),
then validated by allmende and by frictionless-py on the very same mapped cells. Every error
type frictionless reports has the same count in allmende, and no other type appears."""

from __future__ import annotations

import csv
from pathlib import Path

import duckdb

from allmende import sql
from allmende.harmonize.mapping import GROUP, SOURCE_ROW, apply_mapping, parse_mapping
from allmende.harmonize.registry import load_schema
from allmende.harmonize.source import load_source
from allmende.harmonize.suggest import suggest_mapping
from allmende.harmonize.validate import validate_columns, validate_file
from test_harmonize_validate import REAL, frictionless_counts


def _mapped_csv(tmp_path: Path, whole_row_key: bool = False
                ) -> tuple[Path, duckdb.DuckDBPyConnection, dict]:
    schema = load_schema("ladesaeulen")
    con = duckdb.connect()
    source = load_source(con, REAL)
    mapping = suggest_mapping(con, source.relation, source.columns, schema, ags="05315000")
    assert mapping.groups is not None
    if whole_row_key:  # the register has no id: a key of all columns (and the point's number)
        columns = [c["name"] for c in source.columns if c["type"] != "geometry"]
        mapping.fields["ladepunkt_id"] = parse_mapping({
            "schema_name": "ladesaeulen", "groups": mapping.groups.model_dump(), "fields": {
                "ladepunkt_id": {"source": [*columns, mapping.groups.number], "transforms": [
                    {"kind": "join", "separator": "|"}]}}}).fields["ladepunkt_id"]
    mapped = apply_mapping(con, source.relation, source.columns, mapping, schema)
    assert mapped.rows == 521  # 292 stations, 521 charging points
    rows = con.execute(sql.select(f"* EXCLUDE ({sql.idents([SOURCE_ROW, GROUP])})",
                                  sql.ident(mapped.relation),
                                  order_by=sql.idents([SOURCE_ROW, GROUP]))).fetchall()
    path = tmp_path / "ladesaeulen_koeln.csv"
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(mapped.fields)
        writer.writerows([["" if v is None else v for v in row] for row in rows])
    return path, con, schema


def test_bnetza_mapped_to_ladesaeulen_counts_like_frictionless(tmp_path):
    path, con, schema = _mapped_csv(tmp_path)
    plain = {k: v for k, v in schema.items() if k != "x-allmende"}
    expected, rows = frictionless_counts(path, plain)
    assert rows == 521
    # the register has no charge-point id: "<source row>/<point>" is unique, but no EVSE-ID
    assert expected == {"constraint-error": 521}
    ours = validate_file(path, plain)
    assert ours.errors == expected and ours.rows == 521
    # the platform validates the mapped table in DuckDB directly, numbered like the file
    con.execute(sql.create_view("numbered", sql.select(
        ["*", f"row_number() OVER (ORDER BY {sql.idents([SOURCE_ROW, GROUP])}) + 1 AS r"],
        "mapped"), temporary=False))
    in_place = validate_columns(con, "numbered", plain, row_column="r")
    assert in_place.errors == expected
    assert [s.row for s in in_place.samples[:4]] == [s.row for s in ours.samples[:4]]


def test_bnetza_66_duplicate_rows_through_a_whole_row_key(tmp_path):
    path, _con, schema = _mapped_csv(tmp_path, whole_row_key=True)
    plain = {k: v for k, v in schema.items() if k != "x-allmende"}
    expected, _rows = frictionless_counts(path, plain)
    # the 66 rows that repeat an earlier one hold 92 charging points
    assert expected["unique-error"] == 92 and expected["primary-key"] == 92
    assert expected["constraint-error"] == 521  # a joined row is no EVSE-ID (pattern)
    assert validate_file(path, plain).errors == expected
