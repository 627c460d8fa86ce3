"""No parameter of the data API can make it fail: every value a caller may send gets an answer
below 500, bad ones a 400/422 naming the parameter. The examples found by hand stay fixed; a
seeded hypothesis run feeds arbitrary strings to every parameter."""

from __future__ import annotations

from collections.abc import Iterator
from urllib.parse import quote

import httpx
import pytest
from fastapi.testclient import TestClient
from hypothesis import given
from hypothesis import strategies as st

from allmende.catalog import datasets
from allmende.config import Settings
from allmende.ingest.service import IngestRequest, ingest
from allmende.platform import Platform
from allmende.web.app import create_app
from properties import property_test
from support import DORTMUND_CSV, OPERATOR, World, dataset_body

PARAMETERS = ["version", "limit", "offset", "sort", "fields", "format", "bbox", "Betreiber",
              "Leistung (kW)__gt", "Leistung (kW)__in", "In Betrieb seit__lte",
              "Ladepunkte__null", "Straße__contains", "filter.PLZ", "EVSE-ID__in",
              "geometry__null", "Breitengrad", "__minx"]
#: Values found by hand that are refused, each naming the parameter it stood in.
REFUSED = [("limit", "²"), ("offset", "²"), ("version", "²"), ("limit", "%2B%2B5"),
           ("offset", "++5"), ("version", "99999999999999999999999"),
           ("Leistung (kW)", "1e999"), ("limit", str(2**63)), ("offset", str(2**64)),
           ("__minx", "1"), ("filter.__minx", "1"), ("sort", "__minx"), ("bbox", "nan,1,2,3"),
           ("bbox", "1e999,0,1,1"), ("format", "xlsx\x00")]
#: Counts that are no count: not ASCII digits, two signs, beyond a BIGINT.
BAD_COUNTS = ["²", "++5", str(2**63), str(2**64 + 1), "1" + "0" * 30]
FORTY_DIGITS = "1234567890123456789012345678901234567890"


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[TestClient, str]]:
    """One Dortmund charging-station table behind the app (SQLite: the parameters are
    parsed before any database work, and rows come from Parquet on both backends)."""
    folder = tmp_path_factory.mktemp("rows")
    platform = Platform(Settings(data_dir=folder / "data", secret_key="test",
                                 inprocess_worker=False))
    platform.upgrade()
    World.seed(platform)
    source = folder / "ladesaeulen.csv"
    source.write_text(DORTMUND_CSV, encoding="utf-8")
    with platform.db.session() as session:
        datasets.create_dataset(session, OPERATOR, dataset_body())
    resource = ingest(platform, OPERATOR, IngestRequest("ladesaeulen", source,
                                                        "ladesaeulen.csv")).resource
    with TestClient(create_app(platform), raise_server_exceptions=False) as client:
        yield client, f"/api/v1/resources/{resource}"
    platform.close()


def _answer(client: TestClient, path: str, params: list[tuple[str, str]]) -> int:
    response = client.get(f"{path}/rows", params=params)
    body = response.content  # a stream must end, not break off
    assert response.status_code < 500, (params, response.status_code, body[:300])
    if response.status_code >= 400:
        error = response.json()["error"]
        assert error["message"], error
    return response.status_code


def _refused_naming(response: httpx.Response, name: str) -> None:
    assert response.status_code in (400, 422), (name, response.status_code, response.text)
    error = response.json()["error"]
    assert [f["field"] for f in error["fields"]] == [name], error
    assert all(f["message"] for f in error["fields"]), error


@pytest.mark.parametrize("name, value", REFUSED)
def test_values_found_by_hand_are_refused_naming_the_parameter(served, name, value):
    client, path = served
    _refused_naming(client.get(f"{path}/rows", params=[(name, value)]), name)


@pytest.mark.parametrize("fmt", [None, "csv", "xlsx"])
@pytest.mark.parametrize("name", ["limit", "offset", "version"])
def test_counts_that_are_no_count_are_refused_naming_the_parameter(served, name, fmt):
    """Also for downloads: a count beyond 2**63 once broke off the stream it had begun."""
    client, path = served
    for value in BAD_COUNTS:
        params = [(name, value)] + ([("format", fmt)] if fmt else [])
        _refused_naming(client.get(f"{path}/rows", params=params), name)


@pytest.mark.parametrize("fmt", ["csv", "xlsx"])
def test_the_largest_counts_stream_to_the_end(served, fmt):
    client, path = served
    whole = client.get(f"{path}/rows", params={"format": fmt, "limit": str(2**63 - 1)})
    assert whole.status_code == 200 and whole.content == client.get(
        f"{path}/rows", params={"format": fmt}).content
    empty = client.get(f"{path}/rows", params={"format": fmt, "offset": str(2**63 - 1)})
    assert empty.status_code == 200 and len(empty.content) < len(whole.content)


def test_a_forty_digit_number_in_a_numeric_filter_is_answered(served):
    """Not refused: beyond a BIGINT a whole number is compared as a DOUBLE (tables.values
    .parse_number), which no stored count equals and every stored power exceeds. A caller
    filtering by a huge number is asking a question with an answer, not making a mistake."""
    client, path = served
    equal = client.get(f"{path}/rows", params={"Ladepunkte": FORTY_DIGITS})
    assert equal.status_code == 200 and equal.json()["total"] == 0
    above = client.get(f"{path}/rows", params={"Leistung (kW)__gt": f"-{FORTY_DIGITS}"})
    assert above.status_code == 200 and above.json()["total"] == 4
    for fmt in ("csv", "xlsx"):
        download = client.get(f"{path}/rows", params={"Ladepunkte": FORTY_DIGITS,
                                                       "format": fmt})
        assert download.status_code == 200, download.text


def test_an_impossible_date_in_the_data_keeps_its_column_text_and_filterable(served):
    """31.02.2020 in the file keeps "In Betrieb seit" a text column: the same text finds its
    row."""
    client, path = served
    found = client.get(f"{path}/rows", params={"In Betrieb seit": "31.02.2020"})
    assert found.status_code == 200 and found.json()["total"] == 1


@property_test(examples=150, fixed_seed=20261204)
@given(st.lists(st.tuples(st.sampled_from(PARAMETERS), st.text(max_size=40)), max_size=4))
def test_arbitrary_strings_in_every_parameter_never_fail(served, params):
    client, path = served
    _answer(client, path, params)


@property_test(examples=60, fixed_seed=20261204)
@given(st.sampled_from(["csv", "csv-de", "json", "geojson", "parquet", "xlsx"]),
       st.lists(st.tuples(st.sampled_from(PARAMETERS[1:]), st.text(max_size=20)),
                max_size=3))
def test_downloads_with_arbitrary_parameters_end_cleanly(served, fmt, params):
    client, path = served
    _answer(client, path, [("format", fmt), *params])


def test_distinct_and_aggregate_take_arbitrary_strings(served):
    client, path = served
    for value in ("²", "1e999", "x" * 500, "\x00", "Betreiber,Betreiber", "sum:geometry"):
        for url, params in ((f"{path}/distinct/{quote(value, safe='')}", {"limit": value}),
                            (f"{path}/aggregate", {"group_by": value, "metrics": value}),
                            (f"{path}/distinct/Betreiber", {"Betreiber__in": value})):
            response = client.get(url, params=params)
            assert response.status_code < 500, (url, params, response.text[:300])

