"""Web UI pages through the TestClient: rendering in both languages, escaping, CSRF, forms."""

from __future__ import annotations

import re

import pytest
from fastapi.testclient import TestClient
from ui_support import ADMIN, EDITOR, csrf_of, login

PUBLIC_PAGES = ["/", "/datasets", "/datasets?q=spielplatz&theme=SOCI&sort=title",
                "/datasets/spielplaetze", "/organizations", "/organizations/dortmund", "/login"]
USER_PAGES = ["/datasets/new", "/datasets/spielplaetze/edit", "/account/tokens"]
GERMAN_NAV = ">Datensätze<"
ENGLISH_NAV = ">Datasets<"


@pytest.mark.parametrize("url", PUBLIC_PAGES)
def test_public_pages_render_in_german_by_default(client: TestClient, url: str) -> None:
    response = client.get(url)
    assert response.status_code == 200
    assert '<html lang="de">' in response.text
    assert GERMAN_NAV in response.text
    assert response.text.count("<h1") == 1


@pytest.mark.parametrize("url", PUBLIC_PAGES)
def test_public_pages_render_in_english(client: TestClient, url: str) -> None:
    response = client.get(url + ("&" if "?" in url else "?") + "lang=en")
    assert response.status_code == 200
    assert '<html lang="en">' in response.text
    assert ENGLISH_NAV in response.text
    assert response.cookies.get("allmende_lang") == "en"
    # The cookie keeps the choice on the next page.
    assert '<html lang="en">' in client.get("/organizations").text


@pytest.mark.parametrize("lang", ["de", "en"])
@pytest.mark.parametrize("url", USER_PAGES)
def test_pages_of_signed_in_users_render(client: TestClient, url: str, lang: str) -> None:
    login(client, *EDITOR)
    response = client.get(f"{url}?lang={lang}")
    assert response.status_code == 200
    assert f'<html lang="{lang}">' in response.text
    assert (ENGLISH_NAV if lang == "en" else GERMAN_NAV) in response.text


def test_user_pages_redirect_anonymous_visitors_to_login(client: TestClient) -> None:
    for url in USER_PAGES:
        response = client.get(url, follow_redirects=False)
        assert response.status_code == 303
        assert response.headers["location"].startswith("/login?next=%2F")


def test_html_in_a_title_is_escaped(client: TestClient) -> None:
    for url in ("/datasets/xss-test", "/datasets?q=haushalt", "/organizations/dortmund"):
        html = client.get(url).text
        assert "<script>alert" not in html, url
        assert "&lt;script&gt;alert(" in html, url
    assert "&lt;b&gt;fett&lt;/b&gt; &amp; mehr" in client.get("/datasets/xss-test").text


def test_description_lines_become_paragraphs(client: TestClient) -> None:
    html = client.get("/datasets/spielplaetze").text
    assert ("<p data-user-content>Alle öffentlichen Spielplätze.</p>"
            "<p data-user-content>Mit Lage und Ausstattung.</p>") in html


def test_unknown_pages_render_the_german_error_page(client: TestClient) -> None:
    response = client.get("/datasets/gibt-es-nicht")
    assert response.status_code == 404
    assert "Seite nicht gefunden" in response.text
    # the name asked for is marked as what users wrote
    assert "Den Datensatz „<span data-user-content>gibt-es-nicht</span>“ gibt es nicht." \
        in response.text


@pytest.mark.parametrize("url", ["/login", "/logout", "/datasets/new", "/account/tokens",
                                 "/datasets/spielplaetze/edit", "/datasets/spielplaetze/delete",
                                 "/datasets/spielplaetze/restore",
                                 "/datasets/spielplaetze/resources"])
def test_posts_without_csrf_token_are_rejected(client: TestClient, url: str) -> None:
    login(client, *ADMIN)
    response = client.post(url, data={"title": "x", "email": EDITOR[0], "password": EDITOR[1]},
                           follow_redirects=False)
    assert response.status_code == 403
    wrong = client.post(url, data={"csrf_token": "falsch"}, follow_redirects=False)
    assert wrong.status_code == 403
    assert client.get("/datasets/spielplaetze").status_code == 200  # nothing was deleted


def test_wrong_password_shows_the_german_message(client: TestClient) -> None:
    token = csrf_of(client.get("/login").text)
    response = client.post("/login", data={"csrf_token": token, "email": EDITOR[0],
                                           "password": "falsch-falsch"})
    assert response.status_code == 401
    assert "E-Mail-Adresse oder Passwort ist falsch." in response.text
    assert 'value="editor@dortmund.example"' in response.text


@pytest.mark.parametrize("target", ["//evil.example/x", "https://evil.example/", "/\\evil.example"])
def test_login_follows_only_local_next(client: TestClient, target: str) -> None:
    token = csrf_of(client.get("/login").text)
    response = client.post("/login", data={"csrf_token": token, "email": EDITOR[0],
                                           "password": EDITOR[1], "next": target},
                           follow_redirects=False)
    assert response.status_code == 303
    assert response.headers["location"] == "/"


def test_login_renews_the_csrf_token_and_logout_clears_the_session(client: TestClient) -> None:
    before = csrf_of(client.get("/login").text)
    login(client, *EDITOR)
    after = csrf_of(client.get("/").text)
    assert after != before
    assert "Abmelden" in client.get("/").text
    response = client.post("/logout", data={"csrf_token": after}, follow_redirects=False)
    assert response.status_code == 303
    assert "Abmelden" not in client.get("/").text


def test_form_errors_are_shown_next_to_the_fields(client: TestClient) -> None:
    login(client, *EDITOR)
    token = csrf_of(client.get("/datasets/new").text)
    response = client.post("/datasets/new", data={
        "csrf_token": token, "organization": "dortmund", "name": "Kein Slug!", "title": "",
        "description": "Etwas", "keywords": "a, b", "themes": ["TRAN", "ENER"],
        "license": "cc-by/4.0", "contact_point": "keine-adresse", "language": "de",
        "access_level": "public",
    })
    assert response.status_code == 422
    html = response.text
    assert re.search(r'<p class="field-error" id="title-error">Darf nicht leer sein.</p>', html)
    assert 'aria-describedby="title-error" aria-invalid="true"' in html
    assert 'id="name-error">Nur Kleinbuchstaben' in html
    assert 'id="contact_point-error">Erwartet eine E-Mail-Adresse' in html
    # What was entered is kept.
    assert 'value="Kein Slug!"' in html and 'value="a, b"' in html
    assert 'value="TRAN" checked' in html and 'value="ENER" checked' in html
    assert 'value="cc-by/4.0" selected' in html


def test_create_edit_delete_and_restore_through_the_forms(client: TestClient) -> None:
    login(client, *ADMIN)
    token = csrf_of(client.get("/datasets/new").text)
    response = client.post("/datasets/new", data={
        "csrf_token": token, "organization": "dortmund", "name": "wahllokale",
        "title": "Wahllokale", "description": "Alle Wahllokale.", "keywords": "Wahl, Politik",
        "themes": ["GOVE"], "license": "dl-zero-de/2.0", "language": "de",
        "access_level": "public", "update_frequency": "IRREG", "issued": "2024-05-01",
    }, follow_redirects=False)
    assert response.status_code == 303
    assert response.headers["location"] == "/datasets/wahllokale"
    # The identifier is taken now.
    again = client.post("/datasets/new", data={
        "csrf_token": token, "organization": "dortmund", "name": "wahllokale", "title": "W",
        "description": "W", "language": "de", "access_level": "public",
        "license": "dl-zero-de/2.0"})
    assert again.status_code == 422 and 'id="name-error"' in again.text

    page = client.get("/datasets/wahllokale").text
    assert "Datenlizenz Deutschland – Zero – 2.0" in page and "unregelmäßig" in page
    form = client.get("/datasets/wahllokale/edit").text
    assert 'value="Wahl, Politik"' in form
    response = client.post("/datasets/wahllokale/edit", data={
        "csrf_token": token, "title": "Wahllokale 2025", "description": "Alle Wahllokale.",
        "keywords": "Wahl", "themes": ["GOVE"], "license": "dl-zero-de/2.0", "language": "de",
        "access_level": "public", "update_frequency": "IRREG", "issued": "2024-05-01",
    }, follow_redirects=False)
    assert response.status_code == 303
    page = client.get("/datasets/wahllokale").text
    assert "<h1><span data-user-content>Wahllokale 2025</span></h1>" in page
    assert "hat geändert: Titel, Schlagwörter" in page

    assert client.post("/datasets/wahllokale/delete", data={"csrf_token": token},
                       follow_redirects=False).status_code == 303
    page = client.get("/datasets/wahllokale").text
    assert "wurde am" in page and "Wiederherstellen" in page
    assert client.post("/datasets/wahllokale/restore", data={"csrf_token": token},
                       follow_redirects=False).status_code == 303
    assert "Wiederherstellen" not in client.get("/datasets/wahllokale").text


def test_anonymous_visitors_see_no_edit_buttons(client: TestClient) -> None:
    html = client.get("/datasets/spielplaetze").text
    assert "/datasets/spielplaetze/edit" not in html
    assert "Löschen" not in html
    assert "Neuer Datensatz" not in html


def test_search_facets_toggle_filters(client: TestClient) -> None:
    html = client.get("/datasets").text
    assert 'href="/datasets?theme=SOCI"' in html
    filtered = client.get("/datasets?theme=SOCI").text
    assert "1 Datensatz gefunden" in filtered
    assert 'href="/datasets"' in filtered  # selecting it again removes the filter
    assert "Spielplätze in Dortmund" in filtered
    assert "Baustellen in Dortmund" not in filtered


def test_tokens_are_shown_once_and_can_be_revoked(client: TestClient) -> None:
    login(client, *EDITOR)
    token = csrf_of(client.get("/account/tokens").text)
    created = client.post("/account/tokens", data={"csrf_token": token, "name": "Import"})
    secret = re.search(r'value="(alm_[^"]+)"', created.text).group(1)
    assert "nicht noch einmal angezeigt" in created.text
    listing = client.get("/account/tokens").text
    assert secret not in listing and secret[:12] in listing
    token_id = re.search(r'/account/tokens/(\d+)/revoke', listing).group(1)
    response = client.post(f"/account/tokens/{token_id}/revoke", data={"csrf_token": token},
                           follow_redirects=False)
    assert response.status_code == 303
    assert "widerrufen am" in client.get("/account/tokens").text
