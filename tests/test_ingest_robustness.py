"""Ingest under abuse: killed half-way, zip bombs, sheets 16,384 columns wide, a 50 MB line
without a line break, a header without rows. Each ends in a clear message or a clean state,
never a hang, a traceback or half a version.

Every large input is generated here in chunks (nothing large is held in memory or kept in the
repository)."""

from __future__ import annotations

import json
import os
import signal
import struct
import subprocess
import time
import zipfile
import zlib
from pathlib import Path

import duckdb
import pyarrow.parquet as pq
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

import zygote
from allmende.catalog import organizations
from allmende.config import Settings
from allmende.db.models import Resource, TableVersion
from allmende.jobs.worker import recover
from allmende.platform import Platform
from allmende.web.app import create_app
from support import OPERATOR, version_files
from zygote import CLI

TRACEBACK = "Traceback (most recent call last)"


def _env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith("ALLMENDE_")}


def _platform(data: Path) -> Platform:
    return Platform(Settings(data_dir=data, database_url=None, secret_key="x"))


@pytest.fixture
def data(tmp_path: Path) -> Path:
    """A data directory with the organization ``dortmund``."""
    folder = tmp_path / "daten"
    platform = _platform(folder)
    try:
        platform.upgrade()
        with platform.db.session() as session:
            organizations.create_organization(session, OPERATOR, {
                "slug": "dortmund", "name": "Stadt Dortmund", "ags": "05913000"})
    finally:
        platform.close()
    return folder


def _command(data: Path, path: Path, *args: str, dataset: str = "daten") -> list[str]:
    assert CLI.exists(), f"{CLI} is missing: run `make install`"
    return [str(CLI), "--data-dir", str(data), "ingest", str(path), "--org", "dortmund",
            "--dataset", dataset, *args, "--json"]


def _ingest(data: Path, path: Path, *args: str, timeout: float = 60,
            dataset: str = "daten") -> tuple[int, dict, float]:
    """Run `allmende ingest`; (exit status, the JSON object, seconds). A hang fails the test."""
    started = time.monotonic()
    try:
        result = zygote.run(_command(data, path, *args, dataset=dataset),
                            capture_output=True, text=True, env=_env(), timeout=timeout)
    except subprocess.TimeoutExpired:
        pytest.fail(f"`allmende ingest {path.name}` did not finish within {timeout} s")
    elapsed = time.monotonic() - started
    assert TRACEBACK not in result.stdout + result.stderr, result.stderr
    assert result.returncode in (0, 1), (result.returncode, result.stderr)
    text = result.stdout.strip()
    body, end = json.JSONDecoder().raw_decode(text)
    assert text[end:].strip() == "", result.stdout
    return result.returncode, body, elapsed


def _rejected(data: Path, path: Path, *args: str, timeout: float = 60) -> dict:
    status, body, _ = _ingest(data, path, *args, timeout=timeout)
    assert status == 1, body
    error = body["error"]
    assert path.name in error["message"], error
    assert error["code"] not in ("internal", "error"), error
    return error


def _scratch(data: Path) -> list[Path]:
    root = data / "tmp"
    return sorted(root.glob("work-*")) if root.exists() else []


# --- killed half-way -------------------------------------------------------------------

def _big_csv(path: Path, rows: int) -> None:
    """Same columns as the small file; about 40 bytes a row, written by DuckDB in a second."""
    con = duckdb.connect()
    try:
        con.execute(
            "COPY (SELECT 'Messstelle ' || (i % 100) AS Messstelle, "
            "DATE '2024-01-01' + (i % 365)::INTEGER AS Datum, "
            "replace(printf('%.2f', i / 7.0), '.', ',') AS Wert FROM range(?) t(i)) "
            f"TO '{path}' (HEADER, DELIMITER ';')", [rows])
    finally:
        con.close()


def test_killed_ingest_leaves_no_version_and_recover_cleans_up(data, tmp_path):
    small = tmp_path / "messwerte.csv"
    small.write_text("Messstelle;Datum;Wert\nDOBR;2024-01-01;31,5\nDOST;2024-01-01;28,0\n"
                     "DOBR;2024-01-02;42,25\n", encoding="utf-8")
    status, first, _ = _ingest(data, small, "--resource", "Messwerte")
    assert status == 0 and first["version"] == 1
    resource = first["resource"]
    assert not _scratch(data)

    big = tmp_path / "messwerte-gross.csv"
    _big_csv(big, 2_500_000)
    process = zygote.popen(_command(data, big, "--resource", "Messwerte"),
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=_env())
    try:
        deadline = time.monotonic() + 30
        while not _scratch(data):
            assert process.poll() is None, "the big ingest ended before it could be killed"
            assert time.monotonic() < deadline, "no scratch folder appeared under tmp/"
            time.sleep(0.02)
        time.sleep(0.5)  # well inside reading and typing
        assert process.poll() is None, "the big ingest ended before it could be killed"
        os.kill(process.pid, signal.SIGKILL)
    finally:
        process.kill()
        process.wait(timeout=30)
    assert process.returncode == -signal.SIGKILL
    assert _scratch(data), "the kill should have left the scratch folder behind"

    platform = _platform(data)
    try:
        with platform.db.session() as session:
            versions = session.scalars(select(TableVersion.version).where(
                TableVersion.resource_id == resource)).all()
            assert sorted(versions) == [1]
            names = session.scalars(select(Resource.name)).all()
            assert names == ["Messwerte"]
        first = version_files(platform, resource)[1]
        assert [p for p in (data / "tables").rglob("*") if p.is_file()] == [first]

        recover(platform)  # what `allmende serve` runs at start
        assert not _scratch(data)
        assert not list((data / "tmp").rglob("*.parquet"))

        # the previous version is intact and served
        assert pq.read_table(first).num_rows == 3
        with TestClient(create_app(platform)) as client:
            rows = client.get(f"/api/v1/resources/{resource}/rows")
            assert rows.status_code == 200, rows.text
            assert rows.json()["total"] == 3
            assert rows.json()["rows"][2] == {"Messstelle": "DOBR", "Datum": "2024-01-02",
                                              "Wert": 42.25}
            detail = client.get(f"/api/v1/resources/{resource}").json()
            assert [v["version"] for v in detail["versions"]] == [1]
    finally:
        platform.close()

    # and the next ingest of the same resource is version 2
    again = tmp_path / "messwerte-2.csv"
    again.write_text("Messstelle;Datum;Wert\nDOBR;2024-01-03;30,0\n", encoding="utf-8")
    status, second, _ = _ingest(data, again, "--resource", "Messwerte")
    assert status == 0 and (second["resource"], second["version"]) == (resource, 2)


# --- zip bomb --------------------------------------------------------------------------

ZIP_BOMB_BYTES = 5 << 30  # 5 GiB of zeros, about 5 MB as built below


def _zip_bomb(path: Path) -> None:
    """!!! ZIP BOMB !!! A zip whose single member unpacks to 5 GiB of zeros; never unpack it.
    Built, not compressed: one deflated MiB of zeros, flushed so that it stands alone, repeated
    5,120 times (deflating the whole took ten seconds of CPU). Its headers are those of
    zipfile's Zip64 and its CRC is right, so it is a valid archive."""
    mib = bytes(1 << 20)
    compressor = zlib.compressobj(9, zlib.DEFLATED, -15)
    block = compressor.compress(mib) + compressor.flush(zlib.Z_FULL_FLUSH)
    last = compressor.flush()
    copies = ZIP_BOMB_BYTES // len(mib)
    packed = len(block) * copies + len(last)
    crc, zeros, length, count = 0, zlib.crc32(mib), len(mib), copies
    while count:  # the CRC of the zeros by doubling
        if count & 1:
            crc = _crc32_combine(crc, zeros, length)
        zeros, length, count = _crc32_combine(zeros, zeros, length), 2 * length, count >> 1
    name = b"strassen.shp"
    sizes = struct.pack("<HHQQ", 1, 16, ZIP_BOMB_BYTES, packed)  # the Zip64 extra field
    header = (45, 0, 8, 0, 0x21, crc, 0xFFFFFFFF, 0xFFFFFFFF, len(name), len(sizes))
    with path.open("wb") as out:
        out.write(struct.pack("<IHHHHHIIIHH", 0x04034B50, *header) + name + sizes)
        for _ in range(copies):
            out.write(block)
        out.write(last)
        directory = struct.pack("<IH", 0x02014B50, 45) + struct.pack("<HHHHHIIIHH", *header)
        directory += struct.pack("<HHHII", 0, 0, 0, 0, 0) + name + sizes
        start = out.tell()
        out.write(directory)
        out.write(struct.pack("<IHHHHIIH", 0x06054B50, 0, 0, 1, 1, len(directory), start, 0))


def _crc32_combine(crc1: int, crc2: int, length2: int) -> int:
    """zlib's crc32_combine: the CRC-32 of A + B from those of A and B and B's length."""
    def times(matrix: list[int], vector: int) -> int:
        result, row = 0, 0
        while vector:
            if vector & 1:
                result ^= matrix[row]
            vector, row = vector >> 1, row + 1
        return result

    def square(matrix: list[int]) -> list[int]:
        return [times(matrix, row) for row in matrix]

    odd = [0xEDB88320] + [1 << n for n in range(31)]  # one zero bit
    even = square(odd)  # two zero bits
    odd = square(even)  # four zero bits
    while length2:
        even = square(odd)
        if length2 & 1:
            crc1 = times(even, crc1)
        length2 >>= 1
        if not length2:
            break
        odd = square(even)
        if length2 & 1:
            crc1 = times(odd, crc1)
        length2 >>= 1
    return crc1 ^ crc2


def _size(folder: Path) -> int:
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())


def test_zip_bomb_is_rejected_without_unpacking(data, tmp_path):
    bomb = tmp_path / "strassen.zip"
    _zip_bomb(bomb)
    with zipfile.ZipFile(bomb) as archive:
        assert archive.infolist()[0].file_size == ZIP_BOMB_BYTES
    assert bomb.stat().st_size < 100 << 20
    status, body, elapsed = _ingest(data, bomb, timeout=60)
    assert status == 1, body
    assert body["error"]["code"] == "zip_too_large", body
    assert "strassen.zip" in body["error"]["message"]
    assert elapsed < 30  # it was not unpacked (that alone would take longer)
    assert _size(data) < 50 << 20
    assert not _scratch(data)


def test_zip_paths_outside_the_folder_are_not_written(data, tmp_path):
    archive_path = tmp_path / "ausbruch.zip"
    with zipfile.ZipFile(archive_path, "w") as archive:
        archive.writestr("../../ausbruch.txt", "ich war hier")
        archive.writestr("/tmp/absolut-ausbruch.txt", "ich auch")
    error = _rejected(data, archive_path)
    assert error["code"] == "no_shapefile"
    assert not list(tmp_path.rglob("ausbruch.txt"))
    assert not Path("/tmp/absolut-ausbruch.txt").exists()


# --- wide sheets, long lines, empty tables ---------------------------------------------

def test_sheet_with_16384_formatted_empty_columns(data, tmp_path):
    import xlsxwriter

    path = tmp_path / "breit.xlsx"
    workbook = xlsxwriter.Workbook(str(path))
    sheet = workbook.add_worksheet("Daten")
    bold = workbook.add_format({"bold": True})
    sheet.write_row(0, 0, ["Stadtteil", "Einwohner"], bold)
    sheet.write_row(1, 0, ["Hörde", 57000])
    sheet.write_row(2, 0, ["Eving", 38000])
    for row in range(3):  # XFD1:XFD3, the last column Excel has: formatted, no content
        sheet.write_blank(row, 16383, None, bold)
    workbook.close()

    status, body, _ = _ingest(data, path, timeout=60)
    if status == 0:
        assert [(c["name"], c["type"]) for c in body["columns"]] == \
            [("Stadtteil", "string"), ("Einwohner", "integer")]
        assert body["rows"] == 2
    else:
        assert body["error"]["code"] == "too_many_columns", body
        assert "breit.xlsx" in body["error"]["message"] or "Daten" in body["error"]["message"]


def _long_line(path: Path, piece: bytes, total: int = 50 << 20) -> None:
    block = piece * ((1 << 20) // len(piece))
    with path.open("wb") as out:
        written = 0
        while written < total:
            out.write(block)
            written += len(block)


def test_50_mb_single_line_of_text(data, tmp_path):
    path = tmp_path / "eine-zeile.csv"
    _long_line(path, b"Messwert ohne Zeilenumbruch ")
    _rejected(data, path, timeout=30)
    assert not _scratch(data)


def test_50_mb_single_line_of_delimited_values(data, tmp_path):
    """One record with 17 million fields: a header without rows, far wider than any table;
    it must be refused quickly, not handed to the CSV reader as 17 million columns."""
    path = tmp_path / "eine-zeile-felder.csv"
    _long_line(path, b"12;")
    error = _rejected(data, path, timeout=20)
    assert "Memory" not in error["message"], error  # an allocator failure is no message
    assert not _scratch(data)


def test_header_without_rows(data, tmp_path):
    path = tmp_path / "nur-kopf.csv"
    path.write_bytes("Straße;Hausnummer;Baujahr\r\n".encode("cp1252"))
    error = _rejected(data, path)
    assert error["code"] == "no_rows" and "Datenzeilen" in error["message"]
    semicolons = tmp_path / "nur-kopf-leerzeilen.csv"
    semicolons.write_text("Straße;Hausnummer;Baujahr\n;;\n;;\n\n", encoding="utf-8")
    assert _rejected(data, semicolons)["code"] == "no_rows"

    import xlsxwriter

    workbook_path = tmp_path / "nur-kopf.xlsx"
    workbook = xlsxwriter.Workbook(str(workbook_path))
    workbook.add_worksheet("Tabelle1").write_row(0, 0, ["Straße", "Hausnummer"])
    workbook.close()
    error = _rejected(data, workbook_path)
    assert error["code"] == "no_rows"
