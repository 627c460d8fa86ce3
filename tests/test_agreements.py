"""Usage agreements: who may make and end them, what they let their holder read (columns, rows,
time window, count) through every interface, the ODRL document, fail-closed policies, expiring
tokens, and the count under parallel requests."""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from agreement_support import DAY, ROWS, auth, seed, user_id
from allmende.access import accounts, agreements
from allmende.access.mail import Mailer
from allmende.access.policy import ANONYMOUS
from allmende.db.models import Dataset
from allmende.errors import Forbidden, Invalid, NotFound
from allmende.web.app import create_app
from support import OPERATOR, served

TEMPLATES = {"sealed": (seed, "world")}


@pytest.fixture
def sealed(installation) -> dict[str, Any]:
    return installation.seeded


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _grant(platform, key: str = "outsider", **terms: Any) -> str:
    """An agreement on geheim for ``key`` (made by the system), its uid."""
    values: dict[str, Any] = {"valid_from": _now() - DAY, "valid_until": _now() + DAY,
                              "purpose": "forschung", **terms}
    with platform.db.session() as session:
        return agreements.grant(session, OPERATOR, agreements.Grant(
            dataset="geheim", assignee=user_id(platform, key), **values)).uid


def _rows_url(sealed: dict[str, Any], name: str = "geheim") -> str:
    return f"/api/v1/resources/{sealed['resources'][name]}/rows"


# --- Making and ending agreements -------------------------------------------------------------


@pytest.mark.parametrize(("who", "status"), [
    (None, 401), ("outsider", 403), ("member", 403), ("editor", 403), ("bochum-editor", 403),
    ("admin", 201), ("sysadmin", 201)])
def test_only_admins_of_the_owner_grant(client, world, sealed, who, status):
    body = {"dataset": "geheim", "assignee": "outsider@test.allmende.de",
            "valid_from": _now().isoformat(), "valid_until": (_now() + DAY).isoformat(),
            "purpose": "forschung", "purpose_text": "Schulwegplanung"}
    response = client.post("/api/v1/agreements", json=body, headers=world.auth(who))
    assert response.status_code == status, response.text
    mine = client.get("/api/v1/agreements?role=holder",
                      headers=world.auth("outsider")).json()["results"]
    assert len(mine) == (1 if status == 201 else 0)
    if status == 201:
        assert mine[0]["state"] == "active" and mine[0]["purpose_label"] == "Forschung"
        assert mine[0]["duties"] == ["attribute", "delete"]


def test_terms_are_checked(client, world, platform, sealed):
    body = {"dataset": "offen", "assignee": "outsider@test.allmende.de",
            "valid_from": _now().isoformat(), "valid_until": (_now() - DAY).isoformat(),
            "purpose": "Forschung!", "duties": ["weitergeben"],
            "columns": ["Name", "Passwort"], "row_filter": [{"column": "Art", "op": "like"}]}
    response = client.post("/api/v1/agreements", json=body, headers=world.auth("admin"))
    assert response.status_code == 422
    fields = {e["field"] for e in response.json()["error"]["fields"]}
    assert {"dataset", "valid_until", "purpose", "duties", "columns", "row_filter.0"} <= fields
    with platform.db.session() as session, pytest.raises(Invalid) as refused:
        agreements.grant(session, OPERATOR, agreements.Grant(
            "geheim", user_id(platform, "outsider"), _now(), _now() + DAY, max_count=0))
    assert [e.field for e in refused.value.field_errors] == ["max_count"]


def test_revocation_needs_a_reason_and_an_admin(client, world, sealed):
    uid = _grant(client.app.state.platform)
    url = f"/api/v1/agreements/{uid}/revoke"
    assert client.post(url, json={"reason": "x"}, headers=world.auth("editor")).status_code \
        == 404  # not the editor's to see
    assert client.post(url, json={"reason": "x"},
                       headers=world.auth("outsider")).status_code == 403
    response = client.post(url, json={"reason": "  "}, headers=world.auth("admin"))
    assert response.status_code == 422
    assert response.json()["error"]["fields"][0]["field"] == "reason"
    assert client.get(_rows_url(sealed), headers=world.auth("outsider")).status_code == 200
    response = client.post(url, json={"reason": "Zweck entfallen"}, headers=world.auth("admin"))
    assert response.json()["state"] == "revoked"
    # takes effect on the very next request, with the reason
    refused = client.get(_rows_url(sealed), headers=world.auth("outsider"))
    assert refused.status_code == 403
    assert refused.json()["error"]["code"] == "agreement_revoked"
    assert "Zweck entfallen" in refused.json()["error"]["message"]


def test_agreements_are_listed_for_holder_and_owner_only(client, world, sealed):
    uid = _grant(client.app.state.platform)
    for who, status in (("outsider", 200), ("admin", 200), ("sysadmin", 200),
                        ("member", 404), ("editor", 404), ("bochum-editor", 404)):
        assert client.get(f"/api/v1/agreements/{uid}",
                          headers=world.auth(who)).status_code == status, who
    assert client.get(f"/api/v1/agreements/{uid}").status_code == 401
    owner = {a["uid"] for a in client.get("/api/v1/agreements?role=owner",
                                          headers=world.auth("admin")).json()["results"]}
    assert uid in owner and sealed["holder-agreement"] in owner
    assert client.get("/api/v1/agreements?role=owner",
                      headers=world.auth("bochum-editor")).json()["count"] == 0
    held = client.get("/api/v1/agreements?role=holder",
                      headers=world.auth("outsider")).json()["results"]
    assert [a["uid"] for a in held] == [uid]


# --- What a holder reads ---------------------------------------------------------------------


def test_holder_reads_exactly_the_agreed_columns_and_rows(client, world, sealed):
    _grant(client.app.state.platform, columns=("Name", "Art"),
           row_filter=[{"column": "Art", "op": "eq", "value": "Schule"}])
    headers = world.auth("outsider")
    page = client.get(_rows_url(sealed), headers=headers).json()
    assert [f["name"] for f in page["fields"]] == ["Name", "Art"]
    assert page["total"] == ROWS // 3
    assert {r["Art"] for r in page["rows"]} == {"Schule"}
    assert all(set(r) == {"Name", "Art"} for r in page["rows"])
    # a column outside the agreement, named anywhere: 403 naming it
    for params in ({"fields": "Name,Anzahl"}, {"Anzahl__gt": "1"}, {"sort": "-Anzahl"}):
        refused = client.get(_rows_url(sealed), params=params, headers=headers)
        assert refused.status_code == 403, params
        assert refused.json()["error"]["code"] == "column_not_agreed"
        assert "Anzahl" in refused.json()["error"]["message"]
    resource = sealed["resources"]["geheim"]
    refused = client.get(f"/api/v1/resources/{resource}/aggregate",
                         params={"group_by": "Anzahl"}, headers=headers)
    assert refused.status_code == 403
    grouped = client.get(f"/api/v1/resources/{resource}/aggregate",
                         params={"group_by": "Art"}, headers=headers).json()
    assert grouped["rows"] == [{"Art": "Schule", "count": ROWS // 3}]
    values = client.get(f"/api/v1/resources/{resource}/distinct/Art", headers=headers).json()
    assert [v["value"] for v in values["values"]] == ["Schule"]
    # a download of the whole table: the same columns and rows
    text = client.get(_rows_url(sealed), params={"format": "csv"}, headers=headers).text
    table = list(csv.DictReader(io.StringIO(text)))
    assert len(table) == ROWS // 3 and set(table[0]) == {"Name", "Art"}


def test_holder_reads_through_ckan_and_ogc(client, world, sealed):
    _grant(client.app.state.platform, columns=("Name", "Art", "geometry"),
           row_filter=[{"column": "Art", "op": "in", "value": ["Kita", "Spielplatz"]}])
    headers = world.auth("outsider")
    found = client.post("/api/3/action/datastore_search", headers=headers,
                        json={"resource_id": sealed["resources"]["geheim"]}).json()
    assert found["success"], found
    assert found["result"]["total"] == 2 * ROWS // 3
    assert {f["id"] for f in found["result"]["fields"]} - {"_id"} <= {"Name", "Art",
                                                                      "geometry"}
    assert {r["Art"] for r in found["result"]["records"]} == {"Kita", "Spielplatz"}
    withheld = client.post("/api/3/action/datastore_search", headers=headers, json={
        "resource_id": sealed["resources"]["geheim"], "fields": ["Name", "Anzahl"]})
    assert withheld.status_code == 403
    assert "Anzahl" in withheld.json()["error"]["message"]
    items = client.get("/ogc/collections/geheim/items", headers=headers).json()
    assert items["numberMatched"] == 2 * ROWS // 3
    assert all(set(f["properties"]) <= {"Name", "Art"} for f in items["features"])
    collections = client.get("/ogc/collections", headers=headers).json()["collections"]
    assert "geheim" in {c["id"] for c in collections}
    # without the agreement: neither
    other = world.auth("bochum-editor")
    refused = client.post("/api/3/action/datastore_search", headers=other,
                          json={"resource_id": sealed["resources"]["geheim"]}).json()
    assert not refused["success"]
    assert client.get("/ogc/collections/geheim/items", headers=other).status_code == 403


def test_count_limits_every_kind_of_request(client, world, sealed):
    uid = _grant(client.app.state.platform, max_count=3)
    headers = world.auth("outsider")
    resource = sealed["resources"]["geheim"]
    answers = [client.get(_rows_url(sealed), headers=headers),
               client.get(_rows_url(sealed), params={"format": "parquet"}, headers=headers),
               client.post("/api/3/action/datastore_search", headers=headers,
                           json={"resource_id": resource}),
               client.get(_rows_url(sealed), headers=headers)]
    assert [a.status_code for a in answers] == [200, 200, 200, 403]
    assert answers[-1].json()["error"]["code"] == "agreement_exhausted"
    shown = client.get(f"/api/v1/agreements/{uid}", headers=headers).json()
    assert (shown["state"], shown["used_count"], shown["remaining"]) == ("exhausted", 3, 0)
    events = [e["event"] for e in client.get("/log/v1/entries", params={
        "start": 0, "end": 100}).json()["entries"] if e["event"].get("agreement") == uid]
    # the third access uses the last one: the agreement is exhausted as that read is made;
    # the replay beyond the count is refused and recorded as such
    assert [e["type"] for e in events] == ["agreement.created", "access.rows", "access.rows",
                                           "agreement.exhausted", "access.rows",
                                           "access.refused"]
    assert events[-1]["reason"] == "agreement_exhausted"


def test_a_refused_request_costs_no_access(client, world, sealed):
    uid = _grant(client.app.state.platform, max_count=2, columns=("Name",))
    headers = world.auth("outsider")
    assert client.get(_rows_url(sealed), params={"fields": "Art"},
                      headers=headers).status_code == 403
    assert client.get(_rows_url(sealed), params={"version": "7"},
                      headers=headers).status_code == 404
    shown = client.get(f"/api/v1/agreements/{uid}", headers=headers).json()
    assert shown["used_count"] == 0
    # the column outside the agreement is a refusal in the log; the missing version is not
    refusals = [e["event"] for e in client.get("/log/v1/entries", params={
        "start": 0, "end": 100}).json()["entries"] if e["event"]["type"] == "access.refused"]
    assert [(e["agreement"], e["reason"]) for e in refusals] == [(uid, "column_not_agreed")]


@pytest.mark.parametrize(("start", "end", "code"), [
    (-3, -1, "agreement_expired"), (1, 3, "agreement_not_yet_valid")])
def test_time_window(client, world, sealed, start, end, code):
    _grant(client.app.state.platform, valid_from=_now() + start * DAY,
           valid_until=_now() + end * DAY)
    refused = client.get(_rows_url(sealed), headers=world.auth("outsider"))
    assert refused.status_code == 403
    assert refused.json()["error"]["code"] == code


def test_holders_of_ended_agreements_and_strangers_are_refused_with_the_reason(
        client, sealed):
    tokens = sealed["tokens"]
    reasons = {key: client.get(_rows_url(sealed), headers=auth(tokens, key)).json()
               for key in ("expired-holder", "revoked-holder", "outsider")}
    assert {k: r["error"]["code"] for k, r in reasons.items()} == {
        "expired-holder": "agreement_expired", "revoked-holder": "agreement_revoked",
        "outsider": "agreement_required"}
    assert client.get(_rows_url(sealed), headers=auth(tokens, "holder")).status_code == 200


def test_the_owners_read_without_agreement_and_uncounted(client, world, sealed):
    for who in ("member", "editor", "admin", "sysadmin"):
        assert client.get(_rows_url(sealed), headers=world.auth(who)).status_code == 200


def test_standing_tells_what_the_next_read_would_without_counting_it(client, world, platform,
                                                                     sealed):
    _grant(platform, "bochum-editor", valid_from=_now() + DAY, valid_until=_now() + 2 * DAY)
    tokens = {**sealed["tokens"], **world.tokens}
    for key in ("holder", "expired-holder", "revoked-holder", "outsider", "bochum-editor"):
        with platform.db.session() as session:
            dataset = session.scalars(select(Dataset).filter_by(name="geheim")).one()
            actor = accounts.actor_for(accounts.get_user(session, f"{key}@test.allmende.de"))
            standing = agreements.standing(session, actor, dataset)
            used = standing.agreement.used_count if standing.agreement else None
        read = client.get(_rows_url(sealed), headers=auth(tokens, key))
        assert (standing.refusal is None) == (read.status_code == 200), key
        if standing.refusal is not None:
            assert standing.refusal == read.json()["error"]["message"], key
        assert (standing.agreement is None) == (key == "outsider"), key
        if standing.agreement is not None:
            shown = client.get(f"/api/v1/agreements/{standing.agreement.uid}",
                               headers=auth(tokens, key)).json()
            # looking counted nothing; the read that followed counted one if it was made
            assert shown["used_count"] == used + (read.status_code == 200), key


def test_the_holder_downloads_on_the_tables_page_and_is_refused_there_once_revoked(
        client, world, platform, sealed):
    """The web UI shows a holder the agreement, not a preview: looking spends no access; each
    download of what it releases spends one, and a refused one is a page saying why."""
    uid = _grant(platform, columns=("Name", "Art"),
                 row_filter=[{"column": "Art", "op": "eq", "value": "Kita"}])
    html = {**world.auth("outsider"), "Accept": "text/html"}
    resource = sealed["resources"]["geheim"]
    page = client.get(f"/resources/{resource}", headers=html).text
    assert 'id="agreement-standing"' in page and "Name, Art" in page
    assert '<table class="list preview">' not in page
    link = f"/resources/{resource}/download?format=csv"
    assert f'href="{link}">CSV</a>' in page
    assert "/download?format=geojson" not in page  # the geometry is not released
    dataset_page = client.get("/datasets/geheim", headers=html).text
    assert 'id="agreement-standing"' in dataset_page and "Zugang beantragen" not in dataset_page
    english = client.get(f"/resources/{resource}?lang=en", headers=html).text
    assert "Your usage agreement" in english and "Each download counts as one access" in english
    client.get("/?lang=de", headers=html)
    table = list(csv.reader(io.StringIO(client.get(link, headers=html).text)))
    assert table[0] == ["Name", "Art"] and {row[1] for row in table[1:]} == {"Kita"}
    assert len(table) - 1 == ROWS // 3
    shown = client.get(f"/api/v1/agreements/{uid}", headers=world.auth("outsider")).json()
    assert shown["used_count"] == 1  # the download; none of the three page views
    client.post(f"/api/v1/agreements/{uid}/revoke", json={"reason": "Zweck entfallen"},
                headers=world.auth("admin"))
    refused = client.get(link, headers=html)
    assert refused.status_code == 403 and "text/html" in refused.headers["content-type"]
    said = re.sub(r"<[^>]+>", "", refused.text)  # the message's values are marked up
    assert f"Ihre Vereinbarung {uid} für „geheim“ wurde am" in said
    assert "widerrufen: Zweck entfallen" in said
    page = client.get(f"/resources/{resource}", headers=html).text
    assert 'id="agreement-standing"' not in page
    assert 'id="agreement-refusal"' in page and "Zweck entfallen" in page
    assert "Zugang beantragen" in page  # she may ask again


# --- ODRL ----------------------------------------------------------------------------------------


def test_odrl_document(client, world, sealed):
    uid = _grant(client.app.state.platform, max_count=5, columns=("Name", "Art"),
                 duties=("attribute", "delete", "inform"))
    document = client.get(f"/api/v1/agreements/{uid}", headers={
        **world.auth("outsider"), "Accept": "application/ld+json"})
    assert document.headers["content-type"].startswith("application/ld+json")
    policy = document.json()
    assert policy["@type"] == "Agreement"
    assert policy["uid"].endswith(f"/api/v1/agreements/{uid}")
    assert policy["assignee"]["uid"] == "mailto:outsider@test.allmende.de"
    assert policy["assigner"]["uid"].endswith("/organizations/dortmund")
    [permission] = policy["permission"]
    assert permission["action"] == "use"
    operands = sorted((c["leftOperand"], c["operator"]) for c in permission["constraint"])
    assert operands == [("count", "lteq"), ("dateTime", "gteq"), ("dateTime", "lt"),
                        ("purpose", "eq")]
    assert [d["action"] for d in permission["duty"]] == ["attribute", "delete", "inform"]
    assert policy["prohibition"] == [{"target": permission["target"], "action": "distribute"}]
    assert policy["target"]["allmende:columns"] == ["Name", "Art"]
    # what allmende writes, it reads back as the same terms
    terms = agreements.grant_from_odrl(policy, 1, "geheim")
    assert (terms.max_count, terms.columns, terms.purpose, terms.duties) == (
        5, ("Name", "Art"), "forschung", ("attribute", "delete", "inform"))


def _offer(**changes: Any) -> dict[str, Any]:
    policy = {
        "@context": "http://www.w3.org/ns/odrl.jsonld", "@type": "Offer",
        "target": {"uid": "http://127.0.0.1:8000/datasets/geheim"},
        "assignee": {"uid": "mailto:outsider@test.allmende.de"},
        "permission": [{"action": "use", "constraint": [
            {"leftOperand": "dateTime", "operator": "gteq",
             "rightOperand": {"@value": _now().isoformat()}},
            {"leftOperand": "dateTime", "operator": "lt",
             "rightOperand": {"@value": (_now() + DAY).isoformat()}},
            {"leftOperand": "purpose", "operator": "eq", "rightOperand": "journalismus"}],
            "duty": [{"action": "attribute"}]}],
        "prohibition": [{"action": "distribute"}]}
    policy.update(changes)
    return policy


def test_an_odrl_offer_becomes_an_agreement(client, world, sealed):
    response = client.post("/api/v1/agreements/odrl", json=_offer(),
                           headers=world.auth("admin"))
    assert response.status_code == 201, response.text
    assert response.json()["purpose"] == "journalismus"
    assert client.get(_rows_url(sealed), headers=world.auth("outsider")).status_code == 200


@pytest.mark.parametrize(("rule", "field"), [
    ({"leftOperand": "spatial", "operator": "eq", "rightOperand": "Dortmund"},
     "permission.constraint.3"),
    ({"leftOperand": "elapsedTime", "operator": "lteq", "rightOperand": "P1D"},
     "permission.constraint.3"),
    ({"leftOperand": "count", "operator": "gt", "rightOperand": 3}, "permission.constraint.3"),
    ({"leftOperand": "count", "operator": "lteq", "rightOperand": 2,
      "unit": "http://example.org/days"}, "permission.constraint.3"),
])
def test_unknown_constraints_are_refused_when_the_policy_is_made(client, world, sealed, rule,
                                                                 field):
    offer = _offer()
    offer["permission"][0]["constraint"].append(rule)
    response = client.post("/api/v1/agreements/odrl", json=offer, headers=world.auth("admin"))
    assert response.status_code == 422, response.text
    assert [e["field"] for e in response.json()["error"]["fields"]] == [field]
    assert client.get("/api/v1/agreements?role=owner",
                      headers=world.auth("admin")).json()["count"] == 3  # the seeded ones


def test_duties_with_conditions_beyond_the_end_are_refused(client, world, sealed):
    offer = _offer()
    offer["permission"][0]["duty"] = [{"action": "delete", "constraint": [
        {"leftOperand": "elapsedTime", "operator": "eq", "rightOperand": "P30D"}]}]
    offer["permission"][0]["refinement"] = []
    response = client.post("/api/v1/agreements/odrl", json=offer,
                           headers=world.auth("admin"))
    assert response.status_code == 422
    assert {e["field"] for e in response.json()["error"]["fields"]} == {
        "permission", "permission.duty.0"}


@pytest.mark.parametrize("change", [
    {"permission": [{"action": "distribute", "constraint": []}]},
    {"prohibition": [{"action": "use"}]},
    {"obligation": [{"action": "compensate"}]},
    {"inheritFrom": "http://example.org/policy/1"},
    {"prohibition": [{"action": "distribute", "constraint": [
        {"leftOperand": "spatial", "operator": "eq", "rightOperand": "DE"}]}]},
    {"permission": [{"action": {"rdf:value": {"@id": "odrl:use"}, "refinement": [
        {"leftOperand": "language", "operator": "eq", "rightOperand": "de"}]}}]},
])
def test_other_rules_are_refused(client, world, sealed, change):
    offer = _offer(**change)
    response = client.post("/api/v1/agreements/odrl", json=offer, headers=world.auth("admin"))
    assert response.status_code == 422, response.text


def test_service_functions_refuse_plainly(platform, world, sealed):
    with platform.db.session() as session:
        with pytest.raises(NotFound):
            agreements.get_agreement(session, OPERATOR, "keine")
        with pytest.raises(Invalid):
            agreements.revoke(session, OPERATOR, sealed["holder-agreement"], "",
                              Mailer(platform.settings))
        with pytest.raises(Exception, match="Anmeldung"):
            agreements.agreements_of(session, ANONYMOUS)


# --- Tokens ------------------------------------------------------------------------------------


def test_forged_expired_and_revoked_tokens_are_refused_with_their_reason(client, world,
                                                                         platform, sealed):
    with platform.db.session() as session:
        holder = user_id(platform, "holder")
        soon = accounts.create_token(session, holder, "kurz", _now() + dt.timedelta(hours=1))
        gone = accounts.create_token(session, holder, "weg")
        accounts.revoke_token(session, holder, gone.token.id)
        with pytest.raises(Invalid):
            accounts.create_token(session, holder, "alt", _now() - DAY)
    url = _rows_url(sealed)
    assert client.get(url, headers={"Authorization": f"Bearer {soon.secret}"}).status_code \
        == 200
    assert "gültig bis" in client.get("/account/tokens", headers={
        "Authorization": f"Bearer {soon.secret}"}).text
    with platform.db.session() as session:
        token = session.get(type(soon.token), soon.token.id)
        token.expires_at = _now() - dt.timedelta(seconds=1)
    listed = client.get("/account/tokens", headers=auth(sealed["tokens"], "holder")).text
    assert "abgelaufen am" in listed and "widerrufen am" in listed
    cases = {"alm_gefaelscht": "bad_token", soon.secret: "token_expired",
             gone.secret: "token_revoked"}
    for secret, code in cases.items():
        response = client.get(url, headers={"Authorization": f"Bearer {secret}"})
        assert response.status_code == 401
        assert response.json()["error"]["code"] == code
    made = client.post("/api/v1/me/tokens", headers=world.auth("outsider"), json={
        "name": "Vereinbarung", "expires_at": (_now() + DAY).isoformat()}).json()
    assert made["expires_at"] is not None


# --- The count under parallel requests ---------------------------------------------------------


def test_parallel_requests_never_exceed_the_count(platform, world, sealed):
    """Twenty requests at once against a real server, on an agreement allowing seven: seven
    answer, the others are refused, and the agreement counts exactly seven."""
    uid = _grant(platform, max_count=7)
    headers = world.auth("outsider")
    with served(create_app(platform)) as address, httpx.Client(
            base_url=f"http://{address}", headers=headers, timeout=60) as http:
        url = _rows_url(sealed)
        with ThreadPoolExecutor(max_workers=10) as pool:
            statuses = list(pool.map(lambda _: http.get(url).status_code, range(20)))
        shown = http.get(f"/api/v1/agreements/{uid}").json()
    assert statuses.count(200) == 7, statuses
    assert statuses.count(403) == 13, statuses
    assert (shown["used_count"], shown["state"]) == (7, "exhausted")


def test_two_admins_revoking_at_once_record_one_reason(platform, world, sealed):
    uid = _grant(platform)
    barrier = threading.Barrier(2)

    def revoke(reason: str) -> str | None:
        with platform.db.session() as session:
            barrier.wait(timeout=30)
            return agreements.revoke(session, OPERATOR, uid, reason,
                                     Mailer(platform.settings)).revoke_reason

    with ThreadPoolExecutor(max_workers=2) as pool:
        answers = list(pool.map(revoke, ("Zweck entfallen", "Frist verstrichen")))
    with platform.db.session() as session:
        stored = agreements.get_agreement(session, OPERATOR, uid)
    assert stored.state == "revoked"
    # the one who came second was told the reason that stands, not overwriting it
    assert answers == [stored.revoke_reason] * 2


def test_consume_refuses_without_agreement(platform, world, sealed):
    with platform.db.session() as session:
        dataset = session.query(Dataset).filter_by(name="geheim").one()
        outsider = accounts.actor_for(accounts.get_user(session, "outsider@test.allmende.de"))
        with pytest.raises(Forbidden):
            agreements.consume(session, outsider, dataset)
