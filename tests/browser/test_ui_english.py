"""English is English: the demo region, walked in English by following the links from the start
page — as a visitor, as Dortmund's editor and as the sysadmin — shows no German outside what
users wrote. Templates mark that with ``data-user-content`` (titles, descriptions, column names,
cell values, and the names and values inside messages); text in another language on purpose
carries its ``lang`` (the language switch's "Deutsch"). The map's own controls follow the
page's language both ways."""

from __future__ import annotations

import re
from collections import Counter, deque
from collections.abc import Iterator
from dataclasses import dataclass, field
from urllib.parse import parse_qsl, urljoin, urlsplit

import pytest
from playwright.sync_api import Browser, Page, expect
from sqlalchemy import select
from ui_support import serving

from allmende.db.models import Dataset, QualityReport, Resource, ResourceMapping, TableVersion
from allmende.platform import Platform
from databases import Templates
from support import quick_jobs

# Umlauts, ß and German quotation marks, and common German words that are no English words.
GERMAN = re.compile(
    r"[äöüÄÖÜß„]|\b(?:und|oder|der|die|das|den|dem|des|nicht|mit|für|von|vom|zur|zum|ist|sind|"
    r"ein|eine|einer|im|auf|aus|bei|nach|noch|auch|kein|keine|wird|werden|wurde|bitte|Die|Der|"
    r"Das|Ein|Eine|Keine|Bitte|Datensatz|Zeile|Zeilen|Spalte|Spalten|Wert|Werte|Feld|Felder|"
    r"Datei|Dateien|Seite|Suche|Anmelden|Abmelden|Bearbeiten|Speichern|Zuordnung|Gruppe|"
    r"Gruppen|Quelle|Quellen|Hinweis|Fehler|erkannt|gelesen|behalten|Zahl|Kennung|Nummer)\b")

# The interface text of the page body: text nodes, the attributes people read or hear
# (title, placeholder, aria-label, alt), the texts scripts show later (data-msg-*) and the
# labels of input buttons — except inside what users wrote and what is marked as another
# language. Hidden parts count too: they are shown sooner or later.
INTERFACE_TEXT = """() => {
  const found = [];
  const language = document.documentElement.lang;
  const spoken = (name) => ["title", "placeholder", "aria-label", "alt"].includes(name)
                           || name.startsWith("data-msg-");
  const walk = (node) => {
    if (node.nodeType === Node.TEXT_NODE) {
      const text = node.textContent.trim();
      if (text) { found.push(text); }
      return;
    }
    if (node.nodeType !== Node.ELEMENT_NODE) { return; }
    if (["SCRIPT", "STYLE", "NOSCRIPT", "TEMPLATE"].includes(node.tagName)) { return; }
    if (node.hasAttribute("data-user-content")) { return; }
    if (node.hasAttribute("lang") && node.getAttribute("lang") !== language) { return; }
    for (const name of node.getAttributeNames().filter(spoken)) {
      found.push(`${name}="${node.getAttribute(name)}"`);
    }
    if (node.tagName === "INPUT" && ["submit", "button"].includes(node.type) && node.value) {
      found.push(node.value);
    }
    node.childNodes.forEach(walk);
  };
  walk(document.body);
  return found;
}"""

# Each route pattern (the path with its names and ids left out; with a query or without) is
# walked at most this often: enough to see its variants, few enough for a test.
PER_PATTERN = 3
# What is no page of the web UI: machine interfaces (the log's at /log/v1/), files, and what
# changes state; the sign-in page is walked only where a walk starts (its links carry the page
# they came from). The transparency log's pages (/log, …/log) are pages.
NOT_PAGES = ("/api/", "/catalog", "/ogc", "/static/", "/healthz", "/metrics", "/log/v1/",
             "/login", "/logout", "/map/")
NAMED = re.compile(r"^/(datasets|organizations|resources|schemas|region)/(?!new$)[^/]+")


def pattern(url: str) -> str:
    parts = urlsplit(url)
    path = re.sub(r"/\d+(?=/|$)", "/*", NAMED.sub(r"/\1/*", parts.path))
    return path + ("?…" if parts.query else "")


def is_page(url: str, base: str) -> bool:
    parts = urlsplit(url)
    if f"{parts.scheme}://{parts.netloc}" != base or parts.path.startswith(NOT_PAGES):
        return False
    query = dict(parse_qsl(parts.query))
    return "lang" not in query and "format" not in query


@dataclass
class Walk:
    visited: list[str] = field(default_factory=list)
    german: dict[str, list[str]] = field(default_factory=dict)

    def report(self) -> str:
        return "\n".join(f"{url}:\n  " + "\n  ".join(texts) for url, texts in self.german.items())


def walk(page: Page, base: str, first: list[str]) -> Walk:
    """Every page reachable by links from ``first`` and the start page, PER_PATTERN pages per
    route pattern, with the interface texts in which German was found."""
    result, seen, per_pattern = Walk(), set(), Counter()
    queue = deque(urljoin(base, url) for url in [*first, "/"])
    while queue:
        url = queue.popleft()
        if url in seen or per_pattern[pattern(url)] >= PER_PATTERN:
            continue
        seen.add(url)
        per_pattern[pattern(url)] += 1
        response = page.goto(url, wait_until="domcontentloaded")
        assert response is not None and response.ok, f"{url}: {response and response.status}"
        if "text/html" not in (response.headers.get("content-type") or ""):
            continue
        result.visited.append(url)
        assert page.evaluate("document.documentElement.lang") == "en", url
        found = [text for text in page.evaluate(INTERFACE_TEXT) if GERMAN.search(text)]
        if found:
            result.german[url] = found
        # links marked ``download`` are files (e.g. an agreement's ODRL), not pages
        links = page.eval_on_selector_all("a[href]:not([download])",
                                          "links => links.map(a => a.href)")
        queue.extend(link.split("#")[0] for link in links if is_page(link.split("#")[0], base))
    return result


@dataclass
class Demo:
    url: str
    accounts: dict[str, tuple[str, str]]  # role → (e-mail, password)
    warned: str  # a resource whose version has notes and warnings
    report: str  # a resource with a quality report with samples
    mapped: str  # a resource of Dortmund's with a mapping
    dortmund: str  # its dataset
    regional: str  # a regional dataset


def _places(platform: Platform) -> dict[str, str]:
    """Pages the walks must see, whatever the order of links: found in the demo's data."""
    with platform.db.sessions() as session:
        warned = max(session.scalars(select(TableVersion)),
                     key=lambda v: (len(v.warnings or []), len(v.read_report.get("notes", {}))))
        report = next(r for r in session.scalars(select(QualityReport))
                      if r.report.get("samples"))
        mapped = next(resource for m in session.scalars(select(ResourceMapping))
                      if (resource := session.get(Resource, m.resource_id)).dataset
                      .organization.slug == "dortmund")
        regional = session.scalar(select(Dataset.name).where(Dataset.name.like("region-%")))
        places = {"warned": warned.resource_id, "report": report.resource_id,
                  "mapped": mapped.id, "dortmund": mapped.dataset.name, "regional": regional}
    assert warned.warnings and warned.read_report.get("notes"), "the demo lost its warnings"
    return places


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory, templates: Templates) -> Iterator[Demo]:
    """The demo region (the template test_dcat and test_ogc_demo use too), served."""
    data_dir = tmp_path_factory.mktemp("allmende-demo") / "data"
    installation = templates.install("sqlite", "demo_region", data_dir)
    accounts = {c["roles"][0]: (c["email"], c["password"])
                for c in installation.seeded["credentials"]}
    platform = installation.platform()
    try:
        with quick_jobs(platform), serving(platform) as url:
            yield Demo(url, accounts, **_places(platform))
    finally:
        platform.close()


def _page(browser: Browser, demo: Demo, language: str, role: str | None = None) -> Page:
    context = browser.new_context(base_url=demo.url, viewport={"width": 1280, "height": 900},
                                  locale="de-DE")
    context.set_default_timeout(15_000)
    page = context.new_page()
    page.goto(f"/?lang={language}")  # remembered in a cookie from here on
    if role is not None:
        email, password = demo.accounts[role]
        page.goto("/login")
        page.locator("#f-email").fill(email)
        page.locator("#f-password").fill(password)
        page.locator("main form button[type=submit]").click()
        expect(page.locator('form[action="/logout"]')).to_be_attached()
    return page


@pytest.mark.browser
@pytest.mark.parametrize("role", [None, "editor@dortmund", "sysadmin"])
def test_the_demo_in_english_has_no_german_outside_user_content(browser: Browser, demo: Demo,
                                                               role: str | None) -> None:
    page = _page(browser, demo, "en", role)
    try:
        first = [f"/resources/{demo.warned}", f"/resources/{demo.report}/quality",
                 f"/datasets/{demo.regional}", f"/region/{demo.regional.removeprefix('region-')}",
                 "/login" if role is None else "/account/tokens"]
        if role is not None:
            first += [f"/resources/{demo.mapped}/mapping", f"/datasets/{demo.dortmund}"]
        found = walk(page, demo.url, first)
    finally:
        page.context.close()
    walked = {pattern(url) for url in found.visited}
    assert {"/", "/datasets", "/datasets/*", "/resources/*", "/resources/*/quality",
            "/organizations/*", "/region/*", "/schemas/*", "/log", "/organizations/*/log",
            "/datasets/*/log"} <= walked, walked
    if role is not None:
        assert {"/resources/*/mapping", "/account/tokens", "/datasets/*/edit"} <= walked, walked
    if role == "sysadmin":
        assert {"/trash", "/organizations/*/members"} <= walked, walked
    assert not found.german, (f"German outside user content on {len(found.german)} of "
                              f"{len(found.visited)} pages:\n{found.report()}")


@pytest.mark.browser
def test_notes_warnings_and_samples_are_read_in_english(browser: Browser, demo: Demo) -> None:
    """What the walk must not miss: the stored messages, rendered in English."""
    page = _page(browser, demo, "en")
    try:
        page.goto(f"/resources/{demo.warned}")
        expect(page.get_by_role("heading", name="Warnings")).to_be_visible()
        expect(page.locator(".warnings li").first).to_contain_text(re.compile(r"[a-z]"))
        expect(page.locator(".notes dd").first).to_be_visible()
        page.goto(f"/resources/{demo.report}/quality")
        message = page.locator("section[aria-labelledby=samples-heading] tbody td:nth-child(4)")
        expect(message.first).to_contain_text(re.compile(r"row \d+"))
        page.goto(f"/datasets/{demo.regional}")
        expect(page.get_by_role("heading", level=1)).to_contain_text("in the region")
    finally:
        page.context.close()


MAP_CONTROLS = {
    "de": {"zoom in": "Vergrößern", "zoom out": "Verkleinern",
           "library": "Eine JavaScript-Bibliothek für interaktive Karten",
           "close": "Hinweisfenster schließen"},
    "en": {"zoom in": "Zoom in", "zoom out": "Zoom out",
           "library": "A JavaScript library for interactive maps", "close": "Close popup"},
}


@pytest.mark.browser
@pytest.mark.parametrize("language", ["de", "en"])
def test_the_map_controls_speak_the_page_language(browser: Browser, demo: Demo,
                                                  language: str) -> None:
    words = MAP_CONTROLS[language]
    page = _page(browser, demo, language)
    try:
        page.goto("/region/ladesaeulen")  # charging stations: points on the map
        expect(page.locator("#map[data-features]")).to_have_count(1)
        expect(page.locator("#map .leaflet-control-zoom-in")).to_have_attribute(
            "title", words["zoom in"])
        expect(page.locator("#map .leaflet-control-zoom-out")).to_have_attribute(
            "aria-label", words["zoom out"])
        expect(page.locator("#map .leaflet-control-attribution a").first).to_have_attribute(
            "title", words["library"])
        # the click event itself, not a click at the feature's place: on a busy machine the
        # map may still be fitting its bounds, and a click at a moving point misses it
        page.locator("#map path.leaflet-interactive").first.dispatch_event("click")
        close = page.locator("#map .leaflet-popup-close-button")
        expect(close).to_have_attribute("aria-label", words["close"])
        expect(page.locator("#map .leaflet-popup [data-user-content]")).to_have_count(1)
    finally:
        page.context.close()
