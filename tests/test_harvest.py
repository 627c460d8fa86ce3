"""Harvesting: another allmende node served live (its CKAN API, its DCAT catalog), changes
and deletions propagating, read-only harvested datasets, incremental runs, and hostile
sources (small stdlib servers) that must fail a run with a clear reason and delete nothing."""

from __future__ import annotations

import datetime as dt
import http.server
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from ipaddress import ip_address
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from allmende.access.policy import ANONYMOUS
from allmende.catalog import datasets, organizations
from allmende.db.models import Dataset, HarvestRun, HarvestSource
from allmende.interop.harvest import service
from allmende.interop.harvest.fetch import refused_address
from allmende.platform import Platform
from allmende.web.app import create_app
from databases import Templates
from support import OPERATOR, dataset_body, free_port, served

LOOPBACK = "127.0.0.0/8,::1"
PUBLIC = 6


# --- a node to harvest -------------------------------------------------------------------

def _seed_node(node: Platform) -> None:
    """Public datasets of Dortmund with a link each, one restricted (its metadata is public),
    one for members only and one draft (neither seen by an anonymous reader)."""
    with node.db.session() as session:
        for i in range(PUBLIC):
            datasets.create_dataset(session, OPERATOR, dataset_body(
                f"baeume-{i}", title=f"Straßenbäume {i}", keywords=["Stadtgrün"],
                themes=["ENVI"], license="cc-by/4.0", resources=[
                    {"name": "Liste", "url": f"https://example.org/baeume-{i}.csv",
                     "format": "CSV"}]))
        datasets.create_dataset(session, OPERATOR, dataset_body(
            "vertraulich", access_level="restricted"))
        datasets.create_dataset(session, OPERATOR, dataset_body(
            "intern", access_level="members"))
        datasets.create_dataset(session, OPERATOR, dataset_body("entwurf", draft=True))


@pytest.fixture
def node(templates: Templates, tmp_path: Path) -> Iterator[tuple[Platform, str]]:
    """Another allmende node (SQLite, world seeded) served on loopback: (platform, URL)."""
    installation = templates.install("sqlite", "world", tmp_path / "node")
    port = free_port()
    platform = installation.platform(base_url=f"http://127.0.0.1:{port}")
    _seed_node(platform)
    with served(create_app(platform), port) as address:
        yield platform, f"http://{address}"
    platform.close()


@pytest.fixture
def hub(platform: Platform, world: Any) -> Platform:
    platform.settings.harvest_allowed_networks = LOOPBACK
    return platform


def _source(hub: Platform, name: str, kind: str, url: str, **extra: Any) -> None:
    with hub.db.session() as session:
        service.create_source(session, OPERATOR, {"name": name, "type": kind, "url": url,
                                                  "organization": "bochum", **extra})


def _live(hub: Platform, source: str = "") -> dict[str, Dataset]:
    """The hub's live harvested datasets by origin id."""
    with hub.db.session() as session:
        rows = session.scalars(select(Dataset).where(Dataset.harvest_source_id.is_not(None),
                                                     Dataset.deleted_at.is_(None)))
        return {d.origin_id: d for d in rows}


def _node_ids(node: Platform, *names: str) -> dict[str, str]:
    with node.db.session() as session:
        return {n: datasets.get_dataset(session, OPERATOR, n).uuid for n in names}


def _catalog_url(kind: str, url: str) -> str:
    return {"dcat": f"{url}/catalog.ttl?per_page=3", "ckan": f"{url}/api/3/action",
            "allmende": url}[kind]


@pytest.mark.parametrize("kind", ["allmende", "ckan", "dcat"])
def test_a_node_is_harvested_and_changes_and_deletions_propagate(hub, node, kind):
    node_platform, url = node
    _source(hub, "dortmund-knoten", kind, _catalog_url(kind, url))
    first = service.run(hub, OPERATOR, "dortmund-knoten")
    assert first.status == "succeeded", first.reason
    public = [f"baeume-{i}" for i in range(PUBLIC)]
    ids = _node_ids(node_platform, *public, "vertraulich")
    assert (first.created, first.updated, first.deleted, first.failed) == (PUBLIC + 1, 0, 0, ())
    live = _live(hub)
    # what an anonymous reader of the node sees, no more
    assert set(live) == set(ids.values())
    tree = live[ids["baeume-2"]]
    assert (tree.name, tree.title, tree.organization.slug) == ("baeume-2", "Straßenbäume 2",
                                                               "bochum")
    assert tree.keywords == ["Stadtgrün"] and tree.themes == ["ENVI"]
    assert tree.license == "cc-by/4.0"
    assert tree.origin_url.startswith(url) and tree.origin_url.endswith("/baeume-2")
    assert [r.url for r in tree.resources] == ["https://example.org/baeume-2.csv"]
    assert live[ids["vertraulich"]].access_level == "restricted"

    with node_platform.db.session() as session:
        datasets.update_dataset(session, OPERATOR, "baeume-1", {"title": "Bäume, neu gezählt"})
        datasets.delete_dataset(session, OPERATOR, "baeume-3")
        datasets.create_dataset(session, OPERATOR, dataset_body("baeume-neu"))
    second = service.run(hub, OPERATOR, "dortmund-knoten")
    assert second.status == "succeeded", second.reason
    assert (second.created, second.updated, second.deleted) == (1, 1, 1)
    live = _live(hub)
    assert live[ids["baeume-1"]].title == "Bäume, neu gezählt"
    assert ids["baeume-3"] not in live and len(live) == PUBLIC + 1
    with hub.db.session() as session:
        runs = service.list_runs(session, OPERATOR, "dortmund-knoten")
    assert [r.status for r in runs] == ["succeeded", "succeeded"]


def test_a_taken_name_gets_the_source_as_prefix(hub, node):
    with hub.db.session() as session:
        datasets.create_dataset(session, OPERATOR, dataset_body("baeume-0"))
    _source(hub, "knoten", "allmende", node[1])
    assert service.run(hub, OPERATOR, "knoten").status == "succeeded"
    names = {d.name for d in _live(hub).values()}
    assert "knoten-baeume-0" in names and "baeume-1" in names


def test_harvested_datasets_are_read_only_except_to_the_harvester(hub, node, client, world):
    _source(hub, "knoten", "allmende", node[1])
    service.run(hub, OPERATOR, "knoten")
    admin = world.auth("sysadmin")
    for method, path, body in (
            ("PATCH", "/api/v1/datasets/baeume-0", {"title": "Anders"}),
            ("DELETE", "/api/v1/datasets/baeume-0", None),
            ("POST", "/api/v1/datasets/baeume-0/links", {"name": "x", "url": "https://a.b/"}),
            ("POST", "/api/v1/datasets/baeume-0/resources", None)):
        kwargs = {"json": body} if body is not None else {}
        if path.endswith("/resources"):
            kwargs = {"files": {"file": ("a.csv", b"a;b\n1;2\n", "text/csv")}}
        answer = client.request(method, path, headers=admin, **kwargs)
        assert answer.status_code == 409, (method, path, answer.text)
        assert answer.json()["error"]["code"] == "harvested_dataset"
        assert "schreibgeschützt" in answer.json()["error"]["message"]
    shown = client.get("/api/v1/datasets/baeume-0").json()
    assert shown["origin"]["read_only"] is True
    assert shown["origin"]["url"].endswith("/baeume-0")
    # a role that could not edit it anyway is refused as before
    assert client.patch("/api/v1/datasets/baeume-0", json={"title": "x"}).status_code == 401


def test_an_incremental_run_fetches_only_what_changed(hub, node, monkeypatch):
    node_platform, url = node
    # the node's datasets were last changed days ago, baeume-0 most recently
    now = dt.datetime.now(dt.UTC)
    with node_platform.db.session() as session:
        for i, name in enumerate([*(f"baeume-{i}" for i in range(PUBLIC)), "vertraulich"]):
            monkeypatch.setattr(datasets, "utcnow", lambda i=i: now - dt.timedelta(days=2 + i))
            datasets.update_dataset(session, OPERATOR, name, {"title": f"Alt {i}"})
    monkeypatch.undo()
    _source(hub, "knoten", "allmende", url)
    assert service.run(hub, OPERATOR, "knoten").created == PUBLIC + 1
    with node_platform.db.session() as session:
        datasets.update_dataset(session, OPERATOR, "baeume-4", {"title": "Baum vier"})
    again = service.run(hub, OPERATOR, "knoten")
    # only what changed since the newest change the first run saw (less a minute of
    # overlap) was asked for: the changed one, and that newest one again
    assert (again.created, again.updated, again.unchanged, again.deleted) == (0, 1, 1, 0)
    assert any(d.title == "Baum vier" for d in _live(hub).values())


def test_what_the_origin_leaves_empty_stays_empty_and_unchanged(hub, node):
    """The hub's organization has an AGS and an e-mail address; a harvested dataset without a
    spatial coverage or a contact point keeps none (our defaults would change it back and
    forth: every run would count it as updated)."""
    node_platform, url = node
    with node_platform.db.session() as session:
        organizations.create_organization(session, OPERATOR, {
            "slug": "rvr", "name": "Regionalverband Ruhr"})
        datasets.create_dataset(session, OPERATOR, dataset_body("radwege", organization="rvr",
                                                                title="Radwegenetz"))
    _source(hub, "knoten", "allmende", url)
    assert service.run(hub, OPERATOR, "knoten").created == PUBLIC + 2
    radwege = next(d for d in _live(hub).values() if d.title == "Radwegenetz")
    assert (radwege.spatial, radwege.contact_point) == (None, None)
    again = service.run(hub, OPERATOR, "knoten")
    assert (again.created, again.updated, again.deleted) == (0, 0, 0)


def test_without_the_setting_loopback_is_refused(platform, world, node):
    _source(platform, "knoten", "allmende", node[1])
    report = service.run(platform, OPERATOR, "knoten")
    assert report.status == "failed" and report.created == 0
    assert "127.0.0.1" in report.reason and "ALLMENDE_HARVEST_ALLOWED_NETWORKS" in report.reason


@pytest.mark.parametrize("address", [
    "127.0.0.1", "::1", "10.1.2.3", "172.16.0.1", "192.168.1.1", "169.254.169.254", "fe80::1",
    "fc00::1", "0.0.0.0", "::", "224.0.0.1", "ff02::1", "::ffff:127.0.0.1", "::ffff:10.0.0.1",
    "100.64.0.1", "240.0.0.1", "192.0.2.1"])
def test_addresses_that_are_not_public_are_refused(address):
    assert refused_address(ip_address(address), ())


def test_public_addresses_and_allowed_networks_pass():
    from allmende.config import networks_of

    assert not refused_address(ip_address("8.8.8.8"), ())
    assert not refused_address(ip_address("2a00:1450:4001::1"), ())
    allowed = tuple(networks_of(LOOPBACK))
    assert not refused_address(ip_address("127.0.0.1"), allowed)
    assert not refused_address(ip_address("::ffff:127.0.0.1"), allowed)
    assert not refused_address(ip_address("::1"), allowed)
    assert refused_address(ip_address("10.0.0.1"), allowed)


# --- hostile sources -------------------------------------------------------------------------

def _turtle(ids: list[str], next_page: str | None = None, title: str = "Datensatz") -> str:
    lines = ["@prefix dcat: <http://www.w3.org/ns/dcat#> .",
             "@prefix dct: <http://purl.org/dc/terms/> .",
             "@prefix hydra: <http://www.w3.org/ns/hydra/core#> .",
             "@prefix xsd: <http://www.w3.org/2001/XMLSchema#> ."]
    for i in ids:
        lines.append(f'<http://portal.example/dataset/{i}> a dcat:Dataset ; '
                     f'dct:identifier "{i}" ; dct:title "{title} {i}"@de ; '
                     f'dct:description "Beschreibung {i}"@de ; '
                     f'dct:modified "2024-05-01T10:00:00"^^xsd:dateTime .')
    if next_page:
        lines.append(f"<{next_page.replace('next', 'this')}> a hydra:PartialCollectionView ; "
                     f"hydra:next <{next_page}> .")
    return "\n".join(lines) + "\n"


Behaviour = Callable[[http.server.BaseHTTPRequestHandler], None]


@contextmanager
def hostile(behaviour: dict[str, Behaviour]) -> Iterator[str]:
    """A stdlib HTTP server whose answer ``behaviour["now"]`` decides (changeable)."""

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            behaviour["now"](self)

        def log_message(self, *_args: Any) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    # shutdown() waits for the server's next look at its flag: half a second by default
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.02},
                              daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def _send(handler: http.server.BaseHTTPRequestHandler, body: str | bytes,
          content_type: str = "text/turtle", status: int = 200,
          headers: dict[str, str] | None = None) -> None:
    data = body.encode() if isinstance(body, str) else body
    handler.send_response(status)
    handler.send_header("Content-Type", content_type)
    handler.send_header("Content-Length", str(len(data)))
    for key, value in (headers or {}).items():
        handler.send_header(key, value)
    handler.end_headers()
    handler.wfile.write(data)


GOOD = ["a", "b", "c"]


def _good(handler: http.server.BaseHTTPRequestHandler) -> None:
    base = f"http://127.0.0.1:{handler.server.server_address[1]}"
    if handler.path.startswith("/catalog2"):
        _send(handler, _turtle(GOOD[2:]))
    else:
        _send(handler, _turtle(GOOD[:2], f"{base}/catalog2?next"))


def _endless(handler: http.server.BaseHTTPRequestHandler) -> None:
    number = int(handler.path.rsplit("=", 1)[-1]) if "=" in handler.path else 0
    base = f"http://127.0.0.1:{handler.server.server_address[1]}"
    _send(handler, _turtle([], f"{base}/catalog?next&page={number + 1}"))


def _redirect_loop(handler: http.server.BaseHTTPRequestHandler) -> None:
    target = "/b" if handler.path.startswith("/catalog") or handler.path == "/a" else "/a"
    _send(handler, b"", status=302, headers={"Location": target})


def _down_mid_run(handler: http.server.BaseHTTPRequestHandler) -> None:
    if handler.path.startswith("/catalog2"):
        handler.connection.close()  # the server is gone before it answers
        return
    _good(handler)


HOSTILE: dict[str, tuple[Behaviour, str]] = {
    "invalid_rdf": (lambda h: _send(h, "@prefix dcat: <broken .\n<a> dcat:x ."),
                    "kein gültiges RDF"),
    "wrong_type": (lambda h: _send(h, "<html>Wartung</html>", "text/html"), "text/html"),
    "endless": (_endless, "mehr als 25 Seiten"),
    "redirect_loop": (_redirect_loop, "im Kreis"),
    "oversized": (lambda h: _send(h, _turtle(GOOD) + "#" * 60_000), "größer als"),
    "down_mid_run": (_down_mid_run, "catalog2"),
    "http_error": (lambda h: _send(h, "kaputt", "text/plain", 503), "503"),
}


@pytest.mark.parametrize("case", sorted(HOSTILE))
def test_a_hostile_source_fails_the_run_and_deletes_nothing(hub, case):
    hub.settings.harvest_max_pages = 25
    hub.settings.harvest_max_document_bytes = 50_000
    behaviour: dict[str, Behaviour] = {"now": _good}
    with hostile(behaviour) as url:
        _source(hub, "portal", "dcat", f"{url}/catalog")
        good = service.run(hub, OPERATOR, "portal")
        assert good.status == "succeeded", good.reason
        assert good.created == len(GOOD)
        behaviour["now"], expected = HOSTILE[case]
        failed = service.run(hub, OPERATOR, "portal")
    assert failed.status == "failed"
    assert expected in failed.reason, failed.reason
    assert url.removeprefix("http://") in failed.reason
    assert failed.deleted == 0 and set(_live(hub)) == set(GOOD)


def test_one_bad_record_among_good_ones_is_reported_and_the_rest_taken_over(hub):
    def mixed(handler: http.server.BaseHTTPRequestHandler) -> None:
        _send(handler, _turtle(["gut-1", "gut-2"]) + _turtle(["kaputt"], title="Tab\x07")
              .split(" .\n", 3)[-1])

    with hostile({"now": mixed}) as url:
        _source(hub, "portal", "dcat", f"{url}/catalog")
        report = service.run(hub, OPERATOR, "portal")
    assert report.status == "succeeded", report.reason
    assert report.created == 2 and [f.id for f in report.failed] == ["kaputt"]
    assert "Steuerzeichen" in report.failed[0].message
    assert set(_live(hub)) == {"gut-1", "gut-2"}


def test_runs_are_queued_as_jobs_and_scheduled(hub, node):
    from allmende.jobs import worker

    _source(hub, "knoten", "allmende", node[1], schedule="hourly")
    queued = service.queue_due(hub)
    assert len(queued) == 1 and service.queue_due(hub) == []  # one at a time
    while worker.run_once(hub):
        pass
    with hub.db.session() as session:
        runs = service.list_runs(session, OPERATOR, "knoten")
    assert [(r.status, r.trigger, r.created) for r in runs] == [("succeeded", "schedule",
                                                                  PUBLIC + 1)]
    assert service.queue_due(hub, dt.datetime.now(dt.UTC) + dt.timedelta(hours=2))


def test_a_run_nobody_finishes_ends_failed_and_the_schedule_goes_on(hub, node):
    from allmende.errors import Invalid, msg
    from allmende.jobs import queue

    _source(hub, "knoten", "allmende", node[1], schedule="hourly")
    [first] = service.queue_due(hub)
    with hub.db.session() as session:  # the worker gave up: its job failed, the run stayed open
        job = service.list_runs(session, OPERATOR, "knoten")[0].job_id
        queue.fail(session, job, Invalid(msg("Arbeitsspeicher-Grenze überschritten.")))
    later = dt.datetime.now(dt.UTC) + dt.timedelta(hours=2)
    assert len(service.queue_due(hub, later)) == 1, "the schedule must not stall"
    with hub.db.session() as session:
        ended = service.get_run(session, OPERATOR, first)
    assert ended.status == "failed" and "Arbeitsspeicher-Grenze" in str(ended.reason)
    assert ended.finished is not None

    # a command-line run whose process was killed: open for longer than any job may run
    with hub.db.session() as session:
        run = HarvestRun(source_id=session.scalar(select(HarvestSource.id)), status="running",
                         trigger="cli", failures=[], started_at=dt.datetime.now(dt.UTC))
        session.add(run)
        session.flush()
        killed = run.id
    assert killed not in service.settle_abandoned(hub)  # still within the time a run may take
    beyond = dt.datetime.now(dt.UTC) + dt.timedelta(
        seconds=hub.settings.job_time_limit_seconds + 60)
    assert killed in service.settle_abandoned(hub, beyond)


def test_deleting_a_source_moves_its_datasets_to_the_trash_detached(hub, node):
    _source(hub, "knoten", "allmende", node[1])
    service.run(hub, OPERATOR, "knoten")
    with hub.db.session() as session:
        assert service.delete_source(session, OPERATOR, "knoten") == PUBLIC + 1
    with hub.db.session() as session:
        assert session.scalar(select(func.count(Dataset.id)).where(
            Dataset.harvest_source_id.is_not(None))) == 0
        trash = datasets.deleted_datasets(session, OPERATOR)
        assert {d.name for d in trash} >= {f"baeume-{i}" for i in range(PUBLIC)}
        # detached: the organization may restore it as its own, editable copy
        datasets.restore_dataset(session, OPERATOR, "baeume-0")
        datasets.update_dataset(session, OPERATOR, "baeume-0", {"title": "Eigene Kopie"})


def test_sources_are_managed_by_sysadmins_and_the_organizations_admins(hub):
    from allmende.access.accounts import actor_for, get_user
    from allmende.errors import Forbidden, Unauthorized

    with hub.db.session() as session:
        admin = actor_for(get_user(session, "admin@test.allmende.de"))  # of dortmund
        editor = actor_for(get_user(session, "editor@test.allmende.de"))
        service.create_source(session, admin, {"name": "q", "type": "ckan",
                                               "url": "https://portal.example/",
                                               "organization": "dortmund"})
        with pytest.raises(Forbidden):
            service.create_source(session, admin, {"name": "r", "type": "ckan",
                                                   "url": "https://portal.example/",
                                                   "organization": "bochum"})
        with pytest.raises(Forbidden):
            service.get_source(session, editor, "q")
        with pytest.raises(Unauthorized):
            service.list_sources(session, ANONYMOUS)
        assert [s.name for s in service.list_sources(session, admin)] == ["q"]
        assert service.list_sources(session, editor) == []


def test_two_runs_of_one_source_at_once_do_not_duplicate_datasets(hub, node):
    _source(hub, "knoten", "allmende", node[1])
    reports: list[Any] = []
    start = threading.Barrier(2)

    def one_run() -> None:
        start.wait()
        reports.append(service.run(hub, OPERATOR, "knoten"))

    threads = [threading.Thread(target=one_run) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    assert [r.status for r in reports] == ["succeeded", "succeeded"], [r.reason for r in reports]
    assert sum(r.created for r in reports) == PUBLIC + 1
    with hub.db.session() as session:
        assert session.scalar(select(func.count(Dataset.id)).where(
            Dataset.harvest_source_id.is_not(None))) == PUBLIC + 1


def test_the_cli_creates_lists_runs_and_deletes_sources(installation, world, node, allmende,
                                                        tmp_path):
    import json

    env = {**installation.env(), "ALLMENDE_HARVEST_ALLOWED_NETWORKS": LOOPBACK}
    made = allmende("harvest", "source", "create", "knoten", "--type", "allmende",
                    "--url", node[1], "--org", "dortmund", "--schedule", "daily", "--json",
                    cwd=tmp_path, env=env)
    assert made.returncode == 0, made.stderr
    assert json.loads(made.stdout)["schedule"] == "daily"
    listed = allmende("harvest", "source", "list", "--json", cwd=tmp_path, env=env)
    assert [s["name"] for s in json.loads(listed.stdout)["sources"]] == ["knoten"]
    ran = allmende("harvest", "run", "knoten", "--json", cwd=tmp_path, env=env)
    assert ran.returncode == 0, ran.stderr
    report = json.loads(ran.stdout)
    assert {k: report[k] for k in ("source", "created", "updated", "deleted", "failed")} == {
        "source": "knoten", "created": PUBLIC + 1, "updated": 0, "deleted": 0, "failed": []}
    # a source that refuses: the run fails as a whole, exit status 1, its reason in the JSON
    allmende("harvest", "source", "create", "kaputt", "--type", "ckan", "--url",
             "http://127.0.0.1:9/", "--org", "dortmund", cwd=tmp_path, env=env)
    failed = allmende("harvest", "run", "kaputt", "--json", cwd=tmp_path, env=env)
    assert failed.returncode == 1
    answer = json.loads(failed.stdout)
    assert answer["status"] == "failed" and "nicht erreichbar" in answer["error"]["message"]
    unknown = allmende("harvest", "run", "gibt-es-nicht", cwd=tmp_path, env=env)
    assert unknown.returncode == 1 and "gibt es nicht" in unknown.stderr
    gone = allmende("harvest", "source", "delete", "knoten", "--json", cwd=tmp_path, env=env)
    assert json.loads(gone.stdout) == {"source": "knoten", "deleted": PUBLIC + 1}


def test_the_api_manages_sources_and_queues_runs(client, world, hub, node):
    from support import finished_job

    admin = world.auth("admin")  # of dortmund
    body = {"name": "knoten", "type": "allmende", "url": node[1], "organization": "dortmund"}
    assert client.post("/api/v1/harvest/sources", json=body).status_code == 401
    assert client.post("/api/v1/harvest/sources", json={**body, "organization": "bochum"},
                       headers=admin).status_code == 403
    made = client.post("/api/v1/harvest/sources", json=body, headers=admin)
    assert made.status_code == 201, made.text
    assert client.post("/api/v1/harvest/sources", json=body,
                       headers=admin).status_code == 409
    bad = client.post("/api/v1/harvest/sources", headers=admin,
                      json={**body, "name": "x", "type": "ftp", "schedule": "sometimes"})
    assert bad.status_code == 422
    assert {f["field"] for f in bad.json()["error"]["fields"]} >= {"type", "schedule"}
    queued = client.post("/api/v1/harvest/sources/knoten/runs", headers=admin)
    assert queued.status_code == 202 and queued.json()["status"] == "queued"
    job = finished_job(client, admin, queued.json()["job"])
    assert job["status"] == "done", job
    runs = client.get("/api/v1/harvest/sources/knoten/runs", headers=admin).json()
    assert runs["results"][0]["status"] == "succeeded"
    assert runs["results"][0]["created"] == PUBLIC + 1
    shown = client.get("/api/v1/harvest/sources/knoten", headers=admin).json()
    assert shown["datasets"] == PUBLIC + 1 and shown["last_run"]["status"] == "succeeded"
    changed = client.patch("/api/v1/harvest/sources/knoten", json={"schedule": "weekly"},
                           headers=admin)
    assert changed.json()["schedule"] == "weekly"
    assert client.get("/api/v1/harvest/sources", headers=world.auth("editor")).json()[
        "count"] == 0
    assert client.delete("/api/v1/harvest/sources/knoten", headers=admin).status_code == 204
