"""Support of the web UI tests: a seeded platform, a TestClient, a live uvicorn server and
chromium. The fixtures are registered in conftest.py; tests import the helpers from here."""

from __future__ import annotations

import re
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest
import uvicorn
from fastapi.testclient import TestClient

from allmende.access import accounts
from allmende.access.policy import Actor
from allmende.catalog import datasets, organizations
from allmende.config import Settings
from allmende.platform import Platform
from allmende.web.app import create_app
from databases import Templates
from support import quick_jobs

SYSTEM_ACTOR = Actor(is_sysadmin=True, name="tests")
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--no-first-run"]
EDITOR = ("editor@dortmund.example", "editor-passwort-1")
ADMIN = ("admin@dortmund.example", "admin-passwort-1")
VIEWER = ("leser@example.org", "leser-passwort-1")


@dataclass
class Site:
    platform: Platform
    base_url: str = ""


def seed(platform: Platform) -> None:
    with platform.db.session() as s:
        dortmund = organizations.create_organization(s, SYSTEM_ACTOR, {
            "slug": "dortmund", "name": "Stadt Dortmund", "type": "municipality",
            "ags": "05913000", "description": "Die Stadt Dortmund.\nOffene Daten seit 2015.",
            "contact_email": "opendata@dortmund.example", "website": "https://www.dortmund.de",
            "bbox": [7.30, 51.41, 7.64, 51.60],
        })
        organizations.create_organization(s, SYSTEM_ACTOR, {
            "slug": "kreis-unna", "name": "Kreis Unna", "type": "district", "ags": "05978000",
        })
        editor = accounts.create_user(s, EDITOR[0], EDITOR[1], name="Erika Editorin")
        accounts.set_membership(s, SYSTEM_ACTOR, editor, dortmund, "editor")
        admin = accounts.create_user(s, ADMIN[0], ADMIN[1], name="Anton Admin")
        accounts.set_membership(s, SYSTEM_ACTOR, admin, dortmund, "admin")
        accounts.create_user(s, VIEWER[0], VIEWER[1], name="Lena Leserin")
        datasets.create_dataset(s, accounts.actor_for(editor), {
            "name": "spielplaetze", "organization": "dortmund", "title": "Spielplätze in Dortmund",
            "description": "Alle öffentlichen Spielplätze.\n\nMit Lage und Ausstattung.",
            "keywords": ["Spielplatz", "Freizeit"], "themes": ["SOCI", "EDUC"],
            "update_frequency": "ANNUAL", "issued": "2023-04-01",
            "resources": [{"name": "Spielplätze CSV", "format": "csv",
                           "url": "https://daten.dortmund.example/spielplaetze.csv"}],
        })
        datasets.create_dataset(s, accounts.actor_for(editor), {
            "name": "baustellen", "organization": "dortmund", "title": "Baustellen in Dortmund",
            "description": "Aktuelle Baustellen im Straßennetz.", "themes": ["TRAN"],
        })
        datasets.create_dataset(s, accounts.actor_for(editor), {
            "name": "xss-test", "organization": "dortmund",
            "title": "<script>alert('x')</script> Haushalt",
            "description": "<b>fett</b> & mehr", "keywords": ["Haushalt"],
        })


@pytest.fixture(scope="session")
def site(tmp_path_factory: pytest.TempPathFactory, templates: Templates) -> Iterator[Site]:
    data_dir = tmp_path_factory.mktemp("allmende-ui") / "data"
    templates.install("sqlite", "migrated", data_dir)
    platform = Platform(Settings(data_dir=data_dir))
    seed(platform)
    with quick_jobs(platform):
        yield Site(platform)
    platform.close()


@pytest.fixture
def client(site: Site) -> Iterator[TestClient]:
    with TestClient(create_app(site.platform), headers={"accept": "text/html"}) as test_client:
        yield test_client


def csrf_of(html: str) -> str:
    match = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert match, "no csrf_token in the page"
    return match.group(1)


def login(client: TestClient, email: str, password: str) -> None:
    token = csrf_of(client.get("/login").text)
    response = client.post("/login", data={"csrf_token": token, "email": email,
                                           "password": password, "next": "/"},
                           follow_redirects=False)
    assert response.status_code == 303, response.text


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextmanager
def serving(platform: Platform) -> Iterator[str]:
    """The app over ``platform`` served by uvicorn in a thread; yields its base URL, which the
    platform's links use too (a second node on this machine names itself, not the default)."""
    port = _free_port()
    platform.settings.base_url = f"http://127.0.0.1:{port}"
    config = uvicorn.Config(create_app(platform), host="127.0.0.1", port=port,
                            log_level="warning", lifespan="on")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("the uvicorn test server did not start")
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)


@pytest.fixture(scope="session")
def live_server(site: Site) -> Iterator[str]:
    with serving(site.platform) as url:
        yield url


@pytest.fixture(scope="session")
def browser() -> Iterator[object]:
    if not Path(CHROMIUM).exists():
        pytest.fail(f"Chromium is missing: {CHROMIUM} not found. Install it with "
                    "`apt-get update && apt-get install -y chromium`.", pytrace=False)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        instance = playwright.chromium.launch(executable_path=CHROMIUM, headless=True,
                                              args=CHROMIUM_ARGS)
        yield instance
        instance.close()


@pytest.fixture
def page(browser, live_server: str) -> Iterator[object]:  # type: ignore[no-untyped-def]
    context = browser.new_context(base_url=live_server, viewport={"width": 1280, "height": 900},
                                  locale="de-DE")
    context.set_default_timeout(10_000)
    page = context.new_page()
    yield page
    context.close()
