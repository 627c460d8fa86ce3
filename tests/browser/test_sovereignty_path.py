"""The whole way of a restricted dataset (issue 12), in chromium with a browser of their own for
each person: a journalist outside the alliance finds the dataset, registers and confirms her
address by the link in the e-mail, asks for two of its four columns and one district; the
owner's admin approves with a reason; she downloads exactly that as CSV, and is refused a column
outside it with her own API token; once the admin has revoked the agreement her next download
is refused with his reason. A citizen finds every step in the public log, without her name or
address, and verifies the log as a witness with `allmende log verify` — again after it grew."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect
from test_ui_browser import sign_in
from ui_support import serving

from allmende.access import accounts, agreements, requests
from allmende.catalog import datasets, organizations
from allmende.ingest.service import IngestRequest, ingest
from allmende.platform import Platform
from allmende.transparency import checkpoints, log
from allmende.web.ui.helpers import format_datetime
from cli_support import run_process
from databases import Installation
from mail_support import Inbox, smtp_server
from support import OPERATOR, http, quick_jobs

SOURCE = """Unfallort;Stadtbezirk;Unfälle;Verletzte
Voerder Straße;Haspe;7;3
Tückingschulstraße;Haspe;2;0
Märkischer Ring;Hagen-Mitte;9;4
Elseyer Straße;Hohenlimburg;5;2
Preußerstraße;Haspe;4;1
Bahnhofstraße;Hagen-Mitte;6;2
"""
RELEASED = ("Stadtbezirk", "Unfälle")
WITHHELD = "Unfallort"
DISTRICT = "Haspe"
DAYS = 60
DATASET, TITLE = "unfaelle-hagen", "Unfälle in Hagen"
CONDITIONS = "Die Daten dienen nur dem genannten Zweck und werden danach gelöscht."
ADMIN = ("admin@hagen.example", "admin-passwort-1")
REQUESTER = ("mara.kowalski@zeitung.example", "redaktion-passwort-1", "Mara Kowalski")
APPROVAL = "Berechtigtes Interesse an der Unfallberichterstattung ist dargelegt."
REVOCATION = "Recherche abgeschlossen, Zweck entfallen"


@dataclass
class Town:
    platform: Platform
    url: str
    inbox: Inbox
    resource: str


def _seed(platform: Platform) -> str:
    """What no one clicks: the organization, its admin and conditions of use, and its
    restricted table. Returns the table's resource id."""
    with platform.db.session() as session:
        hagen = organizations.create_organization(session, OPERATOR, {
            "slug": "hagen", "name": "Stadt Hagen", "type": "municipality", "ags": "05914000"})
        admin = accounts.create_user(session, ADMIN[0], ADMIN[1], name="Hanna Admin")
        accounts.set_membership(session, OPERATOR, admin, hagen, "admin")
        requests.set_conditions(session, OPERATOR, "hagen", CONDITIONS)
        datasets.create_dataset(session, OPERATOR, {
            "name": DATASET, "organization": "hagen", "title": TITLE,
            "description": "Unfälle mit Personenschaden je Unfallort, nur mit Vereinbarung.",
            "access_level": "restricted"})
    path = Path(platform.settings.data_dir) / "unfaelle.csv"
    path.write_text(SOURCE, encoding="utf-8")
    return ingest(platform, OPERATOR, IngestRequest(DATASET, path, "unfaelle.csv")).resource


@pytest.fixture
def town(installation: Installation) -> Iterator[Town]:
    platform = installation.platform()
    try:
        with smtp_server(platform.settings) as inbox, quick_jobs(platform), \
                serving(platform) as url:
            yield Town(platform, url, inbox, _seed(platform))
    finally:
        platform.close()


@pytest.fixture
def person(browser: Browser, town: Town) -> Iterator[Callable[[], Page]]:
    """A new person: a browser context of their own (cookies, session), in German."""
    contexts = []

    def arrive() -> Page:
        context = browser.new_context(base_url=town.url, locale="de-DE",
                                      viewport={"width": 1280, "height": 900})
        context.set_default_timeout(10_000)
        contexts.append(context)
        return context.new_page()

    yield arrive
    for context in contexts:
        context.close()


def _link_in(body: str) -> str:
    match = re.search(r"https?://\S+", body)
    assert match, body
    return match.group(0)


def _released_rows() -> list[list[str]]:
    """What the agreement releases, read from the source: its columns of the district's rows."""
    rows = list(csv.DictReader(io.StringIO(SOURCE), delimiter=";"))
    return [list(RELEASED)] + [[row[c] for c in RELEASED] for row in rows
                               if row["Stadtbezirk"] == DISTRICT]


def _verify(url: str, state: Path) -> str:
    """The witness: the `allmende` command of this installation, as a process."""
    result = run_process("log", "verify", "--url", url, "--state", state, cwd=state.parent)
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout + result.stderr


def _checkpoint(platform: Platform) -> None:
    """The worker's periodic task (every minute): a signed checkpoint of the grown log."""
    checkpoints.publish_periodically(platform)


def test_request_approve_download_revoke_and_verify_the_log(
        town: Town, person: Callable[[], Page], tmp_path: Path) -> None:
    email, password, name = REQUESTER
    inbox = town.inbox

    # -- the requester finds the dataset; its rows are closed to her -------------------------
    requester = person()
    requester.goto("/")
    requester.get_by_label("Datensätze durchsuchen").fill("Unfälle Hagen")
    requester.get_by_role("button", name="Suchen").click()
    requester.get_by_role("link", name=TITLE).click()
    expect(requester).to_have_url(f"/datasets/{DATASET}")
    expect(requester.locator(".request-access")).to_contain_text("zugangsbeschränkt")
    requester.get_by_role("link", name="unfaelle.csv").click()
    expect(requester.locator("#restricted-rows")).to_contain_text("zugangsbeschränkt")
    expect(requester.locator("table.preview")).to_have_count(0)
    expect(requester.locator("ul.downloads")).to_have_count(0)

    # -- registers, confirms by the e-mail's link, signs in, asks ----------------------------
    requester.get_by_role("link", name="Zugang beantragen").click()
    expect(requester).to_have_url(re.compile(r"/login\?next="))
    requester.get_by_role("link", name="registrieren").click()
    requester.get_by_label("Name").fill(name)
    requester.get_by_label("E-Mail-Adresse").fill(email)
    requester.get_by_label("Passwort").fill(password)
    requester.get_by_role("button", name="Registrieren").click()
    expect(requester.locator("#register-sent")).to_be_visible()
    confirmation = inbox.mail(email, "Bitte bestätigen Sie Ihre E-Mail-Adresse")
    requester.goto(_link_in(confirmation.body))
    expect(requester.locator("#register-confirmed")).to_be_visible()
    sign_in(requester, email, password)
    requester.goto(f"/datasets/{DATASET}")
    requester.get_by_role("link", name="Zugang beantragen").click()
    expect(requester.get_by_role("heading", name="Zugang beantragen")).to_be_visible()
    expect(requester.locator("#requester-email")).to_have_text(email)
    requester.get_by_label("Ihre Organisation").fill("Westfalenpost")
    requester.get_by_label("Zweck", exact=True).select_option("journalismus")
    requester.get_by_label("Zweck in Ihren Worten").fill("Recherche zu Unfallschwerpunkten")
    requester.get_by_label("Rechtsgrundlage", exact=True).select_option("dsgvo-6-1-f")
    requester.get_by_label("Ihr berechtigtes Interesse").fill(
        "Berichterstattung über gefährliche Kreuzungen in Haspe")
    for column in RELEASED:
        requester.get_by_role("checkbox", name=column, exact=True).check()
    requester.get_by_label("Spalte", exact=True).select_option("Stadtbezirk")
    requester.get_by_label("Vergleich").select_option("eq")
    requester.get_by_label("Wert", exact=True).fill(DISTRICT)
    requester.get_by_label("Zugang benötigt für (Tage)").fill(str(DAYS))
    requester.get_by_label("Empfänger der Daten").fill("Lokalredaktion")
    requester.get_by_label("Aufbewahrung und Löschkonzept").fill("Löschung nach Erscheinen")
    requester.get_by_label("Ich akzeptiere diese Nutzungsbedingungen.").check()
    requester.get_by_role("button", name="Antrag einreichen").click()
    expect(requester.locator("#request-state")).to_have_text("Eingereicht")
    request_url = requester.url
    number = request_url.rsplit("/", 1)[1]
    receipt = inbox.mail(email, f"Ihr Datenantrag {number} für „{TITLE}“ ist eingegangen")
    assert _link_in(receipt.body) == request_url
    notice = inbox.mail(ADMIN[0], f"Neuer Datenantrag {number} für „{TITLE}“")
    assert notice.recipients == [ADMIN[0]]

    # -- the owner's admin approves it with a reason -----------------------------------------
    owner = person()
    sign_in(owner, *ADMIN)
    owner.get_by_role("link", name="Antragseingang").click()
    owner.get_by_role("link", name=f"Antrag {number}", exact=True).click()
    expect(owner).to_have_url(request_url)
    expect(owner.get_by_text("Westfalenpost")).to_be_visible()
    owner.get_by_label("Bewilligen: Begründung").fill(APPROVAL)
    owner.get_by_role("button", name="Bewilligen").click()
    expect(owner.locator("#request-state")).to_have_text("Bewilligt")
    decision = inbox.mail(email, f"Ihr Datenantrag {number} für „{TITLE}“ ist bewilligt")
    assert APPROVAL in decision.body

    # -- the requester reads her agreement and downloads what it releases --------------------
    requester.goto(_link_in(decision.body))
    expect(requester.locator("#request-state")).to_have_text("Bewilligt")
    requester.get_by_role("link", name="Meine Vereinbarungen").first.click()
    card = requester.locator("article.agreement")
    expect(card).to_have_count(1)
    uid = card.get_attribute("id").removeprefix("a-")  # type: ignore[union-attr]
    with town.platform.db.session() as session:
        granted = agreements.get_agreement(session, OPERATOR, uid)
    assert granted.valid_until - granted.valid_from == dt.timedelta(days=DAYS)
    expect(card).to_contain_text("aktiv")
    expect(card).to_contain_text(", ".join(RELEASED))
    expect(card).to_contain_text(f"Stadtbezirk = {DISTRICT}")
    expect(card).to_contain_text(f"bis {format_datetime(granted.valid_until, 'de')}")
    card.get_by_role("link", name=TITLE).click()
    standing = requester.locator("#agreement-standing")
    expect(standing).to_contain_text("Ihre Nutzungsvereinbarung")
    requester.get_by_role("link", name="unfaelle.csv").click()
    standing = requester.locator("#agreement-standing")
    expect(standing).to_contain_text(", ".join(RELEASED))
    expect(requester.locator("table.preview")).to_have_count(0)  # looking spends no access
    with requester.expect_download() as download:
        standing.get_by_role("link", name="CSV", exact=True).click()
    saved = Path(download.value.path())
    assert download.value.suggested_filename == "unfaelle-v1.csv"
    assert list(csv.reader(io.StringIO(saved.read_text(encoding="utf-8")))) == _released_rows()

    # -- a witness saves the log's state -----------------------------------------------------
    state = tmp_path / "zeuge.json"
    _checkpoint(town.platform)
    # submitted, decided, the agreement, the download
    assert "Konsistent: 4 Einträge" in _verify(town.url, state)

    # -- with her own API token: the agreement's rows, and not a column more ----------------
    requester.get_by_role("link", name="API-Tokens").click()
    requester.get_by_label("Name des Tokens").fill("Auswertung")
    requester.get_by_role("button", name="Token erstellen").click()
    token = requester.locator("#new-secret").input_value()
    rows = f"{town.url}/api/v1/resources/{town.resource}/rows"
    bearer = {"Authorization": f"Bearer {token}"}
    read = http("GET", rows, headers=bearer)
    assert read.status_code == 200, read.text
    assert [[row[c] for c in RELEASED] for row in read.json()["rows"]] == [
        [district, int(count)] for district, count in _released_rows()[1:]]
    refused = http("GET", rows, params={"fields": f"Stadtbezirk,{WITHHELD}"}, headers=bearer)
    assert refused.status_code == 403, refused.text
    assert f"„{WITHHELD}“ ist durch Ihre Nutzungsvereinbarung nicht freigegeben" in \
        refused.json()["error"]["message"]

    # -- the owner revokes; her next download is refused with the reason -------------------
    requester.goto(f"/resources/{town.resource}")
    expect(requester.locator("#agreement-standing")).to_be_visible()
    owner.goto("/organizations/hagen")
    owner.get_by_role("link", name="Nutzungsvereinbarungen").click()
    card = owner.locator(f"#a-{uid}")
    expect(card).to_contain_text("2 genutzt")
    card.get_by_label("Begründung des Widerrufs").fill(REVOCATION)
    card.get_by_role("button", name="Vereinbarung widerrufen").click()
    card = owner.locator(f"#a-{uid}")
    expect(card).to_contain_text(REVOCATION)  # shown once revoked
    expect(card.get_by_role("button", name="Vereinbarung widerrufen")).to_have_count(0)
    requester.locator("#agreement-standing").get_by_role(
        "link", name="CSV", exact=True).click()  # the page still offers it
    expect(requester.get_by_role("heading", level=1)).to_have_text("Zugriff verweigert")
    expect(requester.locator("main")).to_contain_text(f"Ihre Vereinbarung {uid}")
    expect(requester.locator("main")).to_contain_text(REVOCATION)
    requester.goto(f"/resources/{town.resource}")
    expect(requester.locator("#agreement-refusal")).to_contain_text(REVOCATION)
    expect(requester.locator("#agreement-standing")).to_have_count(0)
    assert http("GET", rows, headers=bearer).json()["error"]["code"] == "agreement_revoked"

    # -- a citizen reads the public log: every step, and nobody's name ---------------------
    citizen = person()
    citizen.goto(f"/datasets/{DATASET}")
    citizen.get_by_role("link", name="Transparenzprotokoll dieses Datensatzes").click()
    events = citizen.locator("table.log-events tbody tr")
    expect(events).to_have_count(9)
    expected = ["Zugriff verweigert", "Zugriff verweigert", "Nutzungsvereinbarung widerrufen",
                "Zugriff verweigert", "Zeilen gelesen", "Zeilen gelesen",
                "Nutzungsvereinbarung geschlossen", "Über Datenantrag entschieden",
                "Datenantrag gestellt"]  # newest first
    assert [events.nth(i).locator("td").nth(2).inner_text() for i in range(9)] == expected
    with town.platform.db.session() as session:
        hagen = organizations.get_organization(session, "hagen")
        alias = log.pseudonym(session, hagen.id, accounts.get_user(session, email).id)
    for i in range(7):
        expect(events.nth(i)).to_contain_text(uid)
    for i in range(9):  # one pseudonym: who asked is who was granted, read and was revoked
        expect(events.nth(i)).to_contain_text(alias)
    # refused: after the revocation her download and her API read, before it the column
    # outside the agreement
    for i, reason in ((0, "agreement_revoked"), (1, "agreement_revoked"),
                      (3, "column_not_agreed")):
        expect(events.nth(i)).to_contain_text(reason)
    expect(events.nth(7)).to_contain_text("approved")
    citizen.goto("/organizations/hagen")
    citizen.get_by_role("link", name="Transparenzprotokoll dieser Organisation").click()
    expect(citizen.locator("table.log-events tbody tr")).to_have_count(9)
    expect(citizen.locator("table.log-events")).to_contain_text(TITLE)
    for page in (f"/datasets/{DATASET}/log", "/organizations/hagen/log"):
        citizen.goto(page)
        shown = citizen.content().lower()
        for secret in (email, email.split("@")[0], name, name.split()[1], "westfalenpost"):
            assert secret.lower() not in shown, (page, secret)

    # -- the witness again: the grown log continues the tree it saw ------------------------
    _checkpoint(town.platform)
    assert "Konsistent: 9 Einträge" in _verify(town.url, state)
    assert json.loads(state.read_text())["size"] == 9
