"""Regional overviews: per shared schema the regional table (the union of all municipalities'
mapped data) with filters on the schema's fields, a map, counts per municipality and its
sources with their quality. Rows come from the table query services, like the rows API."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Request
from fastapi.datastructures import QueryParams
from fastapi.responses import HTMLResponse

from allmende.db.models import Consolidation
from allmende.errors import Invalid, NotFound
from allmende.harmonize import service
from allmende.tables.query import FORMATS, aggregate, parse_query, select_rows
from allmende.tables.service import ReadableVersion, Withheld, readable_version
from allmende.transparency.reads import Interface
from allmende.web.deps import ActorDep, PlatformDep, SessionDep
from allmende.web.i18n import language_of, localize
from allmende.web.ui.ingest_options import FORMAT_LABELS
from allmende.web.ui.render import render
from allmende.web.ui.resource_pages import geometry_text

router = APIRouter()
PER_PAGE = 25
MAP_LIMIT = 2000
ORGANIZATION = "quelle_organisation"


@dataclass
class Choice:
    """A select filter (allowed values, yes/no, municipality): parameter ``f.<field>``.
    ``translated``: the option texts are UI messages (yes/no), not data."""

    field: str
    title: str
    options: list[tuple[str, str]] = field(default_factory=list)
    translated: bool = False

    @property
    def param(self) -> str:
        return f"f.{self.field}"


@dataclass
class Filters:
    """The filter inputs a schema offers and the rows API parameters of their values."""

    choices: list[Choice]
    ranges: list[tuple[str, str]]  # date fields: (name, title), parameters from./to.<name>
    texts: list[tuple[str, str]]  # text fields for "column contains value"
    selection: list[tuple[str, str]] = field(default_factory=list)


def _filter_key(name: str, op: str = "") -> str:
    # The filter. prefix addresses any column, even one named like a parameter ("format").
    return f"filter.{name}" + (f"__{op}" if op else "")


def _filters(schema: dict[str, Any], consolidation: Consolidation,
             params: QueryParams) -> Filters:
    choices, ranges, texts = [], [], []
    for spec in schema["fields"]:
        name, kind = spec["name"], spec.get("type", "string")
        title = spec.get("title") or name
        allowed = (spec.get("constraints") or {}).get("enum")
        if allowed:
            choices.append(Choice(name, title, [(str(v), str(v)) for v in allowed]))
        elif kind == "boolean":
            choices.append(Choice(name, title, [("true", "yes"), ("false", "no")], True))
        elif kind == "date":
            ranges.append((name, title))
        elif kind == "string":
            texts.append((name, title))
    municipalities = {s["organization"]: s["organization_name"] for s in consolidation.sources}
    choices.insert(0, Choice(ORGANIZATION, "", sorted(municipalities.items(),
                                                      key=lambda item: item[1])))
    filters = Filters(choices, ranges, texts)
    filters.selection = _selection(filters, params)
    return filters


def _selection(filters: Filters, params: QueryParams) -> list[tuple[str, str]]:
    selection = [(_filter_key(c.field), params[c.param]) for c in filters.choices
                 if params.get(c.param)]
    for name, _title in filters.ranges:
        for prefix, op in (("from", "gte"), ("to", "lte")):
            if value := params.get(f"{prefix}.{name}"):
                selection.append((_filter_key(name, op), value))
    column, value = params.get("column", ""), params.get("value", "")
    if value and column in {name for name, _title in filters.texts}:
        selection.append((_filter_key(column, "contains"), value))
    return selection


def _page_number(params: QueryParams) -> int:
    value = params.get("page", "1")
    return max(1, int(value)) if value.isdigit() else 1


def _counts(table: ReadableVersion, selection: list[tuple[str, str]],
            names: dict[str, str]) -> list[tuple[str, str, int]]:
    """(slug, name, rows) per municipality in the selection, most rows first."""
    query = parse_query(selection, table.schema)
    result = aggregate(table.path, table.schema, group_by=[ORGANIZATION],
                       metrics=[("count", None)], query=query)
    counts = [(row[ORGANIZATION], names.get(row[ORGANIZATION], row[ORGANIZATION] or "–"),
               row["count"]) for row in result.rows]
    return sorted(counts, key=lambda item: -item[2])


def _table_context(request: Request, table: ReadableVersion, schema: dict[str, Any],
                   consolidation: Consolidation) -> dict[str, Any]:
    params = request.query_params
    filters = _filters(schema, consolidation, params)
    page = _page_number(params)
    names = {s["organization"]: s["organization_name"] for s in consolidation.sources}
    try:
        rows = select_rows(table.path, table.schema, parse_query(
            [*filters.selection, ("limit", str(PER_PAGE)),
             ("offset", str((page - 1) * PER_PAGE))], table.schema))
        counts, problems = _counts(table, filters.selection, names), []
    except Invalid as error:
        rows, counts = None, []
        problems = [e.message for e in error.field_errors] or [error.message]
    base = f"/api/v1/resources/{table.resource_id}/rows"
    geometry = next((c["name"] for c in table.schema if c["type"] == "geometry"), None)
    shown = [c for c in table.schema
             if c["type"] != "geometry" and (c["name"] in {f["name"] for f in schema["fields"]}
                                             or c["name"] == ORGANIZATION)]
    total = rows.total if rows else 0
    table.delivered(len(rows.rows) if rows else 0)
    map_query = urlencode([("format", "geojson"), ("limit", MAP_LIMIT), *filters.selection])
    return {
        "filters": filters, "rows": rows, "problems": problems, "counts": counts,
        "names": names, "columns": shown, "page": page, "per_page": PER_PAGE,
        "pages": max(1, math.ceil(total / PER_PAGE)), "total": total,
        "format_labels": FORMAT_LABELS,
        "downloads": [(fmt, f"{base}?{urlencode([('format', fmt), *filters.selection])}")
                      for fmt in FORMATS if fmt != "geojson" or geometry],
        "geojson_url": f"{base}?{map_query}" if geometry else None,
        "map_limit": MAP_LIMIT, "geometry_text": geometry_text,
    }


@router.get("/region", response_class=HTMLResponse)
def index(request: Request, session: SessionDep, actor: ActorDep) -> HTMLResponse:
    regional = {c.schema_name: c for c in service.list_consolidations(session, actor)}
    return render(request, "region_index.html", {
        "schemas": service.list_schemas(session), "regional": regional}, actor=actor)


@router.get("/region/{schema_name}", response_class=HTMLResponse)
def overview(schema_name: str, request: Request, session: SessionDep, actor: ActorDep,
             platform: PlatformDep) -> HTMLResponse:
    schema = service.get_schema(session, schema_name)
    context: dict[str, Any] = {"schema": schema, "consolidation": None,
                               "tile_url": platform.settings.map_tile_url,
                               "tile_attribution": platform.settings.map_tile_attribution}
    try:
        consolidation = service.get_consolidation(session, actor, schema_name)
    except NotFound:
        return render(request, "region.html", context, actor=actor)
    try:
        table = readable_version(session, actor, platform.settings.data_dir,
                                 consolidation.resource_id, interface=Interface.UI)
    except Withheld as error:  # a source was withdrawn; its rebuild is still running
        context["withheld"] = localize(error.message, language_of(request))
        return render(request, "region.html", context, actor=actor)
    context.update(consolidation=consolidation, dataset=consolidation.dataset,
                   **_table_context(request, table, schema, consolidation))
    return render(request, "region.html", context, actor=actor)
