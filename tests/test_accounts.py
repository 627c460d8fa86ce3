"""Accounts: password hashing, sign-in errors, API tokens (hashed, shown once, revocable, use
recorded) and the CSRF rule for cookie-authenticated API writes."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from sqlalchemy import select, text, update

from allmende.access import accounts
from allmende.catalog import organizations
from allmende.db.models import ApiToken, LoginFailure, User, UserSession, utcnow
from allmende.errors import Conflict, Invalid, NotFound, Unauthorized
from support import OPERATOR, PASSWORD, dataset_body


def test_passwords_are_hashed_with_argon2(platform):
    with platform.db.session() as session:
        user = accounts.create_user(session, "Erika@Example.ORG ", "ein-langes-passwort")
        assert user.email == "erika@example.org"
        assert user.password_hash.startswith("$argon2")
        assert "ein-langes-passwort" not in user.password_hash
        other = accounts.create_user(session, "max@example.org", "ein-langes-passwort")
        assert other.password_hash != user.password_hash  # salted
    with platform.db.session() as session:
        assert accounts.authenticate(session, " ERIKA@example.org", "ein-langes-passwort").email \
            == "erika@example.org"
        stored = session.scalar(select(User).where(User.email == "erika@example.org"))
        assert stored.last_login_at is not None


def test_account_rules(platform):
    with platform.db.session() as session:
        with pytest.raises(Invalid) as short:
            accounts.create_user(session, "kurz@example.org", "123456789")
        assert short.value.field_errors[0].field == "password"
        with pytest.raises(Invalid) as email:
            accounts.create_user(session, "keine-adresse", "ein-langes-passwort")
        assert email.value.field_errors[0].field == "email"
        accounts.create_user(session, "doppelt@example.org", "ein-langes-passwort")
        with pytest.raises(Conflict):
            accounts.create_user(session, "DOPPELT@example.org", "ein-langes-passwort")
        with pytest.raises(NotFound):
            accounts.get_user(session, "niemand@example.org")


def test_wrong_password_and_unknown_email_give_the_same_error(platform):
    with platform.db.session() as session:
        accounts.create_user(session, "erika@example.org", "ein-langes-passwort")
        inactive = accounts.create_user(session, "weg@example.org", "ein-langes-passwort")
        inactive.is_active = False
    errors = []
    for email, password in (("erika@example.org", "falsches-passwort"),
                            ("niemand@example.org", "ein-langes-passwort"),
                            ("weg@example.org", "ein-langes-passwort"),
                            ("erika@example.org", "")):
        with platform.db.session() as session, pytest.raises(Unauthorized) as error:
            accounts.authenticate(session, email, password)
        errors.append((error.value.code, error.value.message, error.value.status))
    assert len(set(errors)) == 1
    assert errors[0][0] == "bad_credentials" and errors[0][2] == 401


def test_tokens_are_stored_hashed_only(client, world, platform):
    created = client.post("/api/v1/me/tokens", json={"name": "Skript"},
                          headers=world.auth("editor"))
    assert created.status_code == 201, created.text
    secret = created.json()["token"]
    assert secret.startswith("alm_") and len(secret) > 30
    assert created.json()["name"] == "Skript"
    assert created.json()["prefix"] == secret[:12]
    with platform.db.engine.connect() as connection:
        rows = connection.execute(text("SELECT * FROM api_tokens")).all()
    assert len(rows) == len(world.tokens) + 1
    for row in rows:
        assert all(secret not in str(value) for value in row)
    for known in world.tokens.values():
        assert all(known not in str(value) for row in rows for value in row)
    if platform.db.url.startswith("sqlite:///"):
        database = platform.db.url.removeprefix("sqlite:///")
        for suffix in ("", "-wal"):
            try:
                with open(database + suffix, "rb") as raw:
                    assert secret.encode() not in raw.read()
            except FileNotFoundError:
                pass
    # The new token works.
    me = client.get("/api/v1/me", headers={"Authorization": f"Bearer {secret}"})
    assert me.json()["email"] == "editor@test.allmende.de"


def test_token_is_shown_once(client, world):
    headers = world.auth("member")
    secret = client.post("/api/v1/me/tokens", json={"name": "Einmal"},
                         headers=headers).json()["token"]
    listing = client.get("/api/v1/me/tokens", headers=headers)
    assert listing.status_code == 200
    body = listing.json()
    assert body["count"] == 2  # the fixture's token and the new one
    assert {t["name"] for t in body["results"]} == {"tests", "Einmal"}
    assert all("token" not in t and "token_hash" not in t for t in body["results"])
    assert secret not in listing.text
    assert world.tokens["member"] not in listing.text
    # Tokens are per user.
    others = client.get("/api/v1/me/tokens", headers=world.auth("editor")).json()
    assert [t["name"] for t in others["results"]] == ["tests"]


def test_revoked_token_is_401(client, world):
    headers = world.auth("editor")
    new = client.post("/api/v1/me/tokens", json={"name": "Kurzlebig"}, headers=headers).json()
    bearer = {"Authorization": f"Bearer {new['token']}"}
    assert client.get("/api/v1/me", headers=bearer).status_code == 200
    assert client.post("/api/v1/datasets", json=dataset_body(), headers=bearer).status_code \
        == 201
    # Someone else cannot revoke it.
    assert client.delete(f"/api/v1/me/tokens/{new['id']}",
                         headers=world.auth("admin")).status_code == 404
    assert client.get("/api/v1/me", headers=bearer).status_code == 200
    assert client.delete(f"/api/v1/me/tokens/{new['id']}", headers=bearer).status_code == 204
    for response in (client.get("/api/v1/me", headers=bearer),
                     client.get("/api/v1/datasets", headers=bearer),
                     client.patch("/api/v1/datasets/ladesaeulen", json={"title": "x"},
                                  headers=bearer)):
        assert response.status_code == 401
        assert response.json()["error"]["code"] == "token_revoked"
    listed = {t["id"]: t for t in client.get("/api/v1/me/tokens", headers=headers).json()[
        "results"]}
    assert listed[new["id"]]["revoked_at"] is not None
    # Revoking twice or an unknown id.
    assert client.delete(f"/api/v1/me/tokens/{new['id']}", headers=headers).status_code == 204
    assert client.delete("/api/v1/me/tokens/999999", headers=headers).status_code == 404
    # The other tokens keep working.
    assert client.get("/api/v1/me", headers=headers).status_code == 200


def test_last_use_is_recorded(client, world, platform):
    headers = world.auth("editor")
    new = client.post("/api/v1/me/tokens", json={"name": "Zähler"}, headers=headers).json()
    assert new["last_used_at"] is None
    before = dt.datetime.now(dt.UTC) - dt.timedelta(seconds=5)
    client.get("/api/v1/datasets", headers={"Authorization": f"Bearer {new['token']}"})
    listed = {t["id"]: t for t in client.get("/api/v1/me/tokens", headers=headers).json()[
        "results"]}
    used = dt.datetime.fromisoformat(listed[new["id"]]["last_used_at"])
    assert used >= before
    # Within the resolution (a minute) a use is not written again; after it, it is.
    client.get("/api/v1/me", headers={"Authorization": f"Bearer {new['token']}"})
    with platform.db.session() as session:
        assert session.get(ApiToken, new["id"]).last_used_at == used
    with platform.db.session() as session:
        session.execute(update(ApiToken).where(ApiToken.id == new["id"]).values(
            last_used_at=dt.datetime(2020, 1, 1, tzinfo=dt.UTC)))
    client.get("/api/v1/me", headers={"Authorization": f"Bearer {new['token']}"})
    with platform.db.session() as session:
        again = session.get(ApiToken, new["id"]).last_used_at
    assert again >= before


def test_me_describes_the_caller(client, world):
    me = client.get("/api/v1/me", headers=world.auth("admin")).json()
    assert me == {"email": "admin@test.allmende.de", "name": "admin", "sysadmin": False,
                  "organizations": {"dortmund": "admin"}}
    assert client.get("/api/v1/me", headers=world.auth("sysadmin")).json()["sysadmin"] is True


def test_inactive_users_tokens_stop_working(client, world, platform):
    headers = world.auth("editor")
    assert client.get("/api/v1/me", headers=headers).status_code == 200
    with platform.db.session() as session:
        session.execute(update(User).where(User.email == "editor@test.allmende.de")
                        .values(is_active=False))
    assert client.get("/api/v1/me", headers=headers).status_code == 401


def test_memberships_need_a_known_role(platform):
    with platform.db.session() as session:
        organization = organizations.create_organization(
            session, OPERATOR, {"slug": "herne", "name": "Stadt Herne"})
        user = accounts.create_user(session, "rolle@example.org", "ein-langes-passwort")
        with pytest.raises(Invalid):
            accounts.set_membership(session, OPERATOR, user, organization, "chef")
        accounts.set_membership(session, OPERATOR, user, organization, "member")
        assert len(user.memberships) == 1
        accounts.set_membership(session, OPERATOR, user, organization, "editor")
        assert len(user.memberships) == 1
        assert accounts.actor_for(user).roles == {organization.id: "editor"}
        accounts.remove_membership(session, OPERATOR, user, organization)
        assert accounts.actor_for(user).roles == {}


# --- Browser sessions and CSRF ----------------------------------------------------------------

CSRF_FIELD = re.compile(r'name="csrf_token"\s+value="([^"]+)"')


def _csrf(client) -> str:
    page = client.get("/login", headers={"accept": "text/html"})
    assert page.status_code == 200, page.text
    match = CSRF_FIELD.search(page.text)
    assert match, "the login form carries a csrf_token field"
    return match.group(1)


def _login(client, email: str, password: str = PASSWORD):
    return client.post("/login", data={"email": email, "password": password,
                                       "csrf_token": _csrf(client), "next": "/"},
                       follow_redirects=False)


def test_login_without_csrf_is_rejected(client, world):
    _csrf(client)  # a session exists, but the form field is missing
    response = client.post("/login", data={"email": "editor@test.allmende.de",
                                           "password": PASSWORD}, follow_redirects=False)
    assert response.status_code == 403
    assert client.get("/api/v1/me").json()["email"] is None


def test_login_with_a_wrong_password_fails(client, world):
    response = _login(client, "editor@test.allmende.de", "falsch-falsch-falsch")
    assert response.status_code == 401
    assert client.get("/api/v1/me").json()["email"] is None


def test_cookie_session_api_writes_need_the_csrf_header(client, world):
    response = _login(client, "editor@test.allmende.de")
    assert response.status_code == 303, response.text
    # Reads work with the cookie alone.
    me = client.get("/api/v1/me")
    assert me.status_code == 200 and me.json()["email"] == "editor@test.allmende.de"
    # Writes without the header, or with a wrong one, are refused.
    refused = client.post("/api/v1/datasets", json=dataset_body())
    assert refused.status_code == 403
    assert refused.json()["error"]["code"] == "csrf"
    wrong = client.post("/api/v1/datasets", json=dataset_body(),
                        headers={"X-CSRF-Token": "geraten"})
    assert wrong.status_code == 403
    assert client.get("/api/v1/datasets").json()["count"] == 0
    # With the session's token they pass.
    token = _csrf(client)
    accepted = client.post("/api/v1/datasets", json=dataset_body(),
                           headers={"X-CSRF-Token": token})
    assert accepted.status_code == 201, accepted.text
    for write in (lambda h: client.patch("/api/v1/datasets/ladesaeulen", json={"title": "T"},
                                         headers=h),
                  lambda h: client.post("/api/v1/me/tokens", json={"name": "n"}, headers=h)):
        assert write({}).status_code == 403
        assert write({"X-CSRF-Token": token}).status_code in (200, 201)


def test_bearer_token_needs_no_csrf_even_with_a_session_cookie(client, world):
    assert _login(client, "member@test.allmende.de").status_code == 303
    response = client.post("/api/v1/datasets", json=dataset_body(),
                           headers=world.auth("editor"))
    # The bearer token wins: the editor acts (the member could not create), and no CSRF check.
    assert response.status_code == 201, response.text


def test_signing_out_ends_the_session_for_every_copy_of_the_cookie(client, world):
    assert _login(client, "editor@test.allmende.de").status_code == 303
    copied = dict(client.cookies)
    assert client.get("/api/v1/me").json()["email"] == "editor@test.allmende.de"
    page = client.get("/account/tokens", headers={"accept": "text/html"})
    token = CSRF_FIELD.search(page.text).group(1)
    assert client.post("/logout", data={"csrf_token": token},
                       follow_redirects=False).status_code == 303
    client.cookies.clear()
    client.cookies.update(copied)  # the cookie as it was before signing out
    assert client.get("/api/v1/me").json()["email"] is None
    assert client.get("/account/tokens", follow_redirects=False).status_code == 303


def test_expired_sessions_are_not_accepted(client, world, platform):
    assert _login(client, "editor@test.allmende.de").status_code == 303
    with platform.db.session() as session:
        for sign_in in session.query(UserSession):
            sign_in.expires_at = utcnow() - dt.timedelta(seconds=1)
    assert client.get("/api/v1/me").json()["email"] is None


def test_guessing_passwords_is_throttled_per_account(client, world):
    for _ in range(accounts.MAX_FAILURES_PER_ACCOUNT):
        assert _login(client, "editor@test.allmende.de", "falsch-falsch-falsch"
                      ).status_code == 401
    refused = _login(client, "editor@test.allmende.de", PASSWORD)  # even the right one
    assert refused.status_code == 429
    assert 0 < int(refused.headers["Retry-After"]) <= 15 * 60
    assert "Zu viele fehlgeschlagene Anmeldungen für dieses Konto" in refused.text
    # other accounts are not locked out by it
    assert _login(client, "member@test.allmende.de").status_code == 303


def test_guessing_across_accounts_is_throttled_per_address(client, world):
    for n in range(accounts.MAX_FAILURES_PER_ADDRESS):
        assert _login(client, f"raten-{n}@test.allmende.de", "falsch").status_code == 401
    refused = _login(client, "editor@test.allmende.de", PASSWORD)
    assert refused.status_code == 429 and "von Ihrer Adresse" in refused.text


def test_a_successful_sign_in_clears_the_account_s_failures(client, world, platform):
    for _ in range(accounts.MAX_FAILURES_PER_ACCOUNT - 1):
        _login(client, "editor@test.allmende.de", "falsch-falsch-falsch")
    assert _login(client, "editor@test.allmende.de").status_code == 303
    with platform.db.sessions() as session:
        assert session.query(LoginFailure).filter_by(
            email="editor@test.allmende.de").count() == 0


@pytest.mark.parametrize("who, status", [("editor", 200), ("admin", 200), ("member", 404),
                                         ("bochum-editor", 404), (None, 404)])
def test_jobs_are_read_by_their_creator_and_their_organization_s_admins(client, world, who,
                                                                        status):
    assert client.post("/api/v1/datasets", json=dataset_body(),
                       headers=world.auth("editor")).status_code == 201
    job = client.post("/api/v1/datasets/ladesaeulen/resources", headers=world.auth("editor"),
                      files={"file": ("a.csv", b"a;b\n1;2\n", "text/csv")}).json()["id"]
    answer = client.get(f"/api/v1/jobs/{job}", headers=world.auth(who))
    assert answer.status_code == status, answer.text
