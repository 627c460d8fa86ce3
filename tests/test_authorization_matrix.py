"""The authorization matrix: every read and write endpoint that concerns a dataset (the
example requests of tests/test_route_audit.py, aimed at a dataset of each access level) ×
every kind of caller × the three access levels, against an allow/deny table written here —
not computed by the policy. Listings (search results and facet counts, the CKAN search, the
DCAT catalog, OGC's collections) count as allowed when the dataset appears in them.

Callers: anonymous, a member of another organization (Bochum's editor), Dortmund's member,
editor and admin (the owner), the holder of an active agreement, holders of an expired and a
revoked agreement, a sysadmin. Endpoints that concern no dataset (organizations, schemas,
harvest sources, tokens) are judged by tests/test_permissions.py and the route audit; the
web UI's forms (POST with a CSRF token of a browser session) by the route audit and the
browser tests.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
from fastapi.testclient import TestClient

from agreement_support import LEVELS, auth, seed, user_id
from allmende.access import agreements
from allmende.catalog import datasets
from support import OPERATOR

TEMPLATES = {"sealed": (seed, "world")}

CALLERS = ("anonymous", "bochum-editor", "member", "editor", "admin", "holder",
           "expired-holder", "revoked-holder", "sysadmin")
EVERYONE = frozenset(CALLERS)
ALLIANCE = frozenset({"bochum-editor", "member", "editor", "admin", "sysadmin"})
OWNER = frozenset({"member", "editor", "admin", "sysadmin"})
EDITORS = frozenset({"editor", "admin", "sysadmin"})
ADMINS = frozenset({"admin", "sysadmin"})
NOBODY: frozenset[str] = frozenset()

#: Who is allowed, per kind of endpoint and access level: the table the policy is held to.
EXPECTED: dict[str, dict[str, frozenset[str]]] = {
    # metadata: restricted datasets show theirs to everyone, members' to the alliance
    "metadata": {"public": EVERYONE, "members": ALLIANCE, "restricted": EVERYONE},
    # rows: restricted ones to the owner and the holder of an active agreement only
    "rows": {"public": EVERYONE, "members": ALLIANCE, "restricted": OWNER | {"holder"}},
    # CKAN's package_list names what anyone may see, whoever asks (as CKAN does)
    "public listing": {"public": EVERYONE, "members": NOBODY, "restricted": EVERYONE},
    # the web UI's preview shows rows to those who read them outright: a holder gets the
    # downloads of what the agreement releases instead, so that page views spend none of its
    # accesses
    "preview": {"public": EVERYONE, "members": ALLIANCE, "restricted": OWNER},
    "edit": {"public": EDITORS, "members": EDITORS, "restricted": EDITORS},
    "delete": {"public": ADMINS, "members": ADMINS, "restricted": ADMINS},
    # agreements exist for restricted datasets only, made and ended by the owner's admins
    "agreement": {"public": NOBODY, "members": NOBODY, "restricted": ADMINS},
}


@dataclass(frozen=True)
class Endpoint:
    """One request aimed at the dataset of a level: ``call(client, name, resource, headers)``
    returns whether it was allowed."""

    label: str
    kind: str
    call: Callable[[TestClient, str, str, dict[str, str]], bool]


def _status(response: Any) -> bool:
    """Allowed: 2xx; refused: 401, 403 or 404 (anything else is a broken example)."""
    assert response.status_code < 300 or response.status_code in (401, 403, 404), (
        response.request.method, str(response.request.url), response.status_code,
        response.text[:300])
    return response.status_code < 300


def _get(path: str, **params: str) -> Callable[..., bool]:
    return lambda client, name, resource, headers: _status(client.get(
        path.format(name=name, resource=resource), params=params, headers=headers))


def _ckan(action: str, body: Callable[[str, str], dict[str, Any]]) -> Callable[..., bool]:
    return lambda client, name, resource, headers: _status(client.post(
        f"/api/3/action/{action}", json=body(name, resource), headers=headers))


def _shows(path: str, marker: Callable[[str], str], **params: str) -> Callable[..., bool]:
    """A page or document that answers everyone; allowed when it shows ``marker(name)``."""
    def call(client: TestClient, name: str, resource: str, headers: dict[str, str]) -> bool:
        response = client.get(path.format(name=name, resource=resource), params=params,
                              headers=headers)
        assert response.status_code == 200, (path, response.status_code)
        return marker(name) in response.text
    return call


def _facet(client: TestClient, name: str, resource: str, headers: dict[str, str]) -> bool:
    """The search's facet count of the dataset's access level counts it."""
    level = next(level for level, n in LEVELS.items() if n == name)
    body = client.get("/api/v1/datasets", params={"q": "Orte"}, headers=headers).json()
    counts = {v["value"]: v["count"] for v in body["facets"]["access_level"]}
    return counts.get(level, 0) == 1


def _preview(client: TestClient, name: str, resource: str, headers: dict[str, str]) -> bool:
    """The resource page answers everyone who sees the dataset; rows only for readers."""
    response = client.get(f"/resources/{resource}", headers=headers)
    if response.status_code == 404:
        return False
    assert response.status_code == 200
    shown = '<table class="list preview">' in response.text
    assert shown == ("<td data-user-content>Spielplatz</td>" in response.text)
    return shown


def _write(method: str, path: str, **body: Any) -> Callable[..., bool]:
    return lambda client, name, resource, headers: _status(client.request(
        method, path.format(name=name, resource=resource), headers=headers,
        json=body or None))


def _link(client: TestClient, name: str, resource: str, headers: dict[str, str]) -> bool:
    return _status(client.post(f"/api/v1/datasets/{name}/links", headers=headers, json={
        "name": f"Verweis {uuid.uuid4()}", "url": "https://www.dortmund.de/"}))


def _upload(client: TestClient, name: str, resource: str, headers: dict[str, str]) -> bool:
    return _status(client.post(f"/api/v1/datasets/{name}/resources", headers=headers,
                               files={"file": ("neu.csv", b"a;b\n1;2\n", "text/csv")}))


def _delete(client: TestClient, name: str, resource: str, headers: dict[str, str]) -> bool:
    allowed = _status(client.delete(f"/api/v1/datasets/{name}", headers=headers))
    if allowed:  # back for the next caller
        with client.app.state.platform.db.session() as session:
            datasets.restore_dataset(session, OPERATOR, name)
    return allowed


def _grant(client: TestClient, name: str, resource: str, headers: dict[str, str]) -> bool:
    now = dt.datetime.now(dt.UTC)
    response = client.post("/api/v1/agreements", headers=headers, json={
        "dataset": name, "assignee": "outsider@test.allmende.de", "purpose": "forschung",
        "valid_from": now.isoformat(), "valid_until": (now + dt.timedelta(days=1)).isoformat()})
    # an agreement on a dataset that is not restricted is refused as invalid, even by admins
    return response.status_code != 422 and _status(response)


def _revoke(client: TestClient, name: str, resource: str, headers: dict[str, str]) -> bool:
    platform = client.app.state.platform
    if name != LEVELS["restricted"]:
        return False  # there are no agreements to end
    now = dt.datetime.now(dt.UTC)
    with platform.db.session() as session:
        uid = agreements.grant(session, OPERATOR, agreements.Grant(
            name, user_id(platform, "outsider"), now, now + dt.timedelta(days=1),
            purpose="forschung")).uid
    response = client.post(f"/api/v1/agreements/{uid}/revoke", headers=headers,
                           json={"reason": "Zweck entfallen"})
    return _status(response)


ENDPOINTS = (
    Endpoint("GET /api/v1/datasets/{name}", "metadata", _get("/api/v1/datasets/{name}")),
    Endpoint("GET /api/v1/datasets/{name}/activity", "metadata",
             _get("/api/v1/datasets/{name}/activity")),
    Endpoint("GET /api/v1/resources/{id}", "metadata", _get("/api/v1/resources/{resource}")),
    Endpoint("GET /api/v1/resources/{id}/versions", "metadata",
             _get("/api/v1/resources/{resource}/versions")),
    Endpoint("GET /datasets/{name}", "metadata", _get("/datasets/{name}")),
    Endpoint("GET /catalog/datasets/{name}.jsonld", "metadata",
             _get("/catalog/datasets/{name}.jsonld")),
    Endpoint("CKAN package_show", "metadata", _ckan("package_show", lambda n, r: {"id": n})),
    Endpoint("CKAN resource_show", "metadata",
             _ckan("resource_show", lambda n, r: {"id": r})),
    Endpoint("search results", "metadata",
             _shows("/api/v1/datasets", lambda n: f'"name":"{n}"', q="Orte")),
    Endpoint("search facet counts", "metadata", _facet),
    Endpoint("UI search", "metadata", _shows("/datasets", lambda n: f"/datasets/{n}", q="Orte")),
    Endpoint("CKAN package_search", "metadata",
             _shows("/api/3/action/package_search", lambda n: f'"name":"{n}"', q="Orte",
                    include_private="true")),
    Endpoint("CKAN package_list", "public listing",
             _shows("/api/3/action/package_list", lambda n: f'"{n}"')),
    Endpoint("DCAT catalog", "metadata",
             _shows("/catalog.ttl", lambda n: f"/datasets/{n}>")),
    Endpoint("GET /api/v1/resources/{id}/rows", "rows",
             _get("/api/v1/resources/{resource}/rows")),
    *(Endpoint(f"download {fmt}", "rows",
               _get("/api/v1/resources/{resource}/rows", format=fmt))
      for fmt in ("csv", "csv-de", "json", "geojson", "parquet", "xlsx")),
    Endpoint("GET /api/v1/resources/{id}/distinct/{column}", "rows",
             _get("/api/v1/resources/{resource}/distinct/Art")),
    Endpoint("GET /api/v1/resources/{id}/aggregate", "rows",
             _get("/api/v1/resources/{resource}/aggregate", group_by="Art")),
    Endpoint("CKAN datastore_search", "rows",
             _ckan("datastore_search", lambda n, r: {"resource_id": r})),
    Endpoint("GET /ogc/collections/{id}", "rows", _get("/ogc/collections/{name}")),
    Endpoint("GET /ogc/collections/{id}/items", "rows", _get("/ogc/collections/{name}/items")),
    Endpoint("GET /ogc/collections/{id}/items/{featureId}", "rows",
             _get("/ogc/collections/{name}/items/1")),
    Endpoint("OGC collections list", "rows",
             _shows("/ogc/collections", lambda n: f'"id":"{n}"')),
    Endpoint("UI preview GET /resources/{id}", "preview", _preview),
    Endpoint("UI download GET /resources/{id}/download", "rows",
             _get("/resources/{resource}/download", format="csv")),
    Endpoint("PATCH /api/v1/datasets/{name}", "edit",
             _write("PATCH", "/api/v1/datasets/{name}", title="Orte, geändert")),
    Endpoint("POST /api/v1/datasets/{name}/links", "edit", _link),
    Endpoint("POST /api/v1/datasets/{name}/resources", "edit", _upload),
    Endpoint("PUT /api/v1/resources/{id}/mapping", "edit",
             _write("PUT", "/api/v1/resources/{resource}/mapping",
                    schema_name="ladesaeulen", fields={"betreiber": {"source": ["Name"]}})),
    Endpoint("DELETE /api/v1/datasets/{name}", "delete", _delete),
    Endpoint("POST /api/v1/agreements", "agreement", _grant),
    Endpoint("POST /api/v1/agreements/{uid}/revoke", "agreement", _revoke),
)



@pytest.fixture
def sealed(installation) -> dict[str, Any]:
    return installation.seeded


def test_authorization_matrix(client, sealed):
    tokens = {**sealed["tokens"]}
    checked, wrong = 0, []
    for endpoint in ENDPOINTS:
        for level, name in LEVELS.items():
            resource = sealed["resources"][name]
            allowed = EXPECTED[endpoint.kind][level]
            for caller in CALLERS:
                headers = auth(tokens, None if caller == "anonymous" else caller)
                actual = endpoint.call(client, name, resource, headers)
                checked += 1
                if actual != (caller in allowed):
                    wrong.append((endpoint.label, level, caller,
                                  "allowed" if actual else "refused"))
    assert not wrong, f"{len(wrong)} of {checked} decisions differ from the table: {wrong}"
    assert checked == len(ENDPOINTS) * len(LEVELS) * len(CALLERS)
    print(f"authorization matrix: {checked} combinations checked "
          f"({len(ENDPOINTS)} endpoints × {len(LEVELS)} levels × {len(CALLERS)} callers)")
