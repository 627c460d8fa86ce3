"""The Ingest UI: the upload form on the dataset page, the resource page (how a file was read,
preview, versions, downloads, map) through the TestClient, and an upload in chromium."""

from __future__ import annotations

import re
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
from fastapi.testclient import TestClient
from playwright.sync_api import Page, expect
from ui_support import SYSTEM_ACTOR, Site, login

from allmende.access import accounts
from allmende.catalog import datasets, organizations
from allmende.ingest.service import IngestRequest, ingest

SCHULEN = Path(__file__).parent.parent / "data" / "realdata" / "bochum_schulen.csv"
BOCHUM_EDITOR = ("redaktion@bochum.example", "bochum-passwort-1")
TABLE = "bochum-tabelle"
UPLOADS = "bochum-uploads"


def _csv(rows: int, with_art: bool, with_places: bool) -> str:
    kinds = ["Grundschule", "Gymnasium", "Realschule"]
    header = ["nr", "name"] + (["art"] if with_art else []) + (["plaetze"] if with_places else [])
    lines = [";".join([*header, "lon", "lat"])]
    for nr in range(1, rows + 1):
        cells = [str(nr), f"Schule {nr:03d}"]
        cells += [kinds[nr % 3]] if with_art else []
        cells += [str(100 + nr)] if with_places else []
        cells += [f"7.{2000 + nr}", f"51.{4500 + nr}"]
        lines.append(";".join(cells))
    return "\n".join(lines) + "\n"


@pytest.fixture(scope="module")
def resource_id(site: Site, tmp_path_factory: pytest.TempPathFactory) -> str:
    """An organization of its own with a table of two versions (120 rows, then 130 rows with
    the column "art" replaced by "plaetze") and an empty dataset for uploads."""
    with site.platform.db.session() as s:
        bochum = organizations.create_organization(s, SYSTEM_ACTOR, {
            "slug": "bochum", "name": "Stadt Bochum", "type": "municipality", "ags": "05911000",
            "bbox": [7.10, 51.38, 7.35, 51.54]})
        editor = accounts.create_user(s, *BOCHUM_EDITOR, name="Bea Bochum")
        accounts.set_membership(s, SYSTEM_ACTOR, editor, bochum, "editor")
        for name, title in [(TABLE, "Schulen in Bochum (Test)"), (UPLOADS, "Uploads Bochum")]:
            datasets.create_dataset(s, accounts.actor_for(editor), {
                "name": name, "organization": "bochum", "title": title, "description": title})
        actor = accounts.actor_for(editor)
    folder = tmp_path_factory.mktemp("ingest-ui")
    result = None
    for number, content in enumerate([_csv(120, True, False), _csv(130, False, True)], 1):
        source = folder / f"schulen-{number}.csv"
        source.write_text(content, encoding="utf-8")
        result = ingest(site.platform, actor, IngestRequest(
            dataset=TABLE, source=source, original_name="schulen.csv"))
    assert result is not None and result.version == 2
    return result.resource


def body_rows(html: str) -> list[str]:
    """The names in the preview table, in order."""
    body = html.split("<tbody>", 1)[1].split("</tbody>", 1)[0]
    return re.findall(r"<td data-user-content>(Schule \d{3})</td>", body)


def column_header(name: str) -> str:
    """How the preview table's header links a sortable column."""
    return f'class="sort-link"><span data-user-content>{name}</span>'


def test_resource_page_renders_in_german_and_english(client: TestClient,
                                                     resource_id: str) -> None:
    german = client.get(f"/resources/{resource_id}")
    assert german.status_code == 200
    assert '<html lang="de">' in german.text
    for text in ("Datenvorschau", "130 Zeilen", "So wurde Version 2 eingelesen", "Semikolon ;",
                 "Versionen", "Herunterladen", "Karte", "EPSG:4326"):
        assert text in german.text, text
    assert german.text.count("<h1") == 1
    english = client.get(f"/resources/{resource_id}?lang=en")
    assert '<html lang="en">' in english.text
    for text in ("Data preview", "130 rows", "How version 2 was read", "Versions"):
        assert text in english.text, text


def test_the_dataset_page_links_the_file_resource(client: TestClient, resource_id: str) -> None:
    html = client.get(f"/datasets/{TABLE}").text
    assert f'href="/resources/{resource_id}"' in html
    assert "hat eine neue Version hochgeladen: <span data-user-content>schulen.csv</span>" in html


def test_preview_shows_the_first_fifty_rows_of_the_latest_version(
        client: TestClient, resource_id: str) -> None:
    html = client.get(f"/resources/{resource_id}").text
    assert body_rows(html) == [f"Schule {n:03d}" for n in range(1, 51)]
    assert column_header("plaetze") in html and column_header("art") not in html
    assert "Seite 1 von 3" in html


def test_sort_links_toggle_the_order(client: TestClient, resource_id: str) -> None:
    html = client.get(f"/resources/{resource_id}").text
    assert f'href="/resources/{resource_id}?sort=nr"' in html
    ascending = client.get(f"/resources/{resource_id}?sort=nr").text
    assert 'aria-sort="ascending"' in ascending
    assert f'href="/resources/{resource_id}?sort=-nr"' in ascending  # the next click: descending
    descending = client.get(f"/resources/{resource_id}?sort=-nr").text
    assert 'aria-sort="descending"' in descending
    assert body_rows(descending)[:3] == ["Schule 130", "Schule 129", "Schule 128"]


def test_filter_text_contains_and_number_equals(client: TestClient, resource_id: str) -> None:
    contains = client.get(f"/resources/{resource_id}",
                          params={"column": "name", "value": "Schule 12"}).text
    assert "10 Zeilen" in contains
    assert body_rows(contains) == [f"Schule {n}" for n in range(120, 130)]
    equals = client.get(f"/resources/{resource_id}", params={"column": "nr", "value": "7"}).text
    assert "1 Zeile<" in equals and body_rows(equals) == ["Schule 007"]
    wrong = client.get(f"/resources/{resource_id}", params={"column": "nr", "value": "sieben"})
    assert wrong.status_code == 200
    assert 'role="alert"' in wrong.text and "Der Filter passt nicht" in wrong.text


def test_paging(client: TestClient, resource_id: str) -> None:
    html = client.get(f"/resources/{resource_id}?page=3").text
    assert body_rows(html) == [f"Schule {n}" for n in range(101, 131)]
    assert "Seite 3 von 3" in html
    assert f'href="/resources/{resource_id}?page=2" rel="prev"' in html
    assert 'rel="next"' not in html
    middle = client.get(f"/resources/{resource_id}?page=2&sort=-nr").text
    assert body_rows(middle)[0] == "Schule 080"
    assert "page=3" in middle and "page=1" in middle


def test_version_selector_shows_an_older_version(client: TestClient, resource_id: str) -> None:
    latest = client.get(f"/resources/{resource_id}").text
    assert re.search(r'<input id="version-select" name="version" type="number"[^>]* min="1" '
                     r'max="2" value="2"', latest)
    assert "2 Versionen, die neueste zuerst." in latest
    assert "hinzugefügt: <span data-user-content>plaetze</span>" in latest
    assert "entfernt: <span data-user-content>art</span>" in latest
    old = client.get(f"/resources/{resource_id}?version=1").text
    assert "120 Zeilen" in old
    assert column_header("art") in old and column_header("plaetze") not in old
    assert "Sie sehen Version 1; die neueste Version ist 2." in old
    assert re.search(r'<input id="version-select"[^>]* value="1"', old)
    assert client.get(f"/resources/{resource_id}?version=9").status_code == 404


def test_download_links_carry_filters_sort_and_version(client: TestClient,
                                                       resource_id: str) -> None:
    html = client.get(f"/resources/{resource_id}", params={
        "column": "name", "value": "Schule 12", "sort": "-nr", "version": "2"}).text
    links = re.findall(r'href="(/api/v1/resources/[^"]+/rows\?[^"]+)"', html)
    formats = {}
    for link in links:
        query = parse_qs(urlsplit(link.replace("&amp;", "&")).query)
        formats[query["format"][0]] = (link, query)
    assert set(formats) == {"csv", "csv-de", "json", "geojson", "parquet", "xlsx"}
    _, query = formats["csv"]
    assert query["name__contains"] == ["Schule 12"]
    assert query["sort"] == ["-nr"] and query["version"] == ["2"]
    link, _ = formats["csv"]
    download = client.get(link.replace("&amp;", "&"))
    assert download.status_code == 200
    assert download.text.count("\n") == 11  # header and 10 rows
    assert download.text.splitlines()[1].startswith("129,Schule 129,")  # sorted by -nr
    assert 'data-geojson-url="/api/v1/resources/' in html and "limit=2000" in html


def test_editors_see_the_upload_form_anonymous_visitors_do_not(
        client: TestClient, resource_id: str) -> None:
    for url in (f"/datasets/{TABLE}", f"/resources/{resource_id}"):
        assert "data-upload" not in client.get(url).text
    login(client, *BOCHUM_EDITOR)
    dataset_page = client.get(f"/datasets/{TABLE}").text
    assert "data-upload" in dataset_page and "Einleseoptionen" in dataset_page
    assert f'action="/api/v1/datasets/{TABLE}/resources"' in dataset_page
    resource_page = client.get(f"/resources/{resource_id}").text
    assert "Neue Version hochladen" in resource_page
    assert 'id="upload-name" name="name" type="text" value="schulen.csv"' in resource_page


# --- In the browser ------------------------------------------------------------------------

def sign_in(page: Page, email: str, password: str) -> None:
    page.goto("/login")
    page.get_by_label("E-Mail-Adresse").fill(email)
    page.get_by_label("Passwort").fill(password)
    page.get_by_role("button", name="Anmelden").click()
    expect(page.get_by_role("button", name="Abmelden")).to_be_visible()


def watch_progress(page: Page) -> list[str]:
    """The texts the upload status shows, as they change."""
    seen: list[str] = []
    page.expose_function("reportProgress", lambda text: seen.append(text))
    page.evaluate("""() => {
        const box = document.querySelector('[data-upload-message]');
        new MutationObserver(() => window.reportProgress(
            box.textContent + ' ' + document.querySelector('#upload-progress').value))
          .observe(box, {childList: true, characterData: true, subtree: true});
    }""")
    return seen


@pytest.mark.browser
def test_upload_a_csv_and_see_it_on_the_map(page: Page, resource_id: str) -> None:
    sign_in(page, *BOCHUM_EDITOR)
    page.goto(f"/datasets/{UPLOADS}")
    form = page.locator("form[data-upload]")
    expect(form).to_be_visible()
    seen = watch_progress(page)
    page.get_by_label("Datei (CSV, Excel, GeoJSON, …)").set_input_files(str(SCHULEN))
    page.get_by_label("Name der Ressource (optional)").fill("Schulen")
    page.get_by_text("Einleseoptionen").click()
    page.get_by_label("Trennzeichen").select_option(";")
    page.get_by_role("button", name="Hochladen").click()

    expect(page).to_have_url(re.compile(r"/resources/[0-9a-f-]+$"), timeout=30_000)
    assert any("hochgeladen" in text or "verarbeitet" in text or "Wartet" in text
               for text in seen), seen
    expect(page.get_by_role("heading", level=1)).to_have_text("Schulen")
    expect(page.locator("#row-count")).to_have_text("298 Zeilen")
    expect(page.get_by_text("Semikolon ;").first).to_be_visible()
    page.wait_for_function(
        "document.querySelectorAll('#map .leaflet-interactive').length > 0", timeout=15_000)
    markers = page.locator("#map .leaflet-interactive").count()
    assert markers > 0
    # offline, the map shows where things are: the organizations' areas with their names, a
    # scale bar, controls in German
    page.wait_for_function("Number(document.querySelector('#map').dataset.areas) > 0")
    expect(page.locator("#map .map-area-label", has_text="Stadt Dortmund")).to_be_visible()
    expect(page.locator("#map .leaflet-control-scale-line").first).to_be_visible()
    expect(page.locator("#map .leaflet-control-zoom-in")).to_have_attribute("title",
                                                                          "Vergrößern")
    page.locator("#map").scroll_into_view_if_needed()
    page.screenshot(path="/tmp/ingest-resource-1280.png", full_page=True)
    # the click event itself (a click at the feature's place misses while the map still moves)
    page.locator("#map .leaflet-interactive").first.dispatch_event("click")
    expect(page.locator(".leaflet-popup-content dt").first).to_be_visible()
    page.set_viewport_size({"width": 375, "height": 800})
    page.reload()
    page.wait_for_function("document.querySelectorAll('#map .leaflet-interactive').length > 0")
    page.screenshot(path="/tmp/ingest-resource-375.png", full_page=True)
    for number, section in enumerate(page.locator("main section").all()):
        section.screenshot(path=f"/tmp/ingest-resource-375-{number}.png")
    page.goto(f"/datasets/{UPLOADS}")
    page.screenshot(path="/tmp/ingest-dataset-375.png", full_page=True)


@pytest.mark.browser
def test_a_broken_file_shows_the_german_error(page: Page, resource_id: str,
                                              tmp_path: Path) -> None:
    broken = tmp_path / "kaputt.csv"
    broken.write_bytes(b"\x00\x01\x02\xff\xfe\x89PNG" * 50)
    sign_in(page, *BOCHUM_EDITOR)
    page.goto(f"/datasets/{UPLOADS}")
    page.get_by_label("Datei (CSV, Excel, GeoJSON, …)").set_input_files(str(broken))
    page.get_by_role("button", name="Hochladen").click()
    alert = page.locator("form[data-upload] [role=alert]")
    expect(alert).to_be_visible(timeout=30_000)
    expect(alert).to_contain_text("Die Datei konnte nicht eingelesen werden.")
    expect(alert).to_contain_text("Die Datei kaputt.csv ist keine Textdatei")
    expect(page).to_have_url(f"/datasets/{UPLOADS}")
    page.screenshot(path="/tmp/ingest-error-1280.png", full_page=True)


def test_a_broken_file_shows_the_english_error_on_the_english_page(page: Page, resource_id: str,
                                                                    tmp_path: Path) -> None:
    broken = tmp_path / "broken.csv"
    broken.write_bytes(b"\x00\x01\x02\xff\xfe\x89PNG" * 50)
    sign_in(page, *BOCHUM_EDITOR)
    page.goto(f"/datasets/{UPLOADS}?lang=en")
    page.locator("input[type=file][name=file]").set_input_files(str(broken))
    page.locator("form[data-upload] button[type=submit]").click()
    alert = page.locator("form[data-upload] [role=alert]")
    expect(alert).to_be_visible(timeout=30_000)
    expect(alert).to_contain_text("The file could not be read.")
    expect(alert).to_contain_text("The file broken.csv is not a text file")


@pytest.mark.browser
def test_downloads_keep_their_names_in_the_browser(page: Page, site: Site, resource_id: str,
                                                   tmp_path: Path) -> None:
    """Chromium saves what the user sees as the resource's name, umlauts, dashes, quotes and
    the euro sign included, and CSV and CSV for Excel under different names."""
    with site.platform.db.session() as s:
        editor = accounts.actor_for(accounts.get_user(s, BOCHUM_EDITOR[0]))
    source = tmp_path / "gebuehren.csv"
    source.write_text("Zone;Gebühr\nA;1,50\n", encoding="utf-8")
    name = "Parkgebühren – „Innenstadt“ in €.csv"
    result = ingest(site.platform, editor, IngestRequest(
        dataset=UPLOADS, source=source, original_name=name))
    page.goto(f"/resources/{result.resource}")
    saved = {}
    for label in ("CSV", "CSV (deutsches Excel)", "Excel (xlsx)"):
        with page.expect_download() as download:
            page.locator("ul.downloads a", has_text=re.compile(rf"^{re.escape(label)}$")).click()
        saved[label] = download.value.suggested_filename
    assert saved == {
        "CSV": "Parkgebühren – „Innenstadt“ in €-v1.csv",
        "CSV (deutsches Excel)": "Parkgebühren – „Innenstadt“ in €-v1.de.csv",
        "Excel (xlsx)": "Parkgebühren – „Innenstadt“ in €-v1.xlsx",
    }
