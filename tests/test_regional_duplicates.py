"""Regional duplicates, decided right: identifiers are an organization's own, and one
organization's object in two of its sources (the same identifier, or the same address at most
10 m apart) is kept once (the newest source wins), with the left-out rows listed beside the
kept ones."""

from __future__ import annotations

import re
import tempfile
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest

from allmende.harmonize import service
from allmende.platform import Platform
from databases import Installation
from support import OPERATOR, mapped_source

HEADER = "Betreiber;Straße;Hausnr.;PLZ;Ort;Breitengrad;Längengrad;Leistung (kW);EVSE-ID\n"
# Dortmund's register, and a second Dortmund export of two of its stations without EVSE-IDs:
# one the same place (3 m off, "Strasse" spelt out), one the same address 60 m off
DORTMUND = HEADER + """\
DEW21;Hohe Straße;3;44139;Dortmund;51,507900;7,456900;22;DE*DEW*E0001
DEW21;Kampstraße;12;44137;Dortmund;51,514900;7,462100;50;DE*DEW*E0002
DEW21;Märkische Straße;80;44141;Dortmund;51,505000;7,481000;11;DE*DEW*E0003
"""
DORTMUND_AGAIN = HEADER + """\
DEW21;Hohe Strasse;3;44139;Dortmund;51,507920;7,456930;22;
DEW21;Kampstraße;12;44137;Dortmund;51,515440;7,462100;50;
"""
# and, newest, a correction of one station of the register: the same EVSE-ID, another house
# number 40 m off (so not the same place), more power
DORTMUND_CORRECTED = HEADER + """\
DEW21;Märkische Straße;84;44141;Dortmund;51,505300;7,481300;22;DE*DEW*E0003
"""
BOCHUM = HEADER + """\
Stadtwerke Bochum;Kortumstraße;1;44787;Bochum;51,481800;7,216200;22;DE*DEW*E0002
"""


def _seed_sources(platform: Platform, seeded: dict[str, Any]) -> dict[str, Any]:
    """The world plus the four sources, mapped in this order (seeded once per run and
    backend): the later a source, the newer."""
    with tempfile.TemporaryDirectory() as folder:
        for name, organization, text in (("do-register", "dortmund", DORTMUND),
                                         ("bo-lade", "bochum", BOCHUM),
                                         ("do-export", "dortmund", DORTMUND_AGAIN),
                                         ("do-update", "dortmund", DORTMUND_CORRECTED)):
            mapped_source(platform, Path(folder), name, organization, text)
    return {}


TEMPLATES = {"four_duplicate_sources": (_seed_sources, "world")}


@pytest.fixture
def four_duplicate_sources(installation: Installation) -> None:
    """The test's platform holds the four sources and their regional table."""


@pytest.fixture
def regional(platform: Platform, four_duplicate_sources: None) -> list[dict]:
    """The rows of the regional table."""
    with platform.db.sessions() as session:
        record = service.get_consolidation(session, OPERATOR, "ladesaeulen")
        path = platform.settings.data_dir / record.dataset.resources[0].current.path
    return pq.read_table(path).to_pylist()


def test_identifiers_are_an_organization_s_own(regional):
    same_id = [r["quelle_datensatz"] for r in regional if r["ladepunkt_id"] == "DE*DEW*E0002"]
    assert sorted(same_id) == ["bo-lade", "do-register"]


def _listed(platform: Platform) -> dict[str, Any]:
    with platform.db.sessions() as session:
        record = service.get_consolidation(session, OPERATOR, "ladesaeulen")
    return record.duplicates | {"kept": {s["dataset"]: s["kept"] for s in record.sources}}


def test_one_object_in_two_sources_of_one_organization_is_kept_once(platform, regional):
    dortmund = sorted((r["quelle_datensatz"], r["strasse"], r["hausnummer"]) for r in regional
                      if r["quelle_organisation"] == "dortmund")
    # Hohe Straße: the newer export wins; Kampstraße 60 m apart: two objects; Märkische
    # Straße: the newest source's row of the same EVSE-ID wins although at another address
    assert dortmund == [("do-export", "Hohe Strasse", "3"), ("do-export", "Kampstraße", "12"),
                        ("do-register", "Kampstraße", "12"),
                        ("do-update", "Märkische Straße", "84")]
    duplicates = _listed(platform)
    assert duplicates["count"] == 2
    assert duplicates["listed"][0] == {
        "reason": "place", "organization": "dortmund",
        "dropped": {"dataset": "do-register", "row": 1, "key": "DE*DEW*E0001"},
        "kept": {"dataset": "do-export", "row": 1, "key": "–"}}
    assert duplicates["kept"] == {"do-register": 1, "do-export": 2, "bo-lade": 1,
                                  "do-update": 1}


def test_the_same_identifier_in_two_sources_of_one_organization_is_kept_once(
        platform, client, regional):
    """The newest source's row wins with its own provenance and values; the register's row
    of that EVSE-ID is listed as left out beside it, on the region page too. The same EVSE-ID
    in two organizations stays twice: test_identifiers_are_an_organization_s_own."""
    (kept,) = [r for r in regional if r["ladepunkt_id"] == "DE*DEW*E0003"]
    assert {k: kept[k] for k in ("quelle_organisation", "quelle_datensatz", "quelle_zeile",
                                 "hausnummer", "nennleistung_kw")} == {
        "quelle_organisation": "dortmund", "quelle_datensatz": "do-update", "quelle_zeile": 1,
        "hausnummer": "84", "nennleistung_kw": 22.0}
    assert kept["quelle_stand"] > max(r["quelle_stand"] for r in regional
                                      if r["quelle_datensatz"] == "do-register")
    assert _listed(platform)["listed"][1] == {
        "reason": "key", "organization": "dortmund",
        "dropped": {"dataset": "do-register", "row": 3, "key": "DE*DEW*E0003"},
        "kept": {"dataset": "do-update", "row": 1, "key": "DE*DEW*E0003"}}
    page = client.get("/region/ladesaeulen").text
    table = page[page.index('class="list duplicates"'):]
    table = table[:table.index("</table>")]
    rows = [" ".join(re.sub(r"<[^>]+>", " ", row).split())
            for row in table.split("<tr>")[2:]]
    assert rows[1] == ("do-register , Zeile 3 · DE*DEW*E0003 "
                       "do-update , Zeile 1 · DE*DEW*E0003 dieselbe Kennung")
    assert "Ausgelassen (doppelt)" in table


def test_the_api_lists_what_was_left_out(client, regional):
    answer = client.get("/api/v1/regional/ladesaeulen").json()
    assert answer["duplicates"]["count"] == 2
    assert answer["duplicates"]["listed"][0]["kept"] == {"dataset": "do-export", "row": 1,
                                                         "key": "–"}


def test_the_region_page_lists_what_was_left_out(client, regional):
    page = client.get("/region/ladesaeulen").text
    assert "Doppelt" in page and "Ausgelassen (doppelt)" in page
    assert "dieselbe Adresse, höchstens 10 m entfernt" in page
    english = client.get("/region/ladesaeulen", params={"lang": "en"}).text
    assert "the same address, at most 10 m apart" in english
