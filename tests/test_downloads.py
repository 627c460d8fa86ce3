"""Downloads cannot flood the machine: XLSX is bounded in cells, a client and the server run a
bounded number of downloads at once (429 with Retry-After beyond), and a download whose client
went away stops at its next batch — also while an XLSX file is still being built."""

from __future__ import annotations

import re
import socket
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import unquote

import pytest
from fastapi.testclient import TestClient

from allmende.catalog import datasets
from allmende.ingest.service import IngestRequest, ingest
from allmende.platform import Platform
from allmende.tables import export
from allmende.web.downloads import attachment
from support import OPERATOR, World, dataset_body, served

COLUMNS = 12


def _big_csv(path: Path, rows: int) -> None:
    head = ";".join(f"Spalte {c}" for c in range(COLUMNS))
    with path.open("w", encoding="utf-8") as out:
        out.write(head + "\n")
        for n in range(rows):
            out.write(";".join(f"Wert {n} {c}" for c in range(COLUMNS)) + "\n")


@pytest.fixture
def big(platform: Platform, world: World, tmp_path: Path) -> str:
    """A table of 160,000 rows × 12 text columns (1.9 million cells: just below the XLSX
    bound, and many seconds of work to build as XLSX)."""
    source = tmp_path / "gross.csv"
    _big_csv(source, 160_000)
    with platform.db.session() as session:
        datasets.create_dataset(session, OPERATOR, dataset_body("gross"))
    return ingest(platform, OPERATOR, IngestRequest("gross", source, "gross.csv")).resource


@pytest.fixture
def server(client: TestClient) -> Iterator[str]:
    with served(client.app) as address:
        yield address


def _abandon(server: str, path: str) -> None:
    """Ask for a download, then hang up without reading it."""
    host, port = server.split(":")
    with socket.create_connection((host, int(port))) as connection:
        connection.sendall(f"GET {path} HTTP/1.1\r\nHost: {host}\r\n\r\n".encode())
        time.sleep(0.3)


def _slots(client: TestClient):
    return client.app.state.download_slots


def _small(platform: Platform, tmp_path: Path, rows: int = 1700) -> str:
    source = tmp_path / "klein.csv"
    _big_csv(source, rows)
    with platform.db.session() as session:
        datasets.create_dataset(session, OPERATOR, dataset_body("klein"))
    return ingest(platform, OPERATOR, IngestRequest("klein", source, "klein.csv")).resource


def test_xlsx_over_the_cell_bound_is_413_pointing_to_csv(client, platform, world, tmp_path,
                                                         monkeypatch):
    monkeypatch.setattr(export, "XLSX_MAX_CELLS", 20_000)  # the rule, on a small table
    resource = _small(platform, tmp_path)  # 1,700 rows × 12 columns = 20,400 cells
    refused = client.get(f"/api/v1/resources/{resource}/rows", params={"format": "xlsx"})
    assert refused.status_code == 413
    error = refused.json()["error"]
    assert error["code"] == "too_many_cells_for_xlsx"
    assert "CSV oder Parquet" in error["message"] and "1.700 Zeilen × 12 Spalten" in \
        error["message"]
    for narrower in ({"fields": "Spalte 0,Spalte 1"}, {"limit": "1600"}):
        answer = client.get(f"/api/v1/resources/{resource}/rows",
                            params={"format": "xlsx", **narrower})
        assert answer.status_code == 200, narrower


def test_an_abandoned_xlsx_download_stops_and_gives_its_slot_back(client, server, big):
    _abandon(server, f"/api/v1/resources/{big}/rows?format=xlsx")
    hung_up = time.monotonic()
    while _slots(client).running:
        # a whole build of 1.9 million cells takes far longer than one batch of them
        assert time.monotonic() - hung_up < 8, "the abandoned XLSX export kept running"
        time.sleep(0.05)
    deadline = time.monotonic() + 8  # the cleanup closes the export in a thread of its own
    while list(Path(tempfile.gettempdir()).glob("allmende-*.xlsx")):
        assert time.monotonic() < deadline, "the abandoned XLSX export left its file"
        time.sleep(0.05)


@pytest.fixture
def gated(monkeypatch: pytest.MonkeyPatch) -> tuple[list[dict], threading.Event]:
    """Exports that read batches of 100 rows and, after their first, wait until they are
    cancelled (at most 30 s): what each read and how it ended, and an event set once one has
    sent its first batch."""
    monkeypatch.setattr(export, "BATCH_ROWS", 100)
    ran: list[dict] = []
    first = threading.Event()
    batches = export._Batches.__iter__

    def gate(self: export._Batches) -> Iterator:
        entry = {"batches": 0, "cancelled": False}
        ran.append(entry)
        try:
            for batch in batches(self):
                entry["batches"] += 1
                yield batch
                if entry["batches"] == 1:
                    first.set()
                    self.cancelled.wait(timeout=30)
        except export.ExportCancelled:
            entry["cancelled"] = True
            raise

    monkeypatch.setattr(export._Batches, "__iter__", gate)
    return ran, first


@pytest.mark.parametrize("fmt", ["csv", "csv-de", "json", "parquet"])
def test_an_abandoned_stream_stops_at_its_next_batch_and_gives_its_slot_back(
        client, platform, world, tmp_path, server, gated, fmt):
    """The client hangs up after the first of 17 batches: the export reads no further batch
    than the one it is at, ends cancelled, and its slot is free again."""
    ran, first = gated
    resource = _small(platform, tmp_path)  # 1,700 rows: 17 batches of 100
    host, port = server.split(":")
    with socket.create_connection((host, int(port))) as connection:
        connection.sendall(f"GET /api/v1/resources/{resource}/rows?format={fmt} HTTP/1.1\r\n"
                           f"Host: {host}\r\n\r\n".encode())
        assert first.wait(timeout=30), "the export never sent its first batch"
        assert _slots(client).running == 1
    deadline = time.monotonic() + 30  # a guard against hanging, not a measure of speed
    while _slots(client).running:
        assert time.monotonic() < deadline, f"the abandoned {fmt} export kept its slot"
        time.sleep(0.05)
    assert ran == [{"batches": 1, "cancelled": True}]


def test_a_client_runs_two_downloads_at_once_and_the_server_four(client, platform, world,
                                                                 tmp_path):
    big = _small(platform, tmp_path, rows=50)
    slots = _slots(client)
    held = [slots.take("testclient"), slots.take("testclient")]
    third = client.get(f"/api/v1/resources/{big}/rows", params={"format": "csv"})
    assert third.status_code == 429
    assert third.headers["Retry-After"] == "10"
    assert third.json()["error"]["code"] == "too_many_downloads"
    held += [slots.take("10.0.0.1"), slots.take("10.0.0.2")]
    for release in held[:2]:
        release()
    busy = client.get(f"/api/v1/resources/{big}/rows", params={"format": "csv", "limit": "5"})
    assert busy.status_code == 200  # two of four in use by others
    held += [slots.take("10.0.0.3"), slots.take("10.0.0.4")]
    refused = client.get(f"/api/v1/resources/{big}/rows", params={"format": "csv"})
    assert refused.status_code == 429 and refused.json()["error"]["code"] == "server_busy"
    assert refused.headers["Retry-After"] == "10"
    assert "10 Sekunden" in refused.json()["error"]["message"]
    assert client.get(f"/api/v1/resources/{big}/rows").status_code == 200  # pages still work
    for release in held[2:]:
        release()
    assert slots.running == 0


@pytest.mark.parametrize(("name", "fallback"), [
    ("Parkgebühren – „Innenstadt“ in €-v1.csv", "Parkgebuehren _ _Innenstadt_ in _-v1.csv"),
    ('Liste "A"\\B\r\n-v2.de.csv', "Liste _A_B-v2.de.csv"),
    ("€€€.json", "download.json"),
    ("€€", "download"),
])
def test_content_disposition_keeps_the_name_and_has_an_ascii_fallback(name: str,
                                                                        fallback: str) -> None:
    """The browser test shows Chromium saving the exact name; here the header's form."""
    header = attachment(name)
    assert header.isascii()
    encoded = re.fullmatch(r'attachment; filename="([^"\\]*)"; filename\*=UTF-8\'\'(\S+)', header)
    assert encoded is not None, header
    assert encoded[1] == fallback
    assert unquote(encoded[2], errors="strict") == name.replace("\r\n", "")


def test_csv_and_csv_de_downloads_have_distinct_names(client, platform, world,
                                                      tmp_path) -> None:
    resource = _small(platform, tmp_path, rows=3)
    names = {fmt: client.get(f"/api/v1/resources/{resource}/rows",
                             params={"format": fmt}).headers["content-disposition"]
             for fmt in ("csv", "csv-de")}
    assert names["csv"] != names["csv-de"]
    assert names["csv-de"].endswith(".de.csv")
