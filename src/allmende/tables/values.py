"""Typed values in and out: filter strings to Python values, Arrow columns to output values."""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from datetime import UTC, date, datetime, time
from decimal import Decimal
from typing import Any

import orjson
import pyarrow as pa
import shapely

from allmende.errors import Message, msg

_NUMBER = re.compile(r"[+-]?(?:[0-9]+(?:[.,][0-9]*)?|[.,][0-9]+)(?:[eE][+-]?[0-9]+)?")
_GERMAN_DATE = re.compile(r"(\d{1,2})\.(\d{1,2})\.(\d{4})")
_GERMAN_DATETIME = re.compile(r"(\d{1,2})\.(\d{1,2})\.(\d{4})[ T](\d{1,2}):(\d{2})(?::(\d{2}))?")
_TRUE = frozenset({"true", "ja", "1", "wahr", "yes"})
_FALSE = frozenset({"false", "nein", "0", "falsch", "no"})

TYPE_LABELS = {
    "integer": msg("eine ganze Zahl"), "number": msg("eine Zahl"),
    "boolean": msg("ein Wahrheitswert (true/false, ja/nein, 1/0)"),
    "date": msg("ein Datum (2024-05-01 oder 01.05.2024)"),
    "datetime": msg("ein Zeitpunkt (ISO 8601, z. B. 2024-05-01T12:00:00Z)"),
    "time": msg("eine Uhrzeit (z. B. 14:30 oder 14:30:00)"),
}


class ValueProblem(ValueError):
    """A filter value that does not fit its column; the message is German (a
    :class:`Message`, so that the API can also say it in English)."""

    @property
    def message(self) -> str:
        # str(self) would give a plain str and lose the message's template
        first = self.args[0] if self.args else ""
        return first if isinstance(first, Message) else str(first)


def thousands(number: int) -> str:
    """``10000`` → ``10.000``: numbers in messages as German readers write them."""
    return f"{number:_}".replace("_", ".")


def parse_bool(text: str) -> bool:
    value = text.strip().casefold()
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise ValueProblem(msg("„{text}“ ist kein Wahrheitswert (erlaubt: true/false, ja/nein, "
                           "1/0).", text=text))


def parse_number(text: str) -> int | float:
    """``3.7``, ``3,7``, ``-2``, ``1e3``; an integral value comes back as ``int``."""
    value = text.strip()
    if not _NUMBER.fullmatch(value):
        raise ValueProblem(msg("„{text}“ ist keine Zahl.", text=text))
    value = value.replace(",", ".")
    if re.fullmatch(r"[+-]?[0-9]+", value) and -(2**63) <= int(value) < 2**63:
        return int(value)
    # beyond BIGINT a whole number is compared as a DOUBLE: no stored value can equal it
    number = float(value)
    if not math.isfinite(number):
        raise ValueProblem(msg("„{text}“ ist keine endliche Zahl.", text=text))
    return number


def parse_date(text: str) -> date:
    value = text.strip()
    german = _GERMAN_DATE.fullmatch(value)
    try:
        if german:
            day, month, year = (int(g) for g in german.groups())
            return date(year, month, day)
        if re.fullmatch(r"\d{4}-\d{2}-\d{2}", value):
            return date.fromisoformat(value)
    except ValueError:
        pass
    raise ValueProblem(msg("„{text}“ ist kein gültiges Datum (2024-05-01 oder 01.05.2024).",
                           text=text))


def parse_datetime(text: str) -> datetime:
    """ISO 8601 (``Z`` or offset; without one: UTC), a bare date, or ``01.05.2024 12:00``."""
    value = text.strip()
    try:
        german = _GERMAN_DATETIME.fullmatch(value)
        if german:
            day, month, year, hour, minute = (int(g) for g in german.groups()[:5])
            second = int(german.group(6) or 0)
            result = datetime(year, month, day, hour, minute, second)
        elif _GERMAN_DATE.fullmatch(value) or re.fullmatch(r"\d{4}-\d{2}-\d{2}", value):
            result = datetime.combine(parse_date(value), time())
        elif re.match(r"\d{4}-\d{2}-\d{2}[T ]\d", value):
            result = datetime.fromisoformat(value)
        else:
            raise ValueError(value)
    except (ValueError, ValueProblem):
        raise ValueProblem(msg("„{text}“ ist kein gültiger Zeitpunkt "
                               "(ISO 8601, z. B. 2024-05-01T12:00:00Z).", text=text)) from None
    if result.tzinfo is None:
        return result.replace(tzinfo=UTC)
    return result.astimezone(UTC)


def parse_time(text: str) -> time:
    value = text.strip()
    try:
        if re.fullmatch(r"\d{1,2}:\d{2}(:\d{2}(\.\d+)?)?", value):
            return time.fromisoformat(value.zfill(len(value) + (value.index(":") == 1)))
    except ValueError:
        pass
    raise ValueProblem(msg("„{text}“ ist keine gültige Uhrzeit (z. B. 14:30 oder 14:30:00).",
                           text=text))


PARSERS: dict[str, Callable[[str], Any]] = {
    "string": lambda text: text,
    "json": lambda text: text,
    "integer": parse_number,
    "number": parse_number,
    "boolean": parse_bool,
    "date": parse_date,
    "datetime": parse_datetime,
    "time": parse_time,
}


def parse_value(text: str, column_type: str) -> Any:
    """A filter value as the Python value bound for a column of ``column_type``."""
    parser = PARSERS.get(column_type)
    if parser is None:
        raise ValueProblem(msg("Spalten dieses Typs lassen sich nur mit __null filtern."))
    return parser(text)


# --- output -------------------------------------------------------------------------------

#: Output modes: ``json`` gives plain JSON-ready Python values, ``fragment`` the same but
#: geometries as pre-serialized ``orjson.Fragment``; ``csv``/``csv-de`` give strings (None =
#: empty); ``xlsx`` gives native values for xlsxwriter.
MODES = ("json", "fragment", "csv", "csv-de", "xlsx")


def _pylist(array: pa.Array | pa.ChunkedArray) -> list[Any]:
    kind = array.type
    if pa.types.is_timestamp(kind) and kind.unit == "ns":
        array = array.cast(pa.timestamp("us", kind.tz), safe=False)
    elif pa.types.is_time(kind) and kind.unit == "ns":
        array = array.cast(pa.time64("us"), safe=False)
    return array.to_pylist()


def _wall(value: datetime) -> datetime:
    """A naive datetime: instants (TIMESTAMPTZ) in UTC, wall-clock values as they are."""
    return value if value.tzinfo is None else value.astimezone(UTC).replace(tzinfo=None)


def _iso_datetime(value: datetime) -> str:
    """ISO 8601: instants in UTC with ``Z``; wall-clock values without an offset (the ingest
    keeps date-times without offset as TIMESTAMP, since they are no instant)."""
    if value.tzinfo is None:
        return value.isoformat()
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z")


def _float(value: Any) -> float | None:
    number = float(value)
    return number if math.isfinite(number) else None


def _integer(value: Any) -> int:
    return value if isinstance(value, int) else int(value)


def _json_value(value: Any) -> Any:
    if isinstance(value, str):
        try:
            return orjson.loads(value)
        except orjson.JSONDecodeError:
            return value
    return value


def _number_text(value: Any, german: bool) -> str | None:
    if isinstance(value, Decimal):
        text = format(value, "f")
    else:
        number = float(value)
        if not math.isfinite(number):
            return None
        text = repr(number)
        if text.endswith(".0"):
            text = text[:-2]
    return text.replace(".", ",") if german else text


def geometries(values: list[Any]) -> Any:
    """Shapely geometries (None for NULL or unreadable WKB) from WKB values."""
    return shapely.from_wkb(values, on_invalid="ignore")


def geometry_values(values: list[Any], mode: str) -> list[Any]:
    if not values:
        return []
    shapes = geometries(values)
    if mode in ("csv", "csv-de", "xlsx"):
        texts = shapely.to_wkt(shapes, rounding_precision=-1)
        return [t if isinstance(t, str) else None for t in texts]
    texts = shapely.to_geojson(shapes)
    if mode == "fragment":
        return [orjson.Fragment(t) if isinstance(t, str) else None for t in texts]
    return [orjson.loads(t) if isinstance(t, str) else None for t in texts]


def column_values(array: pa.Array | pa.ChunkedArray, column_type: str, mode: str) -> list[Any]:
    """The values of one Arrow column converted for an output ``mode``."""
    values = _pylist(array)
    if column_type == "geometry":
        return geometry_values(values, mode)
    convert = _converter(column_type, mode)
    if convert is None:
        return values
    return [None if v is None else convert(v) for v in values]


def _converter(column_type: str, mode: str) -> Callable[[Any], Any] | None:
    german = mode == "csv-de"
    text_mode = mode in ("csv", "csv-de")
    if column_type == "integer":
        return str if text_mode else _integer
    if column_type == "number":
        if text_mode:
            return lambda v: _number_text(v, german)
        return _float
    if column_type == "boolean":
        if text_mode:
            yes, no = ("WAHR", "FALSCH") if german else ("true", "false")
            return lambda v: yes if v else no
        return None
    if column_type == "date":
        if mode == "xlsx":
            return None
        if german:
            return lambda v: v.strftime("%d.%m.%Y")
        return lambda v: v.isoformat()
    if column_type == "datetime":
        if mode == "xlsx":
            return _wall
        if german:
            return lambda v: _wall(v).strftime("%d.%m.%Y %H:%M:%S")
        return _iso_datetime
    if column_type == "time":
        if mode == "xlsx":
            return None
        return lambda v: v.isoformat()
    if column_type == "json":
        return _json_value if mode in ("json", "fragment") else str
    return None if not text_mode else str
