"""Every route of the app asks the access policy, or is listed once as public with its reason.

The app's routes are enumerated (included routers and mounted sub-applications too), each is
called with an example request by a sysadmin (who passes every check, so the handler runs to
its end), and ``access.policy.audit`` records the decisions the request made. A route that
makes none and is not in PUBLIC fails the test, as does a new route without an example: whoever
adds a route decides here, once, whether it is guarded. CKAN audits its actions the same way.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from starlette.applications import Starlette
from starlette.routing import Mount

from allmende.access import accounts, agreements, policy, requests
from allmende.access.mail import Mailer
from allmende.catalog import datasets
from allmende.db.models import User
from allmende.harmonize import service
from allmende.ingest.service import IngestRequest, ingest
from allmende.interop.harvest import service as harvest
from allmende.jobs import queue, worker
from allmende.platform import Platform
from allmende.web.app import create_app
from support import DORTMUND_CSV, OPERATOR, PASSWORD, dataset_body

#: Routes that decide nothing, and why that is right.
PUBLIC: dict[tuple[str, str], str] = {
    ("GET", "/healthz"): "liveness probe",
    ("GET", "/api/docs"): "the API's documentation",
    ("GET", "/api/v1/openapi.json"): "the API's description",
    ("MOUNT", "/static"): "style sheets, scripts and images",
    ("GET", "/login"): "the sign-in form",
    ("POST", "/login"): "signing in checks the password, not a permission",
    ("POST", "/logout"): "signing out ends the caller's own session",
    ("GET", "/api/v1/me"): "tells callers who they are, anonymous ones too",
    ("GET", "/api/v1/schemas"): "shared schemas are public definitions",
    ("GET", "/api/v1/schemas/{name}"): "shared schemas are public definitions",
    ("GET", "/api/v1/organizations"): "organizations are public",
    ("GET", "/organizations"): "organizations are public",
    ("GET", "/map/areas.geojson"): "the organizations' areas are public (the maps' base layer)",
    ("GET", "/api/v1/organizations/{slug}"): "organizations are public",
    ("GET", "/ogc/"): "OGC API Features' landing page: links only",
    ("GET", "/ogc/conformance"): "the conformance classes the interface implements",
    ("GET", "/ogc/api"): "the interface's OpenAPI description (collections are a parameter)",
    ("GET", "/log"): "what the transparency log is, its latest checkpoint: public by purpose",
    ("GET", "/log/v1/checkpoint"): "the log's signed checkpoint: public, witnesses read it",
    ("GET", "/log/v1/key"): "the key that verifies the log's checkpoints",
    ("GET", "/log/v1/entries"): "every entry is public, a witness recomputes the whole tree; "
                                "entries hold no personal data in clear",
    ("GET", "/log/v1/proof/inclusion"): "proofs over the public entries",
    ("GET", "/log/v1/proof/consistency"): "proofs over the public entries",
    ("GET", "/api/v1/organizations/{slug}/conditions"): "conditions of use are public: "
                                                         "requesters read them first",
    ("GET", "/register"): "the registration form",
    ("POST", "/register"): "anyone may register (the account stays inactive until confirmed)",
    ("GET", "/register/confirm"): "the signed link decides, not a permission",
}


@dataclass
class Example:
    """One request to a route: path parameters, and a JSON body, form or files."""

    params: dict[str, str] = field(default_factory=dict)
    json: Any = None
    form: dict[str, str] | None = None
    files: dict[str, Any] | None = None
    query: dict[str, str] = field(default_factory=dict)


class Audited:
    """The app, recording the policy decisions of each HTTP request."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self.decisions: list[str] = []

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        with policy.audit() as decisions:
            await self.app(scope, receive, send)
        self.decisions = list(decisions)


def routes(app: Any) -> Iterator[tuple[str, str]]:
    """(method, path) of every route, through included routers and mounts."""
    yield from _walk(app.routes, "")


def _walk(found: list[Any], prefix: str) -> Iterator[tuple[str, str]]:
    for route in found:
        if hasattr(route, "original_router"):  # FastAPI's included router
            yield from _walk(route.original_router.routes,
                             prefix + route.include_context.prefix)
        elif isinstance(getattr(route, "endpoint", None), Starlette):
            # an interface answering exact paths: its own routes carry the whole path
            yield from _walk(route.endpoint.routes, "")
        elif isinstance(route, Mount):
            inner = getattr(route.app, "routes", None)
            if inner:
                yield from _walk(inner, prefix + route.path)
            else:
                yield "MOUNT", prefix + route.path
        else:
            for method in sorted(set(route.methods or ()) - {"HEAD"}):
                yield method, prefix + route.path


@dataclass
class Objects:
    dataset: str = "lade"
    resource: str = ""
    link: str = ""
    ui_link: str = ""
    job: int = 0
    tokens: list[int] = field(default_factory=list)
    requests: dict[str, int] = field(default_factory=dict)
    attachment: int = 0
    #: resources whose version 1 is held for a decision on its personal data
    held: dict[str, str] = field(default_factory=dict)
    agreement: str = ""


def _seed(platform: Platform, tmp_path: Path) -> Objects:
    found = Objects()
    source = tmp_path / "ladesaeulen.csv"
    source.write_text(DORTMUND_CSV, encoding="utf-8")
    with platform.db.session() as session:
        for name in ("lade", "weg-api", "weg-ui", "zurueck-api", "zurueck-ui"):
            datasets.create_dataset(session, OPERATOR, dataset_body(name))
        for name in ("zurueck-api", "zurueck-ui"):
            datasets.delete_dataset(session, OPERATOR, name)
        datasets.create_dataset(session, OPERATOR, dataset_body(
            "geheim", access_level="restricted"))
        found.link = datasets.add_resource(session, OPERATOR, "lade", {
            "name": "Verweis", "url": "https://www.dortmund.de/"}).id
        found.ui_link = datasets.add_resource(session, OPERATOR, "lade", {
            "name": "Zweiter Verweis", "url": "https://www.dortmund.de/"}).id
        user = session.query(User).filter_by(email="sysadmin@test.allmende.de").one()
        found.tokens = [accounts.create_token(session, user.id, f"t{n}").token.id
                        for n in range(2)]
        found.agreement = agreements.grant(session, OPERATOR, agreements.Grant(
            "geheim", user.id, _now(), _now() + dt.timedelta(days=1), purpose="forschung")).uid
        found.job = queue.enqueue(session, "consolidate", {"schema": "ladesaeulen"},
                                  accounts.actor_for(user)).id
        for name in ("portal", "portal-weg", "portal-weg-ui"):
            harvest.create_source(session, OPERATOR, {
                "name": name, "type": "ckan", "url": "https://portal.example/",
                "organization": "dortmund"})
    found.resource = ingest(platform, OPERATOR, IngestRequest(
        "lade", source, "ladesaeulen.csv")).resource
    _seed_requests(platform, found)
    people = tmp_path / "personen.csv"
    people.write_text("Vorname;E-Mail\nAnna;anna.schmidt@web.de\nPaul;p.wagner@gmx.de\n",
                      encoding="utf-8")
    for key in ("api", "ui"):
        found.held[key] = ingest(platform, OPERATOR, IngestRequest(
            "lade", people, "personen.csv", resource_name=f"personen-{key}.csv")).resource
    with platform.db.session() as session:
        mapping = service.suggest(platform, session, OPERATOR, found.resource, "ladesaeulen")
        service.save_mapping(platform, session, OPERATOR, found.resource, mapping)
    while worker.run_once(platform):
        pass
    return found


REQUEST_STEPS = {"submit": "draft", "ask": "submitted", "answer": "needs_info",
                 "approve": "submitted", "reject": "submitted", "withdraw": "submitted"}


def _seed_requests(platform: Platform, found: Objects) -> None:
    """Requests of the sysadmin (outside Dortmund) for a restricted dataset, one per step of
    the API and of the UI, each in the state its step starts from."""
    with platform.db.session() as session:  # "geheim": the restricted dataset of _seed
        sysadmin = accounts.actor_for(accounts.get_user(session, "sysadmin@test.allmende.de"))
        mailer = Mailer(platform.settings)
        complete = {"dataset": "geheim", "requester_organization": "Land", "purpose":
                    "forschung", "purpose_text": "x", "legal_basis": "dsgvo-6-1-e",
                    "interest": "x", "duration_days": 30, "recipients": "x", "retention": "x"}
        keys = [f"{kind}-{step}" for kind in ("api", "ui") for step in REQUEST_STEPS]
        for key in [*keys, "edit-api", "edit-ui", "read"]:
            record = requests.create_request(session, sysadmin, complete)
            found.requests[key] = record.id
            source = REQUEST_STEPS.get(key.split("-")[-1], "draft")
            for action in {"draft": [], "submitted": ["submit"],
                           "needs_info": ["submit", "ask"]}[source]:
                requests.transition(session, sysadmin, record.id, action, "x", mailer)
        staged = Path(platform.settings.data_dir) / "staged.pdf"
        staged.write_bytes(b"%PDF-1.4\n")
        found.attachment = requests.add_attachment(
            session, sysadmin, found.requests["read"], staged, "a.pdf",
            platform.settings.data_dir, 1 << 20).id


def _request_examples(found: Objects) -> dict[tuple[str, str], Example]:
    ids = found.requests
    pdf = {"file": ("b.pdf", b"%PDF-1.4\n", "application/pdf")}
    read = {"request_id": str(ids["read"])}
    examples = {
        ("GET", "/api/v1/requests"): Example(query={"role": "owner"}),
        ("POST", "/api/v1/requests"): Example(json={"dataset": "geheim"}),
        ("GET", "/api/v1/requests/{request_id}"): Example(read),
        ("PATCH", "/api/v1/requests/{request_id}"): Example(
            {"request_id": str(ids["edit-api"])}, json={"position": "Referentin"}),
        ("POST", "/api/v1/requests/{request_id}/attachments"): Example(read, files=pdf),
        ("GET", "/api/v1/requests/{request_id}/attachments/{attachment_id}"): Example(
            {**read, "attachment_id": str(found.attachment)}),
        ("POST", "/api/v1/organizations/{slug}/conditions"): Example(
            {"slug": "dortmund"}, json={"text": "Bedingungen"}),
        ("GET", "/datasets/{name}/request"): Example({"name": "geheim"}),
        ("POST", "/datasets/{name}/request"): Example({"name": "geheim"},
                                                      form={"purpose": "forschung"}),
        ("GET", "/requests"): Example(),
        ("GET", "/requests/inbox"): Example(),
        ("GET", "/requests/{request_id}"): Example(read),
        ("GET", "/requests/{request_id}/edit"): Example({"request_id": str(ids["edit-ui"])}),
        ("POST", "/requests/{request_id}/edit"): Example(
            {"request_id": str(ids["edit-ui"])}, form={"position": "Referentin"}),
        ("POST", "/requests/{request_id}/attachments"): Example(read, form={}, files=pdf),
        ("GET", "/requests/{request_id}/attachments/{attachment_id}"): Example(
            {**read, "attachment_id": str(found.attachment)}),
        ("POST", "/requests/{request_id}/steps/{action}"): Example(
            {"request_id": str(ids["ui-approve"]), "action": "approve"},
            form={"reason": "passt"}),
        ("GET", "/organizations/{slug}/conditions"): Example({"slug": "dortmund"}),
        ("POST", "/organizations/{slug}/conditions"): Example({"slug": "dortmund"},
                                                              form={"text": "Neu"}),
    }
    for step in REQUEST_STEPS:
        examples[("POST", f"/api/v1/requests/{{request_id}}/{step}")] = Example(
            {"request_id": str(ids[f"api-{step}"])}, json={"reason": "Begründung"})
    return examples


def _examples(found: Objects) -> dict[tuple[str, str], Example]:
    resource = {"resource_id": found.resource}
    dataset = {"name": found.dataset}
    mapping = {"schema_name": "ladesaeulen", "fields": {"betreiber": {"source": ["Betreiber"]}}}
    return {
        **_request_examples(found),
        ("GET", "/"): Example(),
        ("GET", "/datasets"): Example(query={"q": "Ladesäulen"}),
        ("GET", "/datasets/new"): Example(),
        ("POST", "/datasets/new"): Example(form={"organization": "dortmund", "title": "Neu"}),
        ("GET", "/datasets/{name}"): Example(dataset),
        ("GET", "/datasets/{name}/edit"): Example(dataset),
        ("POST", "/datasets/{name}/edit"): Example(dataset, form={"title": "Geändert"}),
        ("POST", "/datasets/{name}/delete"): Example({"name": "weg-ui"}, form={}),
        ("POST", "/datasets/{name}/restore"): Example({"name": "zurueck-ui"}, form={}),
        ("POST", "/datasets/{name}/resources"): Example(dataset, form={}, files={
            "file": ("neu.csv", b"a;b\n1;2\n", "text/csv")}),
        ("POST", "/datasets/{name}/resources/{resource_id}/delete"): Example(
            {"name": found.dataset, "resource_id": found.ui_link}, form={}),
        ("GET", "/trash"): Example(),
        ("GET", "/organizations/{slug}"): Example({"slug": "dortmund"}),
        ("GET", "/organizations/{slug}/edit"): Example({"slug": "dortmund"}),
        ("GET", "/organizations/{slug}/log"): Example({"slug": "dortmund"}),
        ("GET", "/datasets/{name}/log"): Example(dataset),
        ("POST", "/organizations/{slug}/edit"): Example({"slug": "dortmund"},
                                                        form={"name": "Stadt Dortmund"}),
        ("GET", "/organizations/{slug}/members"): Example({"slug": "dortmund"}),
        ("POST", "/organizations/{slug}/members"): Example(
            {"slug": "dortmund"}, form={"email": "outsider@test.allmende.de", "role": "member"}),
        ("POST", "/organizations/{slug}/members/role"): Example(
            {"slug": "dortmund"}, form={"email": "member@test.allmende.de", "role": "editor"}),
        ("POST", "/organizations/{slug}/members/remove"): Example(
            {"slug": "dortmund"}, form={"email": "outsider@test.allmende.de"}),
        ("GET", "/account/tokens"): Example(),
        ("POST", "/account/tokens"): Example(form={"name": "neu"}),
        ("POST", "/account/tokens/{token_id}/revoke"): Example(
            {"token_id": str(found.tokens[0])}, form={}),
        ("GET", "/resources/{resource_id}"): Example(resource),
        ("GET", "/resources/{resource_id}/download"): Example(resource, query={"format": "csv"}),
        ("GET", "/resources/{resource_id}/mapping"): Example(resource),
        ("POST", "/resources/{resource_id}/mapping"): Example(resource, form={
            "schema_name": "ladesaeulen", "action": "preview"}),
        ("GET", "/resources/{resource_id}/quality"): Example(resource),
        ("GET", "/region"): Example(),
        ("GET", "/region/{schema_name}"): Example({"schema_name": "ladesaeulen"}),
        ("GET", "/schemas"): Example(),
        ("GET", "/schemas/{name}"): Example({"name": "ladesaeulen"}),
        ("POST", "/schemas"): Example(form={"text": json.dumps({
            "name": "spielplaetze", "fields": [{"name": "name"}]})}),
        ("GET", "/api/v1/datasets"): Example(),
        ("POST", "/api/v1/datasets"): Example(json=dataset_body("api-neu")),
        ("GET", "/api/v1/datasets/{name}"): Example(dataset),
        ("PATCH", "/api/v1/datasets/{name}"): Example(dataset, json={"title": "Neu"}),
        ("DELETE", "/api/v1/datasets/{name}"): Example({"name": "weg-api"}),
        ("POST", "/api/v1/datasets/{name}/restore"): Example({"name": "zurueck-api"}),
        ("GET", "/api/v1/datasets/{name}/activity"): Example(dataset),
        ("POST", "/api/v1/datasets/{name}/links"): Example(dataset, json={
            "name": "Noch ein Verweis", "url": "https://www.dortmund.de/"}),
        ("POST", "/api/v1/datasets/{name}/resources"): Example(dataset, files={
            "file": ("neu.csv", b"a;b\n1;2\n", "text/csv")}),
        ("GET", "/api/v1/jobs/{job_id}"): Example({"job_id": str(found.job)}),
        ("GET", "/api/v1/me/tokens"): Example(),
        ("POST", "/api/v1/me/tokens"): Example(json={"name": "neu"}),
        ("DELETE", "/api/v1/me/tokens/{token_id}"): Example({"token_id": str(found.tokens[1])}),
        ("POST", "/api/v1/organizations"): Example(json={"slug": "herne", "name": "Herne"}),
        ("PATCH", "/api/v1/organizations/{slug}"): Example({"slug": "dortmund"},
                                                           json={"name": "Stadt Dortmund"}),
        ("GET", "/api/v1/regional"): Example(),
        ("GET", "/api/v1/regional/{schema}"): Example({"schema": "ladesaeulen"}),
        ("GET", "/api/v1/resources/{resource_id}"): Example(resource),
        ("DELETE", "/api/v1/resources/{resource_id}"): Example({"resource_id": found.link}),
        ("GET", "/api/v1/resources/{resource_id}/versions"): Example(resource),
        ("GET", "/api/v1/resources/{resource_id}/rows"): Example(resource),
        ("GET", "/api/v1/resources/{resource_id}/aggregate"): Example(
            resource, query={"group_by": "Betreiber"}),
        ("GET", "/api/v1/resources/{resource_id}/distinct/{column}"): Example(
            {**resource, "column": "Betreiber"}),
        ("GET", "/api/v1/resources/{resource_id}/mapping"): Example(resource),
        ("POST", "/api/v1/resources/{resource_id}/versions/{version}/privacy-decision"):
            Example({"resource_id": found.held["api"], "version": "1"}, json={"columns": [
                {"column": "Vorname", "action": "drop"}, {"column": "E-Mail",
                                                          "action": "hash"}]}),
        ("POST", "/resources/{resource_id}/versions/{version}/privacy"): Example(
            {"resource_id": found.held["ui"], "version": "1"}, form={
                "column-0": "Vorname", "action-0": "drop", "column-1": "E-Mail",
                "action-1": "truncate"}),
        ("GET", "/api/v1/datasets/{name}/privacy"): Example(dataset),
        ("PUT", "/api/v1/datasets/{name}/privacy"): Example(dataset,
                                                            json={"suppression_k": 5}),
        ("PUT", "/api/v1/resources/{resource_id}/mapping"): Example(resource, json=mapping),
        ("POST", "/api/v1/resources/{resource_id}/mapping/preview"): Example(resource,
                                                                            json=mapping),
        ("POST", "/api/v1/resources/{resource_id}/mapping/suggest"): Example(
            resource, query={"schema": "ladesaeulen"}),
        ("GET", "/api/v1/resources/{resource_id}/mapping/versions"): Example(resource),
        ("GET", "/api/v1/resources/{resource_id}/quality"): Example(resource),
        ("POST", "/api/v1/schemas"): Example(json={"name": "baeume",
                                                   "fields": [{"name": "art"}]}),
        ("GET", "/api/v1/agreements"): Example(query={"role": "owner"}),
        ("POST", "/api/v1/agreements"): Example(json={
            "dataset": "geheim", "assignee": "admin@test.allmende.de",
            "valid_from": _now().isoformat(), "valid_until": (_now() + DAY).isoformat(),
            "purpose": "forschung", "max_count": 10, "columns": None}),
        ("POST", "/api/v1/agreements/odrl"): Example(json=_offer()),
        ("GET", "/api/v1/agreements/{uid}"): Example({"uid": found.agreement}),
        ("POST", "/api/v1/agreements/{uid}/revoke"): Example({"uid": found.agreement},
                                                            json={"reason": "Zweck entfallen"}),
        ("GET", "/account/agreements"): Example(),
        ("GET", "/organizations/{slug}/agreements"): Example({"slug": "dortmund"}),
        ("POST", "/agreements/{uid}/revoke"): Example({"uid": found.agreement},
                                                     form={"reason": "Zweck entfallen"}),
        ("GET", "/agreements/{uid}.jsonld"): Example({"uid": found.agreement}),
        ("GET", "/api/v1/harvest/sources"): Example(),
        ("POST", "/api/v1/harvest/sources"): Example(json={
            "name": "neu", "type": "dcat", "url": "https://portal.example/catalog.ttl",
            "organization": "dortmund"}),
        ("GET", "/api/v1/harvest/sources/{name}"): Example({"name": "portal"}),
        ("PATCH", "/api/v1/harvest/sources/{name}"): Example({"name": "portal"},
                                                            json={"schedule": "daily"}),
        ("DELETE", "/api/v1/harvest/sources/{name}"): Example({"name": "portal-weg"}),
        ("GET", "/api/v1/harvest/sources/{name}/runs"): Example({"name": "portal"}),
        ("POST", "/api/v1/harvest/sources/{name}/runs"): Example({"name": "portal"}),
        ("GET", "/harvest"): Example(),
        ("POST", "/harvest"): Example(form={
            "name": "neu-ui", "type": "ckan", "url": "https://portal.example/",
            "organization": "dortmund", "schedule": "off"}),
        ("GET", "/harvest/{name}"): Example({"name": "portal"}),
        ("POST", "/harvest/{name}"): Example({"name": "portal"}, form={
            "url": "https://portal.example/", "schedule": "weekly"}),
        ("POST", "/harvest/{name}/runs"): Example({"name": "portal"}, form={}),
        ("POST", "/harvest/{name}/delete"): Example({"name": "portal-weg-ui"}, form={}),
        # The CKAN Action API: one route per mount; every action is audited on its own in
        # tests/test_ckan.py.
        ("GET", "/api/3/action/{name}"): Example({"name": "package_search"}),
        ("POST", "/api/3/action/{name}"): Example({"name": "package_show"},
                                                  json={"id": found.dataset}),
        ("GET", "/api/action/{name}"): Example({"name": "package_list"}),
        ("POST", "/api/action/{name}"): Example({"name": "datastore_search"},
                                                json={"resource_id": found.resource}),
        # The DCAT-AP.de catalog
        ("GET", "/catalog"): Example(),
        ("GET", "/catalog.{format}"): Example({"format": "rdf"}, query={"per_page": "5"}),
        ("GET", "/catalog/datasets/{file}"): Example({"file": f"{found.dataset}.jsonld"}),
        # OGC API Features: the collection of the dataset's one table with geometries
        ("GET", "/ogc/collections"): Example(),
        ("GET", "/ogc/collections/{collection_id}"): Example({"collection_id": "lade"}),
        ("GET", "/ogc/collections/{collection_id}/items"): Example(
            {"collection_id": "lade"}, query={"bbox": "7,51,8,52"}),
        ("GET", "/ogc/collections/{collection_id}/items/{feature_id}"): Example(
            {"collection_id": "lade", "feature_id": "1"}),
    }


DAY = dt.timedelta(days=1)


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _offer() -> dict[str, Any]:
    """An ODRL offer of the restricted dataset to the admin, for a day, for research."""
    window = [{"leftOperand": "dateTime", "operator": operator, "rightOperand": moment}
              for operator, moment in (("gteq", _now().isoformat()),
                                       ("lt", (_now() + DAY).isoformat()))]
    return {"@context": "http://www.w3.org/ns/odrl.jsonld", "@type": "Offer",
            "target": "http://127.0.0.1:8000/datasets/geheim",
            "assignee": "mailto:admin@test.allmende.de",
            "permission": [{"action": "use", "constraint": [*window, {
                "leftOperand": "purpose", "operator": "eq", "rightOperand": "forschung"}]}]}


def _call(client: TestClient, method: str, path: str, example: Example, csrf: str) -> int:
    url = path.format(**example.params)
    if method == "MOUNT":
        return 200
    data = None
    if example.form is not None:
        data = {"csrf_token": csrf, **example.form}
    response = client.request(method, url, params=example.query, json=example.json,
                              data=data, files=example.files,
                              headers={"X-CSRF-Token": csrf}, follow_redirects=False)
    return response.status_code


def test_every_route_asks_the_policy_or_is_listed_as_public(platform, world, tmp_path):
    found = _seed(platform, tmp_path)
    platform.settings.inprocess_worker = False
    app = create_app(platform)
    audited = Audited(app)
    every = sorted(set(routes(app)), key=lambda r: (r[1], r[0]))
    examples = _examples(found)
    unknown = [r for r in every if r not in examples and r not in PUBLIC]
    assert not unknown, f"routes without an example request (add one, or list as PUBLIC): " \
                        f"{unknown}"
    assert not set(examples) & set(PUBLIC), "a route is both public and audited"
    assert not (set(examples) | set(PUBLIC)) - set(every), "examples of routes that are gone"

    undecided, failed = [], []
    with TestClient(audited) as client:
        page = client.get("/login").text
        csrf = page.split('name="csrf_token" value="')[1].split('"')[0]
        client.post("/login", data={"csrf_token": csrf, "email": "sysadmin@test.allmende.de",
                                    "password": PASSWORD}, follow_redirects=False)
        csrf = client.get("/account/tokens").text.split(
            'name="csrf_token" value="')[1].split('"')[0]
        # reads first, then writes, deletions last: every example finds its objects
        order = {"GET": 0, "POST": 1, "PUT": 1, "PATCH": 1, "DELETE": 2, "MOUNT": 3}
        for method, path in sorted(every, key=lambda r: order[r[0]]):
            if (method, path) in PUBLIC:
                continue
            status = _call(client, method, path, examples[(method, path)], csrf)
            if status >= 500 or status in (401, 403, 404, 405):
                failed.append((method, path, status))
            if not audited.decisions:
                undecided.append((method, path, status))
    assert not failed, f"example requests a sysadmin could not make: {failed}"
    assert not undecided, f"routes that made no policy decision: {undecided}"
    assert len(every) == len(examples) + len(PUBLIC)
    print(f"{len(examples)} routes ask the policy, {len(PUBLIC)} are public")


@pytest.mark.parametrize("who", ["anonymous", "outsider"])
def test_jobs_are_read_by_their_creator_only(client, world, who):
    """Jobs the platform queued itself (no creator) are not anyone's to read."""
    with world.platform.db.session() as session:
        system_job = queue.enqueue(session, "consolidate", {"schema": "x"}, OPERATOR).id
    headers = world.auth(None if who == "anonymous" else who)
    assert client.get(f"/api/v1/jobs/{system_job}", headers=headers).status_code == 404
    assert client.get(f"/api/v1/jobs/{system_job}",
                      headers=world.auth("sysadmin")).status_code == 200
