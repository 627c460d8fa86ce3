"""Messages kept with a version (warnings, notes per column) keep their template and
parameters: the web UI and the API show them in the reader's language, plain text stored
before messages had templates as it is. In HTML, the names and values inside a message are
marked as what users wrote."""

from __future__ import annotations

import time

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import update

from allmende.db.models import TableVersion
from allmende.errors import Message, joined, msg, neutral, restored, stored
from allmende.web.i18n import localize, localize_html, localized_result
from support import dataset_body

JOB_TIMEOUT = 60.0
ENGLISH = {"Accept-Language": "en-GB,en;q=0.9"}
# A word whose umlaut was lost before the file reached us, and German dates.
BAEUME = "Baum;Straße;Gepflanzt\r\nLinde;Kampstra?e;01.04.2019\r\nEiche;Hansastraße;15.10.2020\r\n"


# --- the helpers -----------------------------------------------------------------------

def test_a_stored_message_comes_back_as_a_message():
    message = msg("Spaltenname in Spalte {number} auf {limit} Zeichen gekürzt.", number=3,
                  limit=200)
    entry = stored(message)
    assert entry == {"message": "Spaltenname in Spalte 3 auf 200 Zeichen gekürzt.",
                     "i18n": {"template": message.template,
                              "params": {"number": 3, "limit": 200}}}
    again = restored(entry)
    assert isinstance(again, Message) and again == message
    assert localize(again, "en") == "Column name in column 3 shortened to 200 characters."
    # plain text, kept before messages had templates, is shown as it is
    assert restored({"message": "Alter Hinweis."}) == "Alter Hinweis."
    assert restored("Alter Hinweis.") == "Alter Hinweis."
    assert restored({"message": "Kaputt.", "i18n": {"params": {}}}) == "Kaputt."


def test_html_marks_what_users_wrote_and_escapes_it():
    message = msg("Koordinaten in {x}/{y} als {crs} erkannt.", x="Rechts<wert>", y="Hochwert",
                  crs="EPSG:25832")
    english = localize_html(message, "en")
    assert english == ('Coordinates in <span data-user-content>Rechts&lt;wert&gt;</span>/'
                       '<span data-user-content>Hochwert</span> recognized as '
                       '<span data-user-content>EPSG:25832</span>.')
    assert localize_html(stored(message), "de").startswith(
        'Koordinaten in <span data-user-content>Rechts&lt;wert&gt;</span>')
    # messages inside messages are text of the interface: translated, not marked
    nested = msg("Datumsformat {formats}", formats=joined([msg("TT.MM.JJJJ"),
                                                           msg("JJJJ-MM-TT")]))
    assert localize_html(nested, "en") == "date format DD.MM.YYYY, YYYY-MM-DD"
    assert localize_html("<b>Alter Hinweis</b>", "en") == "&lt;b&gt;Alter Hinweis&lt;/b&gt;"


def test_neutral_messages_have_no_words():
    where = msg("Zeile {row}", row=7)
    assert localize(neutral("{where}: {problem}", where=where, problem=msg("Die Datei ist leer.")),
                    "en") == "Row 7: The file is empty."
    with pytest.raises(ValueError, match="not a neutral template"):
        neutral("{where} fehlt", where=where)


def test_a_job_result_in_the_askers_language():
    note = msg("Dezimalkomma erkannt")
    warning = {"code": "duplicate_label", **stored(msg("Doppelte Spaltennamen wurden nummeriert."))}
    # the notes in German, their templates beside them (as ingest.pipeline keeps them)
    report = {"encoding": "utf-8", "notes": {"Fläche": str(note), "Alt": "Text von früher"},
              "i18n": {"notes": {"Fläche": note.to_json()}}}
    result = {"version": 1, "warnings": [warning], "read_report": report}
    assert localized_result(result, "en") == {
        "version": 1,
        "warnings": [{"code": "duplicate_label",
                      "message": "Repeated column names were numbered."}],
        "read_report": {"encoding": "utf-8", "notes": {"Fläche": "decimal comma recognized",
                                                       "Alt": "Text von früher"}}}
    assert localized_result(result, "de")["read_report"]["notes"]["Fläche"] == \
        "Dezimalkomma erkannt"
    assert localized_result(None, "en") is None


# --- over HTTP -------------------------------------------------------------------------

def _ingest(client: TestClient, headers: dict, name: str, text: str) -> dict:
    created = client.post("/api/v1/datasets", json=dataset_body(name=name), headers=headers)
    assert created.status_code == 201, created.text
    upload = client.post(f"/api/v1/datasets/{name}/resources", headers=headers,
                         files={"file": ("baeume.csv", text.encode("utf-8"), "text/csv")})
    assert upload.status_code == 202, upload.text
    deadline = time.monotonic() + JOB_TIMEOUT
    while time.monotonic() < deadline:
        job = client.get(f"/api/v1/jobs/{upload.json()['id']}", headers=headers).json()
        if job["status"] == "done":
            return job
        assert job["status"] != "failed", job
        time.sleep(0.1)
    pytest.fail("the upload was not ingested in time")


def test_warnings_and_notes_in_the_askers_language(client, world):
    editor = world.auth("editor")
    job = _ingest(client, editor, "baeume", BAEUME)
    resource = job["result"]["resource"]
    german = {w["code"]: w["message"] for w in job["result"]["warnings"]}
    assert german["damaged_text"].startswith("Die Datei enthält Fragezeichen mitten in Wörtern")
    assert job["result"]["read_report"]["notes"]["Gepflanzt"] == "Datumsformat TT.MM.JJJJ"
    assert all("i18n" not in w for w in job["result"]["warnings"])  # no part of the API

    english_job = client.get(f"/api/v1/jobs/{job['id']}", headers={**editor, **ENGLISH}).json()
    assert {w["code"]: w["message"] for w in english_job["result"]["warnings"]}[
        "damaged_text"].startswith("The file contains question marks inside words")
    assert english_job["result"]["read_report"]["notes"]["Gepflanzt"] == \
        "date format DD.MM.YYYY"

    for path in (f"/api/v1/resources/{resource}", f"/api/v1/resources/{resource}/versions"):
        body = client.get(path, params={"lang": "en"}).json()
        (version,) = body.get("versions") or body["results"]
        assert version["read_report"]["notes"]["Gepflanzt"] == "date format DD.MM.YYYY"
        assert [w["code"] for w in version["warnings"]] == ["damaged_text"]
        assert version["warnings"][0]["message"].startswith("The file contains question marks")
        assert set(version["warnings"][0]) == {"code", "message"}
    default = client.get(f"/api/v1/resources/{resource}").json()["versions"][0]
    assert default["read_report"]["notes"]["Gepflanzt"] == "Datumsformat TT.MM.JJJJ"

    page = client.get(f"/resources/{resource}?lang=en", headers={"Accept": "text/html"}).text
    assert "<dt data-user-content>Gepflanzt</dt><dd>date format DD.MM.YYYY</dd>" in page
    assert "The file contains question marks inside words (e.g. “Stra?e”)" in page


def test_versions_stored_before_templates_are_shown_as_they_were(client, world, platform):
    editor = world.auth("editor")
    resource = _ingest(client, editor, "alt", BAEUME)["result"]["resource"]
    with platform.db.session() as session:  # as versions were stored before: text only
        session.execute(update(TableVersion).where(TableVersion.resource_id == resource).values(
            warnings=[{"code": "damaged_text", "message": "Die Datei enthält Fragezeichen."}],
            read_report={"encoding": "utf-8", "notes": {"Gepflanzt": "Datumsformat alt"}}))
    (version,) = client.get(f"/api/v1/resources/{resource}", headers=ENGLISH).json()["versions"]
    assert version["warnings"] == [{"code": "damaged_text",
                                    "message": "Die Datei enthält Fragezeichen."}]
    assert version["read_report"]["notes"] == {"Gepflanzt": "Datumsformat alt"}
    page = client.get(f"/resources/{resource}?lang=en", headers={"Accept": "text/html"})
    assert page.status_code == 200
    assert "<li>Die Datei enthält Fragezeichen.</li>" in page.text
    assert "<dd>Datumsformat alt</dd>" in page.text
