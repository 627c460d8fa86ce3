"""No parameter of the data API can make it fail: every value a caller may send gets an answer
below 500, bad ones a 400/422 naming the parameter. The examples found by hand stay fixed; a
seeded hypothesis run feeds arbitrary strings to every parameter."""

from __future__ import annotations

from collections.abc import Iterator
from urllib.parse import quote

import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, seed, settings
from hypothesis import strategies as st

from allmende.catalog import datasets
from allmende.config import Settings
from allmende.ingest.service import IngestRequest, ingest
from allmende.platform import Platform
from allmende.web.app import create_app
from support import DORTMUND_CSV, OPERATOR, World, dataset_body

PARAMETERS = ["version", "limit", "offset", "sort", "fields", "format", "bbox", "Betreiber",
              "Leistung (kW)__gt", "Leistung (kW)__in", "In Betrieb seit__lte",
              "Ladepunkte__null", "Straße__contains", "filter.PLZ", "EVSE-ID__in",
              "geometry__null", "Breitengrad", "__minx"]
FIXED = [("limit", "²"), ("offset", "²"), ("version", "²"), ("limit", "%2B%2B5"),
         ("offset", "++5"), ("version", "99999999999999999999999"),
         ("Ladepunkte", "1234567890123456789012345678901234567890"),
         ("Leistung (kW)__gt", "-1234567890123456789012345678901234567890"),
         ("Leistung (kW)", "1e999"), ("limit", str(2**63)), ("offset", str(2**64)),
         ("__minx", "1"), ("filter.__minx", "1"), ("sort", "__minx"), ("bbox", "nan,1,2,3"),
         ("bbox", "1e999,0,1,1"), ("In Betrieb seit", "31.02.2020"), ("format", "xlsx\x00")]


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


@pytest.mark.parametrize("name, value", FIXED)
def test_values_found_by_hand_are_refused_or_answered(served, name, value):
    client, path = served
    status = _answer(client, path, [(name, value)])
    if name in ("limit", "offset", "version") or name.endswith("__minx"):
        assert status in (400, 410, 404, 422), (name, value, status)


@seed(20261204)
@settings(max_examples=150, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(st.tuples(st.sampled_from(PARAMETERS), st.text(max_size=40)), max_size=4))
def test_arbitrary_strings_in_every_parameter_never_fail(served, params):
    client, path = served
    _answer(client, path, params)


@seed(20261204)
@settings(max_examples=60, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
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

