"""OGC API Features' HTML pages in chromium: from the dataset page to the collection, its
features on the map (Leaflet, drawn from the same items as GeoJSON) and the next page."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect
from ui_support import SYSTEM_ACTOR, Site

from allmende.catalog import datasets
from allmende.ingest.service import IngestRequest, ingest

DATASET = "ogc-spielplaetze"


@pytest.fixture(scope="module")
def collection(site: Site, tmp_path_factory: pytest.TempPathFactory) -> str:
    """A dataset of Dortmund with one table of 15 playgrounds."""
    lines = ["Name;Breitengrad;Längengrad"]
    lines += [f"Spielplatz {n};51,{5000 + n};7,{4500 + n}" for n in range(1, 16)]
    path = tmp_path_factory.mktemp("ogc") / "spielplaetze.csv"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    with site.platform.db.session() as session:
        datasets.create_dataset(session, SYSTEM_ACTOR, {
            "name": DATASET, "organization": "dortmund", "title": "Spielplätze als Karte",
            "description": "Spielplätze mit Lage."})
    ingest(site.platform, SYSTEM_ACTOR, IngestRequest(DATASET, path, "spielplaetze.csv"))
    return DATASET


@pytest.mark.browser
def test_from_the_dataset_page_to_the_features_on_the_map(page: Page, collection: str) -> None:
    page.goto(f"/datasets/{collection}")
    page.get_by_role("link", name="OGC API", exact=True).click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Spielplätze als Karte")
    page.get_by_role("link", name="Objekte zeigen").first.click()
    expect(page.get_by_text("Objekte 1 bis 15 von 15")).to_be_visible()
    drawn = page.locator("#map[data-features]")  # map.js sets it once the layer is drawn
    expect(drawn).to_have_attribute("data-features", "15")
    page.goto(f"/ogc/collections/{collection}/items?f=html&limit=10")
    expect(page.locator("#map[data-features]")).to_have_attribute("data-features", "10")
    page.get_by_role("link", name="Weiter").click()
    expect(page.get_by_text("Objekte 11 bis 15 von 15")).to_be_visible()
    expect(page.locator("#map[data-features]")).to_have_attribute("data-features", "5")
    page.get_by_role("link", name="12", exact=True).click()
    expect(page.get_by_role("cell", name="Spielplatz 12", exact=True)).to_be_visible()
    expect(page.locator("#map[data-features]")).to_have_attribute("data-features", "1")
