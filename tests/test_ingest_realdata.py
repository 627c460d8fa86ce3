"""Every real municipal file in tests/data/realdata ingests, with concrete values checked.

The files are copies of real exports (see tests/data/realdata/SOURCES.md), each messy in its
own way; the assertions say what a data officer would expect to see in the typed table.
"""

from __future__ import annotations

from pathlib import Path

import pyarrow.parquet as pq
import pytest
import shapely

from allmende.ingest.pipeline import BuiltTable, build
from allmende.ingest.sniff import ReadOptions

DATA = Path(__file__).parent / "data" / "realdata"
KOELN = (6.77, 50.83, 7.17, 51.09)
BOCHUM = (7.10, 51.39, 7.35, 51.54)


def _build(tmp_path: Path, name: str, area=None, **options) -> tuple[BuiltTable, list[dict]]:
    built = build(DATA / name, name, ReadOptions(**options), tmp_path, area,
                  lambda _fraction, _message: None)
    return built, pq.read_table(built.parquet).to_pylist()


def _types(built: BuiltTable) -> dict[str, str]:
    return {c["name"]: c["type"] for c in built.columns}


def _inside(wkb: bytes, box) -> bool:
    point = shapely.from_wkb(wkb).centroid
    return box[0] <= point.x <= box[2] and box[1] <= point.y <= box[3]


def test_bnetza_register_with_bom_decimal_commas_and_two_digit_years(tmp_path):
    built, rows = _build(tmp_path, "bnetza_ladesaeulen_koeln_2022.csv", area=KOELN)
    assert built.report["encoding"] == "utf-8-sig" and built.report["delimiter"] == ";"
    assert built.rows == 292  # duplicates are data here; harmonize reports them
    types = _types(built)
    assert types["Breitengrad"] == "number" and types["Längengrad"] == "number"
    assert "Art der Ladeeinrichung" in types  # the historic typo stays as the source has it
    assert types["Postleitzahl"] == "string"  # a postcode is an identifier, not a quantity
    first = rows[0]
    assert first["Betreiber"] == "LANXESS Deutschland GmbH" and first["Ort"] == "Köln"
    assert first["Breitengrad"] == pytest.approx(50.937417)
    assert built.crs == "EPSG:4326"
    # one charge point has a mistyped longitude (6.007 instead of 7.0…): kept, and reported
    outside = [r for r in rows if not _inside(r["geometry"], KOELN)]
    assert [r["Längengrad"] for r in outside] == [6.007016]
    assert any(w.code == "outside_area" for w in built.warnings)


def test_bochum_sports_facilities_latin1_ragged_and_quoted_line_breaks(tmp_path):
    built, rows = _build(tmp_path, "bochum_sportanlagen.csv")
    assert built.report["encoding"] == "cp1252"
    types = _types(built)
    assert list(types)[:8] == ["Art", "Bezeichnung", "Adresse", "Bezirk", "Spielfeld", "Belag",
                               "Maße", "Beleuchtung vorhanden"]
    assert list(types)[9] == "Spalte 10"  # the blank 10th header cell
    assert types["Maße"] == "string"  # "64,2 x 104,6" is text, not a number
    assert types["Beleuchtung vorhanden"] == "boolean" and types["Bezirk"] == "integer"
    assert rows[0]["Bezeichnung"] == "Am Hausacker"  # quoted cell with a line break
    assert rows[0]["Spielfeld"] == "Großspielfeld" and rows[0]["Beleuchtung vorhanden"] is True
    assert all(any(v is not None for v in r.values()) for r in rows)  # blank rows dropped
    # Excel merged cells: continuation rows take Art/Bezeichnung/Adresse from the row above
    assert [(r["Bezeichnung"], r["Spielfeld"]) for r in rows[1:4]] == [
        ("Am Hessenteich", "Großspielfeld"), ("Am Hessenteich", "Großspielfeld"),
        ("Am Hessenteich", "Kleinspielfeld")]
    assert rows[3]["Adresse"] == "Am Hessenteich 9" and rows[3]["Art"] == "Sportplatzanlage"
    assert all(r["Art"] for r in rows)
    # a continuation row with its own Bezeichnung keeps it; only blank cells are filled
    sportzentrum = [r for r in rows if r["Bezeichnung"] == "(Sportzentrum)"]
    assert {r["Adresse"] for r in sportzentrum} == {"Lohrheidestraße 80-82", "Castroper Str 145"}
    assert [w.code for w in built.warnings].count("filled_down") == 1


def test_merged_cells_can_be_left_blank(tmp_path):
    built, rows = _build(tmp_path, "bochum_sportanlagen.csv", fill_down=False)
    assert rows[2]["Art"] is None and rows[2]["Spielfeld"] == "Großspielfeld"
    assert "filled_down" not in [w.code for w in built.warnings]


def test_genesis_statistics_export_title_rows_three_row_header_and_footer(tmp_path):
    built, rows = _build(tmp_path, "itnrw_genesis_33111-02ir_koeln.csv")
    assert (built.report["title_rows"], built.report["header_rows"]) == (6, 3)
    assert built.rows == 19  # 2012 back to 1994; the copyright footer is gone
    names = [c["name"] for c in built.columns]
    assert names[0] == "Spalte 1"
    assert names[1] == "Flächennutzungsarten Bodenfläche insgesamt Insgesamt"
    assert _types(built)["Spalte 1"] == "date"
    assert str(rows[0]["Spalte 1"]) == "2012-12-31" and str(rows[-1]["Spalte 1"]) == "1994-12-31"
    assert rows[0][names[1]] == 4051641
    moor = next(n for n in names if n.endswith("Moor"))
    assert rows[3][moor] is None  # "-" is a missing value


def test_koeln_polling_stations_web_mercator_and_booleans(tmp_path):
    built, rows = _build(tmp_path, "koeln_wahllokale.csv", area=KOELN)
    assert built.crs == "EPSG:3857"
    assert built.rows == 800
    first = rows[0]
    assert first["WLK_ADRESSE"] == "Antwerpener Str. 19"
    assert _types(built)["ROLLSTUHLGERECHT"] == "boolean"
    point = shapely.from_wkb(first["geometry"])
    assert point.y == pytest.approx(50.9399, abs=1e-3) and point.x == pytest.approx(6.9361,
                                                                                     abs=1e-3)
    assert "KOORX" in _types(built)  # original columns are kept


def test_koeln_ballot_district_numbers_keep_their_leading_zeros(tmp_path):
    built, rows = _build(tmp_path, "koeln_wahllokale.csv")
    ad = next(c["name"] for c in built.columns if c["name"].startswith("AD_NUMMER"))
    assert _types(built)[ad] == "string"
    assert all(r[ad].startswith("0") for r in rows if r[ad])


def test_bochum_schools_utm_coordinates_land_in_bochum(tmp_path):
    built, rows = _build(tmp_path, "bochum_schulen.csv", area=BOCHUM)
    assert built.crs == "EPSG:25832"
    assert _types(built)["plz_ort"] == "string"
    assert sum(_inside(r["geometry"], BOCHUM) for r in rows) / len(rows) > 0.95
    assert "rechts_utm" in _types(built) and "hoch_utm" in _types(built)


def test_bochum_tree_register_reports_destroyed_umlauts(tmp_path):
    built, rows = _build(tmp_path, "bochum_baumregister.csv", area=BOCHUM)
    assert "damaged_text" in [w.code for w in built.warnings]
    assert built.crs == "EPSG:25832"
    # two trees have the easting copied into the northing: kept, and reported
    outside = [r for r in rows if not _inside(r["geometry"], BOCHUM)]
    assert [(r["Rechtswert"], r["Hochwert"]) for r in outside] == [(370743, 370743),
                                                                    (370875, 370875)]
    assert any(w.code == "outside_area" and "Datenzeilen" in w.message for w in built.warnings)


def test_moers_counts_with_replacement_characters_and_utc_offsets(tmp_path):
    built, rows = _build(tmp_path, "moers_passanten_2022-05.csv")
    assert "damaged_text" in [w.code for w in built.warnings]
    assert _types(built)["Zeitpunkt der Messung"] == "datetime"
    # "2022-05-01 00:00:00 +0200" is 22:00 UTC the day before
    assert rows[0]["Zeitpunkt der Messung"].isoformat().startswith("2022-04-30T22:00:00")
    assert rows[0]["Lage"] == "Steinstra\ufffde, Moers"  # kept as the source has it


def test_bietigheim_parking_epoch_milliseconds(tmp_path):
    built, rows = _build(tmp_path, "parken_bietigheim_realtime.csv")
    assert built.report["encoding"] == "cp1252"
    assert _types(built)["Timestamp"] == "datetime"
    assert rows[0]["Name"] == "Parkplatz Mühlwiesenstr."
    assert rows[0]["OpeningState"] == "Geöffnet"
    assert (rows[0]["Capacity"], rows[0]["OccupiedSites"]) == (106, 81)


def test_reutlingen_wkt_in_utm_without_a_declared_crs(tmp_path):
    built, rows = _build(tmp_path, "radabstell_reutlingen_utm32.csv")
    assert built.crs == "EPSG:25832"
    point = shapely.from_wkb(rows[0]["geometry"])
    assert 9.1 < point.x < 9.3 and 48.4 < point.y < 48.6  # Reutlingen
    assert _types(built)["GEOM"] == "string"  # the original WKT column stays


def test_esslingen_geojson_with_legacy_crs_member(tmp_path):
    built, rows = _build(tmp_path, "parken_esslingen_epsg25832.geojson")
    assert built.crs == "EPSG:25832"
    assert "legacy_crs" in [w.code for w in built.warnings]
    assert "Anzahl der Stellplätze" in _types(built)
    centre = shapely.from_wkb(rows[0]["geometry"]).centroid
    assert 9.2 < centre.x < 9.4 and 48.6 < centre.y < 48.8  # Esslingen am Neckar
