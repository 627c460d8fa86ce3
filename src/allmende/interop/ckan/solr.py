"""The subset of Solr's query syntax that package_search understands.

``q``: words (all must match, German folding and stemming as everywhere), quoted phrases,
``field:value`` and ``field:"a phrase"`` for name, title, tags, organization and res_format;
``*:*`` or nothing for everything; ``+`` before a term and ``AND`` between terms change
nothing (every term must match anyway). ``fq``: ``organization:``, ``tags:``, ``res_format:``,
``groups:``, ``dataset_type:dataset`` and ``metadata_modified:[<ISO date> TO *]``. Anything
else (OR, NOT, negation, wildcards, fuzzy or boosted terms, other fields) is refused with a
message saying what is possible, never silently read as something else.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field

from allmende.errors import msg
from allmende.interop.ckan.errors import ActionError, search_query_error

Q_FIELDS = ("name", "title", "tags", "organization", "res_format")
FQ_FIELDS = ("organization", "tags", "res_format", "groups", "metadata_modified",
             "dataset_type")
#: Catalog facets of the fields that are facets (tags are keywords, groups are themes).
FACETS = {"organization": "organization", "tags": "keyword", "res_format": "format",
          "groups": "theme", "license_id": "license"}

_TERM = re.compile(r"""
    (?P<sign>[+-])?
    (?:(?P<field>[A-Za-z_][A-Za-z0-9_.]*):)?
    (?: "(?P<quoted>[^"]*)"
      | \[(?P<range>[^\]]*)\]
      | (?P<bare>[^\s"]+) )
    """, re.X)
_SPECIAL = re.compile(r"""[(){}\[\]^~*?\\/!:"]|&&|\|\|""")
_OPERATORS = {"OR", "NOT", "||", "&&", "!"}


@dataclass
class Term:
    field: str | None
    value: str
    phrase: bool = False
    range: bool = False


@dataclass
class Parsed:
    """What a q and an fq asked for, ready for the catalog search."""

    words: list[str] = field(default_factory=list)
    phrases: list[str] = field(default_factory=list)
    names: list[str] = field(default_factory=list)
    titles: list[str] = field(default_factory=list)
    filters: dict[str, str] = field(default_factory=dict)  # catalog facet → value
    modified_since: dt.datetime | None = None


def terms(text: str, parameter: str) -> list[Term]:
    """The terms of a query string, or a Search Query Error naming what is not supported."""
    found: list[Term] = []
    position = 0
    text = text.strip()
    while position < len(text):
        if text[position].isspace():
            position += 1
            continue
        match = _TERM.match(text, position)
        if match is None:
            raise search_query_error(msg(
                "{parameter}: ein Anführungszeichen ist nicht geschlossen.",
                parameter=parameter))
        position = match.end()
        found.extend(_term(match, parameter))
    return found


def _term(match: re.Match[str], parameter: str) -> list[Term]:
    whole = match.group(0)
    if whole == "*:*":
        return []
    if match.group("sign") == "-":
        raise search_query_error(msg("{parameter}: Ausschlüsse („-{term}“) werden nicht "
                                     "unterstützt.", parameter=parameter, term=whole[1:]))
    bare = match.group("bare")
    if bare is not None and match.group("field") is None and bare in _OPERATORS:
        raise search_query_error(msg(
            "{parameter}: „{operator}“ wird nicht unterstützt; alle Begriffe müssen "
            "zutreffen.", parameter=parameter, operator=bare))
    if bare == "AND" and match.group("field") is None:
        return []
    if bare is not None and _SPECIAL.search(bare):
        raise search_query_error(msg(
            "{parameter}: „{term}“ enthält Zeichen der Solr-Syntax (Klammern, Platzhalter, "
            "Gewichtungen), die nicht unterstützt werden.", parameter=parameter, term=whole))
    if match.group("range") is not None:
        return [Term(match.group("field"), match.group("range"), range=True)]
    if match.group("quoted") is not None:
        return [Term(match.group("field"), match.group("quoted"), phrase=True)]
    return [Term(match.group("field"), bare or "")]


def parse(q: str, fq: str) -> Parsed:
    parsed = Parsed()
    for term in terms(q, "q"):
        _add_q(parsed, term)
    for term in terms(fq, "fq"):
        _add_fq(parsed, term)
    return parsed


def _add_q(parsed: Parsed, term: Term) -> None:
    if term.range:
        raise _unsupported_field("q", term.field or "", Q_FIELDS)
    if term.field is None:
        (parsed.phrases if term.phrase else parsed.words).append(term.value)
    elif term.field == "name":
        parsed.names.append(term.value)
    elif term.field == "title":
        parsed.titles.append(term.value)
    elif term.field in Q_FIELDS:
        _filter(parsed, term.field, term.value)
    else:
        raise _unsupported_field("q", term.field, Q_FIELDS)


def _add_fq(parsed: Parsed, term: Term) -> None:
    if term.field not in FQ_FIELDS:
        raise _unsupported_field("fq", term.field or term.value, FQ_FIELDS)
    if term.field == "metadata_modified":
        parsed.modified_since = _since(term)
    elif term.field == "dataset_type":
        if term.value != "dataset":
            raise search_query_error(msg("fq: hier gibt es nur dataset_type:dataset."))
    elif term.range:
        raise search_query_error(msg("fq: {field} nimmt keinen Bereich an.",
                                     field=term.field))
    else:
        _filter(parsed, term.field, term.value)


def _filter(parsed: Parsed, name: str, value: str) -> None:
    facet = FACETS[name]
    value = {"res_format": value.upper(), "groups": value.upper()}.get(name, value)
    if parsed.filters.get(facet, value) != value:
        raise search_query_error(msg(
            "Für {field} wird nur ein Wert unterstützt (alle Bedingungen müssen zutreffen).",
            field=name))
    parsed.filters[facet] = value


def _since(term: Term) -> dt.datetime:
    lower, separator, upper = term.value.partition(" TO ")
    if not term.range or not separator or upper.strip() != "*":
        raise search_query_error(msg(
            "fq: metadata_modified nimmt nur einen offenen Bereich an, z. B. "
            "metadata_modified:[2024-01-01T00:00:00Z TO *]."))
    text = lower.strip()
    try:
        moment = dt.datetime.fromisoformat(text.removesuffix("Z"))
    except ValueError:
        raise search_query_error(msg(
            "fq: „{value}“ ist kein Zeitpunkt nach ISO 8601 (z. B. 2024-01-01T00:00:00Z).",
            value=text)) from None
    return moment.replace(tzinfo=dt.UTC) if moment.tzinfo is None else moment


def _unsupported_field(parameter: str, name: str, allowed: tuple[str, ...]) -> ActionError:
    return search_query_error(msg("{parameter}: das Feld „{field}“ wird nicht unterstützt; "
                                  "möglich: {allowed}.", parameter=parameter, field=name,
                                  allowed=", ".join(allowed)))


SORTS = {
    "score desc, metadata_modified desc": "relevance", "score desc": "relevance",
    "rank": "relevance", "metadata_modified desc": "modified", "id asc": "id",
    "title_string asc": "title",
}
DEFAULT_SORT = "score desc, metadata_modified desc"


def sort(text: str | None) -> str:
    """The catalog order of a CKAN sort parameter."""
    normalized = re.sub(r"\s*,\s*", ", ", re.sub(r"\s+", " ", (text or DEFAULT_SORT).strip()))
    found = SORTS.get(normalized.lower())
    if found is None:
        raise search_query_error(msg("Die Sortierung „{sort}“ wird nicht unterstützt; "
                                     "möglich: {allowed}.", sort=text,
                                     allowed="; ".join(SORTS)))
    return found
