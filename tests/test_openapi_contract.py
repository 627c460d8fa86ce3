"""The OpenAPI document tells the truth: Schemathesis drives every operation of /api/v1 in
this process (no network) against a small seeded world, and every answer must be one the
document describes (status, content type, body, headers), never a server error. A bounded run
with a fixed seed, so it fails the same way twice; only revoking the run's own token is left
out (it would sign the run out halfway). Below it, what the run found, pinned as plain tests.

The run judges the HTTP layer, which both backends share; `make test` runs it on one backend
(PostgreSQL when configured: its stricter types and text, NUL characters and 32-bit integers,
are where backend-specific 500s hide; what runs found is pinned below, on both), and
`make fuzz` on both."""

from __future__ import annotations

import shutil
import tempfile
from collections import defaultdict
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from fastapi.testclient import TestClient
from schemathesis.engine import Status, events

from allmende.platform import Platform
from databases import Installation
from properties import FUZZ_EXAMPLES
from support import BACKENDS, DORTMUND_CSV, World, dataset_body, mapped_source

SEED = 20261204
MAX_EXAMPLES = 8
CHECKS = ("not_a_server_error", "status_code_conformance", "content_type_conformance",
          "response_schema_conformance", "response_headers_conformance", "unsupported_method",
          "negative_data_rejection")
# `make fuzz` sets ALLMENDE_FUZZ_EXAMPLES: then the run is made on every backend.
RUN_BACKENDS = BACKENDS if FUZZ_EXAMPLES else BACKENDS[-1:]
SELF_REVOCATION = {"include-method": "DELETE", "include-path": "/api/v1/me/tokens/{token_id}",
                   "enabled": False}


def _seed_contract(platform: Platform, seeded: dict[str, Any]) -> dict[str, Any]:
    """The world plus a mapped table (rows, versions, a mapping, a quality report and a
    regional table for the operations to find)."""
    folder = Path(tempfile.mkdtemp())
    try:
        resource = mapped_source(platform, folder, "ladesaeulen-dortmund", "dortmund",
                                 DORTMUND_CSV)
    finally:
        shutil.rmtree(folder)
    return {"resource": resource}


TEMPLATES = {"contract": (_seed_contract, "world")}


@pytest.fixture
def contract(installation: Installation) -> dict[str, Any]:
    return installation.seeded


def _config(token: str) -> schemathesis.Config:
    return schemathesis.Config.from_dict({
        "seed": SEED,
        # a busy CI machine must not fail the run: how fast data is generated is no finding
        "suppress-health-check": ["too_slow"],
        "continue-on-failure": True,
        "headers": {"Authorization": f"Bearer {token}"},
        "generation": {"max-examples": MAX_EXAMPLES, "database": "none"},
        "checks": {"enabled": False, **{name: {"enabled": True} for name in CHECKS}},
        "operations": [SELF_REVOCATION],
    })


def _failures(schema: Any) -> tuple[int, dict[tuple[str, str], list[str]]]:
    """How many cases ran, and each check's failures per operation (one line per case)."""
    found: dict[tuple[str, str], list[str]] = defaultdict(list)
    cases = 0
    for event in schemathesis.engine.from_schema(schema).execute():
        if isinstance(event, events.NonFatalError):  # an exception out of the app: a 500
            found[("exception", event.label)].append(
                f"{type(event.value).__name__}: {event.value}")
        if not isinstance(event, events.ScenarioFinished):
            continue
        cases += len(event.recorder.cases)
        for case_id, checks in event.recorder.checks.items():
            for check in checks:
                if check.status != Status.FAILURE:
                    continue
                case = event.recorder.cases[case_id].value
                interaction = event.recorder.interactions.get(case_id)
                status = interaction.response.status_code if interaction and \
                    interaction.response else None
                title = check.failure_info.failure.title if check.failure_info else ""
                found[(check.name, event.recorder.label)].append(
                    f"{case.method} {case.formatted_path} {case.query or ''} "
                    f"{str(case.body)[:300] if case.body is not None else ''} → {status}: {title}")
    return cases, found


@pytest.mark.property
@pytest.mark.parametrize("installation", RUN_BACKENDS, indirect=True)
def test_schemathesis_finds_no_server_error_and_no_undocumented_answer(
        client: TestClient, contract: dict[str, Any]) -> None:
    schema = schemathesis.openapi.from_asgi("/api/v1/openapi.json", client.app,
                                            config=_config(contract["tokens"]["sysadmin"]))
    cases, failures = _failures(schema)
    report = "\n".join(f"{check} {operation}: {len(lines)}×, e.g. {lines[0]}"
                       for (check, operation), lines in sorted(failures.items()))
    assert not failures, report
    assert cases > 1000  # the run did run


# --- what the run found, pinned --------------------------------------------------------------

@pytest.mark.parametrize(("method", "path", "allow"), [
    ("TRACE", "/api/v1/datasets", "GET, POST"),
    ("PUT", "/api/v1/datasets/spielplaetze", "GET, PATCH, DELETE"),
    ("OPTIONS", "/api/v1/me", "GET"),
    ("TRACE", "/api/v1/resources/x/mapping", "GET, PUT"),
])
def test_a_method_the_path_lacks_is_405_with_every_method_it_has(
        client: TestClient, method: str, path: str, allow: str) -> None:
    response = client.request(method, path)
    assert response.status_code == 405
    assert response.headers["allow"] == allow
    assert response.json()["error"]["code"] == "method_not_allowed"


def test_nul_is_refused_where_it_stands(client: TestClient, world: World) -> None:
    editor = world.auth("editor")
    nul = "\x00"

    def refused(response: Any) -> list[str]:
        assert response.status_code == 422, response.text
        fields = response.json()["error"]["fields"]
        assert {f["message"] for f in fields} == {
            "Das Nullzeichen (U+0000) ist hier nicht erlaubt."}
        return [f["field"] for f in fields]

    assert refused(client.get("/api/v1/datasets/a%00b", headers=editor)) == ["name"]
    assert refused(client.get("/api/v1/datasets", params={"q": f"a{nul}"})) == ["q"]
    assert refused(client.get("/api/v1/resources/x/rows", params={f"Spalte{nul}": "1"})) \
        == [f"Spalte{nul}"]
    assert refused(client.post("/api/v1/datasets", headers=editor, json=dataset_body(
        "nul", title=f"Spiel{nul}plätze", keywords=["ok", f"a{nul}"]))) == ["title", "keywords.1"]
    assert client.post("/api/v1/datasets", headers=editor,
                       json=dataset_body("nul")).status_code == 201
    assert refused(client.post("/api/v1/datasets/nul/resources", headers=editor,
                               data={"name": f"Ressource{nul}"},
                               files={"file": ("a.csv", b"a;b\n1;2\n", "text/csv")})) == ["name"]
    # a file name as a client may send it, NUL byte and all (httpx would escape it)
    body = (b'--grenze\r\nContent-Disposition: form-data; name="file"; filename="a\x00.csv"'
            b'\r\nContent-Type: text/csv\r\n\r\na;b\n1;2\n\r\n--grenze--\r\n')
    assert refused(client.post("/api/v1/datasets/nul/resources", content=body, headers={
        **editor, "Content-Type": "multipart/form-data; boundary=grenze"})) == ["file"]
    english = client.get("/api/v1/datasets/a%00b", headers={**editor, "Accept-Language": "en"})
    assert english.json()["error"]["fields"][0]["message"] == \
        "The NUL character (U+0000) is not allowed here."


def test_the_search_refuses_facet_values_no_dataset_can_have(client: TestClient) -> None:
    for params, field, message in [
        ({"theme": ["TRAN", "VERKEHR"]}, "theme.1", "Erlaubt: AGRI, ECON, EDUC"),
        ({"organization": "Stadt Dortmund"}, "organization.0", "Nur Kleinbuchstaben"),
        ({"access_level": "secret"}, "access_level.0", "Erlaubt: public, members, restricted."),
        ({"license": "CC-BY"}, "license.0", "Erlaubt: dl-by-de/2.0"),
        ({"sort": "name"}, "sort", "Erlaubt: relevance, modified, title, id."),
        ({"keyword": "x" * 101}, "keyword.0", "Ist zu lang (höchstens 100 Zeichen)."),
    ]:
        response = client.get("/api/v1/datasets", params=params)
        assert response.status_code == 422, params
        [error] = response.json()["error"]["fields"]
        assert error["field"] == field and error["message"].startswith(message), error
    found = client.get("/api/v1/datasets", params={
        "theme": "TRAN", "organization": "dortmund", "access_level": "public",
        "license": "dl-by-de/2.0", "format": "CSV", "keyword": "Verkehr"})
    assert found.status_code == 200


def test_ids_and_pages_beyond_what_the_database_holds_are_refused(
        client: TestClient, world: World) -> None:
    """PostgreSQL integers end at 2**31 - 1: a larger id was a 500 on both backends."""
    sysadmin = world.auth("sysadmin")
    beyond = 2**31
    for method, url in [("GET", f"/api/v1/jobs/{beyond}"),
                        ("DELETE", f"/api/v1/me/tokens/{beyond}"),
                        ("GET", f"/api/v1/datasets?page={beyond}"),
                        ("GET", f"/api/v1/resources/x/versions?page={beyond}")]:
        response = client.request(method, url, headers=sysadmin)
        assert response.status_code == 422, url
        assert response.json()["error"]["fields"][0]["message"] == "Höchstens 2147483647."
    assert client.get(f"/api/v1/jobs/{beyond - 1}", headers=sysadmin).status_code == 404


def test_bodies_are_read_as_the_schema_writes_them(client: TestClient, world: World) -> None:
    editor, sysadmin = world.auth("editor"), world.auth("sysadmin")
    for extra, field in [({"issued": 0}, "issued"), ({"draft": 1}, "draft"),
                         ({"themes": ["VERKEHR"]}, "themes")]:
        response = client.post("/api/v1/datasets", headers=editor,
                               json=dataset_body("strikt", **extra))
        assert response.status_code == 422, extra
        assert [f["field"] for f in response.json()["error"]["fields"]] == [field]
    # each of these was a 500
    for schema, field in [
        ({"name": "strikt", "fields": [{"name": "a"}], "primaryKey": {}}, "primaryKey"),
        ({"name": "strikt", "fields": [{"name": "a", "type": {}}]}, "a"),
        ({"name": "strikt", "fields": [{"name": "a"}], "x-allmende": {"rules": 1}},
         "x-allmende"),
        ({"name": "strikt", "fields": [{"name": "a"}],
          "x-allmende": {"coordinates": {"lat": ["a"]}}}, "x-allmende"),
    ]:
        response = client.post("/api/v1/schemas", headers=sysadmin, json=schema)
        assert response.status_code == 422, schema
        assert response.json()["error"]["fields"][0]["field"] == field
    for coordinates in ([[{}]], [["7.4", "51.5"]], [[[7.4, True]]]):
        response = client.patch("/api/v1/organizations/dortmund", headers=sysadmin,
                                json={"area": {"type": "Polygon", "coordinates": coordinates}})
        assert response.status_code == 422, coordinates
        assert response.json()["error"]["fields"][0]["field"] == "area"
    patched = client.patch("/api/v1/organizations/dortmund", headers=sysadmin,
                           json={"website": "https://www.dortmund.de", "ags": None})
    assert patched.status_code == 200, patched.text
    assert patched.json()["website"] == "https://www.dortmund.de"
    assert client.patch("/api/v1/organizations/dortmund", headers=sysadmin,
                        json={"name": None}).status_code == 422


def test_every_operation_documents_its_errors_in_the_one_error_shape(
        client: TestClient) -> None:
    spec = client.get("/api/v1/openapi.json").json()
    assert "HTTPValidationError" not in spec["components"]["schemas"]
    error_shape = {"$ref": "#/components/schemas/ErrorBody"}
    for path, item in spec["paths"].items():
        for method, operation in item.items():
            answers = operation["responses"]
            errors = {status for status in answers if status.startswith("4")}
            assert "422" in errors, (method, path)
            for status in errors:
                assert answers[status]["content"]["application/json"]["schema"] == \
                    error_shape, (method, path, status)
            if method != "get":
                assert {"401", "403"} <= errors, (method, path)
