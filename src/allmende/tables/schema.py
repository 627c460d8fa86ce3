"""Column schema of a table version and the hidden envelope columns."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import cached_property
from typing import Any

from allmende import sql
from allmende.errors import FieldError, Forbidden, Invalid, joined, msg

COLUMN_TYPES = frozenset(
    {"string", "integer", "number", "boolean", "date", "datetime", "time", "json", "geometry"}
)

#: Envelope (bounding box) of the table's first geometry column, written by the ingest beside
#: it as DOUBLE columns. Only the ``bbox`` filter reads them; they are never returned.
ENVELOPE_COLUMNS = ("__minx", "__miny", "__maxx", "__maxy")
HIDDEN_COLUMNS = frozenset(ENVELOPE_COLUMNS)
#: Names of columns the platform adds while it writes or reads a version: the envelope,
#: DuckDB's ``file_row_number`` (stable pages) and ``__row`` (a row's place, in the ingest
#: and in mappings). The ingest gives a source column of such a name a number (``(2)``).
RESERVED_COLUMNS = HIDDEN_COLUMNS | {"file_row_number", "__row"}

#: In a derived table (a regional one), the column naming the dataset each row came from.
SOURCE_DATASET = "quelle_datensatz"

#: Types that have an order (sort, gt/gte/lt/lte, min/max).
ORDERED_TYPES = frozenset({"string", "integer", "number", "date", "datetime", "time", "boolean"})
NUMERIC_TYPES = frozenset({"integer", "number"})


@dataclass(frozen=True)
class Column:
    name: str
    type: str

    @property
    def sql(self) -> str:
        return sql.ident(self.name)

    def as_field(self) -> dict[str, str]:
        return {"name": self.name, "type": self.type}


@dataclass(frozen=True)
class TableSchema:
    """The visible columns of a table version, in order. Hidden envelope columns are dropped.
    ``withheld``: columns the reader's agreement leaves out (naming one is refused with 403)."""

    columns: tuple[Column, ...]
    withheld: frozenset[str] = frozenset()

    @classmethod
    def of(cls, schema: TableSchema | Iterable[Mapping[str, Any] | Column]) -> TableSchema:
        if isinstance(schema, TableSchema):
            return schema
        columns: list[Column] = []
        seen: set[str] = set()
        for entry in schema:
            column = entry if isinstance(entry, Column) else Column(str(entry["name"]),
                                                                    str(entry["type"]))
            if column.type not in COLUMN_TYPES:
                raise ValueError(f"unknown column type {column.type!r} of {column.name!r}")
            if "\x00" in column.name:
                raise ValueError("column names must not contain NUL")
            if column.name in HIDDEN_COLUMNS:
                continue
            if column.name.casefold() in seen:
                # DuckDB resolves identifiers case-insensitively, even quoted ones.
                raise ValueError(f"duplicate column name {column.name!r} (case-insensitive)")
            seen.add(column.name.casefold())
            columns.append(column)
        return cls(tuple(columns))

    @cached_property
    def by_name(self) -> dict[str, Column]:
        return {c.name: c for c in self.columns}

    @property
    def names(self) -> list[str]:
        return [c.name for c in self.columns]

    @property
    def geometry(self) -> Column | None:
        """The primary geometry column (the first one): GeoJSON geometry and ``bbox``."""
        return next((c for c in self.columns if c.type == "geometry"), None)

    def __contains__(self, name: object) -> bool:
        return name in self.by_name

    def column(self, name: str, param: str | None = None) -> Column:
        """The column called ``name``, or a 422 naming it (403 for a withheld one)."""
        try:
            return self.by_name[name]
        except KeyError:
            raise Invalid(field_errors=[self.unknown(param or name, name)]) from None

    def unknown(self, param: str, name: str) -> FieldError:
        """The error for a name that is no column here; a column the reader's agreement
        withholds is refused at once with 403 naming it."""
        candidates = {name, name.strip(), name.rpartition("__")[0], name.removeprefix("-")}
        refused = sorted(candidates & self.withheld)
        if refused:
            raise Forbidden(msg(
                "Die Spalte „{name}“ ist durch Ihre Nutzungsvereinbarung nicht freigegeben; "
                "freigegeben sind: {allowed}.", name=refused[0],
                allowed=joined(self.names)), "column_not_agreed")
        return unknown_column(param, name)

    def narrowed(self, names: Iterable[str]) -> TableSchema:
        """Only the columns named (in the table's order); the others are withheld."""
        keep = set(names)
        return TableSchema(tuple(c for c in self.columns if c.name in keep),
                           self.withheld | {c.name for c in self.columns if c.name not in keep})


def unknown_column(param: str, name: str) -> FieldError:
    return FieldError(param, msg("Die Spalte „{name}“ gibt es in dieser Tabelle nicht.",
                                 name=name))
