"""The Harmonize UI: mapping editor, quality report and badges, schema pages and regional
overviews through the TestClient, and the whole flow in chromium."""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from html.parser import HTMLParser
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from playwright.sync_api import Page, expect
from starlette.datastructures import FormData
from test_ui_browser import sign_in, unlabelled_fields
from ui_support import EDITOR, SYSTEM_ACTOR, VIEWER, Site, csrf_of, login

from allmende.access import accounts
from allmende.catalog import datasets, organizations
from allmende.harmonize import service
from allmende.ingest.service import IngestRequest, ingest
from allmende.jobs import worker
from allmende.web.i18n import translations
from allmende.web.ui.mapping_form import read_mapping

HERTEN_EDITOR = ("redaktion@herten.example", "herten-passwort-1")
SYSADMIN = ("system@allmende.example", "system-passwort-1")
PUBLIC = "ladepunkte-dortmund"
RESTRICTED = "ladepunkte-intern"
BROWSER = "ladepunkte-browser"
POINTS = "ladepunkte-gruppen"  # restricted: it never reaches the regional table
# the synthetic 2022 register: up to four charging points per row (tests/data/README.md)
POINTS_CSV = (Path(__file__).parent.parent / "data" / "ladesaeulen_2022_synthetic.csv"
              ).read_text(encoding="utf-8-sig")
# German like the municipalities write it: semicolons, decimal commas, dd.mm.yyyy, one date
# that does not exist (31.02.).
CSV = """\
Betreiber;Straße;Hausnr.;PLZ;Ort;Breitengrad;Längengrad;Leistung (kW);Ladepunkte;\
In Betrieb seit;EVSE-ID
DEW21;Hohe Straße;3;44139;Dortmund;51,5079;7,4569;22;2;01.03.2021;DE*DEW*E{a}
DEW21;Kampstraße;12;44137;Dortmund;51,5149;7,4621;50;1;15.06.2022;DE*DEW*E{b}
innogy;Westenhellweg;40;44137;Dortmund;51,5136;7,4626;11;2;31.02.2020;DE*INN*E{c}
"""
BROWSER_CSV = """\
Betreiber;Straße;Hausnr.;PLZ;Ort;Breitengrad;Längengrad;Leistung (kW);Ladepunkte;\
In Betrieb seit;EVSE-ID;Hinweis
DEW21;Hansastraße;7;44137;Dortmund;51,5155;7,4610;22;2;01.04.2022;DE*DEW*E0901;rund um die Uhr
DEW21;Rheinlanddamm;200;44139;Dortmund;51,4992;7,4575;3,7;1;12.09.2023;DE*DEW*E0902;werktags
"""


def _actor(site: Site, email: str):  # type: ignore[no-untyped-def]
    with site.platform.db.sessions() as s:
        return accounts.actor_for(accounts.get_user(s, email))


def _upload(site: Site, folder: Path, name: str, text: str, access: str = "public") -> str:
    editor = _actor(site, EDITOR[0])
    with site.platform.db.session() as s:
        datasets.create_dataset(s, editor, {
            "name": name, "organization": "dortmund", "title": f"Ladepunkte ({name})",
            "description": "Ladepunkte in Dortmund.", "access_level": access})
    source = folder / f"{name}.csv"
    source.write_text(text, encoding="utf-8")
    return ingest(site.platform, editor, IngestRequest(name, source, "ladepunkte.csv")).resource


def settle(site: Site, done: Callable[[], bool], timeout: float = 30) -> None:
    """Runs queued jobs here (the servers' in-process workers may take some too) until
    ``done``."""
    deadline = time.monotonic() + timeout
    while not done():
        if not worker.run_once(site.platform):
            assert time.monotonic() < deadline, "the harmonize jobs did not finish"
            time.sleep(0.2)


def _regional_sources(site: Site) -> set[str]:
    with site.platform.db.sessions() as s:
        return {c["dataset"] for r in service.list_consolidations(s, SYSTEM_ACTOR)
                if r.schema_name == "ladesaeulen" for c in r.sources}


def _map_and_wait(site: Site, resource: str, dataset: str | None) -> None:
    editor = _actor(site, EDITOR[0])
    with site.platform.db.session() as s:
        mapping = service.suggest(site.platform, s, editor, resource, "ladesaeulen")
        service.save_mapping(site.platform, s, editor, resource, mapping)

    def harmonized() -> bool:
        with site.platform.db.sessions() as s:
            if service.find_report(s, SYSTEM_ACTOR, resource) is None:
                return False
        return dataset is None or dataset in _regional_sources(site)

    settle(site, harmonized)


@pytest.fixture(scope="module")
def world(site: Site, tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """A public and a restricted table of charging points in Dortmund, both mapped onto
    ``ladesaeulen`` and harmonized; a table for the browser; an editor of another
    municipality and a sysadmin."""
    with site.platform.db.session() as s:
        herten = organizations.create_organization(s, SYSTEM_ACTOR, {
            "slug": "herten", "name": "Stadt Herten", "type": "municipality",
            "ags": "05562016"})
        other = accounts.create_user(s, *HERTEN_EDITOR, name="Hein Herten")
        accounts.set_membership(s, SYSTEM_ACTOR, other, herten, "editor")
        accounts.create_user(s, *SYSADMIN, name="Sven System", sysadmin=True)
    folder = tmp_path_factory.mktemp("harmonize-ui")
    public = _upload(site, folder, PUBLIC, CSV.format(a="0001", b="0002", c="0003"))
    restricted = _upload(site, folder, RESTRICTED, CSV.format(a="0501", b="0502", c="0503"),
                         access="restricted")
    browser = _upload(site, folder, BROWSER, BROWSER_CSV)
    points = _upload(site, folder, POINTS, POINTS_CSV, access="restricted")
    _map_and_wait(site, public, PUBLIC)
    _map_and_wait(site, restricted, None)
    return {"public": public, "restricted": restricted, "browser": browser, "points": points}


class _Form(HTMLParser):
    """The fields of the mapping form as a browser would submit them."""

    def __init__(self) -> None:
        super().__init__()
        self.items: list[tuple[str, str]] = []
        self._select: str | None = None
        self._chosen = ""
        self._textarea: str | None = None
        self._text = ""

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        unchecked = a.get("type") in ("checkbox", "radio") and "checked" not in a
        if tag == "input" and a.get("name") and not unchecked:
            self.items.append((a["name"], a.get("value", "")))
        elif tag == "select":
            self._select, self._chosen = a["name"], ""
        elif tag == "option" and self._select and "selected" in a:
            self._chosen = a["value"]
        elif tag == "textarea":
            self._textarea, self._text = a["name"], ""

    def handle_data(self, data: str) -> None:
        if self._textarea:
            self._text += data

    def handle_endtag(self, tag: str) -> None:
        if tag == "select" and self._select:
            self.items.append((self._select, self._chosen))
            self._select = None
        elif tag == "textarea" and self._textarea:
            self.items.append((self._textarea, self._text))
            self._textarea = None


def mapping_form(html: str, **changes: str) -> dict[str, list[str]]:
    """The submitted fields of the mapping form, with ``changes`` (``"source:plz": "Ort"``
    written as ``source__plz="Ort"``) replacing the first value of a name."""
    parser = _Form()
    parser.feed(html.split('class="mapping-form"', 1)[1].split("</form>", 1)[0])
    data: dict[str, list[str]] = {}
    for name, value in parser.items:
        data.setdefault(name, []).append(value)
    for key, value in changes.items():
        data.setdefault(key.replace("__", ":", 1), [""])[0] = value
    return data


def _suggestion(client: TestClient, resource: str, lang: str = "de") -> str:
    response = client.get(f"/resources/{resource}/mapping?schema=ladesaeulen&suggest=1"
                          f"&lang={lang}")
    assert response.status_code == 200, response.text
    return response.text


def _selected(html: str, field: str) -> str:
    select = re.search(rf'<select id="m-source-{field}".*?</select>', html, re.S)
    assert select, field
    chosen = re.search(r'<option value="([^"]*)" selected[ >]', select.group(0))
    return chosen.group(1) if chosen else ""


def _selected_in(html: str, name: str) -> str:
    """The chosen option of the select named ``name``."""
    select = re.search(rf'<select[^>]* name="{re.escape(name)}".*?</select>', html, re.S)
    assert select, name
    chosen = re.search(r'<option value="([^"]*)" selected[ >]', select.group(0))
    return chosen.group(1) if chosen else ""


def _text(html: str) -> str:
    """The text of ``html`` without its tags (what users wrote is marked with spans)."""
    return re.sub(r"<[^>]+>", "", html)


def _preview_rows(html: str) -> list[list[str]]:
    preview = html.split('id="preview"', 1)[1].split("</table>", 1)[0]
    body = preview.split("<tbody>", 1)[1]
    return [[re.sub(r"<[^>]+>", "", c).strip() for c in re.findall(r"<td[^>]*>(.*?)</td>", r, re.S)]
            for r in re.findall(r"<tr>(.*?)</tr>", body, re.S)]


def _versions(client: TestClient, resource: str) -> int:
    with client.app.state.platform.db.sessions() as s:
        return len(service.mapping_history(s, SYSTEM_ACTOR, resource))


# --- mapping editor -------------------------------------------------------------------------

def test_the_editor_shows_the_suggestion_field_by_field(client: TestClient,
                                                         world: dict[str, str]) -> None:
    login(client, *EDITOR)
    page = client.get(f"/resources/{world['browser']}").text
    assert f'href="/resources/{world["browser"]}/mapping">Einem gemeinsamen Schema zuordnen' \
        in page
    html = _suggestion(client, world["browser"])
    assert html.count("<h1") == 1 and "<h1>Einem gemeinsamen Schema zuordnen</h1>" in html
    assert _selected(html, "ladepunkt_id") == "EVSE-ID"
    assert _selected(html, "betreiber") == "Betreiber"
    assert _selected(html, "oeffnungszeiten") == ""
    assert "— nicht zugeordnet —" in html
    assert "Ladepunkt-ID (EVSE-ID)" in html and "DE*DOR*E100234*1" in html  # title, example
    assert "95 %" in html and "Synonym" in html  # the confidence and its reason
    english = _suggestion(client, world["browser"], "en")
    assert "<h1>Map to a shared schema</h1>" in english and "— not mapped —" in english


def test_the_editor_opens_on_the_schema_the_columns_fit_best(client: TestClient,
                                                               world: dict[str, str]) -> None:
    """A charging-station table not yet mapped opens on Ladesäulen (the first schema by name
    would be Baustellen), already suggested."""
    login(client, *EDITOR)
    html = client.get(f"/resources/{world['browser']}/mapping").text
    assert re.search(r'<option value="ladesaeulen" selected[ >]', html), "not opened on ladesaeulen"
    assert "Dies ist ein automatischer Vorschlag" in html
    assert _selected(html, "ladepunkt_id") == "EVSE-ID"


def test_preview_shows_mapped_values_and_marks_failed_cells(client: TestClient,
                                                            world: dict[str, str]) -> None:
    login(client, *EDITOR)
    html = _suggestion(client, world["public"])
    form = mapping_form(html, action="preview")
    response = client.post(f"/resources/{world['public']}/mapping", data=form)
    assert response.status_code == 200, response.text
    preview = response.text.split('id="preview"', 1)[1]
    assert "<td data-user-content>2021-03-01</td>" in preview  # 01.03.2021 read with %d.%m.%Y
    failed = re.findall(r'<td class="failed">.*?</td>', preview, re.S)
    assert len(failed) == 1 and "31.02.2020" in failed[0]
    assert "Datenzeile 3, Feld inbetriebnahme (Spalte In Betrieb seit)" in _text(preview)
    assert _versions(client, world["public"]) == 1  # a preview saves nothing


def test_edited_parameters_and_columns_reach_the_preview(client: TestClient,
                                                         world: dict[str, str]) -> None:
    login(client, *EDITOR)
    html = _suggestion(client, world["public"])
    form = mapping_form(html, action="preview", source__ort="Straße",
                        value_map__betreiber="DEW21=Dortmunder Energie",
                        scale__nennleistung_kw="0,5", split_pattern__plz="^(44)",
                        date_format__inbetriebnahme="%Y")
    body = client.post(f"/resources/{world['public']}/mapping", data=form).text
    preview = body.split('id="preview"', 1)[1]
    first = re.search(r"<tbody>\s*<tr>(.*?)</tr>", preview, re.S).group(1)
    cells = re.findall(r"<td[^>]*>(.*?)</td>", first, re.S)
    assert "Dortmunder Energie" in cells and "Hohe Straße" in cells[6]  # ort ← Straße
    assert "11" in cells and "44" in cells  # 22 × 0.5 and the first group of the PLZ
    assert "entspricht nicht dem Format %Y" in _text(preview)  # every date fails with %Y
    # what was typed is shown again
    assert 'value="0,5"' in body and "DEW21=Dortmunder Energie</textarea>" in body


def test_errors_are_shown_next_to_their_field(client: TestClient,
                                              world: dict[str, str]) -> None:
    login(client, *EDITOR)
    html = _suggestion(client, world["public"])
    bad_scale = mapping_form(html, action="preview", scale__nennleistung_kw="viel")
    response = client.post(f"/resources/{world['public']}/mapping", data=bad_scale)
    assert response.status_code == 422
    assert re.search(r'<p class="field-error" id="err-nennleistung_kw">Der Umrechnungsfaktor '
                     r"muss eine Zahl sein", response.text)
    assert 'aria-describedby="hint-nennleistung_kw err-nennleistung_kw" aria-invalid="true"' \
        in response.text
    missing = mapping_form(html, action="save", source__betreiber="Operator")
    response = client.post(f"/resources/{world['public']}/mapping", data=missing)
    assert response.status_code == 422
    error = re.search(r'id="err-betreiber">(.*?)</p>', response.text, re.S).group(1)
    assert "betreiber" in error and "Operator" in error
    assert _versions(client, world["public"]) == 1


def test_saving_makes_a_new_version_and_a_new_report(client: TestClient, site: Site,
                                                     world: dict[str, str]) -> None:
    login(client, *EDITOR)
    html = _suggestion(client, world["public"])
    form = mapping_form(html, action="save", date_format__inbetriebnahme="%d.%m.%Y")
    response = client.post(f"/resources/{world['public']}/mapping", data=form,
                           follow_redirects=False)
    assert response.status_code == 303
    assert response.headers["location"] == f"/resources/{world['public']}/mapping?saved=2"
    page = client.get(response.headers["location"]).text
    assert "Zuordnung Version 2 gespeichert" in page
    assert "?mapping_version=1" in page and "?mapping_version=2" in page

    def reported() -> bool:
        with site.platform.db.sessions() as s:
            return service.find_report(s, SYSTEM_ACTOR, world["public"]).mapping_version == 2
    settle(site, reported)
    quality = client.get(f"/resources/{world['public']}/quality").text
    assert "mit Zuordnungsversion 2" in quality


def test_only_editors_of_the_organization_reach_the_editor(client: TestClient,
                                                           world: dict[str, str]) -> None:
    url = f"/resources/{world['public']}/mapping"
    saved = _versions(client, world["public"])
    response = client.get(url, follow_redirects=False)
    assert response.status_code == 303 and response.headers["location"].startswith("/login")
    assert "Einem gemeinsamen Schema zuordnen" not in client.get(
        f"/resources/{world['public']}").text
    login(client, *HERTEN_EDITOR)
    assert "Einem gemeinsamen Schema zuordnen" not in client.get(
        f"/resources/{world['public']}").text
    assert client.get(url).status_code == 403
    token = csrf_of(client.get("/").text)
    posted = client.post(url, data={"csrf_token": token, "schema_name": "ladesaeulen",
                                    "action": "save", "source:betreiber": "Betreiber"})
    assert posted.status_code == 403
    login(client, *VIEWER)
    assert client.get(url).status_code == 403
    assert _versions(client, world["public"]) == saved


def test_the_editor_suggests_one_row_per_charging_point(client: TestClient,
                                                        world: dict[str, str]) -> None:
    login(client, *EDITOR)
    html = _suggestion(client, world["points"])
    groups = html.split('id="groups"', 1)[1].split("</details>", 1)[0]
    assert html.split('id="groups"', 1)[0].endswith('<details class="mapping-groups" ') \
        and " open>" in groups[:10]
    assert ("Eine Zeile je Gruppe: 4 Gruppen „<span data-user-content>Ladepunkt</span>“ "
            "je Quellzeile") in groups
    assert 'name="groups:member:1" value="P [kW]"' in groups
    assert _selected_in(groups, "groups:column:1:2") == "P2 [kW]"
    assert _selected_in(groups, "groups:key") == ""  # no station id: the row number
    # the fields take the members like columns, offered first
    assert _selected(html, "steckertypen") == "Steckertypen"
    assert _selected(html, "nennleistung_kw") == "P [kW]"
    assert _selected(html, "ladepunkt_id") == "Ladepunkt-Kennung"
    assert '<optgroup label="Spalten der Gruppen">' in html

    form = mapping_form(html, action="preview")
    body = client.post(f"/resources/{world['points']}/mapping", data=form).text
    header = body.split('id="preview"', 1)[1].split("</thead>", 1)[0]
    assert '<th scope="col">Datenzeile</th><th scope="col" data-user-content>Ladepunkt</th>' \
        in header
    rows = _preview_rows(body)
    # source row, point, then the mapped fields in schema order (ladepunkt_id first)
    assert [(r[0], r[1], r[2]) for r in rows] == [
        ("1", "1", "1/1"), ("1", "2", "1/2"), ("2", "1", "2/1"), ("3", "1", "3/1"),
        ("3", "3", "3/3"), ("3", "4", "3/4"), ("4", "1", "4/1"), ("5", "1", "5/1"),
        ("5", "2", "5/2")]
    assert "3.7" in rows[2] and "viel" in rows[8]
    assert _versions(client, world["points"]) == 0


def test_groups_are_edited_removed_and_saved(client: TestClient,
                                            world: dict[str, str]) -> None:
    login(client, *EDITOR)
    url = f"/resources/{world['points']}/mapping"
    html = _suggestion(client, world["points"])
    # a member removed (its name cleared), the groups renamed: the preview follows
    edited = mapping_form(html, action="preview", groups__number="Punkt",
                          **{"groups:member:2": ""})
    body = client.post(url, data=edited).text
    assert 'value="Public Key"' not in body.split('id="groups"', 1)[1].split("</details>")[0]
    assert '<th scope="col" data-user-content>Punkt</th>' in body
    assert len(_preview_rows(body)) == 9
    # a count that is no number is shown beside the groups
    wrong = client.post(url, data=mapping_form(html, action="preview",
                                               groups__count="viele"))
    assert wrong.status_code == 422
    assert re.search(r'<p class="field-error" id="err-groups">Die Zahl der Gruppen muss',
                     wrong.text)
    assert 'href="#groups">Gruppen</a>' in wrong.text
    assert _selected_in(wrong.text, "groups:column:0:4") == "Steckertypen4"  # kept as it was
    # removed: one row per station again, and the fields still naming members say so
    removed = client.post(url, data=mapping_form(html, action="preview", groups__remove="1"))
    assert removed.status_code == 422
    error = re.search(r'id="err-steckertypen">(.*?)</p>', removed.text, re.S).group(1)
    assert "„Steckertypen“ gibt es in der Datei nicht" in _text(error)
    assert "Eine Zeile je Gruppe: wiederholte Spaltengruppen zu Zeilen machen" in removed.text
    assert 'value="Steckertypen"' not in removed.text.split('id="groups"', 1)[1].split(
        "</details>", 1)[0]  # gone, not back with the next preview
    # saved with the groups
    saved = client.post(url, data=mapping_form(html, action="save"), follow_redirects=False)
    assert saved.status_code == 303
    with client.app.state.platform.db.sessions() as s:
        rules = service.find_mapping(s, SYSTEM_ACTOR, world["points"]).rules
    assert rules["groups"]["members"]["Steckertypen"][3] == "Steckertypen4"
    assert rules["fields"]["ladepunkt_id"]["source"] == ["Ladepunkt-Kennung"]


def test_read_mapping_reads_groups_and_the_fallback() -> None:
    schema = {"name": "s", "fields": [{"name": "id", "type": "string"},
                                      {"name": "typ", "type": "string"}]}
    form = FormData([
        ("groups:count", "2"), ("groups:number", "Ladepunkt"), ("groups:identifier", ""),
        ("groups:key", "Station"),
        ("groups:member:0", "Typ"), ("groups:column:0:1", "Typ1"), ("groups:column:0:2", "Typ2"),
        ("groups:member:1", "EVSE"), ("groups:column:1:1", "EVSE1"),
        ("groups:column:1:2", ""),
        ("groups:member:2", ""), ("groups:column:2:1", "Typ1"), ("groups:column:2:2", ""),
        ("source:id", "EVSE"), ("source:id", "Ladepunkt-Kennung"), ("combine:id", "fallback"),
        ("transforms:id", '[{"kind": "join", "separator": " "}]'),
        ("source:typ", "Typ"), ("transforms:typ", "[]"),
    ])
    data, problems = read_mapping(form, schema, translations("de").gettext)
    assert problems == []
    assert data["groups"] == {"members": {"Typ": ["Typ1", "Typ2"], "EVSE": ["EVSE1", None]},
                              "number": "Ladepunkt", "key": "Station"}
    assert data["fields"]["id"]["transforms"] == [{"kind": "fallback"}]
    joined = FormData([*((k, v) for k, v in form.multi_items() if k != "combine:id"),
                       ("combine:id", "join")])
    data, _problems = read_mapping(joined, schema, translations("de").gettext)
    assert data["fields"]["id"]["transforms"] == [{"kind": "join", "separator": " "}]
    removed = FormData([*form.multi_items(), ("groups:remove", "1")])
    assert "groups" not in read_mapping(removed, schema, translations("de").gettext)[0]
    twice = FormData([*form.multi_items(), ("groups:member:3", "Typ")])
    _data, problems = read_mapping(twice, schema, translations("en").gettext)
    assert [(p.field, p.message) for p in problems] == [
        ("groups", "Two members of the groups are called “Typ”; each needs a name of its own.")]


def test_read_mapping_keeps_untouched_steps_and_drops_stale_confidence() -> None:
    schema = {"name": "s", "fields": [{"name": "adresse", "type": "string"},
                                      {"name": "ort", "type": "string"}]}
    form = FormData([
        ("source:adresse", "Straße"), ("source:adresse", "Hausnr."), ("join:adresse", ", "),
        ("transforms:adresse", "[]"), ("suggested:adresse", "Straße"),
        ("confidence:adresse", "0.9"), ("reason:adresse", "Name"),
        ("source:ort", "Ort"), ("suggested:ort", "Ort"), ("confidence:ort", "1.0"),
        ("transforms:ort", '[{"kind": "value_map", "values": {"a": "b"}, '
                           '"otherwise": "fail"}]'),
        ("value_map:ort", "Do=Dortmund\n\nBO = Bochum"), ("split_pattern:ort", ""),
    ])
    data, problems = read_mapping(form, schema, translations("de").gettext)
    assert problems == []
    adresse, ort = data["fields"]["adresse"], data["fields"]["ort"]
    assert adresse["transforms"] == [{"kind": "join", "separator": ", "}]
    assert "confidence" not in adresse  # two columns now, not the one suggested
    assert ort["confidence"] == 1.0
    assert ort["transforms"] == [{"kind": "value_map", "otherwise": "fail",
                                  "values": {"Do": "Dortmund", "BO": "Bochum"}}]
    broken = FormData([("source:ort", "Ort"), ("value_map:ort", "nur text")])
    _data, problems = read_mapping(broken, schema, translations("de").gettext)
    assert [p.field for p in problems] == ["ort"] and "Zeile 1" in problems[0].message


def test_prefix_and_coordinate_system_are_edited_in_the_form() -> None:
    schema = {"name": "s", "fields": [{"name": "url", "type": "string"},
                                      {"name": "laengengrad", "type": "number"},
                                      {"name": "geometry", "type": "geometry"}]}
    form = FormData([
        ("source:url", "Link"), ("transforms:url", '[{"kind": "prefix", "prefix": "http://"}]'),
        ("prefix:url", "https://"),
        ("source:laengengrad", "RW"), ("source:laengengrad", "HW"),
        ("transforms:laengengrad", "[]"), ("crs:laengengrad", "EPSG:25832"),
        ("source:geometry", "RW"), ("source:geometry", "HW"), ("crs:geometry", "EPSG:31466"),
        ("transforms:geometry", "[]"),
    ])
    data, problems = read_mapping(form, schema, translations("de").gettext)
    assert problems == []
    fields = data["fields"]
    assert fields["url"]["transforms"] == [{"kind": "prefix", "prefix": "https://"}]
    assert fields["laengengrad"]["transforms"] == [
        {"kind": "crs", "source_crs": "EPSG:25832", "output": "lon"}]
    assert fields["geometry"]["transforms"] == [
        {"kind": "crs", "source_crs": "EPSG:31466", "output": "wkt"}]
    cleared = FormData([("source:url", "Link"), ("prefix:url", ""),
                        ("transforms:url", '[{"kind": "prefix", "prefix": "https://"}]')])
    data, _problems = read_mapping(cleared, schema, translations("de").gettext)
    assert "transforms" not in data["fields"]["url"] or data["fields"]["url"]["transforms"] == []


# --- quality report and badges --------------------------------------------------------------

def test_quality_report_explains_score_errors_and_completeness(client: TestClient,
                                                              world: dict[str, str]) -> None:
    html = client.get(f"/resources/{world['public']}/quality").text
    assert html.count("<h1") == 1 and "<h1>Qualitätsbericht</h1>" in html
    assert re.search(r'class="badge quality quality-(good|fair|poor) big">Qualität '
                     r"\d+(,\d)?/100 \((gut|mittel|schwach)\)", html)
    assert "60 %" in html and "30 %" in html and "10 %" in html  # the formula in a sentence
    assert "<code>mapping-error</code>" in html
    assert "Die Zuordnung konnte eine Zelle nicht umwandeln" in html
    assert "„31.02.2020“ entspricht nicht dem Format %d.%m.%Y." in _text(html)
    assert "66,7 %" in html  # inbetriebnahme: two of three rows
    english = client.get(f"/resources/{world['public']}/quality?lang=en").text
    assert "<h1>Quality report</h1>" in english and "The mapping could not convert" in english


def test_restricted_quality_reports_stay_closed(client: TestClient,
                                                world: dict[str, str]) -> None:
    url = f"/resources/{world['restricted']}/quality"
    assert client.get(url).status_code in (401, 403)
    login(client, *EDITOR)
    assert client.get(url).status_code == 200


def test_badges_in_search_results_and_on_the_dataset_page(client: TestClient,
                                                         world: dict[str, str]) -> None:
    found = client.get("/datasets?q=ladepunkte").text
    item = found.split(f'href="/datasets/{PUBLIC}"', 1)[1].split("</article>", 1)[0]
    assert f'href="/resources/{world["public"]}/quality">Qualität' in item
    # no badge where the visitor may not read the rows
    assert f"/resources/{world['restricted']}/quality" not in found
    dataset = client.get(f"/datasets/{PUBLIC}").text
    assert re.search(r'class="badge quality quality-\w+" href="/resources/[^"]+/quality">'
                     r"Qualität \d", dataset)
    assert "Qualität" not in client.get(f"/datasets/{BROWSER}").text


# --- schemas --------------------------------------------------------------------------------

def test_schema_pages_document_the_fields(client: TestClient) -> None:
    listing = client.get("/schemas").text
    for name in ("ladesaeulen", "parkplaetze", "baustellen", "bildungsangebote", "einwohner"):
        assert f'href="/schemas/{name}"' in listing
    assert "Schema hinzufügen" not in listing
    html = client.get("/schemas/ladesaeulen").text
    row = html.split('id="field-ladepunkt_id"', 1)[1].split("</tr>", 1)[0]
    assert "Ladepunkt-ID (EVSE-ID)" in row and "Pflichtfeld" in row and "eindeutig" in row
    assert "DE*DOR*E100234*1" in row and "Muster [A-Z]{2}" in _text(row)
    assert "eines von: Normalladeeinrichtung, Schnellladeeinrichtung" in _text(html)
    assert client.get("/schemas/gibtsnicht").status_code == 404


def test_only_sysadmins_add_schemas_and_see_why_one_is_refused(client: TestClient) -> None:
    login(client, *EDITOR)
    token = csrf_of(client.get("/schemas").text)
    body = '{"name": "spielgeraete", "title": "Spielgeräte", "fields": [{"name": "id"}]}'
    assert client.post("/schemas", data={"csrf_token": token, "text": body}).status_code == 403
    login(client, *SYSADMIN)
    listing = client.get("/schemas").text
    assert "Schema hinzufügen" in listing
    token = csrf_of(listing)
    broken = client.post("/schemas", data={"csrf_token": token, "text": "{kein json"})
    assert broken.status_code == 422 and "kein gültiges JSON" in broken.text
    wrong = client.post("/schemas", data={"csrf_token": token,
                                          "text": '{"name": "x1", "fields": []}'})
    assert wrong.status_code == 422 and "nicht leere Liste" in wrong.text
    shipped = client.post("/schemas", data={"csrf_token": token, "text": body.replace(
        "spielgeraete", "ladesaeulen")})
    assert shipped.status_code == 422 and "mitgeliefertes Schema" in shipped.text
    added = client.post("/schemas", files={"file": ("s.json", body.encode(), "application/json")},
                        data={"csrf_token": token}, follow_redirects=False)
    assert added.status_code == 303 and added.headers["location"] == "/schemas/spielgeraete"
    assert "<h1 data-user-content>Spielgeräte</h1>" in client.get("/schemas/spielgeraete").text


# --- regional overviews ---------------------------------------------------------------------

def test_regional_overview_lists_filters_counts_and_sources(client: TestClient,
                                                           world: dict[str, str]) -> None:
    html = client.get("/region/ladesaeulen").text
    assert ("<h1><span data-user-content>Ladesäulen für Elektrofahrzeuge</span> in der Region"
            "</h1>") in html
    assert "DE*DEW*E0001" in html and "DE*DEW*E0501" not in html  # restricted stays out
    assert re.search(r'data-geojson-url="/api/v1/resources/[^"]+/rows\?format=geojson', html)
    counts = html.split('id="counts-heading"', 1)[1].split("</section>", 1)[0]
    assert "Stadt Dortmund" in counts
    sources = html.split('id="sources-heading"', 1)[1].split("</section>", 1)[0]
    assert f'href="/resources/{world["public"]}/quality">Qualität' in sources
    assert f'href="/datasets/{PUBLIC}"' in sources and RESTRICTED not in sources
    assert 'href="/datasets/region-ladesaeulen"' in html
    one = client.get("/region/ladesaeulen?column=betreiber&value=innogy").text
    assert "DE*INN*E0003" in one and "DE*DEW*E0001" not in one
    assert ">1 Zeile<" in one
    newer = client.get("/region/ladesaeulen?from.inbetriebnahme=2022-01-01").text
    assert "DE*DEW*E0002" in newer and "DE*DEW*E0001" not in newer
    assert "filter.inbetriebnahme__gte=2022-01-01" in newer  # the downloads follow the filter
    # the download buttons read as on a resource page
    buttons = re.findall(r'class="button secondary" href="[^"]+" download>([^<]+)<', html)
    resource = client.get(f"/resources/{world['public']}").text
    assert buttons == re.findall(r'class="button secondary" href="[^"]+" download>([^<]+)<',
                                 resource)
    assert "CSV (deutsches Excel)" in buttons and "Excel (xlsx)" in buttons
    wrong = client.get("/region/ladesaeulen?from.inbetriebnahme=morgen").text
    assert 'class="notice error"' in wrong


def test_region_index_and_pages_without_data(client: TestClient, world: dict[str, str]) -> None:
    index = client.get("/region").text
    assert 'href="/region/ladesaeulen"' in index and 'href="/region/bildungsangebote"' in index
    empty = client.get("/region/bildungsangebote")
    assert empty.status_code == 200
    assert "Noch keine Kommune hat ihre Daten diesem Schema zugeordnet." in empty.text
    assert client.get("/region/gibtsnicht").status_code == 404
    home = client.get("/").text
    assert 'href="/region/bildungsangebote">Bildungsangebote in der Region' in home
    assert 'href="/region/ladesaeulen">Ladesäulen in der Region' in home
    assert 'href="/region">Regionale Daten</a>' in home  # the navigation
    assert "Regional data" in client.get("/region?lang=en").text


# --- the whole flow in chromium -------------------------------------------------------------

@pytest.mark.browser
def test_map_preview_save_and_see_it_in_the_region(page: Page, site: Site,
                                                   world: dict[str, str]) -> None:
    sign_in(page, *EDITOR)
    page.goto(f"/resources/{world['browser']}")
    page.get_by_role("link", name="Einem gemeinsamen Schema zuordnen").click()
    page.get_by_label("Gemeinsames Schema").select_option("ladesaeulen")
    page.get_by_role("button", name="Zuordnung vorschlagen").click()
    source = page.get_by_label("Quellspalte – Öffnungszeiten", exact=True)
    expect(source).to_have_value("")
    expect(page.get_by_label("Quellspalte – Betreiber", exact=True)).to_have_value("Betreiber")
    assert unlabelled_fields(page) == []
    source.select_option("Hinweis")
    # keyboard only: focus the preview button and press Enter
    page.get_by_role("button", name="Vorschau").focus()
    page.keyboard.press("Enter")
    preview = page.locator("#preview table")
    expect(preview.get_by_role("cell", name="rund um die Uhr")).to_be_visible()
    expect(preview.get_by_role("cell", name="3.7", exact=True)).to_be_visible()
    expect(page.get_by_label("Quellspalte – Öffnungszeiten", exact=True)).to_have_value(
        "Hinweis")
    page.get_by_role("button", name="Als neue Version speichern").click()
    expect(page.get_by_text("Zuordnung Version 1 gespeichert")).to_be_visible()

    settle(site, lambda: BROWSER in _regional_sources(site))
    page.goto(f"/resources/{world['browser']}/quality")
    expect(page.locator(".badge.quality.big")).to_contain_text(re.compile(r"Qualität \d+"))
    page.goto("/region/ladesaeulen")
    expect(page.get_by_role("cell", name="DE*DEW*E0901")).to_be_visible()
    expect(page.get_by_role("cell", name="rund um die Uhr")).to_be_visible()
    drawn = page.locator("#map[data-features]")  # map.js sets it once the layer is drawn
    expect(drawn).to_have_count(1)
    assert int(drawn.get_attribute("data-features") or 0) >= 5  # 3 + 2 Dortmund points


@pytest.mark.browser
def test_mapping_editor_on_a_phone(page: Page, world: dict[str, str]) -> None:
    page.set_viewport_size({"width": 390, "height": 844})
    sign_in(page, *EDITOR)
    page.goto(f"/resources/{world['public']}/mapping")
    label = page.locator('label[for="m-source-betreiber"]')
    expect(label).to_be_visible()  # on wide screens only the column header shows it
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= 390, "the editor must not scroll sideways on a phone"


# Visible lists too narrow for the option they show (a copy holding only that option, without
# width rules, is as wide as it needs): name, width, width needed.
CUT_LISTS = """() => [...document.querySelectorAll('main select')]
  .filter(e => e.checkVisibility()).map(e => {
    const natural = e.cloneNode(false);
    natural.append(e.options[e.selectedIndex].cloneNode(true));
    natural.style.cssText = 'width: auto; min-width: 0; max-width: none; position: absolute';
    document.body.append(natural);
    const needed = natural.offsetWidth;
    natural.remove();
    return [e.name, e.offsetWidth, needed];
  }).filter(([name, width, needed]) => width < needed)"""


@pytest.mark.browser
def test_one_row_per_charging_point_in_the_browser(page: Page, site: Site,
                                                  world: dict[str, str]) -> None:
    sign_in(page, *EDITOR)
    page.goto(f"/resources/{world['points']}/mapping?schema=ladesaeulen&suggest=1")
    groups = page.locator("details#groups")
    expect(groups).to_have_attribute("open", "")
    expect(page.get_by_label("Was eine Gruppe ist (z. B. Ladepunkt)")).to_have_value("Ladepunkt")
    expect(page.get_by_label("Quellspalte – Steckertypen", exact=True)).to_have_value(
        "Steckertypen")
    assert unlabelled_fields(page) == []
    # nothing is cut: each list shows the whole name of what it has chosen ("— nicht
    # zugeordnet —" too), the fixed value all its digits
    assert page.evaluate(CUT_LISTS) == []
    fixed = page.get_by_label("Fester Wert – Amtlicher Gemeindeschlüssel", exact=True)
    expect(fixed).to_have_value("05913000")
    assert fixed.evaluate("e => e.scrollWidth <= e.clientWidth")
    page.locator('input[name="groups:member:2"]').fill("")  # Public Key is not needed
    page.get_by_role("button", name="Vorschau").click()
    preview = page.locator("#preview table")
    expect(preview.get_by_role("columnheader", name="Ladepunkt", exact=True)).to_be_visible()
    expect(preview.locator("tbody tr")).to_have_count(9)
    expect(preview.get_by_role("cell", name="AC Kupplung Typ 2")).to_be_visible()
    expect(groups.locator('input[value="Public Key"]')).to_have_count(0)
    page.get_by_role("button", name="Als neue Version speichern").click()
    expect(page.get_by_text(re.compile(r"Zuordnung Version \d+ gespeichert"))).to_be_visible()

    def reported() -> bool:
        with site.platform.db.sessions() as s:
            report = service.find_report(s, SYSTEM_ACTOR, world["points"])
            saved = service.find_mapping(s, SYSTEM_ACTOR, world["points"])
            return report is not None and report.mapping_version == saved.version
    settle(site, reported)
    page.goto(f"/resources/{world['points']}/quality")
    expect(page.get_by_text(re.compile(r"Zeile 6, Ladepunkt 2, Feld „nennleistung_kw“: "
                                       r"„viel“")).first).to_be_visible()
