"""Administration in the web UI: editing an organization, its members and the trash."""

from __future__ import annotations

import json
import re

import pytest
from fastapi.testclient import TestClient
from playwright.sync_api import Page, expect
from ui_support import ADMIN, EDITOR, SYSTEM_ACTOR, Site, csrf_of, login

from allmende.access import accounts
from allmende.catalog import datasets, organizations

HAGEN_ADMIN = ("admin@hagen.example", "hagen-passwort-1")
SYSADMIN = ("root@allmende.example", "root-passwort-1")
NEWCOMER = ("neu@hagen.example", "neu-passwort-1")
POLYGON = {"type": "Polygon", "coordinates": [[[7.37, 51.28], [7.60, 51.28], [7.60, 51.43],
                                               [7.37, 51.43], [7.37, 51.28]]]}
HAGEN_FORM = {"name": "Stadt Hagen", "type": "municipality", "ags": "05914000",
              "description": "Die Stadt Hagen.", "logo_url": "", "contact_email": "",
              "website": "", "bbox_lon_min": "", "bbox_lat_min": "", "bbox_lon_max": "",
              "bbox_lat_max": "", "area": ""}


@pytest.fixture(scope="module", autouse=True)
def hagen(site: Site) -> None:
    """An organization of their own for these tests, so that they change nothing others use."""
    with site.platform.db.session() as s:
        org = organizations.create_organization(s, SYSTEM_ACTOR, {
            "slug": "hagen", "name": "Stadt Hagen", "type": "municipality", "ags": "05914000",
            "description": "Die Stadt Hagen."})
        admin = accounts.create_user(s, *HAGEN_ADMIN, name="Hanna Hagen")
        accounts.set_membership(s, SYSTEM_ACTOR, admin, org, "admin")
        accounts.create_user(s, *NEWCOMER, name="Nils Neu")
        accounts.create_user(s, *SYSADMIN, name="Sina System", sysadmin=True)
        for name, title in [("hagen-muell", "Müllabfuhr in Hagen"),
                            ("hagen-brunnen", "Brunnen in Hagen"),
                            ("hagen-baeume", "Stadtbäume in Hagen")]:
            datasets.create_dataset(s, accounts.actor_for(admin), {
                "name": name, "organization": "hagen", "title": title,
                "description": f"{title}.", "themes": ["ENVI"]})


def post_form(client: TestClient, url: str, data: dict[str, object]) -> object:
    token = csrf_of(client.get("/login").text)
    return client.post(url, data={"csrf_token": token, **data}, follow_redirects=False)


def organization_json(client: TestClient, slug: str) -> dict:
    response = client.get(f"/api/v1/organizations/{slug}", headers={"accept": "application/json"})
    assert response.status_code == 200
    return response.json()


# --- Organization edit -----------------------------------------------------------------------

def test_only_admins_see_the_edit_and_members_links(client: TestClient) -> None:
    for who in (None, EDITOR):
        if who:
            login(client, *who)
        html = client.get("/organizations/dortmund").text
        assert "/organizations/dortmund/edit" not in html
        assert "/organizations/dortmund/members" not in html
    login(client, *ADMIN)
    html = client.get("/organizations/dortmund").text
    assert re.search(r'href="/organizations/dortmund/edit">Bearbeiten</a>', html)
    assert re.search(r'href="/organizations/dortmund/members">Mitglieder</a>', html)
    # Admin of Dortmund only: Kreis Unna offers no links.
    assert "/organizations/kreis-unna/edit" not in client.get("/organizations/kreis-unna").text


def test_the_edit_form_is_filled_for_admins_and_sysadmins(client: TestClient) -> None:
    login(client, *ADMIN)
    response = client.get("/organizations/dortmund/edit")
    assert response.status_code == 200
    html = response.text
    assert "<h1>Organisation bearbeiten</h1>" in html
    assert 'value="Stadt Dortmund"' in html and 'value="05913000"' in html
    assert 'value="municipality" selected' in html
    assert 'id="f-bbox_lon_min" name="bbox_lon_min" type="number"' in html
    assert 'value="7.3"' in html and 'value="51.6"' in html
    assert 'aria-describedby="bbox-hint"' in html
    assert client.get("/organizations/kreis-unna/edit").status_code == 403
    login(client, *SYSADMIN)
    assert client.get("/organizations/kreis-unna/edit").status_code == 200
    assert client.get("/organizations/kreis-unna/edit?lang=en").status_code == 200


def test_editors_and_anonymous_visitors_may_not_edit(client: TestClient) -> None:
    response = client.get("/organizations/dortmund/edit", follow_redirects=False)
    assert response.status_code == 303
    assert response.headers["location"] == "/login?next=%2Forganizations%2Fdortmund%2Fedit"
    assert post_form(client, "/organizations/dortmund/edit",
                     {**HAGEN_FORM, "name": "Gekapert"}).status_code == 401
    login(client, *EDITOR)
    assert client.get("/organizations/dortmund/edit").status_code == 403
    assert post_form(client, "/organizations/dortmund/edit",
                     {**HAGEN_FORM, "name": "Gekapert"}).status_code == 403
    assert organization_json(client, "dortmund")["name"] == "Stadt Dortmund"


def test_fields_and_bounding_box_are_saved(client: TestClient) -> None:
    login(client, *HAGEN_ADMIN)
    response = post_form(client, "/organizations/hagen/edit", {
        **HAGEN_FORM, "description": "Die Stadt Hagen.\r\nTor zum Sauerland.",
        "contact_email": "opendata@hagen.example", "website": "https://www.hagen.de",
        "bbox_lon_min": "7,37", "bbox_lat_min": "51.28", "bbox_lon_max": "7.60",
        "bbox_lat_max": "51.43"})
    assert response.status_code == 303
    assert response.headers["location"] == "/organizations/hagen"
    org = organization_json(client, "hagen")
    assert org["bbox"] == [7.37, 51.28, 7.6, 51.43]
    assert org["description"] == "Die Stadt Hagen.\nTor zum Sauerland."
    assert org["contact_email"] == "opendata@hagen.example"
    assert org["website"] == "https://www.hagen.de"
    assert "7.37, 51.28, 7.6, 51.43" in client.get("/organizations/hagen").text


def test_a_polygon_is_saved_and_gives_the_bounding_box(client: TestClient) -> None:
    login(client, *HAGEN_ADMIN)
    response = post_form(client, "/organizations/hagen/edit",
                         {**HAGEN_FORM, "area": json.dumps(POLYGON)})
    assert response.status_code == 303
    org = organization_json(client, "hagen")
    assert org["area"] == POLYGON
    assert org["bbox"] == [7.37, 51.28, 7.6, 51.43]
    # The stored area is mentioned, not copied into the form.
    form = client.get("/organizations/hagen/edit").text
    assert "Ein Gebiet (Polygon) ist gespeichert" in form
    assert '"coordinates"' not in form


def test_an_invalid_ags_is_shown_next_to_the_field(client: TestClient) -> None:
    login(client, *HAGEN_ADMIN)
    response = post_form(client, "/organizations/hagen/edit",
                         {**HAGEN_FORM, "name": "Hagen neu", "ags": "1234"})
    assert response.status_code == 422
    html = response.text
    assert re.search(r'<p class="field-error" id="ags-error">Der Amtliche Gemeindeschlüssel '
                     r'hat genau acht Ziffern', html)
    assert 'aria-describedby="ags-hint ags-error" aria-invalid="true"' in html
    assert 'value="1234"' in html and 'value="Hagen neu"' in html
    assert "Bitte korrigieren Sie die markierten Felder." in html
    assert organization_json(client, "hagen")["name"] == "Stadt Hagen"


def test_invalid_geojson_is_shown_next_to_the_area(client: TestClient) -> None:
    login(client, *HAGEN_ADMIN)
    response = post_form(client, "/organizations/hagen/edit",
                         {**HAGEN_FORM, "name": "Hagen neu", "area": '{"type": "Polygon",'})
    assert response.status_code == 422
    assert re.search(r'<p class="field-error" id="area-error">Das ist kein gültiges JSON\.',
                     response.text)
    assert 'aria-describedby="area-hint area-error" aria-invalid="true"' in response.text
    assert '>{&#34;type&#34;: &#34;Polygon&#34;,</textarea>' in response.text
    # Valid JSON but no polygon: the service's message, and nothing is half saved.
    response = post_form(client, "/organizations/hagen/edit", {
        **HAGEN_FORM, "name": "Hagen neu",
        "area": json.dumps({"type": "Point", "coordinates": [7.4, 51.3]})})
    assert response.status_code == 422
    assert 'id="area-error">Das Gebiet muss ein GeoJSON-Polygon' in response.text
    assert organization_json(client, "hagen")["name"] == "Stadt Hagen"


def test_an_incomplete_bounding_box_is_rejected(client: TestClient) -> None:
    login(client, *HAGEN_ADMIN)
    response = post_form(client, "/organizations/hagen/edit",
                         {**HAGEN_FORM, "bbox_lon_min": "7.3", "bbox_lat_max": "51.5"})
    assert response.status_code == 422
    assert 'id="bbox-error">Bitte alle vier Werte der Ausdehnung angeben' in response.text
    assert 'aria-describedby="bbox-hint bbox-error"' in response.text
    response = post_form(client, "/organizations/hagen/edit", {
        **HAGEN_FORM, "bbox_lon_min": "7.6", "bbox_lat_min": "51.2", "bbox_lon_max": "7.3",
        "bbox_lat_max": "51.5"})
    assert response.status_code == 422
    assert 'id="bbox-error">Die Ausdehnung ist keine gültige WGS84-Box' in response.text


# --- Members ---------------------------------------------------------------------------------

def test_admins_see_the_member_list(client: TestClient) -> None:
    login(client, *ADMIN)
    response = client.get("/organizations/dortmund/members")
    assert response.status_code == 200
    html = response.text
    assert "<h1>Mitglieder</h1>" in html
    assert "editor@dortmund.example" in html and "Erika Editorin" in html
    assert "admin@dortmund.example" in html and "(Sie)" in html
    assert '<option value="editor" selected>Redaktion</option>' in html
    assert '<option value="admin" selected>Administration</option>' in html
    assert client.get("/organizations/dortmund/members?lang=en").status_code == 200


def test_editors_and_anonymous_visitors_may_not_manage_members(client: TestClient) -> None:
    response = client.get("/organizations/dortmund/members", follow_redirects=False)
    assert response.status_code == 303 and response.headers["location"].startswith("/login?")
    login(client, *EDITOR)
    assert client.get("/organizations/dortmund/members").status_code == 403
    response = post_form(client, "/organizations/dortmund/members",
                         {"email": NEWCOMER[0], "role": "admin"})
    assert response.status_code == 403
    assert post_form(client, "/organizations/dortmund/members/role",
                     {"email": EDITOR[0], "role": "admin"}).status_code == 403
    assert post_form(client, "/organizations/dortmund/members/remove",
                     {"email": ADMIN[0]}).status_code == 403


def test_add_change_and_remove_a_member(client: TestClient) -> None:
    login(client, *HAGEN_ADMIN)
    assert NEWCOMER[0] not in client.get("/organizations/hagen/members").text
    response = post_form(client, "/organizations/hagen/members",
                         {"email": " Neu@Hagen.example ", "role": "member"})
    assert response.status_code == 303
    assert response.headers["location"] == "/organizations/hagen/members"
    html = client.get("/organizations/hagen/members").text
    row = re.search(r"<tr>\s*<td><span data-user-content>Nils Neu.*?</tr>", html, re.S).group(0)
    assert '<option value="member" selected>' in row

    response = post_form(client, "/organizations/hagen/members/role",
                         {"email": NEWCOMER[0], "role": "editor"})
    assert response.status_code == 303
    row = re.search(r"<tr>\s*<td><span data-user-content>Nils Neu.*?</tr>",
                    client.get("/organizations/hagen/members").text, re.S).group(0)
    assert '<option value="editor" selected>' in row
    # The new editor may now create datasets in Hagen.
    login(client, *NEWCOMER)
    assert 'value="hagen"' in client.get("/datasets/new").text
    login(client, *HAGEN_ADMIN)

    response = post_form(client, "/organizations/hagen/members/role",
                         {"email": NEWCOMER[0], "role": "chef"})
    assert response.status_code == 422
    assert "Unbekannte Rolle „<span data-user-content>chef</span>“" in response.text

    response = post_form(client, "/organizations/hagen/members/remove", {"email": NEWCOMER[0]})
    assert response.status_code == 303
    assert NEWCOMER[0] not in client.get("/organizations/hagen/members").text


def test_an_unknown_email_is_shown_next_to_the_field(client: TestClient) -> None:
    login(client, *HAGEN_ADMIN)
    response = post_form(client, "/organizations/hagen/members",
                         {"email": "niemand@example.org", "role": "editor"})
    assert response.status_code == 422
    html = response.text
    assert re.search(r'<p class="field-error" id="email-error">Es gibt kein Konto für '
                     r"<span data-user-content>niemand@example.org</span>.</p>", html)
    assert 'aria-describedby="email-hint email-error" aria-invalid="true"' in html
    assert 'value="niemand@example.org"' in html and 'value="editor" selected' in html
    response = post_form(client, "/organizations/hagen/members", {"email": "", "role": "editor"})
    assert response.status_code == 422
    assert 'id="email-error">Bitte geben Sie die E-Mail-Adresse eines bestehenden Kontos an.' \
        in response.text


# --- Trash -----------------------------------------------------------------------------------

def test_the_trash_lists_deleted_datasets_for_their_admins_only(client: TestClient) -> None:
    response = client.get("/trash", follow_redirects=False)
    assert response.status_code == 303 and response.headers["location"] == "/login?next=%2Ftrash"
    login(client, *HAGEN_ADMIN)
    assert ">Papierkorb</a>" in client.get("/").text
    assert post_form(client, "/datasets/hagen-brunnen/delete", {}).status_code == 303
    html = client.get("/trash").text
    assert "<h1>Papierkorb</h1>" in html
    assert ('<a href="/datasets/hagen-brunnen"><span data-user-content>Brunnen in Hagen'
            '</span></a>') in html
    assert '<a href="/organizations/hagen" data-user-content>Stadt Hagen</a>' in html
    assert 'action="/datasets/hagen-brunnen/restore"' in html
    assert re.search(r'<time datetime="[0-9T:.+-]+">[^<]+</time>', html)

    login(client, *ADMIN)  # admin of another organization
    assert "hagen-brunnen" not in client.get("/trash").text
    login(client, *EDITOR)
    assert ">Papierkorb</a>" not in client.get("/").text
    trash = client.get("/trash")
    assert trash.status_code == 200 and "Der Papierkorb ist leer." in trash.text
    login(client, *SYSADMIN)
    assert "hagen-brunnen" in client.get("/trash").text

    login(client, *HAGEN_ADMIN)
    response = post_form(client, "/datasets/hagen-brunnen/restore", {})
    assert response.status_code == 303
    assert "hagen-brunnen" not in client.get("/trash").text
    assert "Wiederherstellen" not in client.get("/datasets/hagen-brunnen").text
    assert client.get("/trash?lang=en").status_code == 200


# --- CSRF ------------------------------------------------------------------------------------

@pytest.mark.parametrize("url", ["/organizations/hagen/edit", "/organizations/hagen/members",
                                 "/organizations/hagen/members/role",
                                 "/organizations/hagen/members/remove"])
def test_new_posts_without_csrf_token_are_rejected(client: TestClient, url: str) -> None:
    login(client, *HAGEN_ADMIN)
    data = {**HAGEN_FORM, "name": "Ohne Token", "email": HAGEN_ADMIN[0], "role": "member"}
    assert client.post(url, data=data, follow_redirects=False).status_code == 403
    wrong = client.post(url, data={**data, "csrf_token": "falsch"}, follow_redirects=False)
    assert wrong.status_code == 403
    assert organization_json(client, "hagen")["name"] == "Stadt Hagen"
    own = re.search(r"<tr>\s*<td><span data-user-content>Hanna Hagen.*?</tr>",
                    client.get("/organizations/hagen/members").text, re.S).group(0)
    assert '<option value="admin" selected>' in own  # still an admin


# --- In the browser --------------------------------------------------------------------------

@pytest.mark.browser
def test_delete_a_dataset_find_it_in_the_trash_and_restore_it(page: Page) -> None:
    page.goto("/login")
    page.get_by_label("E-Mail-Adresse").fill(HAGEN_ADMIN[0])
    page.get_by_label("Passwort").fill(HAGEN_ADMIN[1])
    page.get_by_role("button", name="Anmelden").click()
    expect(page.get_by_role("button", name="Abmelden")).to_be_visible()

    page.goto("/datasets/hagen-baeume")
    page.once("dialog", lambda dialog: dialog.accept())  # "Really delete this dataset?"
    page.get_by_role("button", name="Löschen").click()
    expect(page.get_by_role("status")).to_contain_text("Dieser Datensatz wurde am")

    page.get_by_role("navigation", name="Hauptnavigation").get_by_role(
        "link", name="Papierkorb").click()
    expect(page).to_have_url("/trash")
    expect(page.get_by_role("heading", level=1)).to_have_text("Papierkorb")
    row = page.get_by_role("row").filter(has_text="Stadtbäume in Hagen")
    expect(row.get_by_role("cell", name="Stadt Hagen")).to_be_visible()
    row.get_by_role("button", name="Wiederherstellen Stadtbäume in Hagen").click()

    expect(page).to_have_url("/datasets/hagen-baeume")
    expect(page.get_by_role("heading", level=1)).to_have_text("Stadtbäume in Hagen")
    expect(page.get_by_role("button", name="Löschen")).to_be_visible()
    page.goto("/trash")
    expect(page.get_by_text("Der Papierkorb ist leer.")).to_be_visible()
