"""Pages name things by their labels, in the reader's language, never by codes or keys: the
change history of a dataset (who did what, also what the platform did by itself) and the
chips of active search filters (an organization's name, a category's title), on the demo
region as a new user sees it."""

from __future__ import annotations

import re

import pytest

REGISTER = "Ladesäulenregister, Auszug 2024 (CSV)"
HISTORY = {
    "de": [f"allmende (automatisch) hat eine Zuordnung zu einem gemeinsamen Schema "
           f"gespeichert: {REGISTER} → ladesaeulen",
           f"allmende (automatisch) hat eine neue Version hochgeladen: {REGISTER}",
           f"allmende (automatisch) hat eine Ressource hinzugefügt: {REGISTER}",
           "allmende (automatisch) hat den Datensatz angelegt"],
    "en": [f"allmende (automatically) saved a mapping to a shared schema: {REGISTER} → "
           "ladesaeulen",
           f"allmende (automatically) uploaded a new version: {REGISTER}",
           f"allmende (automatically) added a resource: {REGISTER}",
           "allmende (automatically) created the dataset"],
}


def _items(html: str, start: str, end: str) -> list[str]:
    """The text of each list item between start and end."""
    part = html[html.index(start):]
    part = part[:part.index(end)]
    return [" ".join(re.sub(r"<[^>]+>", " ", item).split()) for item in part.split("<li>")[1:]]


@pytest.mark.parametrize("lang", ["de", "en"])
def test_the_change_history_says_who_did_what_in_words(client, demo_region, lang):
    html = client.get("/datasets/gelsenkirchen-ladesaeulen", params={"lang": lang}).text
    entries = _items(html, '<ol class="history">', "</ol>")
    # each entry: "<time> : <who> <what>"
    assert [entry.split(" : ", 1)[1] for entry in entries] == HISTORY[lang]
    history = " ".join(entries)
    assert not re.search(r"\b[a-z]+_[a-z_]+\b", history), history  # no key like mapping_saved
    assert "unbekannt" not in history and "unknown" not in history


@pytest.mark.parametrize(("lang", "chips"), [
    ("de", ["Organisation: Stadt Dortmund", "Kategorie: Verkehr", "Schlagwort: Ladesäulen"]),
    ("en", ["Organization: Stadt Dortmund", "Category: Transport", "Keyword: Ladesäulen"])])
def test_active_filters_are_shown_by_their_labels(client, demo_region, lang, chips):
    def shown(params: dict) -> list[str]:
        html = client.get("/datasets", params={**params, "lang": lang}).text
        return [chip.removesuffix(" ✕ (Filter entfernen)").removesuffix(" ✕ (remove filter)")
                for chip in _items(html, 'class="active-filters"', "</ul>")][:-1]

    found = shown({"organization": "dortmund", "theme": "TRAN", "keyword": "Ladesäulen"})
    assert found == chips
    # a filter nothing matches is named all the same (its label is not among the facets)
    assert shown({"organization": "dortmund", "q": "gibt-es-nicht-xyz"}) == chips[:1]
