"""Service messages in German and English: ``errors.msg`` keeps the German text and its
template, ``services.po`` holds the English templates, and the API answers in the asker's
language (``?lang=``, cookie, ``Accept-Language``) — for live errors and for failed jobs."""

from __future__ import annotations

import ast
import pickle
import string
import time
from pathlib import Path

import pytest
from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po
from fastapi.testclient import TestClient

from allmende.errors import AllmendeError, FieldError, Invalid, Message, NotFound, msg
from allmende.web.errors import error_body
from allmende.web.i18n import LOCALE_DIR, accepted_language, localize, localize_text
from support import dataset_body

SOURCE = Path(__file__).parent.parent / "src" / "allmende"
CATALOG = LOCALE_DIR / "en" / "LC_MESSAGES" / "services.po"
JOB_TIMEOUT = 60.0
ENGLISH = {"Accept-Language": "en-GB,en;q=0.9,de;q=0.5"}


# --- the helper ------------------------------------------------------------------------

def test_a_message_is_its_german_text():
    name = "Spielplätze 2024.csv"
    message = msg("{name} enthält keine Datenzeilen.", name=name)
    assert isinstance(message, str) and isinstance(message, Message)
    assert message == f"{name} enthält keine Datenzeilen."
    assert str(message) == message and f"{message}" == message
    assert "keine Datenzeilen" in message
    assert message.template == "{name} enthält keine Datenzeilen."
    assert message.params == {"name": name}
    error = Invalid(message, code="no_rows")
    assert error.message == message and str(error) == message
    # the defaults stay the German texts every caller knows
    assert Invalid().message == "Die Angaben sind ungültig."


def test_english_keeps_file_names_and_numbers():
    message = msg("Die Datei {name} lässt sich nicht als {encoding} lesen (Byte {byte}). "
                  "Bitte geben Sie die Kodierung an.", name="Bäume_Ä.csv", encoding="utf-8",
                  byte=1_234)
    assert localize(message, "de") == message
    assert localize(message, "en") == ("The file Bäume_Ä.csv cannot be read as utf-8 "
                                       "(byte 1234). Please specify the encoding.")


def test_messages_inside_messages_are_translated_too():
    message = msg("{problem} Die Spalte „{column}“ erwartet {label}.",
                  problem=msg("„{text}“ ist keine Zahl.", text="viele"), column="Anzahl",
                  label=msg("eine Zahl"))
    assert message == "„viele“ ist keine Zahl. Die Spalte „Anzahl“ erwartet eine Zahl."
    assert localize(message, "en") == ("“viele” is not a number. The column “Anzahl” "
                                       "expects a number.")


def test_without_translation_or_template_it_stays_german():
    untranslated = msg("Diese Meldung hat noch niemand übersetzt: {x}.", x=1)
    assert localize(untranslated, "en") == "Diese Meldung hat noch niemand übersetzt: 1."
    assert localize("Ein einfacher Text.", "en") == "Ein einfacher Text."
    assert localize_text("Datei wird gelesen", "en") == "Reading the file"
    assert localize_text("Etwas anderes", "en") == "Etwas anderes"
    assert localize(msg("Die Abfrage ist ungültig."), "fr") == "Die Abfrage ist ungültig."


def test_a_message_survives_json_and_pickle():
    message = msg("„{func}“ geht nur für Zahlen-Spalten, nicht für „{column}“.",
                  func="sum", column=msg("eine Zahl"))
    again = Message.from_json(message.to_json())
    assert again == message and again.template == message.template
    assert localize(again, "en") == localize(message, "en")
    copied = pickle.loads(pickle.dumps(message))
    assert copied == message and copied.params == message.params


def test_error_body_renders_message_and_fields():
    error = Invalid(msg("Die Abfrage ist ungültig."), [FieldError(
        "sort", msg("Nach der Spalte „{name}“ lässt sich nicht sortieren.", name="Ort"))])
    assert error_body(error)["error"]["fields"][0]["message"] == \
        "Nach der Spalte „Ort“ lässt sich nicht sortieren."
    english = error_body(error, "en")["error"]
    assert english["message"] == "The query is invalid."
    assert english["fields"] == [{"field": "sort",
                                  "message": "The column “Ort” cannot be sorted by."}]
    assert error_body(AllmendeError("Nur Deutsch."), "en")["error"]["message"] == "Nur Deutsch."


@pytest.mark.parametrize(("header", "language"), [
    ("en", "en"), ("en-US,en;q=0.9", "en"), ("de-DE,de;q=0.9,en;q=0.8", "de"),
    ("fr-FR,en;q=0.5", "en"), ("en;q=0, de", "de"), ("fr", "de"), ("", "de"),
    ("de;q=0.5, en;q=0.7", "en"), ("EN-gb", "en"), ("en;q=abc", "de"),
])
def test_accept_language(header, language):
    assert accepted_language(header) == language


# --- the catalog -----------------------------------------------------------------------

def _catalog() -> dict[str, str]:
    with CATALOG.open("rb") as handle:
        catalog = read_po(handle, locale="en")
    return {m.id: m.string for m in catalog if m.id and not m.fuzzy}


def _placeholders(template: str) -> list[str]:
    return sorted(f"{name}:{spec}" for _, name, spec, _ in string.Formatter().parse(template)
                  if name is not None)


def _templates_in_source() -> dict[str, str]:
    """Every template given to ``msg(...)`` in src/, with where it is used."""
    found: dict[str, str] = {}
    for path in sorted(SOURCE.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Call) and getattr(node.func, "id", None) == "msg":
                where = f"{path.relative_to(SOURCE)}:{node.lineno}"
                first = node.args[0] if node.args else None
                # a template built at run time could not be looked up in the catalog
                assert isinstance(first, ast.Constant) and isinstance(first.value, str), where
                found.setdefault(first.value, where)
    return found


def test_every_translation_has_the_placeholders_of_its_german_template():
    catalog = _catalog()
    assert len(catalog) > 50
    for german, english in catalog.items():
        assert english, f"no English for {german!r}"
        assert _placeholders(english) == _placeholders(german), german
        assert english != german, f"untranslated: {german!r}"


def test_every_message_in_the_source_has_an_english_translation():
    catalog = _catalog()
    used = _templates_in_source()
    missing = {where: template for template, where in used.items() if template not in catalog}
    assert not missing, f"add these to {CATALOG.name}: {missing}"
    unused = set(catalog) - set(used)
    assert not unused, f"no longer used, remove from {CATALOG.name}: {unused}"


def test_every_text_of_the_web_ui_has_a_german_translation():
    """The UI's own texts (English msgids, extracted as babel.cfg says) all have their German
    in messages.po: a text added without it would show English in the German UI."""
    method_map = [("**/web/ui/**.py", "python"), ("**/web/templates/**.html", "jinja2")]
    options = {"**/web/templates/**.html": {"extensions": "jinja2.ext.i18n", "trimmed": "true"}}
    used = {}
    for filename, lineno, message, _comments, _context in extract_from_dir(
            str(SOURCE), method_map, options):
        used.setdefault(message if isinstance(message, str) else message[0],
                        f"{filename}:{lineno}")
    with (LOCALE_DIR / "de" / "LC_MESSAGES" / "messages.po").open("rb") as handle:
        german = {(m.id if isinstance(m.id, str) else m.id[0]): m
                  for m in read_po(handle, locale="de") if m.id}
    assert len(used) > 300
    missing = {where: text for text, where in used.items()
               if text not in german or german[text].fuzzy
               or not all(german[text].string if isinstance(german[text].string, tuple)
                          else [german[text].string])}
    assert not missing, f"add these to de/LC_MESSAGES/messages.po: {missing}"


def test_every_template_formats_with_its_own_placeholders():
    for template in _templates_in_source():
        names = {name for _, name, _, _ in string.Formatter().parse(template) if name}
        assert msg(template, **dict.fromkeys(names, "x")), template


# --- over HTTP: failed jobs ------------------------------------------------------------

def _upload(client: TestClient, headers: dict, filename: str, content: bytes) -> int:
    response = client.post("/api/v1/datasets/parks/resources", headers=headers,
                           files={"file": (filename, content, "application/octet-stream")})
    assert response.status_code == 202, response.text
    return response.json()["id"]


def _wait(client: TestClient, headers: dict, job_id: int, query: str = "") -> dict:
    deadline = time.monotonic() + JOB_TIMEOUT
    while time.monotonic() < deadline:
        response = client.get(f"/api/v1/jobs/{job_id}{query}", headers=headers)
        assert response.status_code == 200, response.text
        job = response.json()
        if job["status"] in ("done", "failed"):
            return job
        time.sleep(0.1)
    pytest.fail(f"job {job_id} did not finish within {JOB_TIMEOUT} s")


@pytest.fixture
def editor(client: TestClient, world) -> dict[str, str]:
    headers = world.auth("editor")
    response = client.post("/api/v1/datasets", json=dataset_body(name="parks"), headers=headers)
    assert response.status_code == 201, response.text
    return headers


@pytest.mark.parametrize(("filename", "content", "code", "german", "english"), [
    ("leer.csv", b"", "empty_file", "Die Datei leer.csv ist leer.",
     "The file leer.csv is empty."),
    ("bild.csv", b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256)), "binary_file",
     "Die Datei bild.csv ist keine Textdatei (sie enthält Binärdaten).",
     "The file bild.csv is not a text file (it contains binary data)."),
    ("nur-kopf.csv", b"Name;Ort;Anzahl\r\n", "no_rows",
     "Die Datei nur-kopf.csv hat eine Kopfzeile, aber keine Datenzeilen.",
     "The file nur-kopf.csv has a header row but no data rows."),
    ("daten.dbf", b"irgendwas", "unknown_format",
     "Das Format von daten.dbf wird nicht unterstützt. Möglich sind CSV, TSV, TXT, Excel "
     "(XLSX, XLS, ODS), JSON, GeoJSON, GeoPackage und gezippte Shapefiles.",
     "The format of daten.dbf is not supported. Supported are CSV, TSV, TXT, Excel "
     "(XLSX, XLS, ODS), JSON, GeoJSON, GeoPackage and zipped shapefiles."),
])
def test_failed_job_speaks_the_askers_language(client, editor, filename, content, code,
                                               german, english):
    job_id = _upload(client, editor, filename, content)
    in_german = _wait(client, editor, job_id)
    assert in_german["status"] == "failed"
    assert in_german["error"] == {"code": code, "message": german}
    assert in_german["message"] == german
    for headers, query in (({**editor, **ENGLISH}, ""), (editor, "?lang=en")):
        in_english = client.get(f"/api/v1/jobs/{job_id}{query}", headers=headers).json()
        assert in_english["error"] == {"code": code, "message": english}, (headers, query)
        assert in_english["message"] == english
    # an explicit choice beats the browser's header
    chosen = client.get(f"/api/v1/jobs/{job_id}?lang=de", headers={**editor, **ENGLISH})
    assert chosen.json()["error"]["message"] == german


def test_a_job_that_is_not_there_in_english(client, editor):
    response = client.get("/api/v1/jobs/999999", headers={**editor, **ENGLISH})
    assert response.status_code == 404
    assert response.json()["error"] == {"code": "job_not_found",
                                        "message": "There is no job 999999."}


def test_an_unknown_encoding_in_english_by_cookie(client, editor):
    """Refused at the door (before a job is queued), in the cookie's language."""
    client.cookies.set("allmende_lang", "en")
    try:
        response = client.post("/api/v1/datasets/parks/resources", headers=editor,
                               data={"encoding": "klingonisch"},
                               files={"file": ("a.csv", b"a;b\n1;2\n", "text/csv")})
    finally:
        client.cookies.clear()
    assert response.status_code == 422, response.text
    assert response.json()["error"]["fields"] == [
        {"field": "encoding",
         "message": "Unknown character encoding “klingonisch” (e.g. utf-8, cp1252)."}]


# --- over HTTP: the data API -----------------------------------------------------------

def test_rows_api_errors_in_english(client, editor):
    job = _wait(client, editor, _upload(client, editor, "parks.csv",
                                        b"Name;Besucher\r\nWestfalenpark;1200\r\n"))
    assert job["status"] == "done", job
    rows = f"/api/v1/resources/{job['result']['resource']}/rows"

    missing = client.get(rows, params={"version": 9}, headers=ENGLISH)
    assert missing.status_code == 404
    assert missing.json()["error"]["message"] == ("The resource “parks.csv” has no version 9; "
                                                  "available: 1 to 1.")
    assert client.get(rows, params={"version": 9, "lang": "en"}).json()["error"]["message"] \
        == missing.json()["error"]["message"]

    bad = client.get(rows, params={"Ort": "Dortmund", "Besucher__gt": "viele"},
                     headers=ENGLISH)
    assert bad.status_code == 422
    error = bad.json()["error"]
    assert error["message"] == "The query is invalid."
    assert {f["field"]: f["message"] for f in error["fields"]} == {
        "Ort": "This table has no column “Ort”.",
        "Besucher__gt": "“viele” is not a number. The column “Besucher” expects a whole number.",
    }
    german = client.get(rows, params={"Ort": "Dortmund"}).json()["error"]
    assert german["message"] == "Die Abfrage ist ungültig."
    assert german["fields"][0]["message"] == "Die Spalte „Ort“ gibt es in dieser Tabelle nicht."

    too_many = client.get(rows, params={"limit": 20_000}, headers=ENGLISH).json()["error"]
    assert too_many["message"].startswith("limit may be at most 10.000. Page with offset")


def test_generic_errors_in_english(client, world):
    refused = client.post("/api/v1/datasets", json=dataset_body(), headers=ENGLISH)
    assert refused.status_code == 401
    assert refused.json()["error"]["message"] == "Sign-in required."
    forbidden = client.post("/api/v1/datasets", json=dataset_body(),
                            headers={**world.auth("member"), **ENGLISH})
    assert forbidden.status_code == 403
    assert forbidden.json()["error"]["message"] == "You do not have permission to do this."
    nowhere = client.get("/api/v1/nirgends", headers=ENGLISH)
    assert nowhere.status_code == 404
    assert nowhere.json()["error"]["message"] == "This page does not exist."
    assert client.get("/api/v1/nirgends").json()["error"]["message"] == \
        "Diese Seite gibt es nicht."


def test_html_error_page_uses_the_ui_language(client):
    page = client.get("/nirgends?lang=en", headers={"Accept": "text/html"})
    assert page.status_code == 404 and "This page does not exist." in page.text
    assert "This page does not exist." in client.get(  # ?lang= set the cookie
        "/nirgends", headers={"Accept": "text/html"}).text
    client.cookies.clear()
    # the UI ignores Accept-Language: its default is German
    german = client.get("/nirgends", headers={"Accept": "text/html", **ENGLISH})
    assert "Diese Seite gibt es nicht." in german.text


def test_not_found_default_message_is_untouched():
    assert NotFound("Gibt es nicht.").message == "Gibt es nicht."
