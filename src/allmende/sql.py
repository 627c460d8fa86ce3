"""SQL text for DuckDB, built in one place.

Every identifier, literal and statement that allmende hands to DuckDB is composed here, so that
quoting has one implementation and the lint rule against SQL built from strings (S608) is
silenced for this module alone. Values are bound parameters wherever DuckDB allows them
(``con.execute(sql, [values])``); where it does not (view and table definitions, ``COPY``
targets, table-function arguments), :func:`literal` builds a checked literal: strings with
their quotes doubled, numbers only when finite, NUL refused everywhere.

Other modules build *expressions* (``CAST(x AS DOUBLE)``, ``regexp_matches(…)``) from the
pieces here and hand them to the statement builders (:func:`select`, :func:`create_table`,
:func:`copy_to_parquet` …).
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Iterable, Mapping
from decimal import Decimal

__all__ = [
    "PARAM", "SqlValueError", "copy_to_parquet", "create_table", "create_view", "ident",
    "idents", "literal", "number", "select", "string", "struct", "table_function", "with_",
]


#: A bound parameter's place, where a statement builder takes a value (``limit=PARAM``).
PARAM = "?"


class SqlValueError(ValueError):
    """A value that cannot become SQL text (NUL in a name, a non-finite number …)."""


def ident(name: str) -> str:
    """A double-quoted identifier for any name, inner quotes doubled."""
    if "\x00" in name:
        raise SqlValueError("identifiers must not contain NUL")
    return '"' + name.replace('"', '""') + '"'


def idents(names: Iterable[str]) -> str:
    """Quoted identifiers, comma-separated."""
    return ", ".join(ident(n) for n in names)


def string(value: str) -> str:
    """A VARCHAR literal, inner quotes doubled."""
    if "\x00" in value:
        raise SqlValueError("strings must not contain NUL")
    return "'" + value.replace("'", "''") + "'"


def number(value: int | float | Decimal) -> str:
    """A numeric literal; refuses booleans, NaN and infinities."""
    if isinstance(value, bool) or not isinstance(value, int | float | Decimal):
        raise SqlValueError(f"not a number: {value!r}")
    if isinstance(value, int):
        return str(value)
    if isinstance(value, Decimal):
        if not value.is_finite():
            raise SqlValueError(f"not a finite number: {value}")
        return str(value)
    if not math.isfinite(value):
        raise SqlValueError(f"not a finite number: {value}")
    return repr(value)


def literal(value: object) -> str:
    """A typed literal for a Python value (None, bool, int, float, str, date, datetime)."""
    if value is None:
        return "NULL"
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, int | float | Decimal):
        return number(value)
    if isinstance(value, str):
        return string(value)
    if isinstance(value, dt.datetime):
        kind = "TIMESTAMPTZ" if value.tzinfo is not None else "TIMESTAMP"
        return f"{kind} {string(value.isoformat())}"
    if isinstance(value, dt.date):
        return f"DATE {string(value.isoformat())}"
    if isinstance(value, list | tuple):
        return "[" + ", ".join(literal(v) for v in value) + "]"
    if isinstance(value, Mapping):
        return struct(value)
    raise SqlValueError(f"no SQL literal for {type(value).__name__}")


def table_function(name: str, *args: object, **options: object) -> str:
    """A call such as ``read_parquet(['a.parquet'], union_by_name = true)`` with literal
    arguments; ``name`` is a DuckDB function name chosen by the caller, never user input."""
    if not name.replace("_", "").isalnum():
        raise SqlValueError(f"not a function name: {name!r}")
    parts = [literal(a) for a in args]
    parts += [f"{key} = {literal(value)}" for key, value in options.items()]
    return f"{name}({', '.join(parts)})"


def _list(part: str | Iterable[str]) -> str:
    return part if isinstance(part, str) else ", ".join(part)


def select(columns: str | Iterable[str], source: str | None = None, *,
           where: str | Iterable[str] | None = None, group_by: str | Iterable[str] | None = None,
           qualify: str | None = None, order_by: str | Iterable[str] | None = None,
           limit: int | str | None = None, offset: int | str | None = None,
           distinct: bool = False) -> str:
    """``SELECT columns FROM source WHERE … GROUP BY … QUALIFY … ORDER BY … LIMIT … OFFSET``.
    ``where`` given as several conditions joins them with AND; ``limit`` and ``offset`` are
    numbers or :data:`PARAM` (bound when the statement runs)."""
    text = f"SELECT {'DISTINCT ' if distinct else ''}{_list(columns)}"
    if source is not None:
        text += f" FROM {source}"
    if where is not None:
        conditions = [where] if isinstance(where, str) else [f"({c})" for c in where]
        if conditions:
            text += " WHERE " + " AND ".join(conditions)
    if group_by is not None:
        text += f" GROUP BY {_list(group_by)}"
    if qualify is not None:
        text += f" QUALIFY {qualify}"
    if order_by is not None and _list(order_by):
        text += f" ORDER BY {_list(order_by)}"
    if limit is not None:
        text += f" LIMIT {_count(limit)}"
    if offset is not None:
        text += f" OFFSET {_count(offset)}"
    return text


def _count(value: int | str) -> str:
    return PARAM if value == PARAM else number(int(value))


def create_table(name: str, query: str, *, temporary: bool = True, replace: bool = True) -> str:
    """``CREATE [OR REPLACE] [TEMP] TABLE name AS query``; ``name`` is quoted here."""
    return (f"CREATE {'OR REPLACE ' if replace else ''}{'TEMP ' if temporary else ''}TABLE "
            f"{ident(name)} AS {query}")


def create_view(name: str, query: str, *, temporary: bool = True, replace: bool = True) -> str:
    """``CREATE [OR REPLACE] [TEMP] VIEW name AS query``; ``name`` is quoted here."""
    return (f"CREATE {'OR REPLACE ' if replace else ''}{'TEMP ' if temporary else ''}VIEW "
            f"{ident(name)} AS {query}")


def copy_to_parquet(query: str, path: str, options: Mapping[str, object]) -> str:
    """``COPY (query) TO 'path' (FORMAT parquet, …)`` with literal option values (DuckDB
    takes no parameters in COPY)."""
    settings = ", ".join(["FORMAT parquet", *(f"{key} {_option(value)}"
                                              for key, value in options.items())])
    return f"COPY ({query}) TO {string(path)} ({settings})"


def _option(value: object) -> str:
    if isinstance(value, str) and value.isidentifier():
        return value  # keywords such as zstd
    return literal(value)


def struct(fields: Mapping[str, object]) -> str:
    """A STRUCT literal ``{'name': value, …}`` (e.g. ``read_csv``'s ``columns``), the values as
    :func:`literal` writes them."""
    return "{" + ", ".join(f"{string(str(key))}: {literal(value)}"
                           for key, value in fields.items()) + "}"


def with_(ctes: Mapping[str, str], query: str, *, materialized: Iterable[str] = ()) -> str:
    """``WITH name AS [MATERIALIZED] (cte), … query``: the common table expressions in order,
    their names quoted here; those named in ``materialized`` are computed once."""
    keep = set(materialized)
    parts = [f"{ident(name)} AS {'MATERIALIZED ' if name in keep else ''}({cte})"
             for name, cte in ctes.items()]
    return f"WITH {', '.join(parts)} {query}"
