"""datastore_search over allmende's tables: every table resource is "in the datastore", read
through the table reader (the access policy decides inside it). ``q`` scans the rows: every
word must appear, case-insensitively, in some column of a row (there is no full-text index of
table contents)."""

from __future__ import annotations

import csv
import io
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import orjson

from allmende.errors import msg
from allmende.interop.ckan import params
from allmende.interop.ckan.actions import Call, action
from allmende.interop.ckan.errors import validation_error
from allmende.tables.query import Filter, RowQuery, SortKey
from allmende.tables.reader import TableReader, open_table
from allmende.tables.schema import Column
from allmende.tables.values import ValueProblem, parse_value
from allmende.transparency.reads import Interface

LIMIT_DEFAULT = 100
LIMIT_MAX = 32_000
RECORDS_FORMATS = ("objects", "lists", "csv", "tsv")
PARAMETERS = frozenset({"resource_id", "id", "filters", "q", "full_text", "plain", "language",
                        "limit", "offset", "fields", "sort", "include_total",
                        "records_format", "distinct", "include_next_page"})
#: CKAN's (PostgreSQL's) names of the column types.
TYPES = {"string": "text", "integer": "int", "number": "numeric", "boolean": "bool",
         "date": "date", "datetime": "timestamp", "time": "time", "json": "json",
         "geometry": "json"}


@action
def datastore_search(call: Call, data: dict[str, Any]) -> dict[str, Any]:
    """Rows of a table resource (``resource_id``): ``filters`` ({"column": value or [values]}),
    ``q`` (words found anywhere in a row, or {"column": "text"}), ``fields``, ``sort``
    ("column asc, other desc"), ``limit`` (≤ 32,000), ``offset``, ``include_total``,
    ``records_format`` (objects, lists, csv, tsv). Geometries are GeoJSON."""
    for key in set(data) - PARAMETERS:
        raise validation_error(key, msg("Ungültiger Wert „{value}“.", value=str(data[key])))
    if params.boolean(data, "distinct"):
        raise validation_error("distinct", msg("distinct wird nicht unterstützt."))
    records_format = params.text(data, "records_format", "objects")
    if records_format not in RECORDS_FORMATS:
        raise validation_error("records_format", msg(
            "Erlaubt: {allowed}.", allowed=", ".join(RECORDS_FORMATS)))
    resource_id = (params.text(data, "resource_id") or params.text(data, "id")).strip()
    if not resource_id:
        raise validation_error("resource_id", msg("Fehlender Wert."))
    table = open_table(call.session, call.actor, call.platform.settings.data_dir, resource_id,
                       interface=Interface.DATASTORE)
    limit = params.integer(data, "limit", LIMIT_DEFAULT, maximum=LIMIT_MAX) or 0
    offset = params.integer(data, "offset", 0) or 0
    query = _query(table, data, limit, offset)
    found = table.rows(query, max_limit=LIMIT_MAX)
    columns = [table.schema.by_name[f["name"]] for f in found.fields]
    result: dict[str, Any] = {
        "resource_id": resource_id, "limit": limit, "records_format": records_format,
        "include_total": params.boolean(data, "include_total", True),
        "total_was_estimated": False,
        "fields": [{"id": c.name, "type": TYPES[c.type]} for c in columns],
        "records": _records(found.rows, columns, records_format),
        "_links": _links(call.url, offset, limit),
    }
    for key in ("filters", "q", "sort", "offset"):
        if key in data:
            result[key] = data[key]
    if result["include_total"]:
        result["total"] = found.total
    return result


def _query(table: TableReader, data: dict[str, Any], limit: int, offset: int) -> RowQuery:
    words: tuple[str, ...] = ()
    filters = _filters(table, params.json_value(data, "filters"))
    q = data.get("q") if "q" in data else data.get("full_text")
    if isinstance(q, str) and q.strip().startswith("{"):
        q = params.json_value({"q": q}, "q")
    if isinstance(q, dict):
        filters += [Filter(_column(table, name, "q").name, "contains", str(value), "q")
                    for name, value in q.items()]
    elif isinstance(q, str):
        words = tuple(q.split())
    elif q is not None:
        raise validation_error("q", msg("Erwartet Text oder ein Objekt {{\"Spalte\": \"Text\"}}."))
    fields = params.string_list(data, "fields")
    return RowQuery(
        filters=tuple(filters), sort=_sort(table, data), limit=limit, offset=offset,
        fields=tuple(_column(table, f, "fields").name for f in fields) if fields else None,
        words=words)


def _column(table: TableReader, name: str, parameter: str) -> Column:
    if name in table.schema.withheld:  # refused (403) naming it, as the REST API does
        table.schema.unknown(parameter, name)
    if name not in table.schema:
        raise validation_error(parameter, msg("Die Spalte „{name}“ gibt es in dieser Tabelle "
                                              "nicht.", name=name))
    return table.schema.by_name[name]


def _filters(table: TableReader, given: Any) -> list[Filter]:
    if given is None:
        return []
    if not isinstance(given, dict):
        raise validation_error("filters", msg("Erwartet ein Objekt {{\"Spalte\": Wert}}."))
    found = []
    for name, value in given.items():
        column = _column(table, name, "filters")
        if isinstance(value, list):
            found.append(Filter(column.name, "in", tuple(_typed(column, v) for v in value),
                                "filters"))
        else:
            found.append(Filter(column.name, "eq", _typed(column, value), "filters"))
    return found


def _typed(column: Column, value: Any) -> Any:
    """A filter value for the column: JSON numbers and booleans as they are, text parsed as
    the data API parses it."""
    if column.type == "geometry" or isinstance(value, dict | list):
        raise validation_error("filters", msg("Nach „{name}“ lässt sich so nicht filtern.",
                                              name=column.name))
    if column.type == "string":
        return str(value)
    if isinstance(value, bool) and column.type == "boolean":
        return value
    if isinstance(value, int | float) and not isinstance(value, bool) \
            and column.type in ("integer", "number"):
        return value
    try:
        return parse_value(str(value), column.type)
    except ValueProblem as problem:
        raise validation_error("filters", problem.message) from None


def _sort(table: TableReader, data: dict[str, Any]) -> tuple[SortKey, ...]:
    keys = []
    for clause in params.string_list(data, "sort") or []:
        name, _, direction = clause.strip().rpartition(" ")
        if direction.lower() not in ("asc", "desc") or not name:
            name, direction = clause.strip(), "asc"
        column = _column(table, name.strip().strip('"'), "sort")
        if column.type == "geometry":
            raise validation_error("sort", msg("Nach „{name}“ lässt sich nicht sortieren.",
                                               name=column.name))
        keys.append(SortKey(column.name, direction.lower() == "desc"))
    return tuple(keys)


def _records(rows: list[dict[str, Any]], columns: list[Column], fmt: str) -> Any:
    if fmt == "objects":
        return rows
    lists = [[row[c.name] for c in columns] for row in rows]
    if fmt == "lists":
        return lists
    buffer = io.StringIO()
    writer = csv.writer(buffer, delimiter="\t" if fmt == "tsv" else ",", lineterminator="\n")
    writer.writerows([_cell(v) for v in row] for row in lists)
    return buffer.getvalue()


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict | list):
        return orjson.dumps(value).decode()
    return str(value)


def _links(url: str, offset: int, limit: int) -> dict[str, str]:
    """CKAN's paging links: the request's own path and query with another offset."""
    parts = urlsplit(url)
    query = [(k, v) for k, v in parse_qsl(parts.query) if k != "offset"]

    def at(position: int | None) -> str:
        extra = [("offset", str(position))] if position is not None else []
        return urlunsplit(("", "", parts.path, urlencode(query + extra), ""))

    links = {"start": at(None), "next": at(offset + limit)}
    if offset - limit > 0:
        links["prev"] = at(offset - limit)
    return links
