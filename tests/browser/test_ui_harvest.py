"""Harvesting in the web UI: an administrator adds a source, harvests it and reads the report; the
harvested dataset says where it comes from and cannot be edited; mistakes are shown at their
field and a refused address as the run's reason."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from playwright.sync_api import Page, expect
from test_ui_browser import sign_in
from ui_support import ADMIN, EDITOR, SYSTEM_ACTOR, Site, login, serving

from allmende.catalog import datasets, organizations
from allmende.config import Settings
from allmende.platform import Platform
from databases import Templates

SOURCE = "knoten-ui"


@pytest.fixture(scope="module")
def node(tmp_path_factory: pytest.TempPathFactory, templates: Templates) -> Iterator[str]:
    """Another allmende node with one open and one members-only dataset, served."""
    data_dir = tmp_path_factory.mktemp("allmende-node") / "data"
    templates.install("sqlite", "migrated", data_dir)
    platform = Platform(Settings(data_dir=data_dir, inprocess_worker=False))
    with platform.db.session() as session:
        organizations.create_organization(session, SYSTEM_ACTOR, {
            "slug": "herne", "name": "Stadt Herne", "ags": "05916000"})
        datasets.create_dataset(session, SYSTEM_ACTOR, {
            "name": "herner-brunnen", "organization": "herne", "title": "Brunnen in Herne",
            "description": "Alle Trinkbrunnen der Stadt Herne.", "keywords": ["Wasser"]})
        datasets.create_dataset(session, SYSTEM_ACTOR, {
            "name": "herne-intern", "organization": "herne", "title": "Interne Liste",
            "description": "Nur für Mitglieder.", "access_level": "members"})
    try:
        with serving(platform) as url:
            yield url
    finally:
        platform.close()


@pytest.fixture
def loopback(site: Site, monkeypatch: pytest.MonkeyPatch) -> None:
    """The node runs on this machine: harvesting may reach loopback addresses."""
    monkeypatch.setattr(site.platform.settings, "harvest_allowed_networks", "127.0.0.0/8")


def add_source(page: Page, name: str, kind: str, url: str) -> None:
    page.goto("/harvest")
    page.get_by_label("Kurzname").fill(name)
    page.get_by_label("Art der Quelle").select_option(kind)
    page.get_by_label("In die Organisation").select_option("dortmund")
    page.get_by_label("Adresse").fill(url)
    page.get_by_label("Zeitplan").select_option("off")
    page.get_by_role("button", name="Quelle hinzufügen").click()


def test_an_administrator_harvests_a_node_and_reads_the_report(
        page: Page, node: str, loopback: None) -> None:
    sign_in(page, *ADMIN)
    page.get_by_role("link", name="Harvesting").click()
    expect(page.get_by_role("heading", name="Harvesting", level=1)).to_be_visible()
    add_source(page, SOURCE, "allmende", node)
    expect(page).to_have_url(re.compile(f"/harvest/{SOURCE}$"))
    expect(page.get_by_text("Diese Quelle wurde noch nicht geerntet.")).to_be_visible()

    page.get_by_role("button", name="Jetzt ernten").click()
    run = page.locator("table.harvest-runs tbody tr").first
    expect(run.locator(".status")).to_have_text("erfolgreich", timeout=60_000)
    # created, updated, deleted, unchanged, failed: only what anonymous readers of the node see
    expect(run.locator("td").nth(2)).to_have_text("1")
    expect(run.locator("td").nth(6)).to_have_text("0")

    page.goto("/datasets?q=Brunnen+Herne")
    page.get_by_role("link", name="Brunnen in Herne").click()
    notice = page.locator(".notice.origin")
    expect(notice).to_contain_text("schreibgeschützt")
    expect(notice.get_by_role("link", name="Original ansehen")).to_have_attribute(
        "href", f"{node}/datasets/herner-brunnen")
    expect(page.get_by_role("link", name="Bearbeiten")).to_have_count(0)
    page.goto("/datasets?q=Interne+Liste")
    expect(page.get_by_role("link", name="Interne Liste")).to_have_count(0)


def test_mistakes_are_shown_at_their_field_and_a_refused_address_as_the_reason(
        page: Page, site: Site) -> None:
    sign_in(page, *ADMIN)
    add_source(page, "Falscher Name", "ckan", "ftp://portal.example")
    summary = page.locator("#error-summary")
    expect(summary).to_be_visible()
    expect(summary.get_by_role("link", name="Kurzname")).to_be_visible()
    expect(summary.get_by_role("link", name="Adresse")).to_be_visible()
    expect(page.get_by_label("Adresse")).to_have_value("ftp://portal.example")

    # the cloud's metadata address: refused before anything is fetched, not allowed by setting
    add_source(page, "metadaten", "ckan", "http://169.254.169.254/")
    page.get_by_role("button", name="Jetzt ernten").click()
    run = page.locator("table.harvest-runs tbody tr").first
    expect(run.locator(".status")).to_have_text("fehlgeschlagen", timeout=60_000)
    expect(run.locator(".field-error")).to_contain_text("169.254.169.254")


def test_only_administrators_manage_sources(client: TestClient, site: Site) -> None:
    assert client.get("/harvest", follow_redirects=False).status_code in (302, 303)
    login(client, *EDITOR)
    assert client.get("/harvest").status_code == 403
    login(client, *ADMIN)
    page = client.get("/harvest")
    assert page.status_code == 200
    assert 'name="organization"' in page.text and 'value="dortmund"' in page.text
    assert 'value="kreis-unna"' not in page.text, "only the admin's own organizations"


def test_the_pages_speak_english(page: Page, node: str, loopback: None) -> None:
    sign_in(page, *ADMIN)
    page.goto("/harvest?lang=en")
    expect(page.get_by_role("heading", name="Harvesting", level=1)).to_be_visible()
    expect(page.get_by_role("button", name="Add source")).to_be_visible()
    expect(page.get_by_label("Type of source")).to_be_visible()
    page.goto("/harvest?lang=de")
