"""Who may do what: a role × action matrix through the REST API, the policy functions on their
own, and the rule that datasets someone may not see never leak through search or facet counts."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import pytest

from allmende.access.policy import (
    ANONYMOUS,
    Action,
    Actor,
    authorize,
    is_allowed,
    visibility,
)
from allmende.catalog import datasets
from allmende.errors import Forbidden, Unauthorized
from support import OPERATOR, dataset_body

ROLES = ("anonymous", "outsider", "member", "editor", "admin", "bochum-editor", "sysadmin")


def _key(role: str) -> str | None:
    return None if role == "anonymous" else role


def _make(platform, name: str, organization: str = "dortmund", deleted: bool = False,
          **extra) -> None:
    """A dataset created (and maybe soft-deleted) by the operator, bypassing the API."""
    with platform.db.session() as session:
        datasets.create_dataset(session, OPERATOR, dataset_body(
            name=name, organization=organization, **extra))
        if deleted:
            datasets.delete_dataset(session, OPERATOR, name)


def _statuses(client, world, request) -> dict[str, int]:
    """The status each role gets for ``request(role, headers)``."""
    return {role: request(role, world.auth(_key(role))).status_code for role in ROLES}


def _matrix(**expected: int) -> dict[str, int]:
    """Expected statuses, keyword names with ``_`` for ``-``; every role must be given."""
    result = {role.replace("_", "-"): status for role, status in expected.items()}
    assert set(result) == set(ROLES)
    return result


# --- Writes -----------------------------------------------------------------------------------


def test_create_dataset_in_dortmund(client, world):
    actual = _statuses(client, world, lambda role, headers: client.post(
        "/api/v1/datasets", headers=headers, json=dataset_body(name=f"neu-{role}")))
    assert actual == _matrix(anonymous=401, outsider=403, member=403, editor=201, admin=201,
                             bochum_editor=403, sysadmin=201)
    # Rejected attempts wrote nothing.
    names = {d["name"] for d in client.get(
        "/api/v1/datasets", headers=world.auth("sysadmin")).json()["results"]}
    assert names == {"neu-editor", "neu-admin", "neu-sysadmin"}


def test_create_dataset_in_bochum(client, world):
    actual = _statuses(client, world, lambda role, headers: client.post(
        "/api/v1/datasets", headers=headers,
        json=dataset_body(name=f"neu-{role}", organization="bochum")))
    assert actual == _matrix(anonymous=401, outsider=403, member=403, editor=403, admin=403,
                             bochum_editor=201, sysadmin=201)


def test_edit_public_dataset(client, world, platform):
    _make(platform, "oeffentlich")
    actual = _statuses(client, world, lambda role, headers: client.patch(
        "/api/v1/datasets/oeffentlich", headers=headers, json={"title": f"Titel von {role}"}))
    assert actual == _matrix(anonymous=401, outsider=403, member=403, editor=200, admin=200,
                             bochum_editor=403, sysadmin=200)
    assert client.get("/api/v1/datasets/oeffentlich").json()["title"] == "Titel von sysadmin"


def test_edit_members_dataset(client, world, platform):
    # Visible to every alliance user, editable only inside the organization; invisible → 404.
    _make(platform, "intern", access_level="members")
    actual = _statuses(client, world, lambda role, headers: client.patch(
        "/api/v1/datasets/intern", headers=headers, json={"title": f"Titel von {role}"}))
    assert actual == _matrix(anonymous=404, outsider=404, member=403, editor=200, admin=200,
                             bochum_editor=403, sysadmin=200)


def test_edit_draft(client, world, platform):
    _make(platform, "entwurf", draft=True)
    actual = _statuses(client, world, lambda role, headers: client.patch(
        "/api/v1/datasets/entwurf", headers=headers, json={"title": f"Titel von {role}"}))
    assert actual == _matrix(anonymous=404, outsider=404, member=403, editor=200, admin=200,
                             bochum_editor=404, sysadmin=200)


def test_delete_dataset(client, world, platform):
    for role in ROLES:
        _make(platform, f"weg-{role}")
    actual = _statuses(client, world, lambda role, headers: client.delete(
        f"/api/v1/datasets/weg-{role}", headers=headers))
    assert actual == _matrix(anonymous=401, outsider=403, member=403, editor=403, admin=204,
                             bochum_editor=403, sysadmin=204)
    sysadmin = world.auth("sysadmin")
    deleted = {role for role in ROLES
               if client.get(f"/api/v1/datasets/weg-{role}", headers=sysadmin).json()["deleted"]}
    assert deleted == {"admin", "sysadmin"}


def test_delete_invisible_dataset_is_404(client, world, platform):
    _make(platform, "entwurf", draft=True)
    _make(platform, "intern", access_level="members")
    for name, role in (("entwurf", "bochum-editor"), ("entwurf", "outsider"),
                       ("intern", "outsider"), ("entwurf", None)):
        response = client.delete(f"/api/v1/datasets/{name}", headers=world.auth(role))
        assert response.status_code == 404, (name, role, response.text)
        assert response.json()["error"]["code"] == "dataset_not_found"


def test_restore_deleted_dataset(client, world, platform):
    # A deleted dataset is invisible to everyone but the organization's admins: 404 for them all.
    for role in ROLES:
        _make(platform, f"papierkorb-{role}", deleted=True)
    actual = _statuses(client, world, lambda role, headers: client.post(
        f"/api/v1/datasets/papierkorb-{role}/restore", headers=headers))
    assert actual == _matrix(anonymous=404, outsider=404, member=404, editor=404, admin=200,
                             bochum_editor=404, sysadmin=200)
    visible = {d["name"] for d in client.get("/api/v1/datasets").json()["results"]}
    assert visible == {"papierkorb-admin", "papierkorb-sysadmin"}


def test_restore_live_dataset(client, world, platform):
    _make(platform, "lebendig")
    actual = _statuses(client, world, lambda role, headers: client.post(
        "/api/v1/datasets/lebendig/restore", headers=headers))
    assert actual == _matrix(anonymous=401, outsider=403, member=403, editor=403, admin=200,
                             bochum_editor=403, sysadmin=200)


def test_add_link_needs_edit_rights(client, world, platform):
    _make(platform, "verweise")
    actual = _statuses(client, world, lambda role, headers: client.post(
        "/api/v1/datasets/verweise/links", headers=headers,
        json={"name": f"Link {role}", "url": "https://example.org/daten.csv", "format": "csv"}))
    assert actual == _matrix(anonymous=401, outsider=403, member=403, editor=201, admin=201,
                             bochum_editor=403, sysadmin=201)


def test_create_organization(client, world):
    actual = _statuses(client, world, lambda role, headers: client.post(
        "/api/v1/organizations", headers=headers,
        json={"slug": f"org-{role}", "name": f"Organisation {role}", "type": "company"}))
    assert actual == _matrix(anonymous=401, outsider=403, member=403, editor=403, admin=403,
                             bochum_editor=403, sysadmin=201)
    slugs = {o["slug"] for o in client.get("/api/v1/organizations").json()["results"]}
    assert slugs == {"dortmund", "bochum", "org-sysadmin"}


def test_edit_organization(client, world):
    actual = _statuses(client, world, lambda role, headers: client.patch(
        "/api/v1/organizations/dortmund", headers=headers,
        json={"description": f"Beschrieben von {role}"}))
    assert actual == _matrix(anonymous=401, outsider=403, member=403, editor=403, admin=200,
                             bochum_editor=403, sysadmin=200)
    assert client.get("/api/v1/organizations/dortmund").json()["description"] == \
        "Beschrieben von sysadmin"


def test_edit_other_organization(client, world):
    actual = _statuses(client, world, lambda role, headers: client.patch(
        "/api/v1/organizations/bochum", headers=headers, json={"website": "https://bochum.de"}))
    assert actual == _matrix(anonymous=401, outsider=403, member=403, editor=403, admin=403,
                             bochum_editor=403, sysadmin=200)


def test_token_endpoints_need_a_user(client, world):
    assert client.get("/api/v1/me/tokens").status_code == 401
    assert client.post("/api/v1/me/tokens", json={"name": "x"}).status_code == 401
    assert client.delete("/api/v1/me/tokens/1").status_code == 401
    assert client.get("/api/v1/me/tokens", headers=world.auth("outsider")).status_code == 200


def test_unauthorized_answers_carry_www_authenticate(client, world):
    response = client.post("/api/v1/datasets", json=dataset_body())
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == "Bearer"
    assert response.json()["error"]["code"] == "unauthorized"
    forbidden = client.post("/api/v1/datasets", json=dataset_body(),
                            headers=world.auth("member"))
    assert forbidden.json()["error"]["code"] == "forbidden"


# --- Reads ------------------------------------------------------------------------------------

VISIBLE = {
    "public": _matrix(anonymous=200, outsider=200, member=200, editor=200, admin=200,
                      bochum_editor=200, sysadmin=200),
    "restricted": _matrix(anonymous=200, outsider=200, member=200, editor=200, admin=200,
                          bochum_editor=200, sysadmin=200),
    "members": _matrix(anonymous=404, outsider=404, member=200, editor=200, admin=200,
                       bochum_editor=200, sysadmin=200),
    "draft": _matrix(anonymous=404, outsider=404, member=200, editor=200, admin=200,
                     bochum_editor=404, sysadmin=200),
    "members-draft": _matrix(anonymous=404, outsider=404, member=200, editor=200, admin=200,
                             bochum_editor=404, sysadmin=200),
    "deleted": _matrix(anonymous=404, outsider=404, member=404, editor=404, admin=200,
                       bochum_editor=404, sysadmin=200),
    "bochum-draft": _matrix(anonymous=404, outsider=404, member=404, editor=404, admin=404,
                            bochum_editor=200, sysadmin=200),
}
KINDS = {
    "public": {},
    "restricted": {"access_level": "restricted"},
    "members": {"access_level": "members"},
    "draft": {"draft": True},
    "members-draft": {"access_level": "members", "draft": True},
    "deleted": {"deleted": True},
    "bochum-draft": {"organization": "bochum", "draft": True},
}


def test_who_sees_which_dataset(client, world, platform):
    for kind, extra in KINDS.items():
        _make(platform, kind, **extra)
    failures = {}
    for kind, expected in VISIBLE.items():
        actual = _statuses(client, world, lambda role, headers, kind=kind: client.get(
            f"/api/v1/datasets/{kind}", headers=headers))
        if actual != expected:
            failures[kind] = {r: (actual[r], expected[r]) for r in ROLES
                              if actual[r] != expected[r]}
    assert failures == {}, "role: (actual, expected)"


def test_invisible_dataset_answers_like_a_missing_one(client, world, platform):
    _make(platform, "intern", access_level="members")
    hidden = client.get("/api/v1/datasets/intern")
    missing = client.get("/api/v1/datasets/gibt-es-nicht")
    assert hidden.status_code == missing.status_code == 404
    assert hidden.json()["error"]["code"] == missing.json()["error"]["code"]
    # Its history and its resources are just as invisible.
    assert client.get("/api/v1/datasets/intern/activity").status_code == 404
    link = client.post("/api/v1/datasets/intern/links", headers=world.auth("editor"),
                       json={"name": "Daten", "url": "https://example.org/intern.csv"})
    assert link.status_code == 201
    resource = link.json()["id"]
    assert client.get(f"/api/v1/resources/{resource}").status_code == 404
    assert client.get(f"/api/v1/resources/{resource}",
                      headers=world.auth("bochum-editor")).status_code == 200
    assert client.delete(f"/api/v1/resources/{resource}",
                         headers=world.auth("outsider")).status_code == 404


# --- Search and facets never leak -------------------------------------------------------------


def _search(client, world, role: str | None, **params) -> dict:
    response = client.get("/api/v1/datasets", params=params, headers=world.auth(role))
    assert response.status_code == 200, response.text
    return response.json()


def _facet(body: dict, facet: str) -> dict[str, int]:
    return {v["value"]: v["count"] for v in body["facets"][facet]}


def test_members_dataset_leaks_neither_into_results_nor_facets(client, world, platform):
    _make(platform, "offen", keywords=["Verkehr"])
    _make(platform, "geheim", access_level="members", keywords=["Zauberwort"],
          themes=["HEAL"], license="cc-by/4.0",
          resources=[{"name": "Tabelle", "format": "xlsx", "url": "https://example.org/x.xlsx"}])
    for role in ("anonymous", "outsider"):
        everything = _search(client, world, _key(role))
        assert [d["name"] for d in everything["results"]] == ["offen"]
        assert everything["count"] == 1
        assert "Zauberwort" not in _facet(everything, "keyword")
        assert "HEAL" not in _facet(everything, "theme")
        assert "cc-by/4.0" not in _facet(everything, "license")
        assert "XLSX" not in _facet(everything, "format")
        assert "members" not in _facet(everything, "access_level")
        assert _facet(everything, "organization") == {"dortmund": 1}
        assert _search(client, world, _key(role), q="Zauberwort")["count"] == 0
        assert _search(client, world, _key(role), keyword="Zauberwort")["count"] == 0
        assert _search(client, world, _key(role), access_level="members")["count"] == 0
    for role in ("member", "bochum-editor", "sysadmin"):
        everything = _search(client, world, role)
        assert everything["count"] == 2
        assert _facet(everything, "keyword") == {"Verkehr": 1, "Zauberwort": 1}
        assert _facet(everything, "organization") == {"dortmund": 2}
        assert _facet(everything, "access_level") == {"public": 1, "members": 1}
        found = _search(client, world, role, q="Zauberwort")
        assert [d["name"] for d in found["results"]] == ["geheim"]


def test_draft_is_found_only_inside_its_organization(client, world, platform):
    _make(platform, "entwurf", draft=True, keywords=["Entwurfswort"])
    _make(platform, "bochumer-entwurf", organization="bochum", draft=True,
          keywords=["Bochumwort"])
    expectations = {
        None: set(), "outsider": set(), "bochum-editor": {"bochumer-entwurf"},
        "member": {"entwurf"}, "editor": {"entwurf"}, "admin": {"entwurf"},
        "sysadmin": {"entwurf", "bochumer-entwurf"},
    }
    for role, expected in expectations.items():
        body = _search(client, world, role)
        assert {d["name"] for d in body["results"]} == expected, role
        assert body["count"] == len(expected), role
        keywords = set(_facet(body, "keyword"))
        assert ("Entwurfswort" in keywords) == ("entwurf" in expected), role
        assert ("Bochumwort" in keywords) == ("bochumer-entwurf" in expected), role
        organizations = _facet(body, "organization")
        assert organizations.get("bochum", 0) == ("bochumer-entwurf" in expected), role
        assert organizations.get("dortmund", 0) == ("entwurf" in expected), role
        assert len(_search(client, world, role, q="Entwurfswort")["results"]) == \
            ("entwurf" in expected), role


def test_deleted_dataset_is_never_in_search_not_even_for_admins(client, world, platform):
    _make(platform, "geloescht", deleted=True, keywords=["Loeschwort"])
    _make(platform, "da")
    for role in (None, "member", "admin", "sysadmin"):
        body = _search(client, world, role)
        assert [d["name"] for d in body["results"]] == ["da"], role
        assert "Loeschwort" not in _facet(body, "keyword"), role
        assert _facet(body, "organization") == {"dortmund": 1}, role
        assert _search(client, world, role, q="Loeschwort")["count"] == 0, role


def test_visibility_changes_reach_search_at_once(client, world, platform):
    _make(platform, "wandel", keywords=["Wandelwort"])
    assert _search(client, world, None, q="Wandelwort")["count"] == 1
    editor = world.auth("editor")
    assert client.patch("/api/v1/datasets/wandel", headers=editor,
                        json={"access_level": "members"}).status_code == 200
    assert _search(client, world, None, q="Wandelwort")["count"] == 0
    assert "Wandelwort" not in _facet(_search(client, world, None), "keyword")
    assert _search(client, world, "bochum-editor", q="Wandelwort")["count"] == 1
    assert client.patch("/api/v1/datasets/wandel", headers=editor,
                        json={"draft": True}).status_code == 200
    assert _search(client, world, "bochum-editor", q="Wandelwort")["count"] == 0
    assert _search(client, world, "member", q="Wandelwort")["count"] == 1
    assert client.patch("/api/v1/datasets/wandel", headers=editor,
                        json={"draft": False, "access_level": "public"}).status_code == 200
    assert _search(client, world, None, q="Wandelwort")["count"] == 1


# --- The policy on its own --------------------------------------------------------------------

DORTMUND, BOCHUM = 1, 2


@dataclass
class FakeDataset:
    organization_id: int = DORTMUND
    access_level: str = "public"
    draft: bool = False
    deleted_at: object = None


ACTORS = {
    "anonymous": ANONYMOUS,
    "outsider": Actor(user_id=10),
    "member": Actor(user_id=11, roles={DORTMUND: "member"}),
    "editor": Actor(user_id=12, roles={DORTMUND: "editor"}),
    "admin": Actor(user_id=13, roles={DORTMUND: "admin"}),
    "bochum-editor": Actor(user_id=14, roles={BOCHUM: "editor"}),
    "sysadmin": Actor(user_id=15, is_sysadmin=True),
}


def _allowed(action: Action, target: object) -> set[str]:
    return {name for name, actor in ACTORS.items() if is_allowed(actor, action, target)}


def test_is_allowed_for_each_action():
    dataset = FakeDataset()
    assert _allowed(Action.CREATE_DATASET, DORTMUND) == {"editor", "admin", "sysadmin"}
    assert _allowed(Action.CREATE_DATASET, BOCHUM) == {"bochum-editor", "sysadmin"}
    assert _allowed(Action.EDIT_DATASET, dataset) == {"editor", "admin", "sysadmin"}
    assert _allowed(Action.DELETE_DATASET, dataset) == {"admin", "sysadmin"}
    assert _allowed(Action.RESTORE_DATASET, dataset) == {"admin", "sysadmin"}
    assert _allowed(Action.EDIT_ORGANIZATION, DORTMUND) == {"admin", "sysadmin"}
    assert _allowed(Action.MANAGE_MEMBERS, DORTMUND) == {"admin", "sysadmin"}
    assert _allowed(Action.EDIT_ORGANIZATION, BOCHUM) == {"sysadmin"}
    assert _allowed(Action.CREATE_ORGANIZATION, None) == {"sysadmin"}
    assert _allowed(Action.MANAGE_USERS, None) == {"sysadmin"}


@pytest.mark.parametrize(("dataset", "expected"), [
    (FakeDataset(), set(ACTORS)),
    (FakeDataset(access_level="restricted"), set(ACTORS)),
    (FakeDataset(access_level="members"),
     {"member", "editor", "admin", "bochum-editor", "sysadmin"}),
    (FakeDataset(draft=True), {"member", "editor", "admin", "sysadmin"}),
    (FakeDataset(draft=True, access_level="members"), {"member", "editor", "admin", "sysadmin"}),
    (FakeDataset(organization_id=BOCHUM, draft=True), {"bochum-editor", "sysadmin"}),
    (FakeDataset(deleted_at=dt.datetime(2025, 1, 1, tzinfo=dt.UTC)), {"admin", "sysadmin"}),
    (FakeDataset(organization_id=BOCHUM, deleted_at=dt.datetime(2025, 1, 1, tzinfo=dt.UTC)),
     {"sysadmin"}),
    (FakeDataset(draft=True, deleted_at=dt.datetime(2025, 1, 1, tzinfo=dt.UTC)),
     {"admin", "sysadmin"}),
], ids=["public", "restricted", "members", "draft", "members-draft", "bochum-draft", "deleted",
        "bochum-deleted", "deleted-draft"])
def test_view_dataset(dataset, expected):
    assert _allowed(Action.VIEW_DATASET, dataset) == expected
    assert {n for n, a in ACTORS.items() if visibility(a).sees(dataset)} == expected


def test_visibility_scope():
    assert visibility(ANONYMOUS).everything is False
    assert visibility(ANONYMOUS).member_of_alliance is False
    assert visibility(ACTORS["outsider"]).member_of_alliance is False
    assert visibility(ACTORS["sysadmin"]).everything is True
    several = Actor(user_id=20, roles={DORTMUND: "admin", BOCHUM: "member"})
    scope = visibility(several)
    assert scope.member_of_alliance is True
    assert scope.organization_ids == {DORTMUND, BOCHUM}
    assert scope.admin_organization_ids == {DORTMUND}
    assert scope.sees(FakeDataset(organization_id=BOCHUM, draft=True))
    assert not scope.sees(FakeDataset(organization_id=BOCHUM,
                                      deleted_at=dt.datetime(2025, 1, 1, tzinfo=dt.UTC)))


def test_authorize_tells_anonymous_from_forbidden():
    with pytest.raises(Unauthorized) as anonymous:
        authorize(ANONYMOUS, Action.CREATE_DATASET, DORTMUND)
    assert anonymous.value.status == 401
    with pytest.raises(Forbidden) as forbidden:
        authorize(ACTORS["member"], Action.CREATE_DATASET, DORTMUND)
    assert forbidden.value.status == 403
    authorize(ACTORS["editor"], Action.CREATE_DATASET, DORTMUND)  # no exception
    with pytest.raises(Forbidden):
        authorize(ACTORS["editor"], Action.DELETE_DATASET, FakeDataset())


def test_unknown_action_is_an_error_not_a_permission():
    with pytest.raises(ValueError, match="unknown action"):
        is_allowed(ACTORS["sysadmin"], "fly_to_the_moon", None)  # type: ignore[arg-type]
