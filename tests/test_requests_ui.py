"""The data request pages over HTTP (German and English) and self-registration with the
confirmation link received by a real SMTP server."""

from __future__ import annotations

import re

from allmende.access import registration
from mail_support import smtp_server
from support import PASSWORD
from test_requests import PDF, TEMPLATES, requests_world  # noqa: F401 - the template

CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


def _sign_in(client, email: str) -> str:
    csrf = CSRF.search(client.get("/login").text).group(1)
    response = client.post("/login", data={"csrf_token": csrf, "email": email,
                                           "password": PASSWORD}, follow_redirects=False)
    assert response.status_code == 303, response.text
    return CSRF.search(client.get("/requests").text).group(1)


FORM = {"requester_organization": "Ruhr-Universität Bochum", "purpose": "forschung",
        "purpose_text": "Unfallforschung", "legal_basis": "dsgvo-6-1-e",
        "interest": "Sicherheit im Radverkehr", "columns": ["Datum", "Schwere"],
        "filter_column": "Schwere", "filter_op": "eq", "filter_value": "schwer",
        "duration_days": "30", "recipients": "Projektteam", "retention": "Nach Projektende",
        "accepted_conditions": "1", "submit": "1"}


def test_request_in_the_browser_forms_and_decide_it(client, requests_world):  # noqa: F811
    page = client.get("/datasets/unfaelle").text
    assert "Zugang beantragen" in page
    assert client.get("/datasets/unfaelle/request", follow_redirects=False).status_code == 303
    csrf = _sign_in(client, "outsider@test.allmende.de")
    form = client.get("/datasets/unfaelle/request")
    assert form.status_code == 200 and "outsider@test.allmende.de" in form.text
    assert "Nur für den angegebenen Zweck" in form.text  # the conditions to accept
    incomplete = client.post("/datasets/unfaelle/request",
                             data={"csrf_token": csrf, "purpose": "forschung", "submit": "1"})
    assert incomplete.status_code == 422 and "Für den Antrag nötig." in incomplete.text
    saved = client.post("/datasets/unfaelle/request", data={"csrf_token": csrf, **FORM},
                        follow_redirects=False)
    assert saved.status_code == 303, saved.text
    request_page = client.get(saved.headers["location"]).text
    assert "Eingereicht" in request_page and "Schwere = schwer" in request_page
    attached = client.post(saved.headers["location"] + "/attachments",
                           data={"csrf_token": csrf},
                           files={"file": ("brief.txt", b"kein pdf", "text/plain")})
    assert attached.status_code == 422 and "keine PDF-Datei" in attached.text
    assert "Anfrage 1" not in client.get("/requests").text
    assert "Verkehrsunfälle" in client.get("/requests").text
    client.post("/logout", data={"csrf_token": csrf})
    csrf = _sign_in(client, "admin@test.allmende.de")
    inbox = client.get("/requests/inbox?lang=en").text
    assert "Requests inbox" in inbox and "Submitted" in inbox
    location = saved.headers["location"]
    no_reason = client.post(f"{location}/steps/approve", data={"csrf_token": csrf,
                                                               "reason": ""})
    assert no_reason.status_code == 422 and "Please give a written reason" in no_reason.text
    decided = client.post(f"{location}/steps/approve",
                          data={"csrf_token": csrf, "reason": "Zweck ist belegt."})
    assert decided.status_code == 200 and "Approved" in decided.text
    assert "Zweck ist belegt." in decided.text


def test_conditions_page(client, requests_world):  # noqa: F811
    assert "Nur für den angegebenen Zweck" in client.get("/organizations/dortmund/conditions").text
    csrf = _sign_in(client, "admin@test.allmende.de")
    response = client.post("/organizations/dortmund/conditions",
                           data={"csrf_token": csrf, "text": "Fassung zwei."})
    assert response.status_code == 200 and "Fassung zwei." in response.text


def test_register_confirm_and_sign_in(client, platform):
    with smtp_server(platform.settings) as inbox:
        csrf = CSRF.search(client.get("/register?lang=en").text).group(1)
        response = client.post("/register", data={
            "csrf_token": csrf, "name": "Journalistin", "email": "presse@example.org",
            "password": "ein-langes-passwort"})
        assert response.status_code == 200 and 'id="register-sent"' in response.text
        mail = inbox.wait_for(1)[0]
    assert mail.recipients == ["presse@example.org"] and mail.language == "en"
    assert mail.subject == "Please confirm your e-mail address for allmende"
    link = re.search(r"https?://\S+/register/confirm\?token=\S+", mail.body).group(0)
    csrf = CSRF.search(client.get("/login").text).group(1)
    refused = client.post("/login", data={"csrf_token": csrf, "email": "presse@example.org",
                                          "password": "ein-langes-passwort"})
    assert refused.status_code == 401  # not confirmed yet
    path = link.split("://", 1)[1].split("/", 1)[1]
    confirmed = client.get("/" + path)
    assert confirmed.status_code == 200 and 'id="register-confirmed"' in confirmed.text
    signed_in = client.post("/login", data={"csrf_token": csrf, "email": "presse@example.org",
                                            "password": "ein-langes-passwort"},
                            follow_redirects=False)
    assert signed_in.status_code == 303
    csrf = CSRF.search(client.get("/register").text).group(1)
    again = client.post("/register", data={"csrf_token": csrf, "name": "x",
                                           "email": "presse@example.org",
                                           "password": "ein-langes-passwort"})
    assert again.status_code == 422 and "There is already an account" in again.text


def test_confirmation_links_are_signed_and_expire(client, platform):
    bad = client.get("/register/confirm?token=gefälscht")
    assert bad.status_code == 400 and "ungültig" in bad.text
    platform.settings.registration_link_hours = 1
    with platform.db.session() as session:
        from allmende.access.mail import Mailer

        token = registration.register(session, Mailer(platform.settings), "spaet@example.org",
                                      "ein-langes-passwort", "Spät")
    import time
    from unittest import mock

    with mock.patch.object(time, "time", return_value=time.time() + 7200):
        expired = client.get(f"/register/confirm?token={token}")
    assert expired.status_code == 400 and "abgelaufen" in expired.text
    with platform.db.session() as session:
        import datetime as dt

        later = dt.datetime.now(dt.UTC) + dt.timedelta(hours=2)
        assert registration.purge_unconfirmed(session, platform.settings, later) == 1
