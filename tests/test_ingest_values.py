"""Column type detection and conversion for German municipal data (allmende.ingest.values)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from itertools import count

import duckdb
import pyarrow as pa
import pytest
from hypothesis import given
from hypothesis import strategies as st

from allmende import sql
from allmende.ingest.values import (
    MISSING_MARKERS,
    ColumnType,
    infer_column_types,
    typed_select,
)
from allmende.web.i18n import localize
from properties import property_test

UTC = dt.UTC
_tables = count()


@pytest.fixture(scope="module")
def con():
    connection = duckdb.connect()
    yield connection
    connection.close()


def load(con, data: dict[str, list[str | None]]) -> str:
    name = f"upload_{next(_tables)}"
    arrow = pa.table({k: pa.array(v, pa.string()) for k, v in data.items()})
    con.register("arrow_input", arrow)
    con.execute(f"CREATE TABLE {name} AS SELECT * FROM arrow_input")
    con.unregister("arrow_input")
    return name


def run(con, data: dict[str, list[str | None]]) -> tuple[dict[str, ColumnType], dict[str, list]]:
    relation = load(con, data)
    types = infer_column_types(con, relation, list(data))
    rows = con.execute(f"SELECT {typed_select(types)} FROM {relation}").fetchall()
    columns = list(zip(*rows, strict=True)) if rows else [() for _ in data]
    return {t.name: t for t in types}, {n: list(c) for n, c in zip(data, columns, strict=True)}


def one(con, values: list[str | None], name: str = "wert") -> tuple[ColumnType, list]:
    types, values_out = run(con, {name: values})
    return types[name], values_out[name]


# --- helpers -------------------------------------------------------------------------------------


def test_identifiers_double_quotes():
    assert sql.ident("Einwohner") == '"Einwohner"'
    assert sql.ident('Fläche "km²"') == '"Fläche ""km²"""'


def test_typed_select_and_odd_column_names(con):
    types, values = run(
        con, {'Wert "a"': ["1", "2"], "select": ["x", "y"], "Größe m²": ["3,5", "4"]}
    )
    select_list = typed_select(list(types.values()))
    assert ' AS "Wert ""a""", ' in select_list
    assert ' AS "select", ' in select_list
    assert select_list.endswith(' AS "Größe m²"')
    assert values == {'Wert "a"': [1, 2], "select": ["x", "y"], "Größe m²": [3.5, 4.0]}


def test_empty_column_list(con):
    relation = load(con, {"a": ["1"]})
    assert infer_column_types(con, relation, []) == []


def test_one_query_over_whole_relation_not_a_sample(con):
    # the one value that breaks the integer type sits at the very end
    column, values = one(con, [str(i) for i in range(20_000)] + ["zwölf"])
    assert column.type == "string"
    assert values[-1] == "zwölf"


# --- numbers -------------------------------------------------------------------------------------


def test_german_decimal_comma_and_thousands_dot(con):
    column, values = one(con, ["1.596.852,25", "3,7", "-12", "1.234", "0,5"])
    assert column.type == "number"
    assert column.note == "Dezimalkomma erkannt"
    assert values == [1596852.25, 3.7, -12.0, 1234.0, 0.5]
    assert all(isinstance(v, float) for v in values)


def test_thousands_dot_integers(con):
    column, values = one(con, ["1.234", "12.500", "7", "1.000.000"])
    assert column.type == "integer"
    assert values == [1234, 12500, 7, 1_000_000]


def test_english_decimals_when_no_german_comma(con):
    column, values = one(con, ["50.937417", "3.5", "-7", "0.123"])
    assert column.type == "number"
    assert values == [50.937417, 3.5, -7.0, 0.123]


def test_dot_value_that_is_no_thousands_group_makes_column_english(con):
    column, values = one(con, ["1.234", "1.5"])
    assert column.type == "number"
    assert values == [1.234, 1.5]


def test_mixed_decimal_styles_stay_string(con):
    column, values = one(con, ["3,7", "3.7"])
    assert column.type == "string"
    assert values == ["3,7", "3.7"]


def test_german_wins_when_every_dot_is_a_thousands_separator(con):
    column, values = one(con, ["3,7", "1.234", "1.234,5"])
    assert column.type == "number"
    assert values == [3.7, 1234.0, 1234.5]


@pytest.mark.parametrize("name", ["Breitengrad", "lat", "Längengrad", "LONGITUDE", "lng"])
def test_degrees_with_three_decimals_are_no_thousands(con, name):
    column, values = one(con, ["51.513", "7.465", "51.5", None], name=name)
    assert column.type == "number" and values == [51.513, 7.465, 51.5, None]


def test_three_decimals_elsewhere_stay_german_thousands(con):
    column, values = one(con, ["51.513", "7.465"], name="Einwohner")
    assert column.type == "integer" and values == [51513, 7465]
    column, values = one(con, ["1.234.567", "51.513"], name="Breitengrad")
    assert column.type == "integer"  # "1.234.567" is no degree: the German reading stays


def test_plain_integers(con):
    column, values = one(con, ["-12", "+5", "0", "999999999999999"])
    assert column.type == "integer"
    assert values == [-12, 5, 0, 999_999_999_999_999]


@pytest.mark.parametrize(
    "values",
    [
        ["64,2 x 104,6", "12"],
        ["12 %", "3"],
        ["1,2,3", "4"],
        ["1.23.456", "4"],
        ["ca. 12", "4"],
    ],
)
def test_not_quite_numbers_stay_string(con, values):
    column, out = one(con, values)
    assert column.type == "string"
    assert out == values


def test_more_than_15_digits_stay_string(con):
    column, values = one(con, ["1234567890123456", "1"])
    assert column.type == "string"
    assert values == ["1234567890123456", "1"]
    assert column.note == "mehr als 15 Ziffern: als Text behalten"


@pytest.mark.parametrize(
    "values",
    [["04109", "44135"], ["05913000", "05911000"], ["00288001900"], ["04", "12", "7"], ["-04"]],
)
def test_leading_zeros_keep_column_string(con, values):
    column, out = one(con, [*values, "-"])
    assert column.type == "string"
    assert out == [*values, None]
    assert column.note == "führende Nullen: als Text behalten"


def test_zero_and_zero_point_something_are_no_leading_zeros(con):
    column, values = one(con, ["0", "0,25", "10"])
    assert column.type == "number"
    assert values == [0.0, 0.25, 10.0]


# --- booleans ------------------------------------------------------------------------------------


def test_ja_nein(con):
    column, values = one(con, ["ja", "nein", "Ja", "NEIN", "j", "n", "", None])
    assert column.type == "boolean"
    assert values == [True, False, True, False, True, False, None, None]


def test_wahr_falsch_true_false(con):
    column, values = one(con, ["wahr", "falsch", "TRUE", "False"])
    assert column.type == "boolean"
    assert values == [True, False, True, False]


def test_zero_one_column_is_boolean(con):
    column, values = one(con, ["0", "1", "1", "k.A."])
    assert column.type == "boolean"
    assert values == [False, True, True, None]
    assert column.note == "nur 0 und 1: als Wahrheitswert gelesen"


def test_only_ones_stay_integer(con):
    column, values = one(con, ["1", "1"])
    assert column.type == "integer"
    assert values == [1, 1]


def test_x_marks_true_and_blank_stays_missing(con):
    column, values = one(con, ["x", "", "X", " ", None])
    assert column.type == "boolean"
    assert values == [True, None, True, None, None]


def test_yes_no_words_mixed_with_other_text_stay_string(con):
    column, values = one(con, ["ja", "nein", "vielleicht"])
    assert column.type == "string"
    assert values == ["ja", "nein", "vielleicht"]


# --- dates, times --------------------------------------------------------------------------------


def test_german_dates(con):
    column, values = one(con, ["01.05.2022", "1.5.2022", "31.12.1999", "-"])
    assert column.type == "date"
    assert column.note == "Datumsformat TT.MM.JJJJ"
    assert values == [dt.date(2022, 5, 1), dt.date(2022, 5, 1), dt.date(1999, 12, 31), None]


def test_two_digit_years(con):
    column, values = one(con, ["01.05.22", "01.01.00", "31.12.69", "01.01.70", "15.06.99"])
    assert column.type == "date"
    assert values == [
        dt.date(2022, 5, 1),
        dt.date(2000, 1, 1),
        dt.date(2069, 12, 31),
        dt.date(1970, 1, 1),
        dt.date(1999, 6, 15),
    ]


def test_iso_dates_and_mixture(con):
    column, values = one(con, ["2022-05-01", "02.05.2022"])
    assert column.type == "date"
    assert values == [dt.date(2022, 5, 1), dt.date(2022, 5, 2)]


@pytest.mark.parametrize("bad", ["31.02.2020", "2021-02-29", "32.01.2020", "01.13.2020"])
def test_invalid_date_keeps_column_string(con, bad):
    column, values = one(con, ["01.01.2020", bad])
    assert column.type == "string"
    assert values == ["01.01.2020", bad]
    assert bad in column.note


# --- why a column stays text ---------------------------------------------------------------------


@pytest.mark.parametrize(("values", "note"), [
    (["01.03.2024", "bis auf Weiteres", "05.04.2024", None, "bis auf Weiteres", "30.04.2024",
      "31.05.2024", "bis auf Weiteres", "14.06.2024", "12.07.2024"],
     "bleibt Text: 3 Zellen wie „bis auf Weiteres“ (Datenzeile 2) sind kein Datum"),
    (["22", "11", "3,7", "22 kW", "50"],
     "bleibt Text: „22 kW“ (Datenzeile 4) ist keine Zahl"),
    (["08:00", "12:30", "ganztägig", "17:45"],
     "bleibt Text: „ganztägig“ (Datenzeile 3) ist keine Uhrzeit"),
    # a long value is cut in the note, not in the table
    (["1", "2", "3", "keine Angabe möglich, da die Zählstelle seit Monaten ausgefallen ist"],
     "bleibt Text: „keine Angabe möglich, da die Zählstelle…“ (Datenzeile 4) ist keine Zahl"),
], ids=["dates", "numbers", "times", "long value"])
def test_a_column_kept_text_by_a_few_cells_says_which(con, values, note):
    column, out = one(con, values)
    assert column.type == "string" and column.note == note
    assert out == [None if v is None else v for v in values]


def test_the_note_on_kept_text_speaks_english_too(con):
    column, _ = one(con, ["1", "2", "drei", "4", "fünf", "6"])
    assert localize(column.note, "en") == \
        "stays text: 2 cells such as “drei” (data row 3) are not a number"


@pytest.mark.parametrize("values", [
    ["Westfalenpark", "Rombergpark", "12", "Fredenbaum"],  # text with a number now and then
    ["1", "2", "drei", "vier"],  # as much text as numbers
])
def test_no_note_where_the_text_is_more_than_a_few_cells(con, values):
    column, _ = one(con, values)
    assert column.type == "string" and column.note is None


def test_german_datetimes(con):
    column, values = one(con, ["01.05.2022 08:30", "1.5.2022 23:59:59", "02.05.2022"])
    assert column.type == "datetime"
    assert values == [
        dt.datetime(2022, 5, 1, 8, 30),
        dt.datetime(2022, 5, 1, 23, 59, 59),
        dt.datetime(2022, 5, 2),
    ]


def test_iso_datetimes_without_offset_are_naive(con):
    column, values = one(con, ["2022-05-01T08:30:00", "2022-05-01 08:30:00.250"])
    assert column.type == "datetime"
    assert values == [dt.datetime(2022, 5, 1, 8, 30), dt.datetime(2022, 5, 1, 8, 30, 0, 250000)]


def test_utc_offsets_are_normalized_to_utc(con):
    column, values = one(
        con, ["2022-05-01 00:00:00 +0200", "2022-05-01T00:00:00Z", "2022-05-01T00:00:00.5+02:00"]
    )
    assert column.type == "datetime"
    assert values == [
        dt.datetime(2022, 4, 30, 22, 0, tzinfo=UTC),
        dt.datetime(2022, 5, 1, 0, 0, tzinfo=UTC),
        dt.datetime(2022, 4, 30, 22, 0, 0, 500000, tzinfo=UTC),
    ]


def test_offsets_mixed_with_naive_values_stay_string(con):
    column, _ = one(con, ["2022-05-01T00:00:00Z", "2022-05-01T00:00:00"])
    assert column.type == "string"


def test_epoch_milliseconds_in_time_named_column(con):
    column, values = one(con, ["1651356000000", "1651356000123", ""], name="Timestamp")
    assert column.type == "datetime"
    assert "Millisekunden" in column.note
    assert values == [
        dt.datetime(2022, 4, 30, 22, 0, tzinfo=UTC),
        dt.datetime(2022, 4, 30, 22, 0, 0, 123000, tzinfo=UTC),
        None,
    ]


def test_epoch_seconds_in_zeit_column(con):
    column, values = one(con, ["1651356000"], name="Messzeit")
    assert column.type == "datetime"
    assert values == [dt.datetime(2022, 4, 30, 22, 0, tzinfo=UTC)]


def test_13_digit_numbers_elsewhere_stay_integer(con):
    column, values = one(con, ["1651356000000"], name="Einwohner")
    assert column.type == "integer"
    assert values == [1651356000000]


def test_epoch_does_not_depend_on_session_time_zone():
    connection = duckdb.connect()
    connection.execute("SET TimeZone = 'Europe/Berlin'")
    _, values = one(connection, ["1651356000000"], name="zeitstempel")
    assert values[0] == dt.datetime(2022, 4, 30, 22, 0, tzinfo=UTC)
    _, values = one(connection, ["2022-05-01 00:00:00 +0200"])
    assert values[0] == dt.datetime(2022, 4, 30, 22, 0, tzinfo=UTC)


def test_times(con):
    column, values = one(con, ["8:30", "23:59:59", "00:00", "n/a"])
    assert column.type == "time"
    assert values == [dt.time(8, 30), dt.time(23, 59, 59), dt.time(0, 0), None]


@pytest.mark.parametrize("bad", ["24:00", "12:60", "8:5"])
def test_invalid_times_stay_string(con, bad):
    column, _ = one(con, ["08:00", bad])
    assert column.type == "string"


# --- missing values and whitespace ---------------------------------------------------------------


@pytest.mark.parametrize("marker", [*MISSING_MARKERS, " ", "   ", "\t", "\u00a0", " k.A. "])
def test_missing_markers_become_null_in_typed_columns(con, marker):
    _, values = run(con, {"zahl": ["1,5", marker], "datum": ["01.05.2022", marker]})
    assert values == {"zahl": [1.5, None], "datum": [dt.date(2022, 5, 1), None]}


def test_missing_markers_become_null_in_string_columns_too(con):
    column, values = one(con, ["Dortmund", "k.A.", "-", " ", "", None, "NULL", "n/a"])
    assert column.type == "string"
    assert values == ["Dortmund", None, None, None, None, None, None, None]


def test_column_without_values_is_string(con):
    column, values = one(con, ["", " ", "-", None])
    assert column.type == "string"
    assert values == [None, None, None, None]


def test_column_of_an_empty_table_is_string(con):
    column, values = one(con, [])
    assert column.type == "string"
    assert values == []


def test_whitespace_is_trimmed(con):
    types, values = run(
        con,
        {
            "zahl": [" 1.234,5 ", "\t7\r", "\u00a012\u00a0"],
            "text": ["  Essen ", "Bochum\t", "Gelsen kirchen"],
        },
    )
    assert types["zahl"].type == "number"
    assert values == {"zahl": [1234.5, 7.0, 12.0], "text": ["Essen", "Bochum", "Gelsen kirchen"]}


def test_every_column_of_a_typical_upload(con):
    types, values = run(
        con,
        {
            "AGS": ["05913000", "05911000"],
            "Gemeinde": ["Dortmund", "Bochum"],
            "Einwohner": ["588.250", "364.454"],
            "Fläche": ["280,71", "145,66"],
            "Stand": ["31.12.2022", "31.12.2022"],
            "kreisfrei": ["ja", "ja"],
        },
    )
    assert {n: t.type for n, t in types.items()} == {
        "AGS": "string",
        "Gemeinde": "string",
        "Einwohner": "integer",
        "Fläche": "number",
        "Stand": "date",
        "kreisfrei": "boolean",
    }
    assert values["Einwohner"] == [588250, 364454]


# --- properties ----------------------------------------------------------------------------------


def german(number: Decimal | int) -> str:
    text = f"{number:,}" if isinstance(number, int) else f"{number:,.2f}"
    return text.replace(",", "\0").replace(".", ",").replace("\0", ".")


@property_test(examples=40, fixed_seed=20261211)
@given(st.lists(st.integers(-(10**15) + 1, 10**15 - 1), min_size=1, max_size=20))
def test_german_integers_round_trip(con, numbers):
    column, values = one(con, [german(n) for n in numbers])
    assert column.type == "integer"
    assert values == numbers


@property_test(examples=40, fixed_seed=20261212)
@given(
    st.lists(
        st.decimals(-(10**12), 10**12, places=2, allow_nan=False, allow_infinity=False),
        min_size=1,
        max_size=20,
    )
)
def test_german_decimals_round_trip(con, numbers):
    texts = [german(n) for n in numbers]
    column, values = one(con, [*texts, "1,5"])  # one sure decimal comma: the column is German
    assert column.type == "number"
    assert values[:-1] == [float(n) for n in numbers]


@property_test(examples=40, fixed_seed=20261213)
@given(st.lists(st.dates(dt.date(1000, 1, 1), dt.date(9999, 12, 31)), min_size=1, max_size=20))
def test_dates_round_trip(con, dates):
    types, values = run(
        con,
        {
            "de": [d.strftime("%d.%m.") + f"{d.year:04d}" for d in dates],
            "de_short": [f"{d.day}.{d.month}.{d.year:04d}" for d in dates],
            "iso": [d.isoformat() for d in dates],
        },
    )
    assert {t.type for t in types.values()} == {"date"}
    assert values == {"de": dates, "de_short": dates, "iso": dates}


@property_test(examples=40, fixed_seed=20261214)
@given(
    st.lists(
        st.tuples(st.booleans(), st.lists(st.booleans(), min_size=4, max_size=4)),
        min_size=1,
        max_size=20,
    )
)
def test_ja_nein_in_any_case_round_trip(con, items):
    texts = [
        "".join(c.upper() if up else c for c, up in zip("ja" if flag else "nein", upper))
        for flag, upper in items
    ]
    column, values = one(con, texts)
    assert column.type == "boolean"
    assert values == [flag for flag, _ in items]
