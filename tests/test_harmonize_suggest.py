"""Mapping suggestions: the real BNetzA register onto the shipped ``ladesaeulen`` schema (one
row per charging point), numbered column groups in the 2022 and 2024 layouts, German header
variants, transforms found from the values, each column used once, and the
``allmende mapping suggest`` command whose JSON the mapping loader accepts."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import duckdb
import pytest
import shapely

from allmende import sql
from allmende.harmonize.mapping import GROUP, SOURCE_ROW, Mapping, apply_mapping, load_mapping
from allmende.harmonize.registry import load_schema
from allmende.harmonize.source import load_source
from allmende.harmonize.suggest import (
    recognize_groups,
    similarity,
    suggest_for_file,
    suggest_mapping,
)
from allmende.ingest.sniff import ReadOptions
from cli_support import run_process

DATA = Path(__file__).parent / "data"
BNETZA = DATA / "realdata" / "bnetza_ladesaeulen_koeln_2022.csv"
SYNTHETIC_2024 = DATA / "ladesaeulen_2024_synthetic.csv"
POINTS_2022 = {"Steckertypen": [f"Steckertypen{n}" for n in range(1, 5)],
               "P [kW]": [f"P{n} [kW]" for n in range(1, 5)],
               "Public Key": [f"Public Key{n}" for n in range(1, 5)]}


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
        "inbetriebnahme": ["Inbetriebnahmedatum"],
        "anzahl_ladepunkte": ["Anzahl Ladepunkte"],
        "ladeeinrichtung": ["Art der Ladeeinrichung"],
        # one row per charging point: the members of the groups, the point's identifier
        "nennleistung_kw": ["P [kW]"], "steckertypen": ["Steckertypen"],
        "ladepunkt_id": ["Ladepunkt-Kennung"]}


def test_bnetza_groups_are_the_charging_points(bnetza):
    groups = bnetza.groups
    assert groups is not None and groups.members == POINTS_2022
    # the schema's own word for a row ("eine Zeile je Ladepunkt"); no station id column
    assert (groups.number, groups.identifier, groups.key) == (
        "Ladepunkt", "Ladepunkt-Kennung", None)
    assert "je Gruppe aus „P1 [kW]“ … „P4 [kW]“" in bnetza.fields["nennleistung_kw"].reason
    assert bnetza.fields["ladepunkt_id"].reason == (
        "keine Kennung je Ladepunkt: Nummer der Quellzeile/Ladepunkt-Nummer")


def test_bnetza_confidences_and_reasons(bnetza):
    fields = bnetza.fields
    assert fields["betreiber"].confidence == 1.0
    assert fields["betreiber"].reason == "Spaltenname stimmt überein"
    assert 0.9 <= fields["ladeeinrichtung"].confidence < 1.0  # the historic header typo
    assert "100% der Werte passen zur Werteliste" in fields["ladeeinrichtung"].reason
    assert "Koordinaten in Deutschland" in fields["breitengrad"].reason
    # kW already: no scaling; the register has no AGS, access or payment
    assert fields["nennleistung_kw"].transforms == []
    for name in ("ags", "zugang", "oeffnungszeiten", "bezahlsysteme"):
        assert fields[name].confidence == 0.0 and not fields[name].mapped
    assert [t.kind for t in fields["geometry"].transforms] == ["geometry"]


def test_bnetza_suggestion_applies_without_failures(bnetza):
    con = duckdb.connect()
    source = load_source(con, BNETZA)
    result = apply_mapping(con, source.relation, source.columns, bnetza,
                           load_schema("ladesaeulen"))
    # 292 stations, 521 charging points (the sum of "Anzahl Ladepunkte")
    assert result.rows == 521 and not result.errors
    assert con.execute(f"SELECT count(DISTINCT {SOURCE_ROW}), max({GROUP}) FROM mapped"
                       ).fetchall() == [(292, 4)]
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
    assert mapping.groups is not None and mapping.groups.members == POINTS_2022
    assert json.loads(result.stdout)["schema_name"] == "ladesaeulen"


def test_cli_table_and_wrong_calls(allmende, tmp_path):
    def suggest(*args: str | Path):  # type: ignore[no-untyped-def]
        return allmende("mapping", "suggest", *args, cwd=tmp_path)

    result = suggest(BNETZA, "--schema", "ladesaeulen")
    assert result.returncode == 0
    assert "Betreiber" in result.stdout and "Sicherheit" in result.stdout
    # the groups below the table, column names with brackets as they are
    assert "Eine Zeile je Ladepunkt (4 je Quellzeile)" in result.stdout
    assert "P1 [kW]" in result.stdout
    unknown = suggest(BNETZA, "--schema", "gibtsnicht")
    assert unknown.returncode == 2 and "gibtsnicht" in unknown.stderr
    missing = suggest(tmp_path / "fehlt.csv", "--schema", "ladesaeulen")
    assert missing.returncode == 2 and "keine lesbare Datei" in missing.stderr
    empty = tmp_path / "leer.csv"
    empty.write_text("a;b\n", encoding="utf-8")
    rejected = suggest(empty, "--schema", "ladesaeulen", "--json")
    assert rejected.returncode == 1
    assert json.loads(rejected.stdout)["error"]["code"] == "no_rows"


# --- numbered groups -----------------------------------------------------------------------------

LAYOUT_2024_POINT = ("Steckertypen", "Nennleistung Stecker", "EVSE-ID", "Public Key")


@pytest.mark.parametrize(("names", "members", "label"), [
    # 2022: a number closing the label, also before a unit
    (["Betreiber", "Steckertypen1", "P1 [kW]", "Steckertypen2", "P2 [kW]"],
     {"Steckertypen": ["Steckertypen1", "Steckertypen2"], "P [kW]": ["P1 [kW]", "P2 [kW]"]},
     None),
    # 2024 before the banner is joined over the header
    ([f"{m}{n}" for n in (1, 2) for m in LAYOUT_2024_POINT],
     {m: [f"{m}1", f"{m}2"] for m in LAYOUT_2024_POINT}, None),
    # 2024 with the banner joined: a number in front and one at the end
    (["Allgemeine Informationen Betreiber"]
     + [f"{n}. Ladepunkt {m}{n}" for n in (1, 2, 3) for m in LAYOUT_2024_POINT],
     {m: [f"{n}. Ladepunkt {m}{n}" for n in (1, 2, 3)] for m in LAYOUT_2024_POINT},
     "Ladepunkt"),
    # only a number in front (a banner over plain labels): one member is enough
    (["Ort", "1. Stellplatz Art", "2. Stellplatz Art"],
     {"Art": ["1. Stellplatz Art", "2. Stellplatz Art"]}, "Stellplatz"),
    # a member missing in a group
    (["Typ1", "kW1", "Typ2", "kW2", "Typ3"],
     {"Typ": ["Typ1", "Typ2", "Typ3"], "kW": ["kW1", "kW2", None]}, None),
])
def test_numbered_groups_are_recognized(names, members, label):
    groups = recognize_groups(names)
    assert groups is not None and groups.members == members and groups.label == label


@pytest.mark.parametrize("names", [
    ["Telefon 1", "Telefon 2", "Ort"],  # one member without a banner: two phone numbers
    ["Einwohner 2019", "Einwohner 2020", "Haushalte 2019", "Haushalte 2020"],  # years
    ["Typ2", "kW2", "Typ3", "kW3"],  # not numbered from 1
    ["Spalte 2", "Spalte 3", "Name (2)"],  # blank and repeated labels
    ["1. Ladepunkt", "2. Ladepunkt", "Spalte 3"],  # a banner read as the header
])
def test_other_numbers_are_no_groups(names):
    assert recognize_groups(names) is None


def _layout_2024(joined: bool) -> tuple[duckdb.DuckDBPyConnection, list[dict[str, str]]]:
    """The synthetic 2024 file typed as an upload with its header row given; ``joined``
    names the columns as ingest does once it joins the banner over the header (the banner's
    label carried across its group, the most specific label last)."""
    con = duckdb.connect()
    source = load_source(con, SYNTHETIC_2024, options=ReadOptions(header_row=11))
    if not joined:
        return con, source.columns
    with SYNTHETIC_2024.open(encoding="utf-8-sig", newline="") as file:
        banner, header = list(csv.reader(file, delimiter=";"))[9:11]
    carried, labels = "", {}
    for above, label in zip(banner, header, strict=True):
        carried = above or carried
        labels[label] = f"{carried} {label}"
    for column in source.columns:
        if column["name"] in labels:
            con.execute(f"ALTER TABLE source RENAME {sql.ident(column['name'])} "
                        f"TO {sql.ident(labels[column['name']])}")
            column["name"] = labels[column["name"]]
    return con, source.columns


@pytest.mark.parametrize("joined", [False, True])
def test_the_2024_layout_takes_the_points_evse_ids(joined):
    con, columns = _layout_2024(joined)
    mapping = suggest_mapping(con, "source", columns, load_schema("ladesaeulen"))
    groups = mapping.groups
    assert groups is not None and list(groups.members) == list(LAYOUT_2024_POINT)
    prefix = "1. Ladepunkt " if joined else ""
    assert groups.members["EVSE-ID"][0] == f"{prefix}EVSE-ID1"
    assert groups.number == "Ladepunkt"
    assert groups.key == ("Allgemeine Informationen " if joined else "") + "Ladeeinrichtungs-ID"
    rule = mapping.fields["ladepunkt_id"]
    assert rule.source == ["EVSE-ID", "Ladepunkt-Kennung"]
    assert [t.kind for t in rule.transforms] == ["fallback"]
    # the point's power, not the station's "Nennleistung Ladeeinrichtung [kW]"
    assert mapping.fields["nennleistung_kw"].source == ["Nennleistung Stecker"]
    assert mapping.fields["steckertypen"].source == ["Steckertypen"]
    result = apply_mapping(con, "source", columns, mapping, load_schema("ladesaeulen"))
    ids = con.execute(f"SELECT ladepunkt_id FROM {result.relation} ORDER BY {SOURCE_ROW}, "
                      f"{GROUP}").fetchall()
    assert [i for (i,) in ids] == [
        "DE*BSP*E100001*1", "DE*BSP*E100001*2", "DE*BSP*E100002*1", "DE*BSP*E100002*2",
        "100002/3", "DE*MUS*E100003*1", "DE*PRB*E100004*1", "DE*PRB*E100004*3",
        "DE*PRB*E100004*4", "DE*BSP*E100005*1", "DE*BSP*E100005*1"]


def test_groups_only_where_a_field_takes_a_member():
    """A table whose numbered groups fit no field of the schema keeps one row per row."""
    con, columns = _table([("Dortmund", "a", "b", "c", "d")],
                          [("Ort", "string", "VARCHAR"), ("Foo1", "string", "VARCHAR"),
                           ("Bar1", "string", "VARCHAR"), ("Foo2", "string", "VARCHAR"),
                           ("Bar2", "string", "VARCHAR")])
    mapping = suggest_mapping(con, "src", columns, load_schema("ladesaeulen"))
    assert mapping.groups is None and mapping.fields["ort"].source == ["Ort"]


def test_no_groups_where_a_member_would_hide_a_column_of_the_file():
    names = ["Steckertypen", "Steckertypen1", "P1 [kW]", "Steckertypen2", "P2 [kW]"]
    con, columns = _table([("Typ 2", "AC", "22", "DC", "50")],
                          [(name, "string", "VARCHAR") for name in names])
    mapping = suggest_mapping(con, "src", columns, load_schema("ladesaeulen"))
    assert mapping.groups is None and mapping.fields["steckertypen"].source == ["Steckertypen"]
