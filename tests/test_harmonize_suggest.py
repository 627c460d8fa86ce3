"""Mapping suggestions: the real BNetzA register onto the shipped ``ladesaeulen`` schema,
German header variants, transforms found from the values, each column used once, and the
``allmende mapping suggest`` command whose JSON the mapping loader accepts."""

from __future__ import annotations

import json
from pathlib import Path

import duckdb
import pytest
import shapely

from allmende.harmonize.mapping import Mapping, apply_mapping, load_mapping
from allmende.harmonize.registry import load_schema
from allmende.harmonize.source import load_source
from allmende.harmonize.suggest import similarity, suggest_for_file, suggest_mapping
from cli_support import run_process

BNETZA = Path(__file__).parent / "data" / "realdata" / "bnetza_ladesaeulen_koeln_2022.csv"


@pytest.fixture(scope="module")
def bnetza() -> Mapping:
    return suggest_for_file(BNETZA, load_schema("ladesaeulen"))


def _table(rows: list[tuple], columns: list[tuple[str, str, str]]
           ) -> tuple[duckdb.DuckDBPyConnection, list[dict[str, str]]]:
    con = duckdb.connect()
    con.execute("CREATE TABLE src (" + ", ".join(f'"{n}" {d}' for n, _, d in columns) + ")")
    con.executemany(f"INSERT INTO src VALUES ({', '.join('?' * len(columns))})", rows)
    return con, [{"name": n, "type": t} for n, t, _ in columns]


def _sources(mapping: Mapping) -> dict[str, list[str]]:
    return {name: rule.source for name, rule in mapping.fields.items() if rule.mapped}


def test_bnetza_register_maps_onto_ladesaeulen(bnetza):
    assert bnetza.schema_name == "ladesaeulen" and bnetza.schema_version == "1.0.0"
    assert _sources(bnetza) == {
        "betreiber": ["Betreiber"], "strasse": ["Straße"], "hausnummer": ["Hausnummer"],
        "plz": ["Postleitzahl"], "ort": ["Ort"], "breitengrad": ["Breitengrad"],
        "laengengrad": ["Längengrad"], "geometry": ["geometry"],
        "inbetriebnahme": ["Inbetriebnahmedatum"], "nennleistung_kw": ["Anschlussleistung"],
        "anzahl_ladepunkte": ["Anzahl Ladepunkte"], "steckertypen": ["Steckertypen1"],
        "ladeeinrichtung": ["Art der Ladeeinrichung"]}


def test_bnetza_confidences_and_reasons(bnetza):
    fields = bnetza.fields
    assert fields["betreiber"].confidence == 1.0
    assert fields["betreiber"].reason == "Spaltenname stimmt überein"
    assert 0.9 <= fields["ladeeinrichtung"].confidence < 1.0  # the historic header typo
    assert "100% der Werte passen zur Werteliste" in fields["ladeeinrichtung"].reason
    assert "Koordinaten in Deutschland" in fields["breitengrad"].reason
    # kW already: no scaling; the register has no charge-point id, AGS, access or payment
    assert fields["nennleistung_kw"].transforms == []
    for name in ("ladepunkt_id", "ags", "zugang", "oeffnungszeiten", "bezahlsysteme"):
        assert fields[name].confidence == 0.0 and not fields[name].mapped
    assert [t.kind for t in fields["geometry"].transforms] == ["geometry"]


def test_bnetza_suggestion_applies_without_failures(bnetza):
    con = duckdb.connect()
    source = load_source(con, BNETZA)
    result = apply_mapping(con, source.relation, source.columns, bnetza,
                           load_schema("ladesaeulen"))
    assert result.rows == 292 and not result.errors
    assert con.execute("SELECT count(*) FROM mapped WHERE ladeeinrichtung NOT IN "
                       "('Normalladeeinrichtung', 'Schnellladeeinrichtung')").fetchone() == (0,)


@pytest.mark.parametrize(("a", "b", "alike"), [
    ("strasse", "strasse", True), ("hausnummer", "hausnr", False),
    ("leistung", "anschlussleistung", True), ("ort", "art", False),
    ("plz", "plz ort", True), ("art der ladeeinrichtung", "art der ladeeinrichung", True),
    ("betreiber", "breitengrad", False),
])
def test_header_similarity(a, b, alike):
    assert (similarity(a, b) >= 0.7) is alike


GERMAN_HEADERS = [
    ("Anbieter", "string", "VARCHAR"), ("Str.", "string", "VARCHAR"),
    ("Hausnr.", "string", "VARCHAR"), ("PLZ/Ort", "string", "VARCHAR"),
    ("Leistung [W]", "integer", "BIGINT"), ("In Betrieb seit", "string", "VARCHAR"),
    ("LAT", "number", "DOUBLE"), ("LON", "number", "DOUBLE"),
    ("Typ", "string", "VARCHAR"), ("Zugänglichkeit", "string", "VARCHAR"),
]
GERMAN_ROWS = [
    ("Stadtwerke Bochum", "Lenneplatz", "21", "44807 Bochum", 22000, "22.07.2021", 51.4973,
     7.2449, "Normal-Ladeeinrichtung", "Öffentlich"),
    ("Stadtwerke Bochum", "Kortumstr.", "3a", "44787 Bochum", 3700, "01.12.2020", 51.4810,
     7.2180, "Schnellladeeinrichtung (DC)", "eingeschraenkt"),
]


def test_german_header_variants_and_transforms_from_values():
    con, columns = _table(GERMAN_ROWS, GERMAN_HEADERS)
    mapping = suggest_mapping(con, "src", columns, load_schema("ladesaeulen"))
    assert _sources(mapping) == {
        "betreiber": ["Anbieter"], "strasse": ["Str."], "hausnummer": ["Hausnr."],
        "plz": ["PLZ/Ort"], "ort": ["PLZ/Ort"], "nennleistung_kw": ["Leistung [W]"],
        "inbetriebnahme": ["In Betrieb seit"], "breitengrad": ["LAT"], "laengengrad": ["LON"],
        "ladeeinrichtung": ["Typ"], "zugang": ["Zugänglichkeit"]}
    kinds = {n: [t.kind for t in r.transforms] for n, r in mapping.fields.items() if r.mapped}
    assert kinds["plz"] == kinds["ort"] == ["split"]
    assert kinds["nennleistung_kw"] == ["scale"] and kinds["inbetriebnahme"] == ["date"]
    assert kinds["ladeeinrichtung"] == ["value_map"] and kinds["zugang"] == ["value_map"]
    result = apply_mapping(con, "src", columns, mapping, load_schema("ladesaeulen"))
    rows = con.execute("SELECT plz, ort, nennleistung_kw, inbetriebnahme, ladeeinrichtung, "
                       f"zugang FROM {result.relation} ORDER BY __row").fetchall()
    assert rows == [
        ("44807", "Bochum", "22", "2021-07-22", "Normalladeeinrichtung", "öffentlich"),
        ("44787", "Bochum", "3.7", "2020-12-01", "Schnellladeeinrichtung", "eingeschränkt")]
    assert not result.errors


def test_values_alone_find_web_addresses_and_yes_no_words():
    con, columns = _table(
        [("https://www.vhs.bochum.de/kurs/1", "ja", "Python"),
         ("www.vhs.bochum.de/kurs/2", "nein", "Töpfern"),
         ("https://www.vhs.bochum.de/kurs/3", "Ja", "Yoga")],
        [("Kontakt", "string", "VARCHAR"), ("Rollstuhlgerecht", "string", "VARCHAR"),
         ("Kursname", "string", "VARCHAR")])
    mapping = suggest_mapping(con, "src", columns, load_schema("bildungsangebote"))
    assert mapping.fields["url"].source == ["Kontakt"]
    assert "Web-Adressen" in mapping.fields["url"].reason
    assert [(t.kind, t.prefix) for t in mapping.fields["url"].transforms] == [
        ("prefix", "https://")]  # www.… without scheme would fail format uri
    barrierefrei = mapping.fields["barrierefrei"]
    assert barrierefrei.source == ["Rollstuhlgerecht"]
    assert barrierefrei.transforms[0].kind == "value_map"
    assert barrierefrei.transforms[0].values == {"ja": "true", "nein": "false"}


def test_each_column_serves_one_field_and_weak_matches_stay_unmapped():
    con, columns = _table([("Parkhaus Mitte", "Parkhaus Mitte", "Sonnig")],
                          [("Name", "string", "VARCHAR"), ("Bezeichnung", "string", "VARCHAR"),
                           ("Wetter", "string", "VARCHAR")])
    mapping = suggest_mapping(con, "src", columns, load_schema("parkplaetze"))
    used = [c for rule in mapping.fields.values() for c in rule.source]
    assert len(used) == len(set(used))
    assert mapping.fields["name"].source == ["Name"]
    assert "Wetter" not in used
    assert all(r.confidence == 0.0 for r in mapping.fields.values() if not r.mapped)


def test_latitude_from_geometry_when_no_coordinate_columns():
    con, columns = _table([(shapely.to_wkb(shapely.Point(7.2449, 51.4973)), "Bochum")],
                          [("geometry", "geometry", "BLOB"), ("Ort", "string", "VARCHAR")])
    mapping = suggest_mapping(con, "src", columns, load_schema("ladesaeulen"))
    rule = mapping.fields["breitengrad"]
    assert rule.source == ["geometry"] and rule.transforms[0].output == "lat"
    assert mapping.fields["geometry"].source == ["geometry"]


def test_ags_of_the_organization_fills_the_ags_field():
    con, columns = _table([("Bochum",)], [("Ort", "string", "VARCHAR")])
    mapping = suggest_mapping(con, "src", columns, load_schema("ladesaeulen"), ags="05911000")
    assert mapping.fields["ags"].constant == "05911000"


def test_cli_json_round_trips_into_the_mapping_loader(tmp_path):
    """The console script: stdout holds the mapping file and nothing else."""
    result = run_process("mapping", "suggest", BNETZA, "--schema", "ladesaeulen", "--json",
                         cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    path = tmp_path / "mapping.json"
    path.write_text(result.stdout, encoding="utf-8")
    mapping = load_mapping(path)
    assert mapping.fields["betreiber"].source == ["Betreiber"]
    assert json.loads(result.stdout)["schema_name"] == "ladesaeulen"


def test_cli_table_and_wrong_calls(allmende, tmp_path):
    def suggest(*args: str | Path):  # type: ignore[no-untyped-def]
        return allmende("mapping", "suggest", *args, cwd=tmp_path)

    result = suggest(BNETZA, "--schema", "ladesaeulen")
    assert result.returncode == 0
    assert "Betreiber" in result.stdout and "Sicherheit" in result.stdout
    unknown = suggest(BNETZA, "--schema", "gibtsnicht")
    assert unknown.returncode == 2 and "gibtsnicht" in unknown.stderr
    missing = suggest(tmp_path / "fehlt.csv", "--schema", "ladesaeulen")
    assert missing.returncode == 2 and "keine lesbare Datei" in missing.stderr
    empty = tmp_path / "leer.csv"
    empty.write_text("a;b\n", encoding="utf-8")
    rejected = suggest(empty, "--schema", "ladesaeulen", "--json")
    assert rejected.returncode == 1
    assert json.loads(rejected.stdout)["error"]["code"] == "no_rows"
