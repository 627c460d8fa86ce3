"""Types decided on a sample (allmende.ingest.values.decide_column_types) give exactly the
result of the full pass: the guards' shape tests imply the masks they claim, every speculative
decision is either confirmed by its guard or replaced by the full pass, and whole builds come
out the same whether the sample is tiny, small or the whole table."""

from __future__ import annotations

import datetime as dt
import random
from itertools import count
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import given
from hypothesis import strategies as st

from allmende import sql
from allmende.ingest import values
from allmende.ingest.pipeline import build
from allmende.ingest.sniff import ReadOptions
from allmende.ingest.values import (
    confirm,
    decide_column_types,
    infer_column_types,
    is_guard_failure,
    typed_query,
    typed_select,
)
from properties import property_test

REALDATA = Path(__file__).parent / "data" / "realdata"
_tables = count()


@pytest.fixture(scope="module")
def con():
    connection = duckdb.connect()
    yield connection
    connection.close()


def load(con, data: dict[str, list[str | None]]) -> str:
    name = f"spec_{next(_tables)}"
    con.register("arrow_input", pa.table({k: pa.array(v, pa.string()) for k, v in data.items()}))
    con.execute(f"CREATE TABLE {name} AS SELECT * FROM arrow_input")
    con.unregister("arrow_input")
    return name


def speculative(con, relation: str, columns: list[str], rows: int, sample_rows: int):
    """The pipeline's way: guarded write, and on a failed guard the full pass."""
    types = decide_column_types(con, relation, columns, rows, sample_rows=sample_rows)
    try:
        return types, con.execute(typed_query(types, relation)).fetchall(), False
    except duckdb.Error as error:
        assert is_guard_failure(error), error
        types = confirm(con, relation, types)
        return types, con.execute(typed_query(types, relation)).fetchall(), True


def exact(con, relation: str, columns: list[str]):
    types = infer_column_types(con, relation, columns)
    return types, con.execute(f"SELECT {typed_select(types)} FROM {relation}").fetchall()


def described(types) -> list[tuple[str, str, str | None]]:
    return [(t.name, t.type, t.note) for t in types]


# --- the shape tests imply their masks -------------------------------------------------------

PIECES = ["0", "1", "7", "12", "05", "1.234", "1,5", "0,25", "51.513", "2022", "31.12.",
          "2022-05-01", " ", "\t", "\u00a0", ":", "T", "Z", "+02:00", "-", "+", ".", ",", "ja",
          "X", "n", "k.A.", "NULL", "Nein", "a", "ß", "1234567890123", "9999999999", "24:00",
          "12:30", "12:30:15", "31.02.2022", "01.05.22", "99"]


def _samples() -> list[str]:
    rng = random.Random(7)
    texts = set(PIECES) | set(values.MISSING_MARKERS)
    for _ in range(4000):
        texts.add("".join(rng.choice(PIECES) for _ in range(rng.randint(1, 4))))
    day = dt.datetime(1999, 12, 31, 23, 59, 58)
    for step in range(0, 400):
        moment = day + dt.timedelta(days=step * 37, seconds=step * 7919)
        texts |= {moment.strftime("%d.%m.%Y"), f"{moment.day}.{moment.month}.{moment:%y}",
                  moment.date().isoformat(), moment.strftime("%d.%m.%Y %H:%M"),
                  moment.isoformat(sep=" "), moment.isoformat() + "Z", f"{moment:%H:%M}",
                  f"{moment.isoformat()}+01:00", f"{step * 1234.5:,.2f}",
                  f"{step * 1234567:,}".replace(",", ".")}
    return sorted(texts)


def test_every_shape_test_implies_its_masks_and_plain_values_stay_as_they_are(con):
    texts = _samples()
    relation = load(con, {"t": texts})
    for index, shape in enumerate(values._SHAPES):
        cleaned = values._cleaned("t")
        masked = (f"(SELECT t, v, {values._mask('v')} AS m FROM (SELECT t, {cleaned} AS v "
                  f"FROM {relation}) WHERE v IS NOT NULL)")
        listed = f"list_contains({sql.literal(sorted(shape.masks))}, m)"
        broken = con.execute(f"SELECT t, m FROM {masked} WHERE {shape.test('v')} AND NOT "
                             f"{listed}").fetchall()
        assert broken == [], (index, broken[:5])
        if shape.complete:  # a guard then needs no whole mask for values of these masks
            missed = con.execute(f"SELECT t, m FROM {masked} WHERE {listed} AND NOT "
                                 f"{shape.test('v')}").fetchall()
            assert missed == [], (index, missed[:5])
        fast = values.Guard((shape,), shape.masks, values._ALL_BITS).fast("t")
        changed = con.execute(f"SELECT t FROM {relation} WHERE ({fast}) AND "
                              f"({cleaned}) IS DISTINCT FROM t").fetchall()
        assert changed == [], (index, changed[:5])
        hits = con.execute(f"SELECT count(*) FROM {relation} WHERE {fast}").fetchall()[0][0]
        assert hits > 0, index  # the samples reach every shape


# --- decisions on a sample equal the full pass ---------------------------------------------

KINDS = {
    "int": st.integers(-10**15 + 1, 10**15 - 1).map(str),
    "small": st.integers(0, 3).map(str),
    "zero_one": st.sampled_from(["0", "1"]),
    "lead": st.from_regex(r"0[0-9]{1,6}", fullmatch=True),
    "de": st.decimals(-10**9, 10**9, places=2).map(lambda d: f"{d:,.2f}".replace(",", "_")
                                                    .replace(".", ",").replace("_", ".")),
    "en": st.decimals(-10**4, 10**4, places=3).map(lambda d: f"{d:.3f}"),
    "thousands": st.integers(1000, 10**9).map(lambda n: f"{n:,}".replace(",", ".")),
    "date": st.dates(dt.date(1950, 1, 1), dt.date(2060, 12, 31)).map(
        lambda d: d.strftime("%d.%m.%Y")),
    "yy": st.dates(dt.date(1970, 1, 1), dt.date(2069, 12, 31)).map(
        lambda d: f"{d.day}.{d.month}.{d:%y}"),
    "iso": st.dates(dt.date(1950, 1, 1), dt.date(2060, 12, 31)).map(dt.date.isoformat),
    "stamp": st.datetimes(dt.datetime(2000, 1, 1), dt.datetime(2040, 1, 1)).map(
        lambda t: t.strftime("%d.%m.%Y %H:%M")),
    "tz": st.datetimes(dt.datetime(2000, 1, 1), dt.datetime(2040, 1, 1)).map(
        lambda t: t.strftime("%Y-%m-%dT%H:%M:%S") + "+02:00"),
    "time": st.times().map(lambda t: t.strftime("%H:%M")),
    "bad_date": st.sampled_from(["31.02.2022", "30.13.2020", "2022-02-30"]),
    "word": st.sampled_from(["ja", "Nein", "x", "X", "wahr", "n"]),
    "text": st.sampled_from(["Dortmund", "Hörde", "12a", "3-5", "ca. 12", "k.A.", " Essen ",
                             "-", "", None, "\u00a0", "Straße 1"]),
    "missing": st.sampled_from(["", "-", "k.A.", " ", None]),
}


@st.composite
def columns(draw) -> list[str | None]:
    """Early rows of one or two kinds, later rows that may bring others: the sample sees the
    early ones, the guards meet the rest."""
    early = draw(st.lists(st.sampled_from(sorted(KINDS)), min_size=1, max_size=2))
    late = draw(st.lists(st.sampled_from(sorted(KINDS)), max_size=2))
    head = draw(st.lists(st.one_of(*(KINDS[k] for k in early)), min_size=20, max_size=40))
    tail = draw(st.lists(st.one_of(*(KINDS[k] for k in early + late)), min_size=1, max_size=30))
    return head + tail


NAMES = ["wert", "PLZ", "Breitengrad", "Zeitstempel"]


@property_test(examples=50, fixed_seed=20261205)
@given(st.lists(columns(), min_size=1, max_size=4), st.integers(1, 4))
def test_decisions_on_a_sample_equal_the_full_pass(con, data, sample_rows):
    rows = min(len(c) for c in data)
    table = {NAMES[i]: c[:rows] for i, c in enumerate(data)}
    relation = load(con, table)
    types, typed, _ = speculative(con, relation, list(table), rows, sample_rows)
    full_types, full = exact(con, relation, list(table))
    assert described(types) == described(full_types)
    assert typed == full


@property_test(examples=40, fixed_seed=20261206)
@given(st.lists(columns(), min_size=1, max_size=4), st.integers(1, 4))
def test_the_form_for_wide_tables_types_every_value_the_same(con, data, sample_rows):
    """typed_query's form for wide tables (each expression once, over lists of cells) gives
    what the form with expressions per column gives, a failing guard included."""
    rows = min(len(c) for c in data)
    table = {NAMES[i]: c[:rows] for i, c in enumerate(data)}
    relation = load(con, table)
    types = decide_column_types(con, relation, list(table), rows, sample_rows=sample_rows)
    outcomes = []
    for lists in (False, True):
        try:
            outcomes.append(con.execute(typed_query(types, relation, lists=lists)).fetchall())
        except duckdb.Error as error:
            assert is_guard_failure(error), error
            outcomes.append("guard failed")
    assert outcomes[1] == outcomes[0]


def test_a_guard_that_holds_keeps_the_sample_decision(con):
    relation = load(con, {"Anzahl": [str(i) for i in range(1, 5001)] + [" 17 ", "-"],
                          "Ort": ["Bochum", "Essen", " Hörde ", "k.A."] * 1250 + ["ja", "x"]})
    types, typed, fell_back = speculative(con, relation, ["Anzahl", "Ort"], 5002, 100)
    assert not fell_back and all(t.guard is not None for t in types)
    assert described(types) == [("Anzahl", "integer", None), ("Ort", "string", None)]
    assert typed[-2:] == [(17, "ja"), (None, "x")] and typed[2:4] == [(3, "Hörde"), (4, None)]


def test_a_value_that_would_change_the_note_sends_the_column_to_the_full_pass(con):
    # row 4999 is not in the sample (the first 50 rows and every 100th)
    relation = load(con, {"Anzahl": [str(i) for i in range(1, 5000)] + ["1.234", "7"]})
    types, typed, fell_back = speculative(con, relation, ["Anzahl"], 5001, 100)
    assert fell_back
    assert described(types) == [("Anzahl", "integer", "Tausenderpunkt erkannt")]
    assert typed[-2:] == [(1234,), (7,)]


def test_a_value_beyond_the_sample_sends_the_column_to_the_full_pass(con):
    values_ = [str(i) for i in range(1, 5000)] + ["zwölf"]
    relation = load(con, {"Anzahl": values_})
    types, typed, fell_back = speculative(con, relation, ["Anzahl"], 5000, 100)
    assert fell_back
    # the full pass says which value kept the column text, and where
    assert described(types) == [("Anzahl", "string",
                                 "bleibt Text: „zwölf“ (Datenzeile 5000) ist keine Zahl")]
    assert typed[-1] == ("zwölf",)


def test_a_zero_beyond_an_only_ones_sample_makes_the_column_boolean(con):
    # "1" alone reads as an identifier (PLZ), "0" and "1" together as a boolean: the guard must
    # not let a "0" in (row 299 is not in the sample: the first 25 rows and every 12th)
    relation = load(con, {"PLZ": ["1"] * 299 + ["0", "1"]})
    types, typed, fell_back = speculative(con, relation, ["PLZ"], 301, 50)
    assert fell_back
    assert described(types) == [("PLZ", "boolean", "nur 0 und 1: als Wahrheitswert gelesen")]
    assert typed[-2:] == [(False,), (True,)]


def test_a_note_that_depends_on_counts_is_not_decided_on_a_sample(con):
    # "1.234" counts as German thousands and English decimal at once, so whether "führende
    # Nullen" is the note depends on how many "1.234" there are against plain words
    head = ["01", "1.234", "1.234", "Wort"] * 100
    relation = load(con, {"wert": head + ["Wort"] * 2000})
    types, typed, fell_back = speculative(con, relation, ["wert"], 2400, 100)
    full_types, full = exact(con, relation, ["wert"])
    assert described(types) == described(full_types) == [("wert", "string", None)]
    assert types[0].guard is None and not fell_back  # decided on every value right away
    assert typed == full


# --- whole builds -----------------------------------------------------------------------------

def _build(source: Path, tmp_path: Path, area=None) -> tuple:
    work = tmp_path / f"work{next(_tables)}"
    work.mkdir()
    built = build(source, source.name, ReadOptions(), work, area, lambda _f, _m: None)
    return (built.rows, built.columns, built.crs, built.report,
            [(w.code, w.message) for w in built.warnings], pq.read_table(built.parquet))


@pytest.mark.parametrize("name", sorted(p.name for p in REALDATA.iterdir()
                                        if p.suffix in (".csv", ".geojson")))
@pytest.mark.parametrize("sample_rows", [3, 40])
def test_real_files_come_out_the_same_from_a_tiny_sample(tmp_path, monkeypatch, name,
                                                         sample_rows):
    area = (6.77, 50.83, 7.17, 51.09) if "koeln" in name else (7.10, 51.39, 7.35, 51.54)
    whole = _build(REALDATA / name, tmp_path, area)
    monkeypatch.setattr(values, "SAMPLE_ROWS", sample_rows)
    sampled = _build(REALDATA / name, tmp_path, area)
    assert sampled[:5] == whole[:5]
    assert sampled[5].equals(whole[5])


def _municipal_csv(path: Path, rows: int, last: str) -> None:
    """A messy export larger than the sample; ``last`` is the final row's Hausnummer."""
    lines = ["Nr;PLZ;Hausnummer;Datum;Betrag;Breitengrad;Längengrad;Bemerkung"]
    for i in range(1, rows):
        plz = "04109" if i % 7 == 0 else "44135"
        remark = "" if i % 3 else "k.A."
        lines.append(f"{i};{plz};{i % 180 + 1};{(i % 28) + 1:02d}.05.2022;{i * 3},{i % 100:02d};"
                     f"51,{410000 + i % 190000};7,{300000 + i % 340000};{remark}")
    lines.append(f"{rows};44135;{last};01.06.2022;1,5;51,5;7,4;Ende")
    path.write_text("\r\n".join(lines) + "\r\n", encoding="utf-8")


@pytest.mark.parametrize("last, fell_back", [("17", False), ("17a", True)])
def test_a_large_file_decided_on_the_default_sample_equals_the_full_pass(
        tmp_path, monkeypatch, last, fell_back):
    source = tmp_path / "gross.csv"
    _municipal_csv(source, 5 * values.SAMPLE_ROWS + 1000, last)
    confirmed = []
    monkeypatch.setattr("allmende.ingest.pipeline.confirm",
                        lambda *args: confirmed.append(1) or confirm(*args))
    sampled = _build(source, tmp_path, (7.30, 51.41, 7.64, 51.60))
    assert bool(confirmed) is fell_back
    monkeypatch.setattr(values, "SAMPLE_ROWS", 10**9)
    whole = _build(source, tmp_path, (7.30, 51.41, 7.64, 51.60))
    assert sampled[:5] == whole[:5]
    assert sampled[5].equals(whole[5])
    types = {c["name"]: c["type"] for c in whole[1]}
    assert types["Hausnummer"] == ("string" if fell_back else "integer")
    assert types["PLZ"] == "string" and types["Betrag"] == "number"
    assert types["geometry"] == "geometry" and whole[2] == "EPSG:4326"


def test_rows_without_coordinates_get_no_geometry(tmp_path):
    source = tmp_path / "punkte.csv"
    source.write_text("Name;lat;lon\nA;51,5;7,4\nB;;\nC;51,6;k.A.\nD;51,7;7,6\n",
                      encoding="utf-8")
    rows = _build(source, tmp_path)[5].to_pylist()
    assert [r["geometry"] is None for r in rows] == [False, True, True, False]
    assert [r["__minx"] for r in rows] == [7.4, None, None, 7.6]
