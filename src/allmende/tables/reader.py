"""The one way every interface reads a table: the REST data API, CKAN's datastore, OGC API
Features, live data.

:func:`open_table` asks the access policy (the caller may read the rows of that version, and a
regional version is withheld once one of its sources is); the :class:`TableReader` it returns
then answers any number of queries on that immutable version without a database session. Each
answer it makes reports its rows to the transparency log's record of the read, when the read
is logged (``transparency.reads``): the interfaces cannot forget to.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, replace
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import shapely
from pyproj import CRS, Transformer
from sqlalchemy.orm import Session

from allmende.access.agreements import Scope, filter_text
from allmende.access.policy import Actor
from allmende.errors import BadRequest, FieldError, Forbidden, Invalid, NotFound, msg
from allmende.privacy import suppression
from allmende.tables import export as exports
from allmende.tables import query as queries
from allmende.tables.query import RowQuery, RowsResult
from allmende.tables.schema import Column, TableSchema
from allmende.tables.service import readable_version
from allmende.tables.values import column_values, thousands
from allmende.transparency.reads import Interface, Read

WGS84 = "EPSG:4326"
BATCH_ROWS = exports.BATCH_ROWS


@dataclass(frozen=True)
class TableReader:
    path: Path
    schema: TableSchema
    resource_id: str
    resource_name: str
    version: int
    rows_total: int
    #: counts below it are suppressed in :meth:`distinct` and :meth:`aggregate` (privacy)
    suppression_k: int | None = None
    #: an agreement's row filter, added to every query (its columns: ``schema``'s own)
    row_filter: tuple[queries.Filter, ...] = ()
    #: this read in the transparency log (None: a read that is not logged)
    read: Read | None = None

    @property
    def fields(self) -> list[Column]:
        return list(self.schema.columns)

    def _delivered(self, rows: int) -> None:
        if self.read is not None:
            self.read.delivered(rows)

    def _delivers_selection(self, query: RowQuery) -> None:
        """A streamed answer's rows, counted before it streams (a logged read only: the
        count is a query of its own)."""
        if self.read is not None:
            self.read.delivered(queries.selected_rows(self.path, self.schema, query))

    def _scoped(self, query: RowQuery) -> RowQuery:
        if not self.row_filter:
            return query
        return replace(query, filters=self.row_filter + query.filters)

    def count(self, query: RowQuery | None = None) -> int:
        """Rows matching the query's filters (all rows without one)."""
        if query is None and not self.row_filter:
            return self.rows_total
        return queries.count_rows(self.path, self.schema, self._scoped(query or RowQuery()))

    def rows(self, query: RowQuery, max_limit: int = queries.MAX_LIMIT) -> RowsResult:
        """One page of rows as JSON-ready objects, with the total of the selection."""
        found = queries.select_rows(self.path, self.schema, self._scoped(query),
                                    max_limit=max_limit)
        self._delivered(len(found.rows))
        return found

    def page_json(self, query: RowQuery) -> bytes:
        """:meth:`rows` as the data API's JSON body (cached: versions are immutable)."""
        page = queries.page_json(self.path, self.schema, self._scoped(query))
        self._delivered(page.rows)
        return page.body

    def export(self, query: RowQuery, format: str,
               cancelled: threading.Event | None = None) -> exports.ExportStream:
        """The whole selection as a file (CSV, JSON, GeoJSON, Parquet, XLSX), streamed."""
        query = self._scoped(query)
        stream = exports.export(self.path, self.schema, query, format, cancelled=cancelled)
        self._delivers_selection(query)
        return stream

    def batches(self, query: RowQuery, crs: str | None = None,
                batch_rows: int = BATCH_ROWS) -> Iterator[pa.RecordBatch]:
        """The selection as Arrow record batches; geometry columns (WKB, stored in WGS84)
        reprojected to ``crs`` when given (x, y in the CRS's axis order of easting first)."""
        query = self._scoped(query)
        self._delivers_selection(query)
        return self._batches(query, crs, batch_rows)

    def _batches(self, query: RowQuery, crs: str | None, batch_rows: int
                 ) -> Iterator[pa.RecordBatch]:
        transform = _transformer(crs) if crs and _code(crs) != WGS84 else None
        columns = queries.selected_columns(self.schema, query)
        statement, params = queries.selection_sql(self.schema, query, columns, query.limit,
                                                  query.offset)
        queries.check_envelope(self.path, query)
        with queries.cursor() as cur:
            relation = cur.sql(statement, params=[str(self.path), *params])
            for batch in relation.to_arrow_reader(batch_rows):
                yield batch if transform is None else _reprojected(batch, columns, transform)

    def numbered(self, query: RowQuery, crs: str | None = None, *,
                 crs_axis_order: bool = False, max_limit: int = queries.MAX_LIMIT
                 ) -> NumberedRows:
        """One page of the selection (``limit`` default 100, at most ``max_limit``) with each
        row's number in the version (from 1, in file order: a key of the row that stays as
        long as the version) and the total of the selection. Geometries are reprojected to
        ``crs`` when given; ``crs_axis_order`` puts their coordinates in the CRS's own axis
        order (latitude first for EPSG:4258 or EPSG:4326) instead of easting first."""
        limit = queries.DEFAULT_LIMIT if query.limit is None else query.limit
        if limit > max_limit:
            raise BadRequest(msg("limit darf höchstens {maximum} sein.",
                                 maximum=thousands(max_limit)), code="limit_too_large")
        offset = query.offset or 0
        query = self._scoped(query)
        columns = queries.selected_columns(self.schema, query)
        unfiltered = _unfiltered(query)
        total = self.rows_total if unfiltered else self.count(query)
        if not limit or offset >= total:
            found = NumberedRows(total, [], columns, None)
        elif unfiltered and not query.sort:
            # the page is a range of row numbers: read from its row groups, none skipped
            found = self._numbered(total, columns, replace(
                query, row_range=(offset + 1, min(offset + limit, total)), limit=None,
                offset=None), crs, crs_axis_order)
        else:
            found = self._numbered(total, columns, replace(query, limit=limit), crs,
                                   crs_axis_order)
        self._delivered(len(found.numbers))
        return found

    def row(self, number: int, crs: str | None = None, *,
            crs_axis_order: bool = False) -> NumberedRows:
        """The row with this number in the version (see :meth:`numbered`); NotFound when
        there is none."""
        if not 1 <= number <= self.rows_total:
            raise NotFound(msg("Zeile {number} gibt es in Version {version} von „{resource}“ "
                               "nicht.", number=number, version=self.version,
                               resource=self.resource_name), "row_not_found")
        found = self._numbered(1, list(self.schema.columns), self._scoped(
            RowQuery(row_range=(number, number))), crs, crs_axis_order)
        if not found.numbers:  # outside the agreement's rows: as if there were none
            raise NotFound(msg("Zeile {number} gibt es in Version {version} von „{resource}“ "
                               "nicht.", number=number, version=self.version,
                               resource=self.resource_name), "row_not_found")
        self._delivered(1)
        return found

    def _numbered(self, total: int, columns: list[Column], page: RowQuery, crs: str | None,
                  crs_axis_order: bool) -> NumberedRows:
        data = queries.numbered_page(self.path, self.schema, page)
        if data.num_rows == 0:
            return NumberedRows(total, [], columns, None)
        numbers = [int(n) for n in data.column(len(columns)).to_pylist()]
        batch = data.drop_columns([data.schema.names[-1]]).combine_chunks().to_batches()[0]
        if crs and not _is_lon_lat(crs, crs_axis_order):
            batch = _reprojected(batch, columns, _transformer(crs, crs_axis_order))
        return NumberedRows(total, numbers, columns, batch)

    def distinct(self, column: str, query: RowQuery, limit: int = 100) -> dict[str, Any]:
        """The column's distinct values with their counts (most frequent first), small
        counts suppressed where the privacy guard asks for it."""
        query = self._scoped(query)
        result = queries.distinct(self.path, self.schema, column, query=query,
                                  limit=limit).as_dict()
        hidden = self._suppressed([result["field"]["name"]], query)
        if hidden is not None:
            result["values"] = [_suppress(item, ("value",), ("count",), hidden)
                                for item in result["values"]]
            result["suppression"] = self._suppression_note(hidden)
        self._delivered(len(result["values"]))
        return result

    def aggregate(self, group_by: Sequence[str], metrics: Sequence[queries.Metric],
                  query: RowQuery, limit: int = 1000) -> dict[str, Any]:
        """Metrics over the selection, grouped; a group counting fewer rows than the
        suppression threshold (and its complements) shows null metrics."""
        query = self._scoped(query)
        result = queries.aggregate(self.path, self.schema, group_by=group_by, metrics=metrics,
                                   query=query, limit=limit).as_dict()
        names = [f["name"] for f in result["fields"]]
        hidden = self._suppressed(names[:len(group_by)], query)
        if hidden is not None:
            result["rows"] = [_suppress(row, names[:len(group_by)], names[len(group_by):],
                                        hidden) for row in result["rows"]]
            result["suppression"] = self._suppression_note(hidden)
        self._delivered(len(result["rows"]))
        return result

    def _suppressed(self, group_by: Sequence[str], query: RowQuery) -> set[bytes] | None:
        if self.suppression_k is None:
            return None
        groups, counts = queries.group_counts(self.path, self.schema, group_by, query)
        return suppression.mask(groups, counts, self.suppression_k)

    def _suppression_note(self, hidden: set[bytes]) -> dict[str, int]:
        return {"k": self.suppression_k or 0, "cells": len(hidden)}

    def extent(self) -> tuple[float, float, float, float] | None:
        """The WGS84 box around the table's geometries (lon_min, lat_min, lon_max, lat_max),
        None for a table without any."""
        self._delivered(0)  # a summary of the rows, none of them
        if self.schema.geometry is None:
            return None
        return queries.envelope(self.path)

    def value_range(self, column: str) -> tuple[Any, Any]:
        """The smallest and largest value of an ordered column (JSON values)."""
        self.schema.column(column)  # a column an agreement withholds is refused
        self._delivered(0)
        return queries.column_range(self.path, self.schema, column)


@dataclass(frozen=True)
class NumberedRows:
    """A page of rows with their numbers in the version: ``data`` holds ``columns`` (None for
    an empty page); ``total`` counts the whole selection."""

    total: int
    numbers: list[int]
    columns: list[Column]
    data: pa.RecordBatch | None

    def values(self, mode: str = "fragment") -> list[list[Any]]:
        """The columns' values in an output mode of :func:`tables.values.column_values`
        (``fragment``: geometries as GeoJSON text ready for orjson)."""
        if self.data is None:
            return [[] for _ in self.columns]
        return [column_values(self.data.column(i), c.type, mode)
                for i, c in enumerate(self.columns)]


def _suppress(row: dict[str, Any], keys: Sequence[str], values: Sequence[str],
              hidden: set[bytes]) -> dict[str, Any]:
    """The row with ``"suppressed"`` beside its values, which are null when it is."""
    gone = suppression.key_of([row[k] for k in keys]) in hidden
    return {**row, **dict.fromkeys(values, None), "suppressed": True} if gone else \
        {**row, "suppressed": False}


def _unfiltered(query: RowQuery) -> bool:
    return not (query.filters or query.bbox or query.words or query.row_range)


def open_table(session: Session, actor: Actor, data_dir: Path, resource_id: str,
               version: int | None = None, *, interface: Interface) -> TableReader:
    """The requested (default: latest) version of a resource whose rows the actor may read,
    through ``interface`` (named in the transparency log when the read is logged)."""
    readable = readable_version(session, actor, data_dir, resource_id, version,
                                interface=interface)
    reader = TableReader(readable.path, TableSchema.of(readable.schema), readable.resource_id,
                         readable.resource_name, readable.version, readable.version_row.rows,
                         readable.suppression_k, read=readable.read)
    return reader if readable.scope is None else _within(reader, readable.scope)


def _within(reader: TableReader, scope: Scope) -> TableReader:
    """The reader of what an agreement allows: its columns, and its rows on every query."""
    full = reader.schema
    schema = full if scope.columns is None else full.narrowed(scope.columns)
    missing = [item["column"] for item in scope.row_filter if item["column"] not in schema]
    if missing:  # fail closed: a filter this table cannot apply lets nothing through
        raise Forbidden(msg(
            "Ihre Nutzungsvereinbarung {uid} begrenzt die Zeilen über die Spalte „{name}“, "
            "die diese Tabelle nicht hat; sie ist deshalb nicht freigegeben.",
            uid=scope.agreement, name=missing[0]), "agreement_filter_unusable")
    row_filter = tuple(queries.typed_filter(schema.column(item["column"]),
                                            item.get("op", "eq"), filter_text(item.get("value")),
                                            "row_filter") for item in scope.row_filter)
    return replace(reader, schema=schema, row_filter=row_filter)


def bbox_in_wgs84(bbox: tuple[float, float, float, float], crs: str, *,
                  crs_axis_order: bool = False) -> tuple[float, float, float, float]:
    """The smallest WGS84 box (lon_min, lat_min, lon_max, lat_max) around a box given in
    ``crs`` (corners in the CRS's axis order when ``crs_axis_order``, else easting first):
    what ``RowQuery.bbox`` takes."""
    back = _inverse(crs, crs_axis_order)
    try:
        box = back.transform_bounds(*bbox, densify_pts=21)
    except Exception:  # pyproj's ProjError: the box lies outside the CRS's area
        box = (np.inf,) * 4
    if not all(np.isfinite(box)):
        raise Invalid(msg("Das Rechteck ist ungültig."), [FieldError(
            "bbox", msg("Das Rechteck liegt außerhalb des Gebiets von {crs}.", crs=crs))])
    lon_min, lat_min, lon_max, lat_max = box
    return (max(lon_min, -180.0), max(lat_min, -90.0), min(lon_max, 180.0),
            min(lat_max, 90.0))


def _code(crs: str) -> str:
    try:
        authority = CRS.from_user_input(crs).to_authority()
    except Exception:  # pyproj raises its own CRSError, and ValueError for odd input
        authority = None
    if authority is None:
        raise Invalid(msg("Das Koordinatenreferenzsystem ist ungültig."), [FieldError(
            "crs", msg("„{crs}“ ist kein bekanntes Koordinatenreferenzsystem (z. B. "
                       "EPSG:25832).", crs=crs))])
    return ":".join(authority)


#: Longitude/latitude as stored: OGC's CRS84 (EPSG:4326 with easting first).
CRS84 = "OGC:CRS84"


@cache
def _transformer(crs: str, crs_axis_order: bool = False) -> Transformer:
    """From the stored longitude/latitude to ``crs``, easting first or in its own order."""
    return Transformer.from_crs(CRS84, _code(crs), always_xy=not crs_axis_order)


@cache
def _inverse(crs: str, crs_axis_order: bool = False) -> Transformer:
    return Transformer.from_crs(_code(crs), CRS84, always_xy=not crs_axis_order)


@cache
def _is_lon_lat(crs: str, crs_axis_order: bool = False) -> bool:
    """Whether coordinates in ``crs`` are the stored ones (no transformation needed)."""
    code = _code(crs)
    return code == CRS84 or (code == WGS84 and not crs_axis_order)


def _reprojected(batch: pa.RecordBatch, columns: list[Column],
                 transform: Transformer) -> pa.RecordBatch:
    arrays = list(batch.columns)
    for position, column in enumerate(columns):
        if column.type == "geometry":
            shapes = shapely.from_wkb(arrays[position].to_numpy(zero_copy_only=False))
            moved = shapely.transform(shapes, lambda xy: _moved(xy, transform))
            arrays[position] = pa.array(shapely.to_wkb(moved), type=arrays[position].type)
    return pa.RecordBatch.from_arrays(arrays, schema=batch.schema)


def _moved(xy: np.ndarray, transform: Transformer) -> np.ndarray:
    x, y = transform.transform(xy[:, 0], xy[:, 1])
    return np.column_stack([x, y])
