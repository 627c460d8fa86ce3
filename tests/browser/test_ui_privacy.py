"""The personal-data guard in a real browser: an upload with personal data is held (its page
says so, in German and English), a reader outside the organization sees the earlier version,
an admin's incomplete decision is shown at its column, a complete one publishes a new version."""

from __future__ import annotations

from pathlib import Path

from playwright.sync_api import Browser, Page, expect
from test_ui_browser import sign_in
from ui_support import ADMIN, EDITOR, SYSTEM_ACTOR, Site

from allmende.catalog import datasets
from allmende.ingest.service import IngestRequest, ingest
from privacy_data import residents_csv

HARMLESS = ("PLZ;Stadtteil;Zone;Ausweisnummer;Gebühr;lon;lat\n"
            "44137;Innenstadt-Nord;A;BP-1;30,00;7.46;51.51\n")


def _held_resource(site: Site, tmp_path: Path, name: str) -> str:
    with site.platform.db.session() as session:
        datasets.create_dataset(session, SYSTEM_ACTOR, {
            "name": name, "organization": "dortmund", "title": "Bewohnerparkausweise",
            "description": "Ausgegebene Bewohnerparkausweise."})
    for number, text in enumerate((HARMLESS, residents_csv())):
        source = tmp_path / f"ausweise-{number}.csv"
        source.write_text(text, encoding="utf-8")
        result = ingest(site.platform, SYSTEM_ACTOR, IngestRequest(
            name, source, "ausweise.csv", resource_name="ausweise.csv"))
    assert result.held
    return result.resource


def test_a_held_version_is_explained_and_decided_in_the_browser(page: Page, site: Site,
                                                                tmp_path: Path) -> None:
    resource = _held_resource(site, tmp_path, "parkausweise-ui")
    # a visitor sees the published version 1 and a note that a newer one is being checked
    page.goto(f"/resources/{resource}")
    expect(page.locator("#privacy-newer-held")).to_contain_text(
        "auf personenbezogene Daten geprüft")
    expect(page.locator("table.preview, table").first).not_to_contain_text("anna.schmidt")
    # the editor sees the held version with what was found, but no form
    sign_in(page, *EDITOR)
    page.goto(f"/resources/{resource}")
    notice = page.locator("#privacy")
    expect(notice).to_contain_text("Zurückgehalten: wahrscheinlich personenbezogene Daten")
    expect(notice).to_contain_text("E-Mail-Adresse")
    expect(notice).to_contain_text("Kfz-Kennzeichen")
    expect(page.locator("form.privacy-decision")).to_have_count(0)
    page.context.clear_cookies()
    # the admin decides: first without a reason for a confirmed column
    sign_in(page, *ADMIN)
    page.goto(f"/resources/{resource}")
    form = page.locator("form.privacy-decision")
    expect(form).to_be_visible()
    columns = form.locator("fieldset")
    count = columns.count()
    assert count == 9
    for index in range(count):
        columns.nth(index).get_by_label("Entscheidung").select_option("drop")
    first = columns.nth(0)
    first.get_by_label("Entscheidung").select_option("confirm")
    form.get_by_role("button", name="Entscheiden und veröffentlichen").click()
    expect(page.locator("#decision-errors")).to_contain_text("Grund")
    expect(page.locator("#decision-error-0")).to_be_visible()
    # the choices stay; with a reason it is published as version 3
    first = page.locator("form.privacy-decision fieldset").nth(0)
    expect(first.get_by_label("Entscheidung")).to_have_value("confirm")
    first.get_by_label("Begründung").fill("Vornamen allein sind hier nicht identifizierend")
    page.get_by_role("button", name="Entscheiden und veröffentlichen").click()
    expect(page.locator("#privacy-decided")).to_contain_text("Version 3 ist veröffentlicht")
    expect(page.locator("#privacy")).to_contain_text("Aus Version 2 veröffentlicht")
    page.context.clear_cookies()
    page.goto(f"/resources/{resource}")
    expect(page.locator("#privacy-newer-held")).to_have_count(0)
    expect(page.locator("main")).to_contain_text("Anna")  # the confirmed first names
    expect(page.locator("main")).not_to_contain_text("anna.schmidt@web.de")


def test_the_held_notice_and_form_in_english(browser: Browser, live_server: str, site: Site,
                                             tmp_path: Path) -> None:
    resource = _held_resource(site, tmp_path, "parkausweise-en")
    context = browser.new_context(base_url=live_server, locale="en-GB",
                                  extra_http_headers={"Accept-Language": "en-GB,en"})
    try:
        page = context.new_page()
        page.goto("/login?lang=en")
        page.get_by_label("E-mail address").fill(ADMIN[0])
        page.get_by_label("Password").fill(ADMIN[1])
        page.get_by_role("button", name="Sign in").click()
        page.goto(f"/resources/{resource}?lang=en")
        expect(page.locator("#privacy")).to_contain_text("Held: probably personal data")
        expect(page.locator("#privacy")).to_contain_text("e-mail address")
        form = page.locator("form.privacy-decision")
        expect(form.get_by_role("button", name="Decide and publish")).to_be_visible()
        form.get_by_role("button", name="Decide and publish").click()
        expect(page.locator("#decision-errors")).to_contain_text(
            "The decision for the column “Vorname” is missing.")
        # an anonymous visitor in a context of its own: clearing the admin's cookies raced
        # with a response still setting them on a busy machine
        anonymous = browser.new_context(base_url=live_server, locale="en-GB",
                                        extra_http_headers={"Accept-Language": "en-GB,en"})
        try:
            visitor = anonymous.new_page()
            visitor.goto(f"/resources/{resource}?version=2&lang=en")
            expect(visitor.locator(".privacy-held")).to_contain_text(
                "probably contains personal data and is held")
        finally:
            anonymous.close()
    finally:
        context.close()
