"""Data requests (Datenanträge): the whole life of a request over the REST API, every
transition allowed or refused by role, reasons, scope checks, conditions of use, attachments,
e-mails received by a real SMTP server, retention, and two admins deciding at once."""

from __future__ import annotations

import datetime as dt
import json
import tempfile
import threading
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from allmende.access import accounts
from allmende.access import requests as service
from allmende.access.mail import Mailer
from allmende.catalog import datasets, organizations
from allmende.db.models import DataRequest
from allmende.errors import Conflict
from allmende.ingest.service import IngestRequest, ingest
from allmende.platform import Platform
from mail_support import smtp_server
from support import OPERATOR, PASSWORD, dataset_body

CSV = "Datum;Straße;Beteiligte;Schwere\n01.03.2024;Hohe Straße;2;leicht\n" \
      "02.03.2024;Kampstraße;3;schwer\n"
COMPLETE = {"requester_organization": "Ruhr-Universität Bochum", "position": "Doktorandin",
            "purpose": "forschung", "purpose_text": "Unfallschwerpunkte im Radverkehr",
            "legal_basis": "dsgvo-6-1-e", "interest": "Öffentliche Forschung zur Sicherheit",
            "columns": ["Datum", "Schwere"], "duration_days": 90,
            "recipients": "Projektteam", "processors": "keine",
            "retention": "Löschung nach Projektende", "accepted_conditions": 1}


def _seed_requests(platform: Platform, seeded: dict[str, Any]) -> dict[str, Any]:
    """A restricted dataset of Dortmund with a table, Dortmund's conditions (version 1) and a
    second Dortmund admin."""
    with tempfile.TemporaryDirectory() as folder:
        source = Path(folder) / "unfaelle.csv"
        source.write_text(CSV, encoding="utf-8")
        with platform.db.session() as session:
            datasets.create_dataset(session, OPERATOR, dataset_body(
                "unfaelle", title="Verkehrsunfälle", access_level="restricted"))
            datasets.create_dataset(session, OPERATOR, dataset_body("offen"))
            service.set_conditions(session, OPERATOR, "dortmund",
                                   "Nur für den angegebenen Zweck; keine Weitergabe.")
            user = accounts.create_user(session, "admin2@test.allmende.de", PASSWORD,
                                        name="admin2")
            accounts.set_membership(session, OPERATOR, user,
                                    organizations.get_organization(session, "dortmund"),
                                    "admin")
            admin2 = accounts.create_token(session, user.id, "tests").secret
        ingest(platform, OPERATOR, IngestRequest("unfaelle", source, "unfaelle.csv"))
    return {"tokens": {**seeded["tokens"], "admin2": admin2}}


TEMPLATES = {"requests_world": (_seed_requests, "world")}


@pytest.fixture
def ask(client, world, requests_world):
    """``ask(who, method, path, **kw)``: an API call as ``who`` (None: anonymous)."""
    world.tokens = requests_world["tokens"]

    def call(who: str | None, method: str, path: str, **kwargs: Any) -> Any:
        return client.request(method, f"/api/v1{path}", headers=world.auth(who), **kwargs)

    return call


@pytest.fixture
def requests_world(installation) -> dict[str, Any]:
    return installation.seeded


def _draft(ask, who: str = "outsider", **fields: Any) -> int:
    response = ask(who, "POST", "/requests", json={"dataset": "unfaelle", **fields})
    assert response.status_code == 201, response.text
    return response.json()["id"]


def _step(ask, who: str | None, request_id: int, action: str, reason: str = "weil") -> Any:
    return ask(who, "POST", f"/requests/{request_id}/{action}", json={"reason": reason})


def _in_state(ask, state: str) -> int:
    """A request of the outsider brought into ``state`` by the allowed steps."""
    request_id = _draft(ask, **COMPLETE)
    path = {"draft": [], "submitted": [("outsider", "submit")],
            "needs_info": [("outsider", "submit"), ("admin", "ask")],
            "approved": [("outsider", "submit"), ("admin", "approve")],
            "rejected": [("outsider", "submit"), ("admin", "reject")],
            "withdrawn": [("outsider", "withdraw")]}[state]
    for who, action in path:
        response = _step(ask, who, request_id, action)
        assert response.status_code == 200, response.text
    return request_id


def test_a_request_from_draft_to_approval(ask):
    request_id = _draft(ask, purpose="forschung")
    incomplete = _step(ask, "outsider", request_id, "submit")
    assert incomplete.status_code == 422
    missing = {f["field"] for f in incomplete.json()["error"]["fields"]}
    assert {"interest", "legal_basis", "columns", "accepted_conditions"} <= missing
    assert ask("outsider", "PATCH", f"/requests/{request_id}", json=COMPLETE).status_code == 200
    submitted = _step(ask, "outsider", request_id, "submit", "")
    assert submitted.json()["state"] == "submitted", submitted.text
    assert _step(ask, "admin", request_id, "ask", "Welche Straßen genau?").json()["state"] \
        == "needs_info"
    street = {"row_filter": [{"column": "Straße", "op": "eq", "value": "Hohe Straße"}]}
    unreleased = ask("outsider", "PATCH", f"/requests/{request_id}", json=street)
    assert unreleased.status_code == 422, "a filter on a column not asked for"
    assert "Straße" in unreleased.json()["error"]["fields"][0]["message"]
    changed = ask("outsider", "PATCH", f"/requests/{request_id}",
                  json={**street, "columns": [*COMPLETE["columns"], "Straße"]})
    assert changed.status_code == 200, changed.text
    assert _step(ask, "outsider", request_id, "answer", "Nur die Hohe Straße.").json()[
        "state"] == "submitted"
    approved = _step(ask, "admin", request_id, "approve", "Zweck und Umfang sind angemessen.")
    body = approved.json()
    assert approved.status_code == 200, approved.text
    assert body["state"] == "approved" and body["decided"] is not None
    assert [e["action"] for e in body["history"]] == ["create", "submit", "ask", "answer",
                                                     "approve"]
    assert body["history"][-1]["reason"] == "Zweck und Umfang sind angemessen."
    assert body["requester"] == "outsider@test.allmende.de"
    assert body["fields"]["accepted_conditions"] == 1
    assert body["fields"]["row_filter"][0]["value"] == "Hohe Straße"
    assert body["actions"] == []


def test_an_approved_request_becomes_the_agreement_it_asked_for(ask, client):
    resource = ask("admin", "GET", "/datasets/unfaelle").json()["resources"][0]["id"]
    assert ask("outsider", "GET", f"/resources/{resource}/rows").status_code == 403
    request_id = _in_state(ask, "approved")
    [agreement] = ask("outsider", "GET", "/agreements").json()["results"]
    assert agreement["request_id"] == request_id and agreement["purpose"] == "forschung"
    rows = ask("outsider", "GET", f"/resources/{resource}/rows")
    assert rows.status_code == 200, rows.text
    assert [f["name"] for f in rows.json()["fields"]] == COMPLETE["columns"]
    # the read is in the transparency log: which agreement, purpose and version, no person
    entries = client.get("/log/v1/entries", params={"start": 0, "end": 100})
    logged = [e["event"] for e in entries.json()["entries"]
              if e["event"]["type"] == "access.rows"]
    assert [(e["agreement"], e["purpose"], e["resource"]) for e in logged] == [
        (agreement["uid"], "forschung", resource)]
    assert len(logged[0]["reader"]) == 32 and "@" not in json.dumps(logged)


def test_a_period_on_a_date_column_keeps_only_its_rows(ask):
    """Data minimisation: a period that names its date column becomes row conditions of the
    agreement; without the column it stays a statement of the request."""
    resource = ask("admin", "GET", "/datasets/unfaelle").json()["resources"][0]["id"]
    refusals = {
        "Schwere": "keine Datumsspalte",  # not a date column
        "Straße": "keine Datumsspalte",
    }
    for column, says in refusals.items():
        refused = ask("outsider", "POST", "/requests", json={
            "dataset": "unfaelle", **COMPLETE, "period_start": "2024-03-02",
            "period_column": column})
        assert refused.status_code == 422 and says in refused.text, refused.text
    not_requested = ask("outsider", "POST", "/requests", json={
        "dataset": "unfaelle", **COMPLETE, "columns": ["Schwere"],
        "period_start": "2024-03-02", "period_column": "Datum"})
    assert not_requested.status_code == 422 and "unter den Spalten" in not_requested.text
    without_dates = ask("outsider", "POST", "/requests", json={
        "dataset": "unfaelle", **COMPLETE, "period_column": "Datum"})
    assert without_dates.status_code == 422
    assert without_dates.json()["error"]["fields"][0]["field"] == "period_start"
    request_id = _draft(ask, **COMPLETE, period_start="2024-03-02", period_end="2024-12-31",
                        period_column="Datum")
    for who, action in (("outsider", "submit"), ("admin", "approve")):
        assert _step(ask, who, request_id, action).status_code == 200
    [agreement] = ask("outsider", "GET", "/agreements").json()["results"]
    assert agreement["row_filter"] == [
        {"column": "Datum", "op": "gte", "value": "2024-03-02"},
        {"column": "Datum", "op": "lte", "value": "2024-12-31"}]
    rows = ask("outsider", "GET", f"/resources/{resource}/rows").json()["rows"]
    assert rows == [{"Datum": "2024-03-02", "Schwere": "schwer"}]


def test_every_step_lands_in_the_transparency_log_without_personal_data(ask, client):
    request_id = _in_state(ask, "approved")
    withdrawn = _in_state(ask, "withdrawn")
    entries = client.get("/log/v1/entries", params={"start": 0, "end": 100}).json()["entries"]
    events = [e["event"] for e in entries]
    mine = [(e["type"], e.get("decision")) for e in events if e.get("request") == request_id]
    assert mine == [("request.submitted", None), ("request.decided", "approved"),
                    ("agreement.created", None)]
    assert [e["type"] for e in events if e.get("request") == withdrawn] == ["request.withdrawn"]
    decided = next(e for e in events if e["type"] == "request.decided")
    assert decided["organization"] == "dortmund" and decided["purpose"] == COMPLETE["purpose"]
    assert len(decided["requester"]) == 32, "a pseudonym, not the account"
    text = json.dumps(entries)
    assert "outsider" not in text and "@" not in text, "no person in clear"


OWNER_STEPS = {"ask": "submitted", "approve": "submitted", "reject": "submitted"}
REQUESTER_STEPS = {"submit": "draft", "answer": "needs_info", "withdraw": "submitted"}
# who may see the request at all: the requester, the owner's admins and sysadmins
READERS = {"outsider", "admin", "sysadmin"}
ACTORS = [None, "outsider", "bochum-editor", "member", "editor", "admin", "sysadmin"]


@pytest.mark.parametrize("who", ACTORS)
@pytest.mark.parametrize("action", [*OWNER_STEPS, *REQUESTER_STEPS])
def test_every_transition_is_allowed_or_refused_by_role(ask, action, who):
    owner_step = action in OWNER_STEPS
    source = OWNER_STEPS.get(action) or REQUESTER_STEPS[action]
    request_id = _in_state(ask, source)
    response = _step(ask, who, request_id, action)
    readers = {"outsider"} if source == "draft" else READERS  # a draft is its requester's
    allowed = {"admin", "sysadmin"} if owner_step else {"outsider"}
    if who in allowed:
        expected = 200
    elif who is None:
        expected = 401
    elif who in readers:
        expected = 403
    else:
        expected = 404  # whether the request exists is not theirs to know
    assert response.status_code == expected, response.text
    state = ask("outsider", "GET", f"/requests/{request_id}").json()["state"]
    assert (state != source) == (expected == 200)


@pytest.mark.parametrize(("state", "action"), [
    ("approved", "approve"), ("rejected", "approve"), ("approved", "withdraw"),
    ("submitted", "answer"), ("needs_info", "approve"), ("withdrawn", "submit"),
    ("draft", "withdraw")])
def test_steps_from_the_wrong_state(ask, state, action):
    request_id = _in_state(ask, state)
    who = "admin" if action in OWNER_STEPS else "outsider"
    response = _step(ask, who, request_id, action)
    if (state, action) == ("draft", "withdraw"):
        assert response.status_code == 200  # a draft may be withdrawn
    else:
        assert response.status_code == 409, response.text
        assert response.json()["error"]["code"] == "request_state_changed"


@pytest.mark.parametrize("action", ["ask", "approve", "reject", "answer"])
def test_decisions_need_a_written_reason(ask, action):
    request_id = _in_state(ask, "needs_info" if action == "answer" else "submitted")
    who = "outsider" if action == "answer" else "admin"
    response = _step(ask, who, request_id, action, "   ")
    assert response.status_code == 422
    field = response.json()["error"]["fields"][0]
    assert field["field"] == "reason" and "schriftlich" in field["message"]


def test_who_may_ask_for_what(ask):
    own = ask("member", "POST", "/requests", json={"dataset": "unfaelle"})
    assert own.status_code == 403 and "Ihre Organisation besitzt" in own.json()["error"][
        "message"]
    public = ask("outsider", "POST", "/requests", json={"dataset": "offen"})
    assert public.status_code == 403 and "nicht zugangsbeschränkt" in public.json()["error"][
        "message"]
    assert ask(None, "POST", "/requests", json={"dataset": "unfaelle"}).status_code == 401
    assert ask("bochum-editor", "POST", "/requests",
               json={"dataset": "unfaelle"}).status_code == 201
    uuid = ask("outsider", "GET", "/datasets/unfaelle").json()["id"]
    assert ask("outsider", "POST", "/requests", json={"dataset": uuid}).status_code == 201


def test_requested_columns_and_filters_must_exist(ask):
    response = ask("outsider", "POST", "/requests", json={
        "dataset": "unfaelle", "columns": ["Datum", "Name"],
        "row_filter": [{"column": "Alter", "op": "gt", "value": 18}]})
    assert response.status_code == 422
    fields = response.json()["error"]["fields"]
    assert {(f["field"], f["message"]) for f in fields} == {
        ("columns", "Die Spalte „Name“ gibt es in diesem Datensatz nicht."),
        ("row_filter", "Die Spalte „Alter“ gibt es in diesem Datensatz nicht.")}
    request_id = _draft(ask)
    assert ask("outsider", "GET", f"/requests/{request_id}").json()["available_columns"] == [
        "Datum", "Straße", "Beteiligte", "Schwere"]


def test_the_accepted_version_of_the_conditions_is_kept(ask):
    assert ask(None, "GET", "/organizations/dortmund/conditions").json()["version"] == 1
    request_id = _draft(ask, **COMPLETE)
    new = ask("admin", "POST", "/organizations/dortmund/conditions",
              json={"text": "Neue Fassung: Quellenangabe Pflicht."})
    assert new.status_code == 201 and new.json()["version"] == 2
    assert ask("outsider", "POST", "/organizations/dortmund/conditions",
               json={"text": "x"}).status_code == 403
    refused = _step(ask, "outsider", request_id, "submit")
    assert refused.status_code == 422
    assert refused.json()["error"]["fields"] == [{
        "field": "accepted_conditions", "message": "Bitte lesen und akzeptieren Sie die "
        "Nutzungsbedingungen der Organisation (Fassung 2)."}]
    ask("outsider", "PATCH", f"/requests/{request_id}", json={"accepted_conditions": 2})
    submitted = _step(ask, "outsider", request_id, "submit")
    assert submitted.json()["fields"]["accepted_conditions"] == 2


def test_a_closed_request_cannot_be_changed(ask):
    request_id = _in_state(ask, "submitted")
    response = ask("outsider", "PATCH", f"/requests/{request_id}", json={"position": "x"})
    assert response.status_code == 409


def test_lists_for_requester_and_owner(ask):
    draft = _draft(ask)
    submitted = _in_state(ask, "submitted")
    mine = ask("outsider", "GET", "/requests").json()
    assert {r["id"] for r in mine["results"]} == {draft, submitted}
    inbox = ask("admin", "GET", "/requests", params={"role": "owner"}).json()
    assert [r["id"] for r in inbox["results"]] == [submitted]  # drafts are the requester's
    assert ask("admin", "GET", f"/requests/{draft}").status_code == 404
    assert ask("bochum-editor", "GET", "/requests", params={"role": "owner"}).json()[
        "count"] == 0
    assert ask(None, "GET", "/requests").status_code == 401


PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"


def test_attachments_are_pdfs_within_the_limit(ask, platform):
    request_id = _draft(ask)
    path = f"/requests/{request_id}/attachments"
    added = ask("outsider", "POST", path,
                files={"file": ("Ethikvotum.pdf", PDF, "application/pdf")})
    assert added.status_code == 201, added.text
    attachment = added.json()["id"]
    not_pdf = ask("outsider", "POST", path,
                  files={"file": ("votum.pdf", b"PK\x03\x04zip", "application/pdf")})
    assert not_pdf.status_code == 422
    assert not_pdf.json()["error"]["fields"][0]["message"] == \
        "Die Anlage votum.pdf ist keine PDF-Datei; Anlagen müssen PDF sein."
    platform.settings.request_attachment_limit_bytes = 1024
    big = ask("outsider", "POST", path,
              files={"file": ("gross.pdf", PDF + b"0" * 2048, "application/pdf")})
    assert big.status_code == 413
    assert "größer als erlaubt" in big.json()["error"]["message"]
    assert ask("admin", "POST", path, files={"file": ("a.pdf", PDF, "application/pdf")}
               ).status_code == 404  # the owner does not see drafts
    _step(ask, "outsider", request_id, "withdraw")
    file_path = f"{path}/{attachment}"
    assert ask("outsider", "GET", file_path).content == PDF
    assert ask("bochum-editor", "GET", file_path).status_code == 404
    assert ask(None, "GET", file_path).status_code == 401
    stored = list((platform.settings.data_dir / "requests" / str(request_id)).iterdir())
    assert len(stored) == 1  # refused files are not kept


def test_attachments_are_visible_to_the_owners_admins(ask):
    request_id = _draft(ask, **COMPLETE)
    attachment = ask("outsider", "POST", f"/requests/{request_id}/attachments",
                     files={"file": ("a.pdf", PDF, "application/pdf")}).json()["id"]
    _step(ask, "outsider", request_id, "submit")
    for who, status in (("admin", 200), ("sysadmin", 200), ("editor", 404), ("member", 404)):
        response = ask(who, "GET", f"/requests/{request_id}/attachments/{attachment}")
        assert response.status_code == status, who


def test_closed_requests_and_their_files_go_after_the_retention(ask, platform):
    withdrawn = _in_state(ask, "submitted")
    ask("outsider", "POST", f"/requests/{withdrawn}/attachments",
        files={"file": ("a.pdf", PDF, "application/pdf")})
    _step(ask, "outsider", withdrawn, "withdraw")
    open_one = _in_state(ask, "submitted")
    folder = platform.settings.data_dir / "requests" / str(withdrawn)
    assert folder.is_dir()
    days = platform.settings.request_retention_days
    with platform.db.session() as session:
        assert service.purge_expired(session, platform.settings.data_dir, days) == 0
        later = dt.datetime.now(dt.UTC) + dt.timedelta(days=days + 1)
        assert service.purge_expired(session, platform.settings.data_dir, days, later) == 1
    assert not folder.exists()
    assert ask("outsider", "GET", f"/requests/{withdrawn}").status_code == 404
    assert ask("outsider", "GET", f"/requests/{open_one}").status_code == 200


def test_emails_on_submit_question_answer_and_decision(ask, platform):
    with smtp_server(platform.settings) as inbox:
        request_id = _draft(ask, **COMPLETE)
        english = ask("bochum-editor", "POST", "/requests?lang=en",
                      json={"dataset": "unfaelle", **COMPLETE}).json()["id"]
        _step(ask, "outsider", request_id, "submit")
        inbox.wait_for(2)
        admins = {"admin@test.allmende.de", "admin2@test.allmende.de"}
        to_admins = [m for m in inbox.received if set(m.recipients) == admins]
        assert len(to_admins) == 1 and to_admins[0].language == "de"
        assert to_admins[0].subject == f"Neuer Datenantrag {request_id} für „Verkehrsunfälle“"
        assert f"/requests/{request_id}" in to_admins[0].body
        receipt = inbox.to("outsider@test.allmende.de")
        assert [m.subject for m in receipt] == [
            f"Ihr Datenantrag {request_id} für „Verkehrsunfälle“ ist eingegangen"]
        _step(ask, "admin", request_id, "ask", "Wozu die Schwere?")
        _step(ask, "outsider", request_id, "answer", "Für die Auswertung.")
        _step(ask, "admin", request_id, "reject", "Kein ausreichendes Interesse.")
        _step(ask, "bochum-editor", english, "submit")
        _step(ask, "admin2", english, "approve", "Passt.")
        inbox.wait_for(8)
        to_requester = inbox.to("outsider@test.allmende.de")
        assert [m.subject.split(" für ")[0] for m in to_requester] == [
            f"Ihr Datenantrag {request_id}", f"Rückfrage zu Ihrem Datenantrag {request_id}",
            f"Ihr Datenantrag {request_id}"]
        assert "Wozu die Schwere?" in to_requester[1].body
        assert to_requester[2].subject.endswith("ist abgelehnt")
        assert "Kein ausreichendes Interesse." in to_requester[2].body
        assert [m.subject for m in inbox.received if set(m.recipients) == admins][1] == \
            f"Antwort zum Datenantrag {request_id} für „Verkehrsunfälle“"
        in_english = inbox.to("bochum-editor@test.allmende.de")
        assert {m.language for m in in_english} == {"en"}
        assert [m.subject for m in in_english] == [
            f"Your data request {english} for “Verkehrsunfälle” has been received",
            f"Your data request {english} for “Verkehrsunfälle” has been approved"]
        assert len(inbox.received) == 8


def test_without_an_smtp_host_mails_are_logged_as_not_sent(ask, caplog):
    request_id = _draft(ask, **COMPLETE)
    with caplog.at_level("INFO", logger="allmende.access.mail"):
        assert _step(ask, "outsider", request_id, "submit").status_code == 200
    assert "nicht gesendet" in caplog.text and "outsider@test.allmende.de" in caplog.text


def test_a_lost_decision_sends_no_mail(ask, platform):
    request_id = _in_state(ask, "submitted")
    with smtp_server(platform.settings) as inbox:
        _step(ask, "admin", request_id, "approve")
        assert _step(ask, "admin2", request_id, "reject").status_code == 409
        received = inbox.wait_for(1)
        assert len(received) == 1 and received[0].subject.endswith("ist bewilligt")


def test_two_admins_decide_at_once_one_wins_the_other_gets_409(platform, requests_world):
    """The second decision waits on the first one's row lock (PostgreSQL) or write lock
    (SQLite), then finds the request decided: 409, and the first decision stands."""
    with platform.db.session() as session:
        requester = accounts.actor_for(accounts.get_user(session, "outsider@test.allmende.de"))
        admin = accounts.actor_for(accounts.get_user(session, "admin@test.allmende.de"))
        admin2 = accounts.actor_for(accounts.get_user(session, "admin2@test.allmende.de"))
        request_id = service.create_request(session, requester,
                                            {"dataset": "unfaelle", **COMPLETE}).id
    mailer = Mailer(platform.settings)
    with platform.db.session() as session:
        service.transition(session, requester, request_id, "submit", "", mailer)
    outcome: dict[str, Any] = {}

    def second() -> None:
        try:
            with platform.db.session() as other:
                service.transition(other, admin2, request_id, "reject", "Nein.", mailer)
            outcome["second"] = "committed"
        except Conflict as error:
            outcome["second"] = error

    with platform.db.session() as first:
        service.transition(first, admin, request_id, "approve", "Ja.", mailer)
        racer = threading.Thread(target=second)
        racer.start()
        racer.join(timeout=1.0)
        assert racer.is_alive(), "the second decision did not wait for the first"
    racer.join(timeout=30)
    assert isinstance(outcome["second"], Conflict) and outcome["second"].status == 409
    with platform.db.session() as session:
        stored = session.scalar(select(DataRequest).where(DataRequest.id == request_id))
        assert stored.state == "approved" and stored.decided_by_id == admin.user_id


def test_two_admins_over_http_at_once(ask):
    request_id = _in_state(ask, "submitted")
    start = threading.Barrier(2)
    statuses: list[int] = []

    def decide(who: str, action: str) -> None:
        start.wait()
        statuses.append(_step(ask, who, request_id, action, "Entscheidung").status_code)

    threads = [threading.Thread(target=decide, args=args)
               for args in (("admin", "approve"), ("admin2", "reject"))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert sorted(statuses) == [200, 409]
