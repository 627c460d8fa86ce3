"""Every read of non-public rows by someone outside the owning organization is one
``access.rows`` event in the transparency log: through each interface, with the rows its
answer held, in the transaction that counts the access; the organization's own reads, public
rows and refused requests leave none."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable
from typing import Any

import pyarrow.parquet as pq
import pytest
from sqlalchemy import select

from agreement_support import ROWS, seed, user_id
from allmende.access import accounts
from allmende.db.models import Agreement, LogEntry, Organization, User
from allmende.tables.service import readable_version
from allmende.transparency import log
from allmende.transparency.reads import Interface

TEMPLATES = {"sealed": (seed, "world")}
KINDS = ROWS // 3  # rows per kind of place (Art)


@pytest.fixture
def sealed(installation) -> dict[str, Any]:
    return installation.seeded


def _reads(platform) -> list[dict[str, Any]]:
    with platform.db.sessions() as session:
        leaves = session.scalars(select(LogEntry.leaf).where(LogEntry.type == "access.rows")
                                 .order_by(LogEntry.index))
        return [json.loads(leaf) for leaf in leaves]


def _new_reads(platform, before: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return _reads(platform)[len(before):]


def _pseudonym(platform, key: str) -> str:
    with platform.db.session() as session:
        dortmund = session.scalar(select(Organization.id).where(Organization.slug == "dortmund"))
        return log.pseudonym(session, dortmund, user_id(platform, key))


def _csv_rows(response) -> int:
    return len(list(csv.reader(io.StringIO(response.text)))) - 1


def _parquet_rows(response) -> int:
    return pq.read_table(io.BytesIO(response.content)).num_rows


def _preview_rows(response) -> int:
    """The rows of the resource page's preview table (its header row aside)."""
    _, found, rest = response.text.partition('<table class="list preview">')
    return rest.partition("</tbody>")[0].count("<tr>") - 1 if found else 0


#: (interface, how to ask, how many rows the answer holds); ``{id}``: the resource
Ask = tuple[str, str, dict[str, Any]]
CASES: dict[str, tuple[str, Ask, Callable[[Any], int], int]] = {
    "rows page": ("rows", ("GET", "/api/v1/resources/{id}/rows", {"limit": 4}),
                  lambda r: len(r.json()["rows"]), 4),
    "last rows page": ("rows", ("GET", "/api/v1/resources/{id}/rows",
                                {"limit": 4, "offset": ROWS - 2}),
                       lambda r: len(r.json()["rows"]), 2),
    "csv download": ("download", ("GET", "/api/v1/resources/{id}/rows", {"format": "csv"}),
                     _csv_rows, ROWS),
    "filtered csv-de download": ("download", ("GET", "/api/v1/resources/{id}/rows", {
        "format": "csv-de", "Art": "Schule"}), _csv_rows, KINDS),
    "parquet download with limit": ("download", ("GET", "/api/v1/resources/{id}/rows", {
        "format": "parquet", "limit": 5, "offset": 1}), _parquet_rows, 5),
    "geojson download": ("download", ("GET", "/api/v1/resources/{id}/rows", {
        "format": "geojson", "offset": ROWS - 3}), lambda r: len(r.json()["features"]), 3),
    "distinct values": ("distinct", ("GET", "/api/v1/resources/{id}/distinct/Art", {}),
                        lambda r: len(r.json()["values"]), 3),
    "aggregate by group": ("aggregate", ("GET", "/api/v1/resources/{id}/aggregate", {
        "group_by": "Art", "metrics": "count,sum:Anzahl"}), lambda r: len(r.json()["rows"]), 3),
    "aggregate as csv": ("aggregate", ("GET", "/api/v1/resources/{id}/aggregate", {
        "format": "csv"}), _csv_rows, 1),
    "datastore_search": ("datastore", ("POST", "/api/3/action/datastore_search", {
        "resource_id": "{id}", "limit": 5}), lambda r: len(r.json()["result"]["records"]), 5),
    "ogc items": ("ogc", ("GET", "/ogc/collections/{name}/items", {"limit": 3}),
                  lambda r: len(r.json()["features"]), 3),
    "ogc item": ("ogc", ("GET", "/ogc/collections/{name}/items/2", {}),
                 lambda r: int(r.json()["type"] == "Feature"), 1),
    "ogc collection": ("ogc", ("GET", "/ogc/collections/{name}", {}),
                       lambda r: len(r.json().get("features", [])), 0),
    "ui preview": ("ui", ("GET", "/resources/{id}", {}),
                   _preview_rows, ROWS),
    "filtered ui preview": ("ui", ("GET", "/resources/{id}", {"column": "Art",
                                                               "value": "Kita"}),
                            _preview_rows, KINDS),
}


def _ask(client, world, sealed, ask: Ask, who: str | None, name: str):
    method, path, params = ask
    resource = sealed["resources"][name]
    path = path.format(id=resource, name=name)
    params = {k: v.format(id=resource) if isinstance(v, str) else v for k, v in params.items()}
    if method == "POST":
        return client.post(path, json=params, headers=world.auth(who))
    return client.get(path, params=params, headers=world.auth(who))


def _one_read(client, world, sealed, case: str, who: str, name: str
              ) -> tuple[str, int, dict[str, Any]]:
    """The case asked by ``who``: its interface, the rows its answer held, and the one event
    it logged."""
    interface, ask, answered, expected = CASES[case]
    platform = client.app.state.platform
    before = _reads(platform)
    response = _ask(client, world, sealed, ask, who, name)
    assert response.status_code == 200, response.text
    assert answered(response) == expected
    [event] = _new_reads(platform, before)
    return interface, expected, event


@pytest.mark.parametrize("case", [c for c in CASES if not c.startswith(("ui", "filtered ui"))])
def test_an_agreement_holders_read_is_one_event_with_its_rows(client, world, sealed, case):
    interface, expected, event = _one_read(client, world, sealed, case, "holder", "geheim")
    platform = client.app.state.platform
    with platform.db.sessions() as session:
        dataset = session.scalar(select(Agreement).where(
            Agreement.uid == sealed["holder-agreement"])).dataset
        uuid = dataset.uuid
    assert {k: v for k, v in event.items() if k != "time"} == {
        "type": "access.rows", "organization": "dortmund", "dataset": uuid,
        "resource": sealed["resources"]["geheim"], "version": 1, "interface": interface,
        "agreement": sealed["holder-agreement"], "purpose": "forschung",
        "reader": _pseudonym(platform, "holder"), "reader_organization": None,
        "rows": expected}


@pytest.mark.parametrize("case", list(CASES))
def test_a_members_dataset_read_by_another_organization_is_logged(client, world, sealed,
                                                                   case):
    interface, expected, event = _one_read(client, world, sealed, case, "bochum-editor",
                                           "intern")
    platform = client.app.state.platform
    assert (event["interface"], event["rows"], event["agreement"], event["purpose"]) == (
        interface, expected, None, None)
    assert event["reader_organization"] == ["bochum"] and "sysadmin" not in event
    assert event["reader"] == _pseudonym(platform, "bochum-editor")


@pytest.mark.parametrize("name", ["intern", "geheim"])
def test_a_sysadmin_outside_the_organization_is_logged(client, world, sealed, name):
    platform = client.app.state.platform
    before = _reads(platform)
    for case in ("rows page", "csv download", "ui preview"):
        _, ask, answered, expected = CASES[case]
        response = _ask(client, world, sealed, ask, "sysadmin", name)
        assert response.status_code == 200 and answered(response) == expected
    logged = _new_reads(platform, before)
    assert [(e["interface"], e["rows"]) for e in logged] == [
        ("rows", 4), ("download", ROWS), ("ui", ROWS)]
    assert all(e["sysadmin"] is True and e["reader_organization"] is None
               and e["agreement"] is None for e in logged)


@pytest.mark.parametrize("who", ["member", "editor", "admin"])
@pytest.mark.parametrize("name", ["intern", "geheim"])
def test_the_owning_organizations_reads_are_not_logged(client, world, sealed, who, name):
    platform = client.app.state.platform
    before = _reads(platform)
    for case in ("rows page", "csv download", "aggregate by group", "datastore_search",
                 "ogc items", "ui preview"):
        response = _ask(client, world, sealed, CASES[case][1], who, name)
        assert response.status_code == 200, (case, response.text)
    assert _new_reads(platform, before) == []


@pytest.mark.parametrize("who", [None, "outsider", "bochum-editor", "holder"])
def test_public_rows_are_not_logged(client, world, sealed, who):
    platform = client.app.state.platform
    before = _reads(platform)
    for case in CASES:
        response = _ask(client, world, sealed, CASES[case][1], who, "offen")
        assert response.status_code == 200, (case, response.text)
    assert _new_reads(platform, before) == []


@pytest.mark.parametrize(("who", "name", "case", "status"), [
    ("outsider", "geheim", "rows page", 403),
    ("bochum-editor", "geheim", "csv download", 403),
    ("expired-holder", "geheim", "ogc items", 403),
    ("revoked-holder", "geheim", "rows page", 403),
    ("outsider", "intern", "rows page", 404),
    (None, "geheim", "csv download", 401),
])
def test_a_refused_read_adds_no_event(client, world, sealed, who, name, case, status):
    platform = client.app.state.platform
    before = _reads(platform)
    assert _ask(client, world, sealed, CASES[case][1], who, name).status_code == status
    assert _new_reads(platform, before) == []


def test_the_web_page_reads_no_rows_under_an_agreement(client, world, sealed):
    platform = client.app.state.platform
    before = _reads(platform)
    page = _ask(client, world, sealed, CASES["ui preview"][1], "holder", "geheim")
    assert page.status_code == 200 and _preview_rows(page) == 0
    assert _new_reads(platform, before) == []


def test_a_read_failing_after_the_count_leaves_neither_count_nor_event(client, world, sealed):
    platform = client.app.state.platform
    before = _reads(platform)
    bad = [("GET", "/api/v1/resources/{id}/rows", {"sort": "Gibtsnicht"}),
           ("GET", "/api/v1/resources/{id}/rows", {"format": "xml"}),
           ("GET", "/api/v1/resources/{id}/aggregate", {"metrics": "sum:Name"}),
           ("POST", "/api/3/action/datastore_search", {"resource_id": "{id}",
                                                       "filters": {"Gibtsnicht": 1}})]
    for ask in bad:
        response = _ask(client, world, sealed, ask, "holder", "geheim")
        assert response.status_code in (400, 409, 422), response.text
    assert _new_reads(platform, before) == []
    shown = client.get(f"/api/v1/agreements/{sealed['holder-agreement']}",
                       headers=world.auth("holder")).json()
    assert shown["used_count"] == 0


def test_the_log_and_the_agreements_count_agree(client, world, sealed):
    platform = client.app.state.platform
    for case in ("rows page", "csv download", "parquet download with limit", "ogc items",
                 "datastore_search", "distinct values"):
        assert _ask(client, world, sealed, CASES[case][1], "holder", "geheim").status_code \
            == 200
    _ask(client, world, sealed, ("GET", "/api/v1/resources/{id}/rows", {"sort": "x"}),
         "holder", "geheim")
    shown = client.get(f"/api/v1/agreements/{sealed['holder-agreement']}",
                       headers=world.auth("holder")).json()
    logged = [e for e in _reads(platform) if e["agreement"] == sealed["holder-agreement"]]
    assert shown["used_count"] == len(logged) == 6


def test_no_personal_data_in_clear(client, world, sealed):
    platform = client.app.state.platform
    for who, name in (("holder", "geheim"), ("bochum-editor", "intern"),
                      ("sysadmin", "intern")):
        assert _ask(client, world, sealed, CASES["rows page"][1], who, name).status_code == 200
    entries = client.get("/log/v1/entries", params={"start": 0, "end": 1000}).json()["entries"]
    events = [e["event"] for e in entries if e["event"]["type"] == "access.rows"]
    assert len(events) == 3 and "@" not in json.dumps(events)
    values = {str(v) for e in events for v in e.values()}
    values |= {v for e in events for v in e["reader_organization"] or ()}
    for who in ("holder", "bochum-editor", "sysadmin"):
        with platform.db.sessions() as session:
            user = session.get(User, user_id(platform, who))
            assert not {user.name, user.email} & values


# --- the pending read: appended at commit, dropped on rollback ---------------------------------

def _holder(platform) -> Any:
    with platform.db.sessions() as session:
        return accounts.actor_for(accounts.get_user(session, "holder@test.allmende.de"))


def test_an_unreported_read_is_logged_with_rows_null_and_savepoints_do_not_append_it(
        platform, sealed):
    holder = _holder(platform)
    resource = sealed["resources"]["geheim"]
    before = _reads(platform)
    with platform.db.session() as session:
        reported = readable_version(session, holder, platform.settings.data_dir, resource,
                                    interface=Interface.UI)
        readable_version(session, holder, platform.settings.data_dir, resource,
                         interface=Interface.UI)
        with session.begin_nested():  # a savepoint's release is no commit
            pass
        assert _new_reads(platform, before) == []
        reported.delivered(2)
        reported.delivered(3)
    assert [(e["interface"], e["rows"]) for e in _new_reads(platform, before)] == [
        ("ui", 5), ("ui", None)]


def test_a_rolled_back_read_is_dropped_with_its_count(platform, sealed):
    holder = _holder(platform)
    resource = sealed["resources"]["geheim"]
    before = _reads(platform)
    with pytest.raises(RuntimeError), platform.db.session() as session:
        readable_version(session, holder, platform.settings.data_dir, resource,
                         interface=Interface.ROWS).delivered(9)
        raise RuntimeError("the answer failed")
    with platform.db.sessions() as session:  # a session that goes on after its rollback
        readable_version(session, holder, platform.settings.data_dir, resource,
                         interface=Interface.ROWS).delivered(9)
        session.rollback()
        session.execute(select(Organization.id)).all()
        session.commit()
    assert _new_reads(platform, before) == []
    with platform.db.sessions() as session:
        agreement = session.scalar(select(Agreement).where(
            Agreement.uid == sealed["holder-agreement"]))
        assert agreement.used_count == 0


def test_listing_the_collections_is_no_read_of_rows(client, world, sealed):
    """A GIS client fetches the list of collections often: for an agreement holder and a
    member of another organization it names the collections, without an extent (which only
    the rows could tell), uses up no access and writes nothing to the log."""
    platform = client.app.state.platform
    before = _reads(platform)
    shown = client.get(f"/api/v1/agreements/{sealed['holder-agreement']}",
                       headers=world.auth("holder")).json()["used_count"]
    for who, name in (("holder", "geheim"), ("bochum-editor", "intern")):
        listed = client.get("/ogc/collections", params={"f": "json"},
                            headers=world.auth(who)).json()["collections"]
        [collection] = [c for c in listed if c["id"] == name]
        assert collection["extent"] == {} and collection["links"]
    assert _new_reads(platform, before) == []
    assert client.get(f"/api/v1/agreements/{sealed['holder-agreement']}",
                      headers=world.auth("holder")).json()["used_count"] == shown
    # the owner's own listing still has the extent
    own = client.get("/ogc/collections", params={"f": "json"},
                     headers=world.auth("member")).json()["collections"]
    assert next(c for c in own if c["id"] == "geheim")["extent"]["spatial"]["bbox"]
