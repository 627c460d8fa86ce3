"""Data requests in a real browser: a registered user outside the alliance asks for a
restricted dataset through the form on its page, the owner's admin finds it in the inbox,
is refused without a reason and approves it with one; the requester sees the decision and
the history."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect
from test_ui_browser import sign_in
from ui_support import ADMIN, SYSTEM_ACTOR, VIEWER, Site

from allmende.catalog import datasets


@pytest.fixture(scope="module")
def restricted(site: Site) -> str:
    with site.platform.db.session() as session:
        datasets.create_dataset(session, SYSTEM_ACTOR, {
            "name": "unfaelle-ui", "organization": "dortmund", "title": "Unfälle mit Personen",
            "description": "Unfalldaten der Polizei, nur mit Vereinbarung.",
            "access_level": "restricted"})
    return "unfaelle-ui"


def test_ask_for_a_restricted_dataset_and_approve_it(page: Page, restricted: str) -> None:
    sign_in(page, *VIEWER)
    page.goto(f"/datasets/{restricted}")
    page.get_by_role("link", name="Zugang beantragen").click()
    expect(page.get_by_role("heading", name="Zugang beantragen")).to_be_visible()
    expect(page.locator("#requester-email")).to_have_text(VIEWER[0])
    page.get_by_role("button", name="Antrag einreichen").click()  # nothing filled in yet
    expect(page.locator("#error-summary")).to_contain_text("Für den Antrag nötig.")
    page.get_by_label("Ihre Organisation").fill("Lokalzeitung Dortmund")
    page.get_by_label("Zweck", exact=True).select_option("journalismus")
    page.get_by_label("Zweck in Ihren Worten").fill("Recherche zu Unfallschwerpunkten")
    page.get_by_label("Rechtsgrundlage", exact=True).select_option("dsgvo-6-1-f")
    page.get_by_label("Ihr berechtigtes Interesse").fill("Berichterstattung im öffentlichen "
                                                        "Interesse")
    page.get_by_label("Zugang benötigt für (Tage)").fill("60")
    page.get_by_label("Empfänger der Daten").fill("Redaktion")
    page.get_by_label("Aufbewahrung und Löschkonzept").fill("Löschung nach Veröffentlichung")
    page.get_by_role("button", name="Antrag einreichen").click()
    expect(page.locator("#request-state")).to_have_text("Eingereicht")
    url = page.url
    page.get_by_role("button", name="Abmelden").click()

    sign_in(page, *ADMIN)
    page.get_by_role("link", name="Antragseingang").click()
    page.get_by_role("link", name=url.rsplit("/", 1)[1], exact=False).first.click()
    expect(page.get_by_text("Lokalzeitung Dortmund")).to_be_visible()
    page.get_by_role("button", name="Bewilligen").click()
    expect(page.locator("#error-summary")).to_contain_text("schriftlich")
    page.get_by_label("Bewilligen: Begründung").fill("Berechtigtes Interesse ist dargelegt.")
    page.get_by_role("button", name="Bewilligen").click()
    expect(page.locator("#request-state")).to_have_text("Bewilligt")
    page.get_by_role("button", name="Abmelden").click()

    sign_in(page, *VIEWER)
    page.get_by_role("link", name="Meine Anträge").click()
    expect(page.locator("table.requests")).to_contain_text("Bewilligt")
    page.goto(url + "?lang=en")
    expect(page.locator("#request-state")).to_have_text("Approved")
    expect(page.locator("ol.history")).to_contain_text("Berechtigtes Interesse ist dargelegt.")
    # from the approved request to the agreement made of it
    page.get_by_role("link", name="The agreement made of it").click()
    agreement = page.url.rsplit("#", 1)[1]
    expect(page.locator(f"#{agreement}")).to_contain_text("Recherche zu Unfallschwerpunkten")
