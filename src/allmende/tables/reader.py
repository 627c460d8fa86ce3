"""The one way every interface reads a table: the REST data API, CKAN's datastore, OGC API
Features, live data.

:func:`open_table` asks the access policy (the caller may read the rows of that version, and a
regional version is withheld once one of its sources is); the :class:`TableReader` it returns
then answers any number of queries on that immutable version without a database session.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import numpy as np
import pyarrow as pa
import shapely
from pyproj import CRS, Transformer
from sqlalchemy.orm import Session

from allmende.access.policy import Actor
from allmende.errors import FieldError, Invalid, msg
from allmende.tables import export as exports
from allmende.tables import query as queries
from allmende.tables.query import RowQuery, RowsResult
from allmende.tables.schema import Column, TableSchema
from allmende.tables.service import readable_version

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

    @property
    def fields(self) -> list[Column]:
        return list(self.schema.columns)

    def count(self, query: RowQuery | None = None) -> int:
        """Rows matching the query's filters (all rows without one)."""
        if query is None:
            return self.rows_total
        return queries.count_rows(self.path, self.schema, query)

    def rows(self, query: RowQuery, max_limit: int = queries.MAX_LIMIT) -> RowsResult:
        """One page of rows as JSON-ready objects, with the total of the selection."""
        return queries.select_rows(self.path, self.schema, query, max_limit=max_limit)

    def page_json(self, query: RowQuery) -> bytes:
        """:meth:`rows` as the data API's JSON body (cached: versions are immutable)."""
        return queries.page_json(self.path, self.schema, query)

    def export(self, query: RowQuery, format: str,
               cancelled: threading.Event | None = None) -> exports.ExportStream:
        """The whole selection as a file (CSV, JSON, GeoJSON, Parquet, XLSX), streamed."""
        return exports.export(self.path, self.schema, query, format, cancelled=cancelled)

    def batches(self, query: RowQuery, crs: str | None = None,
                batch_rows: int = BATCH_ROWS) -> Iterator[pa.RecordBatch]:
        """The selection as Arrow record batches; geometry columns (WKB, stored in WGS84)
        reprojected to ``crs`` when given (x, y in the CRS's axis order of easting first)."""
        transform = _transformer(crs) if crs and _code(crs) != WGS84 else None
        columns = queries.selected_columns(self.schema, query)
        statement, params = queries.selection_sql(self.schema, query, columns, query.limit,
                                                  query.offset)
        queries.check_envelope(self.path, query)
        with queries.cursor() as cur:
            relation = cur.sql(statement, params=[str(self.path), *params])
            for batch in relation.to_arrow_reader(batch_rows):
                yield batch if transform is None else _reprojected(batch, columns, transform)


def open_table(session: Session, actor: Actor, data_dir: Path, resource_id: str,
               version: int | None = None) -> TableReader:
    """The requested (default: latest) version of a resource whose rows the actor may read."""
    readable = readable_version(session, actor, data_dir, resource_id, version)
    return TableReader(readable.path, TableSchema.of(readable.schema), readable.resource_id,
                       readable.resource_name, readable.version, readable.version_row.rows)


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


@cache
def _transformer(crs: str) -> Transformer:
    return Transformer.from_crs(WGS84, _code(crs), always_xy=True)


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
