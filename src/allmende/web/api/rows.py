"""/api/v1/resources/{id}/rows (and its distinct values and aggregates): the data API."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson
from fastapi import APIRouter, Query, Request
from fastapi.responses import Response

from allmende.errors import FieldError, Invalid, msg
from allmende.tables import export as exports
from allmende.tables import query as queries
from allmende.tables.reader import TableReader, open_table
from allmende.transparency.reads import Interface
from allmende.web.api.responses import AUTH, errors
from allmende.web.api.schemas import AggregateOut, DistinctOut, RowPage
from allmende.web.deps import ActorDep, PlatformDep, SessionDep
from allmende.web.downloads import attachment, file_response

router = APIRouter(tags=["Daten abfragen"])


def _param(name: str, schema: dict[str, Any], description: str, **extra: Any) -> dict[str, Any]:
    return {"name": name, "in": "query", "schema": schema, "description": description, **extra}


# The data API reads its query by hand (tables.query.parse_query: any column can be a filter),
# so OpenAPI learns the parameters from here; the schemas accept what parse_query accepts.
VERSION = _param("version", {"type": "integer", "minimum": 1, "maximum": queries.MAX_VERSION},
                 "Version der Tabelle (Vorgabe: die neueste)")
FILTERS = _param(
    "filters", {"type": "object", "additionalProperties": {"type": "string"}},
    "Filter je Spalte: `Spalte=Wert`, `Spalte__in=a,b`, `Spalte__gt|gte|lt|lte=Wert`, "
    "`Spalte__contains=Text`, `Spalte__null=true|false`; Spalten, die wie ein Parameter heißen "
    "oder `__` enthalten, als `filter.<Name>`", style="form", explode=True)
BBOX = _param("bbox", {"type": "string", "pattern": queries.BBOX_PATTERN},
              "lon_min,lat_min,lon_max,lat_max (WGS84, Dezimalpunkt); nur bei Geometrie")
ROW_PARAMETERS = [
    VERSION,
    _param("limit", {"type": "integer", "minimum": 0, "maximum": queries.MAX_COUNT},
           f"Zeilen je Seite (Vorgabe {queries.DEFAULT_LIMIT}, höchstens "
           f"{queries.MAX_LIMIT}, mehr: 400); mit `format` die ganze Auswahl, wenn nicht "
           "angegeben"),
    _param("offset", {"type": "integer", "minimum": 0, "maximum": queries.MAX_COUNT},
           "Zeilen überspringen"),
    _param("sort", {"type": "string"}, "`Spalte` oder `-Spalte`, durch Kommas getrennt"),
    _param("fields", {"type": "string"}, "Spalten der Antwort, durch Kommas getrennt"),
    _param("format", {"type": "string", "enum": list(queries.FORMATS)},
           "Die ganze Auswahl als Datei"),
    BBOX,
    FILTERS,
]
DOWNLOADS = {media.split(";")[0]: {"schema": {"type": "string", "format": "binary"}}
             for fmt, media in exports.MEDIA_TYPES.items() if fmt != "json"}


def _version(request: Request) -> int | None:
    return queries.parse_version(request.query_params.get("version"))


@router.get("/resources/{resource_id}/rows", summary="Zeilen einer Tabelle abfragen",
            response_model=None, openapi_extra={"parameters": ROW_PARAMETERS},
            responses={**errors(*AUTH, 400, 403, 404, 413, 422, 429), 200: {
                "model": RowPage | list[dict[str, Any]],
                "description": "Eine Seite Zeilen; mit `format` die Auswahl als Datei "
                               "(`format=json`: eine Liste von Zeilen)",
                "content": DOWNLOADS}})
def rows(resource_id: str, request: Request, session: SessionDep, actor: ActorDep,
         platform: PlatformDep) -> Any:
    """Filters `col=v`, `col__in`, `col__gt|gte|lt|lte`, `col__contains`, `col__null`,
    `bbox`; `sort=col,-col`; `fields=a,b`; `limit` (≤ 10,000), `offset`; `version=N`;
    `format=csv|csv-de|json|geojson|parquet|xlsx` streams the whole selection as a file.
    Columns named like a parameter or containing `__` are addressed as `filter.<name>`."""
    download = bool(request.query_params.get("format"))
    table = open_table(session, actor, platform.settings.data_dir, resource_id,
                       _version(request),
                       interface=Interface.DOWNLOAD if download else Interface.ROWS)
    query = queries.parse_query(request.query_params, table.schema)
    if download:
        return file_response(request, table, query, request.query_params["format"])
    # JSON bytes directly: FastAPI's generic encoder walks every cell (13 ms per 100-row page)
    return Response(table.page_json(query), media_type="application/json")


SUMMARY_FORMAT = _param("format", {"type": "string", "enum": list(exports.SUMMARY_FORMATS)},
                        "Das Ergebnis als Datei (unterdrückte Anzahlen bleiben leer)")
SUMMARY_DOWNLOADS = {"text/csv": {"schema": {"type": "string", "format": "binary"}}}


def _summary_responses(model: type, what: str) -> dict[int | str, dict[str, Any]]:
    return {**errors(*AUTH, 400, 403, 404, 422), 200: {
        "model": model | list[dict[str, Any]],  # type: ignore[operator]
        "description": f"{what}; mit `format=json` eine Liste, mit `format=csv` eine Datei",
        "content": SUMMARY_DOWNLOADS}}


@router.get("/resources/{resource_id}/distinct/{column}", response_model=None,
            summary="Verschiedene Werte einer Spalte mit Anzahl",
            openapi_extra={"parameters": [VERSION, BBOX, FILTERS, SUMMARY_FORMAT]},
            responses=_summary_responses(DistinctOut, "Die Werte"))
def distinct_values(resource_id: str, column: str, request: Request, session: SessionDep,
                    actor: ActorDep, platform: PlatformDep,
                    limit: int = Query(100, ge=1, le=10_000)) -> Any:
    """Small counts are suppressed (`null` with `"suppressed": true`) where the table holds
    personal data or its dataset asks for it (docs/privacy.md)."""
    table = open_table(session, actor, platform.settings.data_dir, resource_id,
                       _version(request), interface=Interface.DISTINCT)
    query = queries.parse_query(request.query_params, table.schema, ignore=("limit",))
    result = table.distinct(column, query, limit)
    name = result["field"]["name"]
    rows = [{name: item["value"], **item} for item in result["values"]]
    return _summary(request, table, f"werte-{name}", [name, "count"], rows, result)


@router.get("/resources/{resource_id}/aggregate", response_model=None,
            summary="Kennzahlen (count, sum, avg, min, max), optional gruppiert",
            openapi_extra={"parameters": [VERSION, BBOX, FILTERS, SUMMARY_FORMAT]},
            responses=_summary_responses(AggregateOut, "Die Gruppen"))
def aggregate(resource_id: str, request: Request, session: SessionDep, actor: ActorDep,
              platform: PlatformDep, group_by: str = "", metrics: str = "count",
              limit: int = Query(1000, ge=1, le=10_000)) -> Any:
    """`group_by=Spalte,Spalte`; `metrics=count,sum:Spalte,avg:Spalte` plus the row filters.
    Groups with few rows are suppressed where the privacy guard applies (docs/privacy.md)."""
    table = open_table(session, actor, platform.settings.data_dir, resource_id,
                       _version(request), interface=Interface.AGGREGATE)
    query = queries.parse_query(request.query_params, table.schema,
                                ignore=("group_by", "metrics", "limit"))
    result = table.aggregate(
        queries.parse_names(group_by, table.schema) if group_by else (),
        queries.parse_metrics(metrics, table.schema), query, limit)
    return _summary(request, table, "kennzahlen", [f["name"] for f in result["fields"]],
                    result["rows"], result)


def _summary(request: Request, table: TableReader, stem: str, names: list[str],
             rows: list[dict[str, Any]], result: dict[str, Any]) -> Any:
    """The result as JSON, or with `format` as a file (with the `suppressed` column where
    suppression applies)."""
    fmt = request.query_params.get("format")
    if not fmt:  # as it is: a null count beside "suppressed" stays null
        return Response(orjson.dumps(result), media_type="application/json")
    if fmt not in exports.SUMMARY_FORMATS:
        raise Invalid(msg("Die Abfrage ist ungültig."), [FieldError("format", msg(
            "Erlaubt sind hier {allowed}.", allowed=", ".join(exports.SUMMARY_FORMATS)))])
    columns = [*names, "suppressed"] if "suppression" in result else names
    name = f"{Path(table.resource_name).stem}-v{table.version}-{stem}.{fmt}"
    return Response(exports.summary_file(columns, rows, fmt),
                    media_type=exports.MEDIA_TYPES[fmt],
                    headers={"Content-Disposition": attachment(name)})
