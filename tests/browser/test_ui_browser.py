"""The web UI in a real browser: Debian's chromium driven by Playwright."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect
from ui_support import EDITOR

pytestmark = pytest.mark.browser
TITLE = re.compile(r"^Titel\b")


def sign_in(page: Page, email: str, password: str) -> None:
    page.goto("/login")
    page.get_by_label("E-Mail-Adresse").fill(email)
    page.get_by_label("Passwort").fill(password)
    page.get_by_role("button", name="Anmelden").click()
    expect(page.locator("form[action=\"/logout\"]")).to_be_attached()  # in the menu


def unlabelled_fields(page: Page) -> list[str]:
    """Visible form fields without an accessible label."""
    return page.evaluate("""() => [...document.querySelectorAll('input, select, textarea')]
        .filter(el => el.type !== 'hidden' && !(el.labels && el.labels.length)
                      && !el.getAttribute('aria-label'))
        .map(el => el.name || el.id)""")


def test_create_a_dataset_and_find_it_from_the_start_page(page: Page) -> None:
    sign_in(page, *EDITOR)
    page.get_by_role("link", name="Neuer Datensatz").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Neuer Datensatz")
    assert unlabelled_fields(page) == []
    page.get_by_label("Organisation").select_option(label="Stadt Dortmund")
    page.get_by_label(TITLE).fill("Ladesäulen am Hauptbahnhof")
    page.get_by_label("Kennung (Teil der Web-Adresse)").fill("ladesaeulen-hauptbahnhof")
    page.get_by_label("Beschreibung").fill("Öffentliche Ladesäulen für E-Autos.\nRund um den "
                                           "Dortmunder Hauptbahnhof.")
    page.get_by_label("Schlagwörter").fill("Elektromobilität, Laden")
    page.get_by_label("Energie").check()
    page.get_by_label("Verkehr").check()
    page.get_by_label("Aktualisierungsfrequenz").select_option("MONTHLY")
    page.get_by_role("button", name="Datensatz anlegen").click()

    expect(page).to_have_url("/datasets/ladesaeulen-hauptbahnhof")
    expect(page.get_by_role("heading", level=1)).to_have_text("Ladesäulen am Hauptbahnhof")
    expect(page.locator(".description p")).to_have_count(2)
    expect(page.get_by_role("cell", name="monatlich")).to_be_visible()

    page.goto("/")
    # other tests of the same server add charging datasets: "hauptbahnhof" singles ours out
    page.get_by_label("Datensätze durchsuchen").fill("ladesaeule hauptbahnhof")
    page.get_by_role("button", name="Suchen").click()
    expect(page).to_have_url("/datasets?q=ladesaeule+hauptbahnhof")
    expect(page.get_by_text("1 Datensatz gefunden")).to_be_visible()
    result = page.get_by_role("link", name="Ladesäulen am Hauptbahnhof")
    expect(result).to_be_visible()
    result.click()
    expect(page).to_have_url("/datasets/ladesaeulen-hauptbahnhof")


def test_switch_the_language_to_english_and_back(page: Page) -> None:
    page.goto("/")
    expect(page.locator("html")).to_have_attribute("lang", "de")
    navigation = page.get_by_role("navigation", name="Hauptnavigation")
    expect(navigation.get_by_role("link", name="Datensätze")).to_be_visible()

    page.get_by_role("link", name="English").click()
    expect(page.locator("html")).to_have_attribute("lang", "en")
    navigation = page.get_by_role("navigation", name="Main navigation")
    expect(navigation.get_by_role("link", name="Datasets")).to_be_visible()
    expect(navigation.get_by_role("link", name="Organizations")).to_be_visible()
    expect(page.get_by_label("Search datasets")).to_be_visible()
    # The choice sticks to the next pages.
    navigation.get_by_role("link", name="Organizations").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Organizations")

    page.get_by_role("link", name="Deutsch").click()
    expect(page.locator("html")).to_have_attribute("lang", "de")
    expect(page.get_by_role("heading", level=1)).to_have_text("Organisationen")
    page.goto("/")
    expect(page.get_by_role("navigation", name="Hauptnavigation")
           .get_by_role("link", name="Datensätze")).to_be_visible()


def test_editors_edit_and_anonymous_visitors_see_no_edit_button(page: Page, browser) -> None:  # type: ignore[no-untyped-def]
    page.goto("/datasets/baustellen")
    expect(page.get_by_role("heading", level=1)).to_have_text("Baustellen in Dortmund")
    expect(page.get_by_role("link", name="Bearbeiten")).to_have_count(0)
    expect(page.get_by_role("button", name="Löschen")).to_have_count(0)

    sign_in(page, *EDITOR)
    page.goto("/datasets/baustellen")
    expect(page.get_by_role("button", name="Löschen")).to_have_count(0)  # editors may not delete
    page.get_by_role("link", name="Bearbeiten").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Datensatz bearbeiten")
    assert unlabelled_fields(page) == []
    title = page.get_by_label(TITLE)
    expect(title).to_have_value("Baustellen in Dortmund")
    title.fill("Baustellen und Sperrungen in Dortmund")
    page.get_by_label("Zugriffsstufe").select_option("members")
    page.get_by_role("button", name="Änderungen speichern").click()
    expect(page).to_have_url("/datasets/baustellen")
    expect(page.get_by_role("heading", level=1)).to_have_text(
        "Baustellen und Sperrungen in Dortmund")
    expect(page.locator(".history")).to_contain_text("Erika Editorin hat geändert: Titel, "
                                                     "Zugriffsstufe")

    anonymous = browser.new_context(base_url=page.url.split("/datasets")[0])
    try:
        visitor = anonymous.new_page()
        visitor.goto("/datasets/spielplaetze")
        expect(visitor.get_by_role("heading", level=1)).to_have_text("Spielplätze in Dortmund")
        expect(visitor.get_by_role("link", name="Bearbeiten")).to_have_count(0)
        # A members-only dataset is not visible to anonymous visitors at all.
        assert visitor.goto("/datasets/baustellen").status == 404
    finally:
        anonymous.close()


def test_an_empty_title_shows_the_german_message_next_to_the_field(page: Page) -> None:
    sign_in(page, *EDITOR)
    page.goto("/datasets/new")
    page.get_by_label("Kennung (Teil der Web-Adresse)").fill("ohne-titel")
    page.get_by_label("Beschreibung").fill("Ein Datensatz ohne Titel.")
    with page.expect_response(lambda r: r.url.endswith("/datasets/new")
                              and r.request.method == "POST") as answer:
        page.get_by_role("button", name="Datensatz anlegen").click()
    assert answer.value.status == 422
    title = page.get_by_label(TITLE)
    expect(title).to_have_attribute("aria-invalid", "true")
    expect(title).to_have_attribute("aria-describedby", "title-error")
    expect(page.locator("#title-error")).to_have_text("Darf nicht leer sein.")
    expect(page.get_by_role("alert")).to_contain_text("Bitte korrigieren Sie die markierten "
                                                      "Felder.")
    # What was entered is still there.
    expect(page.get_by_label("Beschreibung")).to_have_value("Ein Datensatz ohne Titel.")
    expect(page.get_by_label("Kennung (Teil der Web-Adresse)")).to_have_value("ohne-titel")


def test_on_a_phone_the_header_is_small_and_the_menu_opens(page: Page) -> None:
    sign_in(page, *EDITOR)  # the longest menu
    page.set_viewport_size({"width": 375, "height": 800})
    page.goto("/datasets?q=dortmund")
    header = page.locator("header.site-header").bounding_box()
    assert header["height"] <= 0.12 * 800, f"the header takes {header['height']}px of 800"
    expect(page.get_by_role("link", name="Neuer Datensatz")).to_be_hidden()
    page.get_by_text("Menü").click()
    expect(page.get_by_role("link", name="Neuer Datensatz")).to_be_visible()
    page.set_viewport_size({"width": 1280, "height": 800})
    page.goto("/datasets?q=dortmund")
    expect(page.get_by_text("Menü")).to_be_hidden()
    expect(page.get_by_role("link", name="Neuer Datensatz")).to_be_visible()


def test_the_identifier_follows_the_title_until_edited_by_hand(page: Page) -> None:
    sign_in(page, *EDITOR)
    page.goto("/datasets/new")
    identifier = page.get_by_label("Kennung (Teil der Web-Adresse)")
    page.get_by_label(TITLE).fill("Ladesäulen am Großmarkt – Straße 5")
    expect(identifier).to_have_value("ladesaeulen-am-grossmarkt-strasse-5")
    identifier.fill("grossmarkt")
    page.get_by_label(TITLE).fill("Ladesäulen am Großmarkt")
    expect(identifier).to_have_value("grossmarkt")


def test_create_an_api_token_and_see_it_once(page: Page) -> None:
    page.goto("/account/tokens")
    expect(page).to_have_url("/login?next=%2Faccount%2Ftokens")
    page.get_by_label("E-Mail-Adresse").fill(EDITOR[0])
    page.get_by_label("Passwort").fill(EDITOR[1])
    page.get_by_role("button", name="Anmelden").click()
    expect(page).to_have_url("/account/tokens")

    page.get_by_label("Name des Tokens").fill("Import-Skript")
    page.get_by_role("button", name="Token erstellen").click()
    # wait for the answer page before reading from it
    expect(page.get_by_text("Es wird nicht noch einmal angezeigt.")).to_be_visible()
    secret = page.get_by_label("Token", exact=True).input_value()
    assert secret.startswith("alm_") and len(secret) > 40
    expect(page.get_by_role("cell", name="Import-Skript", exact=True)).to_be_visible()

    page.goto("/account/tokens")  # later visits: the secret is gone, listed by its prefix
    assert secret not in page.content()
    expect(page.get_by_label("Token", exact=True)).to_have_count(0)
    expect(page.get_by_role("cell", name=secret[:12] + "…")).to_be_visible()

    page.get_by_role("button", name="Widerrufen Import-Skript").click()
    # other tests may have revoked tokens of the same user: look at this token's row
    expect(page.get_by_role("row").filter(has_text="Import-Skript")).to_contain_text(
        "widerrufen am")


@pytest.mark.parametrize("width", [1280, 375])
def test_pages_fit_the_screen(page: Page, width: int, tmp_path: Path) -> None:
    """No horizontal scrolling at desktop and phone widths; screenshots for a human look."""
    shots = Path(os.environ.get("ALLMENDE_SCREENSHOTS") or tmp_path)
    shots.mkdir(parents=True, exist_ok=True)
    page.set_viewport_size({"width": width, "height": 900})
    for name, url in [("dataset", "/datasets/spielplaetze"), ("search", "/datasets?q=dortmund"),
                      ("start", "/"), ("log", "/log"), ("form", "/datasets/new")]:
        if name == "form":
            sign_in(page, *EDITOR)
        page.goto(url)
        overflow = page.evaluate("document.documentElement.scrollWidth")
        assert overflow <= width, f"{url} is {overflow}px wide at {width}px"
        page.screenshot(path=str(shots / f"{name}-{width}.png"), full_page=True)
