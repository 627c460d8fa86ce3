"""The page of a file resource: how it was read, a preview of its rows, its versions, downloads
and a map; for a holder of an agreement on a restricted dataset the agreement and downloads of
what it releases. Uploads go from the browser straight to the API (see static/ingest.js)."""

from __future__ import annotations

import math
from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, StreamingResponse

from allmende.access import agreements
from allmende.access.policy import Action, Actor, is_allowed
from allmende.catalog.datasets import get_resource, tables_changeable
from allmende.db.models import Resource, TableVersion, User
from allmende.errors import Invalid
from allmende.privacy.held import Held
from allmende.tables.query import FORMATS, RESERVED, parse_query, parse_version, select_rows
from allmende.tables.reader import open_table
from allmende.tables.service import readable_version, version_history
from allmende.transparency.reads import Interface
from allmende.web.deps import ActorDep, PlatformDep, SessionDep
from allmende.web.downloads import file_response
from allmende.web.i18n import notes_of
from allmende.web.ui.agreement_pages import reading_context
from allmende.web.ui.ingest_options import DELIMITER_NAMES, FORMAT_LABELS
from allmende.web.ui.privacy_context import privacy_context
from allmende.web.ui.quality import quality_index
from allmende.web.ui.render import render

router = APIRouter()
PER_PAGE = 50
MAP_LIMIT = 2000
TEXT_TYPES = frozenset({"string", "json"})
SORTABLE_TYPES = frozenset({"string", "integer", "number", "date", "datetime", "time", "boolean",
                            "json"})

def filter_param(name: str, type_: str) -> str:
    """The rows API parameter for the simple filter: contains for text, equals otherwise."""
    plain = name not in RESERVED and "__" not in name and not name.startswith("filter.")
    key = name if plain else f"filter.{name}"
    return f"{key}__contains" if type_ in TEXT_TYPES else key


def sort_param(name: str, descending: bool = False) -> str:
    """One sort key; names with a comma or a leading quote are quoted for the API."""
    if "," in name or name.startswith('"') or name.startswith("-"):
        name = '"' + name.replace('"', '""') + '"'
    return ("-" if descending else "") + name


def _page(value: str | None) -> int:
    try:
        return max(1, int(value or 1))
    except ValueError:
        return 1


def _version_number(value: str | None) -> int | None:
    return parse_version(value)


def geometry_text(value: Any) -> str:
    """A short text for a GeoJSON geometry in the preview table."""
    if not isinstance(value, dict):
        return "" if value is None else str(value)
    coordinates = value.get("coordinates") or []
    # versions from before coordinates were checked may hold a point without numbers
    if value.get("type") == "Point" and len(coordinates) >= 2 and all(
            isinstance(c, int | float) for c in coordinates[:2]):
        x, y = coordinates[:2]
        return f"Point ({x:.5f}, {y:.5f})"
    return str(value.get("type") or "")


def file_size(size: int) -> str:
    units = ["B", "KB", "MB", "GB"]
    value = float(size)
    for unit in units:
        if value < 1024 or unit == units[-1]:
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{size} B"  # pragma: no cover


def _authors(session: Any, versions: list[TableVersion]) -> dict[int, User]:
    ids = {v.created_by_id for v in versions if v.created_by_id is not None}
    return {i: user for i in ids if (user := session.get(User, i)) is not None}


class _Preview:
    """The query of the preview: sort, the simple filter, the page and the version."""

    def __init__(self, request: Request, columns: list[dict[str, str]]) -> None:
        params = request.query_params
        types = {c["name"]: c["type"] for c in columns}
        self.sort = params.get("sort", "")
        sort_name = self.sort.removeprefix("-")
        if sort_name not in types or types[sort_name] not in SORTABLE_TYPES:
            self.sort = ""
        self.column = params.get("column", "")
        self.value = params.get("value", "")
        if self.column not in types or types[self.column] == "geometry":
            self.column = ""
        self.page = _page(params.get("page"))
        self.api_filter: list[tuple[str, str]] = []
        if self.column and self.value != "":
            self.api_filter.append((filter_param(self.column, types[self.column]), self.value))
        if self.sort:
            self.api_sort = sort_param(sort_name, self.sort.startswith("-"))

    def api_params(self, version: int | None) -> list[tuple[str, str]]:
        """The rows API parameters of the current selection (no paging)."""
        params = list(self.api_filter)
        if self.sort:
            params.append(("sort", self.api_sort))
        if version is not None:
            params.append(("version", str(version)))
        return params


def _rows(table: Any, preview: _Preview) -> tuple[Any, list[str]]:
    """The page of rows, or (None, problems) when the filter value does not fit the column."""
    params = [*preview.api_params(None), ("limit", str(PER_PAGE)),
              ("offset", str((preview.page - 1) * PER_PAGE))]
    try:
        query = parse_query(params, table.schema)
    except Invalid as error:
        return None, [e.message for e in error.field_errors] or [error.message]
    return select_rows(table.path, table.schema, query), []


@router.get("/resources/{resource_id}", response_class=HTMLResponse)
def show(resource_id: str, request: Request, session: SessionDep, actor: ActorDep,
         platform: PlatformDep) -> HTMLResponse:
    return resource_page(request, session, actor, platform, resource_id)


def resource_page(request: Request, session: Any, actor: Actor, platform: Any,
                  resource_id: str, extra: dict[str, Any] | None = None,
                  status_code: int = 200) -> HTMLResponse:
    """The resource's page (``extra``: a form's errors and values, from privacy_pages)."""
    resource: Resource = get_resource(session, actor, resource_id)
    dataset = resource.dataset
    can_edit = tables_changeable(actor, dataset)
    context: dict[str, Any] = {
        "resource": resource, "dataset": dataset, "can_edit": can_edit, "versions": [],
        "version": None, "table": None, "problems": [], "format_labels": FORMAT_LABELS,
        "delimiter_names": DELIMITER_NAMES,
        # Not settings yet: ALLMENDE_MAP_TILE_URL / _ATTRIBUTION are read once they exist.
        "tile_url": platform.settings.map_tile_url,
        "tile_attribution": platform.settings.map_tile_attribution,
        "quality": quality_index(session, actor, [dataset]).resource(resource.id),
    }
    if resource.current_version and is_allowed(actor, Action.READ_ROWS, dataset):
        try:
            context.update(_table_context(request, session, actor, platform, resource))
            context.update(privacy_context(session, actor, resource, context["version"],
                                           bool(request.query_params.get("version"))))
        except Held as held:
            context["held_message"] = held.message
    elif resource.current_version:
        context.update(reading_context(session, actor, dataset))
        context["agreement_downloads"] = _agreement_downloads(resource, context["standing"])
    return render(request, "resource.html", {**context, **(extra or {})}, actor=actor,
                  status_code=status_code)


def _agreement_downloads(resource: Resource, standing: agreements.Standing | None
                         ) -> list[tuple[str, str]]:
    """The holder's downloads of what their agreement releases of the table: no preview, so
    that looking at the page spends none of its accesses (each download is one)."""
    if standing is None or standing.refusal is not None or resource.current is None:
        return []
    released = standing.agreement.columns  # type: ignore[union-attr]
    geometry = any(c["type"] == "geometry" and (released is None or c["name"] in released)
                   for c in resource.current.columns)
    return [(fmt, f"/resources/{resource.id}/download?{urlencode([('format', fmt)])}")
            for fmt in FORMATS if fmt != "geojson" or geometry]


@router.get("/resources/{resource_id}/download")
def download(resource_id: str, request: Request, session: SessionDep, actor: ActorDep,
             platform: PlatformDep) -> StreamingResponse:
    """The table as a file, as the data API's ``format`` gives it, for the browser: a refusal
    (e.g. of an agreement revoked since the page was loaded) is a page that says why."""
    table = open_table(session, actor, platform.settings.data_dir, resource_id,
                       _version_number(request.query_params.get("version")),
                       interface=Interface.DOWNLOAD)
    query = parse_query(request.query_params, table.schema)
    return file_response(request, table, query, query.format or "csv")


def _table_context(request: Request, session: Any, actor: Actor, platform: Any,
                   resource: Resource) -> dict[str, Any]:
    requested = _version_number(request.query_params.get("version"))
    table = readable_version(session, actor, platform.settings.data_dir, resource.id, requested,
                             interface=Interface.UI)
    version = table.version_row
    history = version_history(session, actor, resource.id,
                              _page(request.query_params.get("versions_page")))
    preview = _Preview(request, table.schema)
    result, problems = _rows(table, preview)
    table.delivered(len(result.rows) if result else 0)
    # Downloads and the map always name the version shown, even when it is the latest.
    selection = preview.api_params(table.version)
    base = f"/api/v1/resources/{resource.id}/rows"
    total = result.total if result else 0
    geometry = next((c["name"] for c in table.schema if c["type"] == "geometry"), None)
    map_query = urlencode([("format", "geojson"), ("limit", MAP_LIMIT), *selection])
    return {
        "versions": history.versions, "versions_total": history.total,
        "versions_page": history.page,
        "versions_pages": max(1, math.ceil(history.total / history.per_page)),
        "version": version, "latest": resource.current_version,
        # notes and warnings as messages: the page shows them in its language
        "report": version.read_report or {}, "notes": notes_of(version.read_report or {}),
        "warnings": version.warnings or [],
        "authors": _authors(session, [*history.versions, version]),
        "table": table, "columns": table.schema, "result": result, "problems": problems,
        "preview": preview, "total": total, "per_page": PER_PAGE,
        "pages": max(1, math.ceil(total / PER_PAGE)),
        "downloads": [(fmt, f"{base}?{urlencode([('format', fmt), *selection])}")
                      for fmt in FORMATS if fmt != "geojson" or geometry],
        "geojson_url": f"{base}?{map_query}" if geometry else None,
        "map_limit": MAP_LIMIT, "geometry": geometry,
        "filterable": [c for c in table.schema if c["type"] != "geometry"],
        "sortable": SORTABLE_TYPES, "geometry_text": geometry_text, "file_size": file_size,
    }
