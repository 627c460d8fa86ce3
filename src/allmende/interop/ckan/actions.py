"""The CKAN actions allmende answers, each a small function over the catalog records and the
table reader (never the database itself): ``action(call, data) -> result``. Their docstrings
are what help_show returns."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy.orm import Session

from allmende import __version__
from allmende.access.policy import ANONYMOUS, Actor
from allmende.catalog import fielded, records
from allmende.catalog.search import SearchRequest
from allmende.catalog.vocabularies import THEMES
from allmende.errors import msg
from allmende.interop.ckan import dicts, params, solr
from allmende.interop.ckan.errors import NOT_FOUND, ActionError, search_query_error
from allmende.interop.links import Links
from allmende.platform import Platform

ROWS_DEFAULT = 10
ROWS_MAX = 1000
LIST_MAX = 1000
LIST_ALL_FIELDS_MAX = 25
#: Parameters of package_search that change nothing here (Solr tuning, CKAN schema options).
IGNORED_SEARCH_PARAMETERS = frozenset({
    "qf", "wt", "bf", "boost", "tie", "defType", "mm", "df", "facet", "facet.mincount",
    "include_drafts", "include_deleted", "use_default_schema", "extras",
})
SEARCH_PARAMETERS = frozenset({"q", "fq", "fq_list", "rows", "start", "sort", "facet.field",
                               "facet.limit", "include_private", "fl"})


@dataclass(frozen=True)
class Call:
    """What an action works with: the platform, one database session, the caller, the
    caller's language and where links point."""

    platform: Platform
    session: Session
    actor: Actor
    language: str
    links: Links
    url: str  # the request's own URL (datastore_search's paging links)


Action = Callable[[Call, dict[str, Any]], Any]
ACTIONS: dict[str, Action] = {}


def action(function: Action) -> Action:
    ACTIONS[function.__name__] = function
    return function


@action
def status_show(call: Call, data: dict[str, Any]) -> dict[str, Any]:
    """The site's name, address and the CKAN API version answered (2.11)."""
    return {"site_title": "allmende", "site_url": call.links.url(""),
            "site_description": "", "ckan_version": "2.11.0", "allmende_version": __version__,
            "error_emails_to": None, "locale_default": "de", "extensions": ["datastore"]}


@action
def help_show(call: Call, data: dict[str, Any]) -> str:
    """What an action does (``name``)."""
    name = params.required(data, "name")
    function = ACTIONS.get(name)
    if function is None:
        raise ActionError(NOT_FOUND, msg("Die Aktion „{name}“ gibt es nicht.", name=name))
    return function.__doc__ or ""


@action
def package_list(call: Call, data: dict[str, Any]) -> list[str]:
    """Names of the public datasets, in name order (``limit``, ``offset``)."""
    return records.dataset_names(call.session, ANONYMOUS,
                                 offset=params.integer(data, "offset", 0) or 0,
                                 limit=params.integer(data, "limit"))


@action
def package_show(call: Call, data: dict[str, Any]) -> dict[str, Any]:
    """One dataset by ``id`` (its UUID) or name."""
    found = records.dataset_record(call.session, call.actor, params.required(data, "id"))
    return dicts.package_dict(found, call.links, call.language)


@action
def resource_show(call: Call, data: dict[str, Any]) -> dict[str, Any]:
    """One resource by ``id``."""
    dataset, resource = records.resource_record(call.session, call.actor,
                                                params.required(data, "id"))
    return dicts.resource_dict(dataset, resource, call.links)


@action
def package_search(call: Call, data: dict[str, Any]) -> dict[str, Any]:
    """Datasets found by ``q`` (words, "phrases", name:, title:, tags:, organization:,
    res_format:) and ``fq`` (organization:, tags:, res_format:, groups:,
    metadata_modified:[X TO *]), ``rows`` (≤ 1000), ``start``, ``sort`` (score desc,
    metadata_modified desc | metadata_modified desc | id asc | title_string asc),
    ``facet.field``, ``facet.limit``; ``include_private`` adds the datasets only the caller
    may see."""
    unknown = set(data) - SEARCH_PARAMETERS - IGNORED_SEARCH_PARAMETERS
    unknown = {k for k in unknown if not k.startswith("ext_")}
    if unknown:
        raise search_query_error(msg("Unbekannte Suchparameter: {names}.",
                                     names=", ".join(sorted(unknown))))
    rows = params.integer(data, "rows", ROWS_DEFAULT, maximum=ROWS_MAX)
    start = params.integer(data, "start", 0)
    facet_fields = params.string_list(data, "facet.field") or []
    facet_limit = _facet_limit(data)
    for name in facet_fields:
        if name not in solr.FACETS:
            raise search_query_error(msg(
                "facet.field: „{field}“ wird nicht unterstützt; möglich: {allowed}.",
                field=name, allowed=", ".join(solr.FACETS)))
    fq = " ".join([params.text(data, "fq"), *(params.string_list(data, "fq_list") or [])])
    parsed = solr.parse(params.text(data, "q"), fq)
    sort = solr.sort(params.text(data, "sort") or None)
    actor = call.actor if params.boolean(data, "include_private") else ANONYMOUS
    page = records.search_records(call.session, call.platform.search_index, actor, SearchRequest(
        q=" ".join([*parsed.words, *parsed.phrases, *parsed.titles]),
        filters={k: [v] for k, v in parsed.filters.items()}, sort=sort, start=start,
        per_page=max(rows or 0, 1), max_per_page=ROWS_MAX,
        modified_since=parsed.modified_since, facet_limit=facet_limit,
        only_ids=fielded.matching_ids(call.session, parsed.names, parsed.phrases,
                                      parsed.titles)
        if parsed.names or parsed.phrases or parsed.titles else None,
    ), call.language)
    results = [dicts.package_dict(r, call.links, call.language)
               for r in (page.records if rows else [])]
    fields = params.string_list(data, "fl")
    if fields:
        results = [{f: result.get(f) for f in fields} for result in results]
    facets = {name: _facet_items(name, page.result.facets.get(solr.FACETS[name], []))
              for name in facet_fields}
    return {
        "count": page.count, "sort": data.get("sort") or solr.DEFAULT_SORT,
        "results": results,
        "facets": {name: {i["name"]: i["count"] for i in items}
                   for name, items in facets.items()},
        # CKAN sorts the items by display name, descending
        "search_facets": {name: {"title": name, "items": sorted(
            items, key=lambda i: i["display_name"], reverse=True)}
            for name, items in facets.items()},
    }


def _facet_limit(data: dict[str, Any]) -> int:
    value = data.get("facet.limit")
    if isinstance(value, str) and value.strip().startswith("-"):
        return -1
    if isinstance(value, int) and value < 0:
        return -1
    return params.integer(data, "facet.limit", 50) or 0


def _facet_items(name: str, values: list[Any]) -> list[dict[str, Any]]:
    """Facet values as CKAN names them: groups in lower case."""
    return [{"name": v.value.lower() if name == "groups" else v.value,
             "display_name": v.label, "count": v.count} for v in values]


@action
def current_package_list_with_resources(call: Call, data: dict[str, Any]) -> list[Any]:
    """Public datasets with their resources, most recently changed first (``limit``,
    ``offset``)."""
    limit = params.integer(data, "limit", ROWS_DEFAULT, maximum=ROWS_MAX)
    offset = params.integer(data, "offset")
    if offset is None and params.integer(data, "page") and limit:
        offset = ((params.integer(data, "page") or 1) - 1) * limit
    return package_search(call, {"rows": limit, "start": offset or 0,
                                 "include_private": call.actor.is_sysadmin})["results"]


def _counts(call: Call, facet: str) -> dict[str, int]:
    """How many datasets the caller sees per value of a catalog facet."""
    result = records.search_records(call.session, call.platform.search_index, call.actor,
                                    SearchRequest(per_page=1, facet_limit=-1)).result
    return {v.value: v.count for v in result.facets.get(facet, [])}


def _sorted(items: list[dict[str, Any]], sort: str, default: str) -> list[dict[str, Any]]:
    field, _, direction = (sort or default).strip().partition(" ")
    if field in ("packages", "package_count"):
        field, direction = "package_count", direction or "desc"
    if field not in ("name", "title", "package_count"):
        raise ActionError("Validation Error", fields={"sort": [msg(
            "Sortierung nach name, title oder package_count, z. B. „title asc“.")]})
    return sorted(items, key=lambda i: (i[field], i["name"]) if field == "package_count"
                  else str(i[field]).casefold(), reverse=direction.strip() == "desc")


def _listed(call: Call, data: dict[str, Any], items: list[dict[str, Any]]) -> list[Any]:
    """organization_list and group_list: filtered, sorted, paged, names or whole dicts."""
    wanted = params.string_list(data, "organizations") or params.string_list(data, "groups")
    if wanted:
        items = [i for i in items if i["name"] in wanted]
    query = params.text(data, "q").strip().casefold()
    if query:
        items = [i for i in items if query in i["name"].casefold()
                 or query in i["title"].casefold() or query in i["description"].casefold()]
    items = _sorted(items, params.text(data, "sort"), "title asc")
    all_fields = params.boolean(data, "all_fields")
    limit = params.integer(data, "limit", None,
                           maximum=LIST_ALL_FIELDS_MAX if all_fields else LIST_MAX)
    if limit is None:
        limit = LIST_ALL_FIELDS_MAX if all_fields else LIST_MAX
    offset = params.integer(data, "offset", 0) or 0
    items = items[offset:offset + limit]
    return items if all_fields else [i["name"] for i in items]


@action
def organization_list(call: Call, data: dict[str, Any]) -> list[Any]:
    """The organizations' names, or with ``all_fields`` their dictionaries with
    ``package_count`` (the datasets the caller sees); ``sort``, ``limit``, ``offset``, ``q``,
    ``organizations``."""
    counts = _counts(call, "organization")
    items = [dicts.organization_dict(o, call.links, counts.get(o.slug, 0))
             for o in records.organization_records(call.session)]
    return _listed(call, data, items)


@action
def organization_show(call: Call, data: dict[str, Any]) -> dict[str, Any]:
    """One organization by ``id`` or name, with ``package_count``; ``include_datasets`` adds
    its datasets the caller sees (up to 1000)."""
    wanted = params.required(data, "id")
    found = next((o for o in records.organization_records(call.session)
                  if wanted in (o.slug, dicts.derived_id("organization", o.slug))), None)
    if found is None:
        raise ActionError(NOT_FOUND, msg("Die Organisation „{slug}“ gibt es nicht.",
                                         slug=wanted))
    result = dicts.organization_dict(found, call.links,
                                     _counts(call, "organization").get(found.slug, 0))
    if params.boolean(data, "include_datasets"):
        result["packages"] = _datasets_of(call, "organization", found.slug)
    return result


def _datasets_of(call: Call, facet: str, value: str) -> list[dict[str, Any]]:
    page = records.search_records(call.session, call.platform.search_index, call.actor,
                                  SearchRequest(filters={facet: [value]}, sort="modified",
                                                per_page=ROWS_MAX, max_per_page=ROWS_MAX))
    return [dicts.package_dict(r, call.links, call.language) for r in page.records]


@action
def group_list(call: Call, data: dict[str, Any]) -> list[Any]:
    """The EU data themes as groups (named by their code in lower case); ``all_fields``,
    ``sort``, ``limit``, ``offset``, ``q``, ``groups``."""
    counts = _counts(call, "theme")
    items = [dicts.group_dict(code, call.language, counts.get(code, 0)) for code in THEMES]
    return _listed(call, data, items)


@action
def group_show(call: Call, data: dict[str, Any]) -> dict[str, Any]:
    """One theme by ``id`` or name (``tran``); ``include_datasets`` adds its datasets."""
    wanted = params.required(data, "id")
    code = next((c for c in THEMES
                 if wanted in (c.lower(), c, dicts.derived_id("group", c.lower()))), None)
    if code is None:
        raise ActionError(NOT_FOUND, msg("Die Gruppe „{name}“ gibt es nicht.", name=wanted))
    result = dicts.group_dict(code, call.language, _counts(call, "theme").get(code, 0))
    if params.boolean(data, "include_datasets"):
        result["packages"] = _datasets_of(call, "theme", code)
    return result


@action
def tag_list(call: Call, data: dict[str, Any]) -> list[Any]:
    """The tags (keywords) of the datasets the caller sees, by name; ``query`` keeps those
    containing it, ``all_fields`` gives dictionaries."""
    query = params.text(data, "query").casefold()
    names = sorted((t for t in _counts(call, "keyword") if query in t.casefold()),
                   key=str.casefold)
    return [dicts.tag_dict(n) for n in names] if params.boolean(data, "all_fields") else names

