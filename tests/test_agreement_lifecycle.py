"""How agreements end visibly: a revocation e-mails the holder its reason (once, however many
admins revoke at once); the periodic sweep stores agreements past their end as expired with
one ``agreement.expired`` event each, and tells holders of the coming end once; a refused read
records an expiry before the sweep does; mails in the language of the request."""

from __future__ import annotations

import datetime as dt
import json
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from sqlalchemy import select

from agreement_support import DAY, seed, user_id
from allmende.access import accounts, agreements
from allmende.access import requests as data_requests
from allmende.access.mail import Mailer
from allmende.db.models import Agreement, Dataset, LogEntry
from allmende.errors import Forbidden
from allmende.jobs import registry
from allmende.wiring import AGREEMENT_LIFECYCLE_SECONDS
from mail_support import smtp_server
from support import OPERATOR
from test_requests_ui import _sign_in

TEMPLATES = {"sealed": (seed, "world")}
NOTICE = dt.timedelta(days=14)
HOLDER = "outsider@test.allmende.de"


@pytest.fixture
def sealed(installation) -> dict[str, Any]:
    return installation.seeded


@pytest.fixture
def inbox(platform) -> Any:
    with smtp_server(platform.settings) as received:
        yield received


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _grant(platform, start: dt.datetime, end: dt.datetime, **terms: Any) -> str:
    with platform.db.session() as session:
        return agreements.grant(session, OPERATOR, agreements.Grant(
            dataset="geheim", assignee=user_id(platform, "outsider"), valid_from=start,
            valid_until=end, purpose="forschung", **terms)).uid


def _sweep(platform, now: dt.datetime | None = None) -> agreements.Swept:
    with platform.db.session() as session:
        return agreements.sweep(session, Mailer(platform.settings), NOTICE, now)


def _stored(platform, uid: str) -> Agreement:
    with platform.db.session() as session:
        return session.scalars(select(Agreement).where(Agreement.uid == uid)).one()


def _logged(platform, kind: str, uid: str | None = None) -> list[dict[str, Any]]:
    with platform.db.session() as session:
        leaves = session.scalars(select(LogEntry.leaf).where(LogEntry.type == kind)
                                 .order_by(LogEntry.index))
        events = [json.loads(bytes(leaf)) for leaf in leaves]
    return [e for e in events if uid is None or e["agreement"] == uid]


def _at_once(*calls: Callable[[], Any]) -> list[Any]:
    """Run ``calls`` in threads that start together."""
    start = threading.Barrier(len(calls))

    def run(call: Callable[[], Any]) -> Any:
        start.wait(timeout=30)
        return call()

    with ThreadPoolExecutor(max_workers=len(calls)) as pool:
        return list(pool.map(run, calls))


# --- Revocation ----------------------------------------------------------------------------------


def test_revoking_mails_the_holder_the_reason_once(client, world, sealed, platform, inbox):
    uid = _grant(platform, _now() - DAY, _now() + 30 * DAY)
    revoked = client.post(f"/api/v1/agreements/{uid}/revoke", headers=world.auth("admin"),
                          json={"reason": "Die Studie ist beendet."})
    assert revoked.status_code == 200, revoked.text
    again = client.post(f"/api/v1/agreements/{uid}/revoke", headers=world.auth("admin"),
                        json={"reason": "Noch ein Grund"})
    assert again.json()["revoke_reason"] == "Die Studie ist beendet."
    [mail] = inbox.wait_for(1)
    assert mail.recipients == [HOLDER] and mail.language == "de"
    assert mail.subject == "Ihr Datenzugang zu „Orte geheim“ ist widerrufen"
    assert f"Stadt Dortmund hat Ihre Nutzungsvereinbarung {uid}" in mail.body
    assert "Begründung:\r\nDie Studie ist beendet." in mail.body  # lines end as SMTP says
    assert "Noch ein Grund" not in mail.body
    assert f"/account/agreements#a-{uid}" in mail.body
    # the default duties include deleting the data at the end; no request: no link to one
    assert "löschen Sie bitte" in mail.body and "/requests/" not in mail.body
    assert len(inbox.received) == 1


def test_revoking_on_the_page_mails_the_holder(client, sealed, platform, inbox):
    uid = _grant(platform, _now() - DAY, _now() + 30 * DAY, duties=("attribute",))
    csrf = _sign_in(client, "admin@test.allmende.de")
    answer = client.post(f"/agreements/{uid}/revoke", follow_redirects=False,
                         data={"csrf_token": csrf, "reason": "Zweck entfallen"})
    assert answer.status_code == 303, answer.text
    [mail] = inbox.wait_for(1)
    assert mail.recipients == [HOLDER] and "Zweck entfallen" in mail.body
    assert "löschen" not in mail.body  # that duty was not agreed


def test_two_admins_revoking_at_once_send_one_mail(platform, world, sealed, inbox):
    uid = _grant(platform, _now() - DAY, _now() + 30 * DAY)

    def revoke(reason: str) -> Callable[[], str | None]:
        def call() -> str | None:
            with platform.db.session() as session:
                return agreements.revoke(session, OPERATOR, uid, reason,
                                         Mailer(platform.settings)).revoke_reason
        return call

    answers = _at_once(revoke("Zweck entfallen"), revoke("Frist verstrichen"))
    stands = _stored(platform, uid).revoke_reason
    assert answers == [stands, stands]
    # mails go out as the revoking transaction commits: both have returned, so all are here
    assert len(inbox.received) == 1 and stands in inbox.received[0].body
    assert len(_logged(platform, "agreement.revoked", uid)) == 1


# --- Expiry ------------------------------------------------------------------------------------


def test_the_sweep_stores_the_expiry_and_logs_it_once(platform, world, sealed):
    uid = _grant(platform, _now() - 3 * DAY, _now() - dt.timedelta(minutes=1))
    running = _grant(platform, _now() - DAY, _now() + 30 * DAY)
    assert _stored(platform, uid).state == "active"
    with platform.db.session() as session:  # read from the window until the sweep comes
        assert agreements.get_agreement(session, OPERATOR, uid).state == "expired"
    swept = _sweep(platform)
    # the seed's agreement that ended yesterday goes with it
    assert sorted(swept.expired) == sorted([uid, sealed["expired-holder-agreement"]])
    assert swept.warned == ()
    assert (_stored(platform, uid).state, _stored(platform, running).state) == (
        "expired", "active")
    [event] = _logged(platform, "agreement.expired", uid)
    stored = _stored(platform, uid)
    assert event["organization"] == "dortmund" and event["purpose"] == "forschung"
    assert event["valid_until"] == stored.valid_until.isoformat(timespec="seconds")
    assert event["request"] is None and len(event["holder"]) == 32
    with platform.db.session() as session:
        assert event["dataset"] == session.scalar(
            select(Dataset.uuid).where(Dataset.name == "geheim"))
    assert _sweep(platform) == agreements.Swept((), ())
    assert len(_logged(platform, "agreement.expired")) == 2


def test_two_sweeps_at_once_expire_and_warn_each_agreement_once(platform, world, sealed,
                                                                  inbox):
    ended = _grant(platform, _now() - 3 * DAY, _now() - dt.timedelta(minutes=1))
    ending = _grant(platform, _now() - 60 * DAY, _now() + 5 * DAY)
    results = _at_once(*[lambda: _sweep(platform)] * 2)
    assert sorted(uid for r in results for uid in r.expired) == sorted(
        [ended, sealed["expired-holder-agreement"]])
    assert [uid for r in results for uid in r.warned] == [ending]
    assert len(_logged(platform, "agreement.expired", ended)) == 1
    assert [m.recipients for m in inbox.received] == [[HOLDER]]


def test_holders_are_told_of_the_end_once_within_the_notice_period(platform, world, sealed,
                                                                     inbox):
    now = _now()
    soon = _grant(platform, now - 60 * DAY, now + 10 * DAY)
    later = _grant(platform, now - 60 * DAY, now + 30 * DAY)
    short = _grant(platform, now - 2 * DAY, now + 3 * DAY)  # lasts five days: known from the start
    assert _sweep(platform).warned == (soon,)
    [mail] = inbox.wait_for(1)
    end = _stored(platform, soon).valid_until.strftime("%Y-%m-%d %H:%M UTC")
    assert mail.recipients == [HOLDER] and mail.language == "de"
    assert mail.subject == f"Ihr Datenzugang zu „Orte geheim“ endet am {end}"
    assert f"Ihre Nutzungsvereinbarung {soon} mit Stadt Dortmund" in mail.body
    assert _stored(platform, soon).expiry_notified_at is not None
    assert _sweep(platform).warned == ()
    # twenty days on: the other one is within the notice period now (and the seed's holder's
    # agreement, which ends in thirty days), the short one ended
    swept = _sweep(platform, now + 20 * DAY)
    assert set(swept.warned) == {later, sealed["holder-agreement"]}
    assert set(swept.expired) >= {soon, short}
    inbox.wait_for(3)
    assert [len(inbox.to(f"{key}@test.allmende.de")) for key in ("outsider", "holder")] == [2, 1]
    assert _stored(platform, short).expiry_notified_at is None


def test_a_refused_read_records_the_expiry_before_the_sweep(platform, world, sealed):
    uid = _grant(platform, _now() - 3 * DAY, _now() - dt.timedelta(minutes=1))
    with platform.db.session() as session:
        geheim = session.scalars(select(Dataset).where(Dataset.name == "geheim")).one()
        outsider = accounts.actor_for(accounts.get_user(session, HOLDER))
    for _ in range(2):
        # the refusal rolls the reader's transaction back, the expiry is kept
        with pytest.raises(Forbidden) as refused, platform.db.session() as session:
            agreements.consume(session, outsider, geheim)
        assert refused.value.code == "agreement_expired"
    assert _stored(platform, uid).state == "expired"
    assert len(_logged(platform, "agreement.expired", uid)) == 1
    assert [e["reason"] for e in _logged(platform, "access.refused", uid)] == [
        "agreement_expired"] * 2
    assert uid not in _sweep(platform).expired


def test_the_lifecycle_runs_as_a_periodic_task_with_the_notice_setting(platform, world,
                                                                        sealed, inbox):
    task = next(t for t in registry.periodic_tasks() if t.name == "agreement-lifecycle")
    assert task.every_seconds == AGREEMENT_LIFECYCLE_SECONDS
    uid = _grant(platform, _now() - 60 * DAY, _now() + 20 * DAY)
    task.run(platform)
    assert _stored(platform, uid).expiry_notified_at is None  # 20 days: beyond 14
    platform.settings.agreement_expiry_notice_days = 21
    task.run(platform)
    assert _stored(platform, uid).expiry_notified_at is not None
    assert _stored(platform, sealed["expired-holder-agreement"]).state == "expired"
    assert len(inbox.wait_for(1)) == 1


# --- In the language of the request ---------------------------------------------------------------


def test_an_agreement_from_an_english_request_mails_in_english(platform, world, sealed, inbox):
    with platform.db.session() as session:
        requester = accounts.actor_for(accounts.get_user(session, HOLDER))
        admin = accounts.actor_for(accounts.get_user(session, "admin@test.allmende.de"))
        request_id = data_requests.create_request(session, requester, {
            "dataset": "geheim", "requester_organization": "TU Dortmund",
            "purpose": "forschung", "purpose_text": "Spielplatzversorgung",
            "legal_basis": "dsgvo-6-1-e", "interest": "Forschung", "columns": ["Name", "Art"],
            "duration_days": 60, "recipients": "Projektteam", "retention": "Projektende"},
            language="en").id
    mailer = Mailer(platform.settings)
    for actor, step in ((requester, "submit"), (admin, "approve")):
        with platform.db.session() as session:
            data_requests.transition(session, actor, request_id, step, "ok", mailer)
    assert len(inbox.wait_for(3)) == 3  # to the admins, the receipt, the approval
    inbox.received.clear()
    with platform.db.session() as session:
        made = session.scalars(select(Agreement).where(Agreement.request_id == request_id)
                               ).one()
    assert _sweep(platform, made.valid_until - 5 * DAY).warned == (made.uid,)
    with platform.db.session() as session:
        agreements.revoke(session, admin, made.uid, "Daten werden nicht mehr gepflegt", mailer)
    ending, revoked = inbox.wait_for(2)
    assert {ending.language, revoked.language} == {"en"}
    assert ending.subject.startswith("Your data access to “Orte geheim” ends on ")
    assert "after that you can no longer retrieve the data" in ending.body
    assert f"based on your data request {request_id}: " in ending.body
    assert f"/requests/{request_id}" in ending.body
    assert revoked.subject == "Your data access to “Orte geheim” has been revoked"
    assert "Stadt Dortmund has revoked your usage agreement" in revoked.body
    # the admin's reason is their own text, in their own words
    assert "Reason:\r\nDaten werden nicht mehr gepflegt" in revoked.body
    assert "As agreed, please delete the data" in revoked.body

