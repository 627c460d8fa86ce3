"""The transparency log's pages in chromium: from the log page to an organization's events,
a dataset's events, what a reader may not see left out, and English."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect
from ui_support import SYSTEM_ACTOR, Site

from allmende.catalog import datasets
from allmende.transparency import checkpoints, log


@pytest.fixture(scope="module")
def logged(site: Site) -> dict[str, int]:
    """A restricted dataset with a read logged, and an event of a members-only dataset."""
    with site.platform.db.session() as session:
        secret = datasets.create_dataset(session, SYSTEM_ACTOR, {
            "name": "log-vertraulich", "organization": "dortmund", "access_level": "restricted",
            "title": "Vertrauliche Messwerte", "description": "Nur unter Vereinbarung."})
        internal = datasets.create_dataset(session, SYSTEM_ACTOR, {
            "name": "log-intern", "organization": "dortmund", "access_level": "members",
            "title": "Interne Liste", "description": "Nur für Mitglieder."})
        read = log.append(session, {"type": "access.rows", "organization": "dortmund",
                                    "dataset": secret.uuid, "rows": 42,
                                    "reader": "a" * 32, "agreement": "urn:uuid:1"})
        hidden = log.append(session, {"type": "access.rows", "organization": "dortmund",
                                      "dataset": internal.uuid, "rows": 5})
        checkpoints.publish(session, site.platform.settings)
    return {"read": read, "hidden": hidden}


@pytest.mark.browser
def test_a_citizen_finds_an_access_in_the_log(page: Page, logged: dict[str, int]) -> None:
    page.goto("/")
    page.get_by_role("link", name="Transparenzprotokoll").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Transparenzprotokoll")
    expect(page.locator("#log-size")).not_to_have_text("0")
    expect(page.get_by_text("allmende log verify --url")).to_be_visible()
    page.goto("/organizations/dortmund")
    page.get_by_role("link", name="Transparenzprotokoll dieser Organisation").click()
    row = page.locator(f"#entry-{logged['read']}")
    expect(row).to_contain_text("Zeilen gelesen")
    expect(row).to_contain_text("Vertrauliche Messwerte")
    expect(row).to_contain_text("Zeilen: 42")
    expect(page.locator(f"#entry-{logged['hidden']}")).to_have_count(0)
    row.get_by_role("link", name="Vertrauliche Messwerte").click()
    page.get_by_role("link", name="Transparenzprotokoll dieses Datensatzes").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("Vertrauliche Messwerte")
    expect(page.locator(f"#entry-{logged['read']}")).to_contain_text("urn:uuid:1")
    page.goto("/organizations/dortmund/log?lang=en")
    expect(page.locator(f"#entry-{logged['read']}")).to_contain_text("Rows read")
    expect(page.locator(f"#entry-{logged['read']}")).to_contain_text("Rows: 42")
