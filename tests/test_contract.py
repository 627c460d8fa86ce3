"""The Foundation's fixed points (docs/cli.md, docs/api.md and the project's contract): names
that users, scripts and external tools rely on."""

from __future__ import annotations

import os
import re
import subprocess
from concurrent.futures import ThreadPoolExecutor

import pytest

from allmende.catalog.organizations import SLUG, check_slug
from support import dataset_body
from zygote import CLI

FOUNDATION_COMMANDS = [
    ["serve"], ["demo"], ["db", "upgrade"], ["org", "create"], ["user", "create"],
    ["token", "create"],
]


def test_healthz(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


def test_openapi_document(client):
    response = client.get("/api/v1/openapi.json")
    assert response.status_code == 200
    spec = response.json()
    assert spec["openapi"].startswith("3.")
    paths = spec["paths"]
    assert {"get", "post"} <= set(paths["/api/v1/datasets"])
    assert {"get", "patch", "delete"} <= set(paths["/api/v1/datasets/{name}"])
    assert "/api/v1/organizations" in paths
    search = {p["name"] for p in paths["/api/v1/datasets"]["get"]["parameters"]}
    assert {"q", "organization", "theme", "page", "per_page"} <= search


def test_api_docs_ship_their_assets(client):
    docs = client.get("/api/docs")
    assert docs.status_code == 200
    assert "text/html" in docs.headers["content-type"]
    assert "/api/v1/openapi.json" in docs.text
    assets = re.findall(r'(?:src|href)="([^"]+)"', docs.text)
    assert assets, "the docs page loads scripts and styles"
    for asset in assets:
        assert asset.startswith("/"), f"{asset} is not served by allmende itself"
        assert client.get(asset).status_code == 200, asset
    assert "cdn" not in docs.text.lower()
    assert "https://" not in docs.text


def test_dataset_search_shape(client):
    response = client.get("/api/v1/datasets")
    assert response.status_code == 200
    body = response.json()
    assert {"count", "results", "facets"} <= set(body)
    assert body["count"] == 0 and body["results"] == []
    assert {"organization", "theme"} <= set(body["facets"])


def test_create_dataset_minimal_body_gets_defaults(client, world):
    minimal = {"name": "minimal", "title": "Minimal", "description": "Nur das Nötigste.",
               "organization": "dortmund"}
    response = client.post("/api/v1/datasets", json=minimal, headers=world.auth("editor"))
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["name"] == "minimal"
    assert body["license"] == "dl-by-de/2.0"
    assert body["access_level"] == "public"
    assert body["draft"] is False and body["deleted"] is False
    assert body["resources"] == []
    read = client.get("/api/v1/datasets/minimal")
    assert read.status_code == 200 and read.json()["resources"] == []
    found = client.get("/api/v1/datasets").json()
    assert found["count"] == 1 and found["results"][0]["name"] == "minimal"
    assert found["facets"]["organization"][0]["value"] == "dortmund"


def test_create_dataset_requires_the_four_fields(client, world):
    for missing in ("name", "title", "description", "organization"):
        body = {k: v for k, v in dataset_body().items() if k != missing}
        response = client.post("/api/v1/datasets", json=body, headers=world.auth("editor"))
        assert response.status_code == 422, missing
        assert missing in {f["field"] for f in response.json()["error"]["fields"]}


def test_dataset_read_includes_resources(client, world):
    editor = world.auth("editor")
    client.post("/api/v1/datasets", json=dataset_body(resources=[
        {"name": "Daten", "format": "csv", "url": "https://example.org/d.csv"}]), headers=editor)
    resources = client.get("/api/v1/datasets/ladesaeulen").json()["resources"]
    assert [(r["name"], r["format"]) for r in resources] == [("Daten", "CSV")]


@pytest.mark.parametrize(("slug", "valid"), [
    ("a", True), ("0", True), ("dortmund", True), ("kreis-unna", True), ("a" * 100, True),
    ("a-", True), ("a" * 101, False), ("-a", False), ("Dortmund", False), ("a_b", False),
    ("a.b", False), ("dortmünd", False), ("a b", False), ("", False), ("abc\n", False),
])
def test_slug_rule(slug, valid):
    assert bool(SLUG.fullmatch(slug)) is valid
    if valid:
        assert check_slug(slug) == slug
    else:
        with pytest.raises(ValueError, match="Kleinbuchstaben"):
            check_slug(slug)


def test_slug_rule_applies_to_datasets_and_organizations(client, world):
    editor, sysadmin = world.auth("editor"), world.auth("sysadmin")
    for slug, status in (("a" * 100, 201), ("a" * 101, 422), ("-a", 422), ("A1", 422),
                         ("x_y", 422), ("7-tage", 201)):
        response = client.post("/api/v1/datasets", json=dataset_body(name=slug), headers=editor)
        assert response.status_code == status, (slug, response.text)
        response = client.post("/api/v1/organizations", headers=sysadmin,
                               json={"slug": slug, "name": "Org"})
        assert response.status_code == status, (slug, response.text)


def test_errors_have_one_shape(client, world):
    responses = [
        client.get("/api/v1/datasets/fehlt"),  # 404
        client.post("/api/v1/datasets", json=dataset_body()),  # 401
        client.post("/api/v1/datasets", json=dataset_body(), headers=world.auth("member")),  # 403
        client.post("/api/v1/datasets", json={}, headers=world.auth("editor")),  # 422
        client.get("/api/v1/gibt-es-nicht"),  # 404 of the router
    ]
    assert [r.status_code for r in responses] == [404, 401, 403, 422, 404]
    for response in responses:
        error = response.json()["error"]
        assert isinstance(error["code"], str) and error["code"]
        assert isinstance(error["message"], str) and error["message"]


def _clean_env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith("ALLMENDE_")}


def test_every_foundation_command_answers_help(tmp_path):
    assert CLI.exists(), f"{CLI} is missing: run `make install`"

    def run(command: list[str]) -> tuple[list[str], int, str, str]:
        result = subprocess.run([str(CLI), *command, "--help"], capture_output=True, text=True,
                                cwd=tmp_path, env=_clean_env(), timeout=120)
        return command, result.returncode, result.stdout, result.stderr

    with ThreadPoolExecutor(max_workers=3) as pool:
        results = list(pool.map(run, [[], *FOUNDATION_COMMANDS]))
    for command, status, stdout, stderr in results:
        assert status == 0, (command, stderr)
        assert "Usage" in stdout, command
        assert "Traceback (most recent call last)" not in stdout + stderr, command
    by_command = {" ".join(c): out for c, _s, out, _e in results}
    for group in ("serve", "demo", "db", "org", "user", "token"):
        assert group in by_command[""], group
    for option in ("--name", "--ags", "--type", "--bbox", "--json"):
        assert option in by_command["org create"], option
    for option in ("--password", "--org", "--role", "--sysadmin", "--json"):
        assert option in by_command["user create"], option
    for option in ("--host", "--port", "--demo"):
        assert option in by_command["serve"], option
    assert "--name" in by_command["token create"]
    for option in ("--data-dir", "--debug"):
        assert option in by_command[""], option
    # Asking for help creates no data directory.
    assert not (tmp_path / "data").exists()
