"""Federation: a municipality runs its own allmende node and the regional hub harvests it.

Two real instances on loopback, each an `allmende serve` with its own database, data directory
and ALLMENDE_BASE_URL: the node on SQLite (what a municipality runs by default), the hub on each
backend. The hub's operator works with the `allmende harvest` commands; the municipality changes
its data at its own node through the node's API. The hub must follow every change after its next
run and never show more than an anonymous reader of the node sees."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from allmende.catalog import datasets
from allmende.ingest.service import IngestRequest, ingest
from allmende.platform import Platform
from cli_support import InProcess
from cluster import Cluster, ended, wait
from databases import Installation, Templates
from support import DORTMUND_CSV, OPERATOR, World, dataset_body, http

LOOPBACK = {"ALLMENDE_HARVEST_ALLOWED_NETWORKS": "127.0.0.0/8,::1/128"}


@dataclass
class Node:
    """The municipality's own allmende: its address and its admin's token."""

    url: str
    admin: dict[str, str]

    def anonymous(self) -> dict[str, dict[str, Any]]:
        """Every dataset an anonymous reader of the node finds, by its UUID."""
        return _catalog(self.url, {})

    def rows(self, resource: str) -> int | None:
        answer = http("GET", f"{self.url}/api/v1/resources/{resource}/rows", timeout=30)
        return answer.json()["total"] if answer.status_code == 200 else None


def _catalog(url: str, headers: dict[str, str]) -> dict[str, dict[str, Any]]:
    found: dict[str, dict[str, Any]] = {}
    page = 1
    while True:
        answer = http("GET", f"{url}/api/v1/datasets", params={"page": page, "per_page": 100},
                      headers=headers, timeout=30)
        assert answer.status_code == 200, answer.text
        items = answer.json()["results"]
        found.update({item["id"]: item for item in items})
        if len(items) < 100:
            return found
        page += 1


def _seed_node(platform: Platform, folder: Path) -> None:
    """What Dortmund publishes at its node: open data with a table, a dataset for alliance
    members only, a restricted one (metadata public, rows not), a draft and a deleted one."""
    source = folder / "ladesaeulen.csv"
    source.write_text(DORTMUND_CSV, encoding="utf-8")
    with platform.db.session() as session:
        datasets.create_dataset(session, OPERATOR, dataset_body("ladesaeulen"))
        datasets.create_dataset(session, OPERATOR, dataset_body(
            "baustellen", title="Baustellen in Dortmund", themes=["TRAN"],
            keywords=["Baustelle", "Verkehr"]))
        datasets.create_dataset(session, OPERATOR, dataset_body(
            "intern", title="Interne Verkehrszählung", access_level="members"))
        datasets.create_dataset(session, OPERATOR, dataset_body(
            "schulwege", title="Schulwegsicherung", access_level="restricted"))
        datasets.create_dataset(session, OPERATOR, dataset_body(
            "entwurf", title="Entwurf Radwegenetz", draft=True))
        datasets.create_dataset(session, OPERATOR, dataset_body(
            "alt", title="Alte Parkscheinautomaten"))
        datasets.delete_dataset(session, OPERATOR, "alt")
    for name in ("ladesaeulen", "schulwege"):
        ingest(platform, OPERATOR, IngestRequest(name, source, "ladesaeulen.csv"))


@contextmanager
def _node_in(templates: Templates, folder: Path) -> Iterator[Node]:
    installation = templates.install("sqlite", "world", folder / "node")
    platform = installation.platform()
    try:
        _seed_node(platform, folder)
        with Cluster(platform) as processes:
            yield Node(processes.web(), World(platform, installation.seeded["tokens"])
                       .auth("admin"))
    finally:
        platform.close()


@pytest.fixture(scope="module")
def node(templates: Templates, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Node]:
    """The node, shared by the tests that only read it (harvesting changes nothing there)."""
    with _node_in(templates, tmp_path_factory.mktemp("node")) as shared:
        yield shared


@pytest.fixture
def changing_node(templates: Templates, tmp_path: Path) -> Iterator[Node]:
    """A node of the test's own, for a test that changes it."""
    with _node_in(templates, tmp_path) as own:
        yield own


@pytest.fixture
def hub(installation: Installation, world: World, cluster: Cluster) -> str:
    """The hub's web server, on the test's backend (the `world` template: Dortmund and
    Bochum exist there too)."""
    return cluster.web(**LOOPBACK)


def _harvest(allmende: InProcess, installation: Installation, tmp_path: Path,
             *args: str) -> dict[str, Any]:
    result = allmende("harvest", *args, cwd=tmp_path, env={**installation.env(), **LOOPBACK})
    assert result.returncode == 0, result.stdout + result.stderr
    return json.loads(result.stdout) if "--json" in args else {}


def _run(allmende: InProcess, installation: Installation, tmp_path: Path) -> dict[str, Any]:
    report = _harvest(allmende, installation, tmp_path, "run", "dortmund-knoten", "--json")
    assert report["source"] == "dortmund-knoten"
    assert report["failed"] == [], report
    return report


def _hub_view(hub: str, world: World) -> dict[str, dict[str, Any]]:
    """What the hub shows of Dortmund's harvested datasets, to anonymous and to the sysadmin."""
    anonymous = {k: v for k, v in _catalog(hub, {}).items()
                 if v["organization"]["slug"] == "dortmund"}
    everything = {k: v for k, v in _catalog(hub, world.auth("sysadmin")).items()
                  if v["organization"]["slug"] == "dortmund"}
    assert anonymous.keys() <= everything.keys()
    return everything


def _same_metadata(hub_view: dict[str, dict[str, Any]], node_view: dict[str, dict[str, Any]]
                   ) -> dict[str, str]:
    """The hub's harvested datasets, by title, each matched to the node's by its origin."""
    titles = {item["title"]: item for item in hub_view.values()}
    expected = {item["title"]: item for item in node_view.values()}
    assert titles.keys() == expected.keys()
    for title, item in titles.items():
        assert item["description"] == expected[title]["description"]
        assert sorted(item["keywords"]) == sorted(expected[title]["keywords"])
    return {title: item["name"] for title, item in titles.items()}


def test_the_hub_follows_the_node_and_shows_no_more_than_its_anonymous_readers(
        changing_node: Node, hub: str, installation: Installation, world: World, tmp_path: Path,
        allmende: InProcess) -> None:
    node = changing_node
    _harvest(allmende, installation, tmp_path, "source", "create", "dortmund-knoten",
             "--type", "allmende", "--url", node.url, "--org", "dortmund")

    # first run: exactly what an anonymous reader of the node sees
    visible = node.anonymous()
    assert {v["name"] for v in visible.values()} == {"ladesaeulen", "baustellen", "schulwege"}
    report = _run(allmende, installation, tmp_path)
    assert (report["created"], report["updated"], report["deleted"]) == (3, 0, 0)
    names = _same_metadata(_hub_view(hub, world), visible)

    # harvested datasets are the municipality's: read-only at the hub, linked to their origin
    shown = http("GET", f"{hub}/api/v1/datasets/{names['E-Ladesäulen in Dortmund']}",
                 timeout=30).json()
    assert shown["title"] == "E-Ladesäulen in Dortmund"
    refused = http("PATCH", f"{hub}/api/v1/datasets/{shown['name']}", json={"title": "Anders"},
                   headers=world.auth("sysadmin"), timeout=30)
    assert refused.status_code in (403, 409), refused.text
    page = http("GET", f"{hub}/datasets/{shown['name']}", timeout=30)
    assert page.status_code == 200
    assert node.url in page.text, "the dataset page must link back to the node"

    # nothing changed: the next run changes nothing
    report = _run(allmende, installation, tmp_path)
    assert (report["created"], report["updated"], report["deleted"]) == (0, 0, 0)

    # the municipality edits, withdraws, restricts and publishes at its node
    ladesaeulen = next(k for k, v in visible.items() if v["name"] == "ladesaeulen")
    edits = [
        ("patch", "ladesaeulen", {"title": "Ladesäulen Dortmund (aktualisiert)"}),
        ("delete", "baustellen", None),
        ("patch", "intern", {"access_level": "public"}),
        ("patch", "entwurf", {"draft": False}),
    ]
    for verb, name, body in edits:
        answer = http(verb.upper(), f"{node.url}/api/v1/datasets/{name}", json=body,
                      headers=node.admin, timeout=30)
        assert answer.status_code in (200, 204), (name, answer.text)
    visible = node.anonymous()
    assert {v["name"] for v in visible.values()} == {
        "ladesaeulen", "schulwege", "intern", "entwurf"}

    report = _run(allmende, installation, tmp_path)
    assert (report["created"], report["updated"], report["deleted"]) == (2, 1, 1), report
    names = _same_metadata(_hub_view(hub, world), visible)
    renamed = http("GET", f"{hub}/api/v1/datasets/{names['Ladesäulen Dortmund (aktualisiert)']}",
                   timeout=30).json()
    assert renamed["title"] == "Ladesäulen Dortmund (aktualisiert)"
    assert visible[ladesaeulen]["title"] == renamed["title"]

    # a dataset the node hides from anonymous readers again disappears from the hub
    answer = http("PATCH", f"{node.url}/api/v1/datasets/intern", json={"access_level": "members"},
                  headers=node.admin, timeout=30)
    assert answer.status_code == 200, answer.text
    report = _run(allmende, installation, tmp_path)
    assert (report["created"], report["updated"], report["deleted"]) == (0, 0, 1), report
    _same_metadata(_hub_view(hub, world), node.anonymous())


def test_a_name_taken_at_the_hub_gets_the_source_as_prefix(
        node: Node, hub: str, installation: Installation, world: World, tmp_path: Path,
        allmende: InProcess) -> None:
    own = http("POST", f"{hub}/api/v1/datasets", json=dataset_body(
        "baustellen", title="Baustellen der Hub-Redaktion"), headers=world.auth("sysadmin"),
        timeout=30)
    assert own.status_code == 201, own.text
    _harvest(allmende, installation, tmp_path, "source", "create", "dortmund-knoten",
             "--type", "allmende", "--url", node.url, "--org", "dortmund")
    report = _run(allmende, installation, tmp_path)
    assert report["created"] == 3
    hub_names = {v["name"]: v["title"] for v in _hub_view(hub, world).values()}
    assert hub_names["baustellen"] == "Baustellen der Hub-Redaktion"
    assert hub_names["dortmund-knoten-baustellen"] == "Baustellen in Dortmund"


def test_the_hub_serves_rows_only_where_the_node_does(
        node: Node, hub: str, installation: Installation, world: World, tmp_path: Path,
        allmende: InProcess, platform: Platform, cluster: Cluster) -> None:
    _harvest(allmende, installation, tmp_path, "source", "create", "dortmund-knoten",
             "--type", "allmende", "--url", node.url, "--org", "dortmund",
             "--ingest-resources")
    report = _run(allmende, installation, tmp_path)
    assert report["created"] == 3
    cluster.worker(**LOOPBACK)  # the hub's worker ingests what the run fetched
    wait(ended(platform, None), "the hub's ingest jobs did not end")
    node_rows = {v["title"]: [node.rows(r["id"]) for r in v["resources"]]
                 for v in node.anonymous().values()}
    assert node_rows["E-Ladesäulen in Dortmund"] == [4]
    assert node_rows["Schulwegsicherung"] == [None]  # restricted: metadata yes, rows no
    for item in _hub_view(hub, world).values():
        for resource in item["resources"]:
            answer = http("GET", f"{hub}/api/v1/resources/{resource['id']}/rows",
                          headers=world.auth("sysadmin"), timeout=30)
            served = answer.json()["total"] if answer.status_code == 200 else None
            assert served in (None, *node_rows[item["title"]]), (item["title"], answer.text)
            if item["title"] == "Schulwegsicherung":
                assert served is None
    ladesaeulen = next(v for v in _hub_view(hub, world).values()
                       if v["title"] == "E-Ladesäulen in Dortmund")
    totals = [http("GET", f"{hub}/api/v1/resources/{r['id']}/rows", timeout=30).json()["total"]
              for r in ladesaeulen["resources"]]
    assert totals == [4], "the ingested table of the node's open dataset"
