"""The command line answers wrong settings with one clear line, never a traceback, and creates
nothing it was not asked to."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

import zygote
from zygote import CLI


def _run(tmp_path: Path, url: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ALLMENDE_")}
    env["ALLMENDE_DATABASE_URL"] = url
    return zygote.run([CLI, "--data-dir", tmp_path / "data", "db", "upgrade"],
                      env=env, capture_output=True, text=True, timeout=60)


@pytest.mark.parametrize("url, says", [
    ("mysql://root@127.0.0.1/allmende", "„mysql“ wird nicht unterstützt"),
    ("mariadb+pymysql://root@127.0.0.1/allmende", "wird nicht unterstützt"),
])
def test_unsupported_databases_are_named_in_one_line(tmp_path, url, says):
    result = _run(tmp_path, url)
    assert result.returncode == 2, result.stderr
    assert says in result.stderr and "PostgreSQL" in result.stderr
    assert "Traceback" not in result.stderr and len(result.stderr.strip().splitlines()) <= 2


def test_a_sqlite_url_into_a_missing_folder_creates_nothing(tmp_path):
    missing = tmp_path / "gibt" / "es" / "nicht"
    result = _run(tmp_path, f"sqlite:///{missing}/allmende.db")
    assert result.returncode == 2
    assert f"Das Verzeichnis {missing} für die SQLite-Datenbank gibt es nicht" in \
        result.stderr.replace("\n", " ")
    assert "Traceback" not in result.stderr
    assert not (tmp_path / "gibt").exists()
