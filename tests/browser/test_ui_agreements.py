"""Usage agreements in a real browser: the holder reads "Meine Vereinbarungen" (purpose, duties,
columns, accesses, the ODRL document), the owner's admin revokes one — a missing reason is
shown at its field — and the holder's next API request is refused; the pages in English."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from playwright.sync_api import Page, expect
from test_ui_browser import sign_in
from ui_support import ADMIN, SYSTEM_ACTOR, VIEWER, Site

from allmende.access import accounts, agreements
from allmende.catalog import datasets
from allmende.ingest.service import IngestRequest, ingest
from allmende.web.app import create_app


@pytest.fixture(scope="module")
def sealed(site: Site) -> Iterator[dict[str, str]]:
    """A restricted table of Dortmund and an agreement on it for the viewer."""
    platform = site.platform
    with platform.db.session() as session:
        datasets.create_dataset(session, SYSTEM_ACTOR, {
            "name": "schulwege", "organization": "dortmund", "title": "Schulwege (intern)",
            "description": "Gefährliche Stellen auf Schulwegen.",
            "access_level": "restricted"})
    source = platform.settings.data_dir / "schulwege.csv"
    source.write_text("Stelle;Stadtteil;Meldungen\nAmpel A;Hörde;3\nKreuzung B;Mitte;5\n",
                      encoding="utf-8")
    resource = ingest(platform, SYSTEM_ACTOR, IngestRequest(
        "schulwege", source, "schulwege.csv")).resource
    now = dt.datetime.now(dt.UTC)
    with platform.db.session() as session:
        viewer = accounts.get_user(session, VIEWER[0])
        uid = agreements.grant(session, SYSTEM_ACTOR, agreements.Grant(
            "schulwege", viewer.id, now - dt.timedelta(hours=1), now + dt.timedelta(days=30),
            max_count=10, columns=("Stelle", "Stadtteil"), purpose="forschung",
            purpose_text="Studie zur Schulwegsicherheit", duties=("attribute", "delete"))).uid
        token = accounts.create_token(session, viewer.id, "Studie").secret
    yield {"uid": uid, "resource": resource, "token": token}


def test_holder_and_owner_see_the_agreement_and_the_owner_revokes_it(
        page: Page, site: Site, sealed: dict[str, str]) -> None:
    rows = f"/api/v1/resources/{sealed['resource']}/rows"
    bearer = {"Authorization": f"Bearer {sealed['token']}"}
    with TestClient(create_app(site.platform)) as api:
        assert api.get(rows, headers=bearer).status_code == 200

    sign_in(page, *VIEWER)
    page.get_by_role("link", name="Meine Vereinbarungen").first.click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Meine Vereinbarungen")
    card = page.locator(f"#a-{sealed['uid']}")
    expect(card).to_contain_text("Schulwege (intern)")
    expect(card).to_contain_text("aktiv")
    expect(card).to_contain_text("Forschung: Studie zur Schulwegsicherheit")
    expect(card).to_contain_text("Namensnennung der datenhaltenden Organisation")
    expect(card).to_contain_text("Stelle, Stadtteil")
    expect(card).to_contain_text("1 von 10 genutzt")
    with page.expect_download() as download:
        card.get_by_role("link", name="Vereinbarung als ODRL 2.2 (JSON-LD)").click()
    assert download.value.suggested_filename == f"vereinbarung-{sealed['uid']}.jsonld"
    expect(card.get_by_role("button", name="Vereinbarung widerrufen")).to_have_count(0)

    page.context.clear_cookies()
    sign_in(page, *ADMIN)
    page.goto("/organizations/dortmund")
    page.get_by_role("link", name="Nutzungsvereinbarungen").click()
    card = page.locator(f"#a-{sealed['uid']}")
    expect(card).to_contain_text(VIEWER[0])
    card.get_by_role("button", name="Vereinbarung widerrufen").click()
    card = page.locator(f"#a-{sealed['uid']}")
    expect(card.locator(".field-error")).to_contain_text("Bitte begründen Sie den Widerruf")
    expect(card.get_by_label("Begründung des Widerrufs")).to_have_attribute(
        "aria-invalid", "true")
    card.get_by_label("Begründung des Widerrufs").fill("Studie abgeschlossen")
    card.get_by_role("button", name="Vereinbarung widerrufen").click()
    card = page.locator(f"#a-{sealed['uid']}")
    expect(card).to_contain_text("widerrufen")
    expect(card).to_contain_text("Studie abgeschlossen")
    expect(card.get_by_role("button", name="Vereinbarung widerrufen")).to_have_count(0)

    with TestClient(create_app(site.platform)) as api:
        refused = api.get(rows, headers=bearer)
    assert refused.status_code == 403
    assert refused.json()["error"]["code"] == "agreement_revoked"
    assert "Studie abgeschlossen" in refused.json()["error"]["message"]

    page.goto("/organizations/dortmund/agreements?lang=en")
    expect(page.get_by_role("heading", level=1)).to_have_text(
        "Usage agreements of Stadt Dortmund")
    card = page.locator(f"#a-{sealed['uid']}")
    expect(card).to_contain_text("revoked")
    expect(card).to_contain_text("Name the owning organization")
