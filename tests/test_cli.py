"""The `allmende` command: exit codes 0/1/2, one JSON object on stdout with --json, the data
directory from --data-dir or ALLMENDE_DATA_DIR, the database from ALLMENDE_DATABASE_URL, and no
traceback on any error path.

The commands run in this process (tests/cli_support.py). The real console script runs as a
process where the process is the point: its exit statuses and one JSON object on stdout,
processes migrating a new data directory at the same moment, error paths that would end in a
traceback, and the database URL from the environment of a process."""

from __future__ import annotations

import datetime as dt
import re
import subprocess
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import create_engine, func, select

from allmende.access import accounts
from allmende.config import Settings
from allmende.db.models import (
    Consolidation,
    Dataset,
    Job,
    Organization,
    QualityReport,
    Resource,
    ResourceMapping,
)
from allmende.platform import Platform
from allmende.web.app import create_app
from cli_support import InProcess, one_json_object, run_process
from support import BACKENDS

DEMO_MUNICIPALITIES = {
    "dortmund": "05913000", "bochum": "05911000", "essen": "05113000",
    "gelsenkirchen": "05513000", "herne": "05916000", "hagen": "05914000", "hamm": "05915000",
    "bottrop": "05512000",
}



@pytest.fixture
def data(tmp_path: Path) -> Path:
    return tmp_path / "daten"


@pytest.fixture
def run(allmende: InProcess, data: Path):  # type: ignore[no-untyped-def]
    """`allmende --data-dir DATA …` in this process."""
    return lambda *args: allmende("--data-dir", data, *args, cwd=data.parent)

def test_db_upgrade_creates_the_database(run, data):
    result = run("db", "upgrade")
    assert result.returncode == 0, result.stderr
    assert result.stdout == ""
    assert (data / "allmende.db").is_file()
    again = run("db", "upgrade")  # idempotent
    assert again.returncode == 0, again.stderr


def test_processes_starting_together_on_a_fresh_data_dir(data):
    """Several processes (web workers, a worker, an operator's command) may start at once on a
    new installation; each migrates the database first and none may fail because another one
    is migrating at the same moment."""
    with ThreadPoolExecutor(max_workers=4) as pool:
        results = list(pool.map(lambda _: run_process("--data-dir", data, "db", "upgrade",
                                                      cwd=data.parent), range(4)))
    failures = [r.stderr[-600:] for r in results if r.returncode != 0]
    assert failures == []


def test_org_create(run, data):
    result = run("org", "create", "dortmund", "--name", "Stadt Dortmund", "--ags",
                 "05913000", "--bbox", "7.30,51.41,7.64,51.60", "--json")
    assert result.returncode == 0, result.stderr
    body = one_json_object(result.stdout)
    assert body["slug"] == "dortmund" and body["name"] == "Stadt Dortmund"
    assert body["ags"] == "05913000" and body["type"] == "municipality"
    assert body["bbox"] == [7.30, 51.41, 7.64, 51.60]
    # Without --json, nothing goes to stdout.
    plain = run("org", "create", "ruhr", "--name", "Ruhr-Allianz", "--type", "region")
    assert plain.returncode == 0, plain.stderr
    assert plain.stdout == "" and "ruhr" in plain.stderr
    # The records are in the data directory's database.
    platform = Platform(Settings(data_dir=data, secret_key="x"))
    try:
        with platform.db.session() as session:
            rows = {o.slug: (o.type, o.ags, o.bbox) for o in session.scalars(
                select(Organization))}
    finally:
        platform.close()
    assert rows == {"dortmund": ("municipality", "05913000", [7.30, 51.41, 7.64, 51.60]),
                    "ruhr": ("region", None, None)}


def test_org_create_rejections_are_status_1_with_a_json_error(run):
    assert run("org", "create", "dortmund", "--name", "Stadt Dortmund").returncode == 0
    cases = {
        "duplicate": ("dortmund", "--name", "Noch einmal"),
        "bad slug": ("Dort_Mund", "--name", "X"),
        "bad ags": ("herne", "--name", "Herne", "--ags", "5916"),
        "bad type": ("herne", "--name", "Herne", "--type", "verein"),
        "empty box": ("herne", "--name", "Herne", "--bbox", "7.3,51.4,7.3,51.6"),
        "swapped box": ("herne", "--name", "Herne", "--bbox", "7.6,51.4,7.3,51.6"),
    }
    results = {case: run("org", "create", *args, "--json") for case, args in cases.items()}
    for case, result in results.items():
        assert result.returncode == 1, (case, result.stdout, result.stderr)
        error = one_json_object(result.stdout)["error"]
        assert set(error) >= {"code", "message"}, case
        assert error["code"] and error["message"], case
    assert one_json_object(results["duplicate"].stdout)["error"]["code"] == "slug_taken"
    assert "Gemeindeschlüssel" in one_json_object(results["bad ags"].stdout)["error"]["message"]
    # Without --json the message goes to stderr, stdout stays empty.
    plain = run("org", "create", "dortmund", "--name", "Doppelt")
    assert plain.returncode == 1
    assert plain.stdout == "" and "dortmund" in plain.stderr


def test_org_create_wrong_calls_are_status_2(run):
    assert run("db", "upgrade").returncode == 0
    cases = {
        "bbox not numbers": ("herne", "--name", "Herne", "--bbox", "a,b,c,d"),
        "bbox three numbers": ("herne", "--name", "Herne", "--bbox", "7.1,51.5,7.3"),
        "bbox five numbers": ("herne", "--name", "Herne", "--bbox", "7.1,51.5,7.3,51.6,1"),
        "missing --name": ("herne",),
        "missing slug": ("--name", "Herne"),
        "unknown option": ("herne", "--name", "Herne", "--farbe", "rot"),
    }
    results = {case: run("org", "create", *args, "--json") for case, args in cases.items()}
    wrong = {case: r.returncode for case, r in results.items() if r.returncode != 2}
    assert wrong == {}, {case: results[case].stderr for case in wrong}
    for case, result in results.items():
        assert result.stderr.strip(), f"{case}: says what is wrong"
    assert "--name" in results["missing --name"].stderr


def test_user_create_and_token(run, data):
    assert run("org", "create", "dortmund", "--name", "Stadt Dortmund").returncode == 0
    created = run("user", "create", "Erika@Dortmund.example", "--password",
                  "ein-langes-passwort", "--org", "dortmund", "--role", "editor", "--json")
    assert created.returncode == 0, created.stderr
    assert one_json_object(created.stdout) == {
        "email": "erika@dortmund.example", "sysadmin": False,
        "organizations": {"dortmund": "editor"}}

    token = run("token", "create", "erika@dortmund.example", "--name", "Skript")
    assert token.returncode == 0, token.stderr
    lines = token.stdout.splitlines()
    assert len(lines) == 1 and lines[0] == token.stdout.strip()
    secret = lines[0]
    assert secret.startswith("alm_") and " " not in secret

    # The token works against the API of a platform over the same data directory.
    platform = Platform(Settings(data_dir=data, secret_key="x"))
    try:
        with TestClient(create_app(platform)) as client:
            me = client.get("/api/v1/me", headers={"Authorization": f"Bearer {secret}"})
            assert me.status_code == 200, me.text
            assert me.json()["email"] == "erika@dortmund.example"
            assert me.json()["organizations"] == {"dortmund": "editor"}
            created = client.post("/api/v1/datasets", headers={
                "Authorization": f"Bearer {secret}"}, json={
                "name": "cli-test", "title": "T", "description": "D", "organization": "dortmund"})
            assert created.status_code == 201, created.text
            tokens = client.get("/api/v1/me/tokens", headers={
                "Authorization": f"Bearer {secret}"}).json()["results"]
            assert [t["name"] for t in tokens] == ["Skript"]
            assert tokens[0]["expires_at"] is None
    finally:
        platform.close()
    # A token for a week: it says when it ends.
    weekly = run("token", "create", "erika@dortmund.example", "--name", "Woche", "--days", "7")
    assert weekly.returncode == 0, weekly.stderr
    platform = Platform(Settings(data_dir=data, secret_key="x"))
    try:
        with TestClient(create_app(platform)) as client:
            tokens = client.get("/api/v1/me/tokens", headers={
                "Authorization": f"Bearer {weekly.stdout.strip()}"}).json()["results"]
            ends = {t["name"]: t["expires_at"] for t in tokens}["Woche"]
            assert 6 <= (dt.datetime.fromisoformat(ends) - dt.datetime.now(dt.UTC)).days <= 7
    finally:
        platform.close()


def test_user_create_rejections(run, data):
    assert run("org", "create", "dortmund", "--name", "Stadt Dortmund").returncode == 0
    assert run("user", "create", "da@example.org", "--password",
               "ein-langes-passwort").returncode == 0
    cases = {
        "short password": ("neu@example.org", "--password", "kurz"),
        "bad email": ("keine-adresse", "--password", "ein-langes-passwort"),
        "duplicate": ("DA@example.org", "--password", "ein-langes-passwort"),
        "unknown org": ("neu@example.org", "--password", "ein-langes-passwort", "--org",
                        "atlantis", "--role", "editor"),
        "unknown role": ("neu@example.org", "--password", "ein-langes-passwort", "--org",
                         "dortmund", "--role", "chef"),
    }
    results = {case: run("user", "create", *args, "--json") for case, args in cases.items()}
    for case, result in results.items():
        assert result.returncode == 1, (case, result.stdout, result.stderr)
        assert {"code", "message"} <= set(one_json_object(result.stdout)["error"]), case
    assert "10" in one_json_object(results["short password"].stdout)["error"]["message"]
    # A rejected command wrote nothing: "neu" does not exist.
    missing = run("token", "create", "neu@example.org")
    assert missing.returncode == 1 and missing.stdout == ""
    assert "neu@example.org" in missing.stderr
    # Missing --password is a wrong call.
    assert run("user", "create", "x@example.org").returncode == 2


def _harmonized(data: Path) -> dict[str, Any]:
    """What the demo set up for the shared schemas: mapping versions, regional table versions,
    the organizations feeding each regional table, the sources without a quality report and
    the jobs left queued."""
    platform = Platform(Settings(data_dir=data, secret_key="x"))
    try:
        with platform.db.session() as session:
            consolidations = list(session.scalars(select(Consolidation)))
            reported = set(session.scalars(select(QualityReport.resource_id)))
            return {
                "mappings": session.scalar(select(func.count(ResourceMapping.id))),
                "regional": {c.schema_name: (session.get(Resource, c.resource_id).dataset.name,
                                             session.get(Resource, c.resource_id).current_version)
                             for c in consolidations},
                "organizations": {c.schema_name: {s["organization"] for s in c.sources}
                                  for c in consolidations},
                "unreported": [s["dataset"] for c in consolidations for s in c.sources
                               if s["resource"] not in reported],
                "queued": session.scalar(select(func.count(Job.id)).where(
                    Job.status == "queued")),
            }
    finally:
        platform.close()


def test_demo_is_idempotent_and_seeds_the_region(run, data):
    first = run("demo")
    assert first.returncode == 0, first.stderr
    assert first.stdout == ""
    seeded = _harmonized(data)
    schemas = {"ladesaeulen", "parkplaetze", "baustellen", "bildungsangebote", "einwohner"}
    assert {name: dataset for name, (dataset, _) in seeded["regional"].items()} == {
        name: f"region-{name}" for name in schemas}
    assert all(len(orgs) >= 3 for orgs in seeded["organizations"].values()), seeded
    # the charging register's 2024 layout, read as it comes and mapped one row per point
    assert "gelsenkirchen" in seeded["organizations"]["ladesaeulen"]
    assert seeded["mappings"] >= 15 and seeded["unreported"] == []
    assert seeded["queued"] == 0  # the jobs the demo queued found their work done
    second = run("demo")
    assert second.returncode == 0, second.stderr
    assert "0 Organisationen, 0 Konten, 0 Datensätze" in second.stderr
    assert _harmonized(data) == seeded  # no new mapping or regional versions
    platform = Platform(Settings(data_dir=data, secret_key="x"))
    try:
        with platform.db.session() as session:
            organizations = {o.slug: o for o in session.scalars(select(Organization))}
            dataset_count = session.scalar(select(func.count(Dataset.id)))
    finally:
        platform.close()
    municipalities = {slug: o.ags for slug, o in organizations.items()
                      if o.type == "municipality"}
    assert len(municipalities) >= 8
    assert {slug: municipalities.get(slug) for slug in DEMO_MUNICIPALITIES} == DEMO_MUNICIPALITIES
    assert any(o.type == "region" for o in organizations.values())
    assert dataset_count >= 40
    # the counts the demo prints are the README's and the start page's
    counts = re.search(r"hat (\d+) Datensätze; ohne Anmeldung sichtbar sind (\d+)",
                       second.stderr)
    assert counts and int(counts.group(1)) == dataset_count, second.stderr
    readme = " ".join((Path(__file__).parent.parent / "README.md").read_text(
        encoding="utf-8").split())
    assert f"({counts.group(1)}; {counts.group(2)} of them visible without signing in" in readme
    platform = Platform(Settings(data_dir=data, secret_key="x"))
    try:
        with TestClient(create_app(platform)) as client:
            start = client.get("/").text
        assert f"<strong>{counts.group(2)}</strong> Datensätze" in start
    finally:
        platform.close()
    # The demo accounts printed on stderr (e-mail, password, roles) can sign in.
    credentials = [line.split()[:2] for line in second.stderr.splitlines()
                   if line.startswith("  ") and "@" in line]
    assert len(credentials) >= 2
    platform = Platform(Settings(data_dir=data, secret_key="x"))
    try:
        with platform.db.session() as session:
            for email, password in credentials:
                assert accounts.authenticate(session, email, password).email == email
    finally:
        platform.close()


def test_data_dir_from_the_environment(allmende, tmp_path):
    data = tmp_path / "aus-der-umgebung"
    result = allmende("org", "create", "bochum", "--name", "Stadt Bochum", "--json",
                      cwd=tmp_path, env={"ALLMENDE_DATA_DIR": str(data)})
    assert result.returncode == 0, result.stderr
    assert (data / "allmende.db").is_file()
    assert not (tmp_path / "data").exists()
    # --data-dir wins over the environment.
    other = tmp_path / "ausdruecklich"
    result = allmende("--data-dir", other, "db", "upgrade", cwd=tmp_path,
                      env={"ALLMENDE_DATA_DIR": str(data)})
    assert result.returncode == 0
    assert (other / "allmende.db").is_file()
    # Without either, ./data.
    assert allmende("db", "upgrade", cwd=tmp_path).returncode == 0
    assert (tmp_path / "data" / "allmende.db").is_file()


def test_the_console_script_exits_1_and_2(tmp_path):
    """The real entry point: a rejection (1) prints exactly one JSON object on stdout with
    --json, a wrong call (2) says on stderr what is wrong. (0 with one JSON object: below.)"""
    def org_create(*args: str) -> subprocess.CompletedProcess:
        return run_process("--data-dir", tmp_path / "d", "org", "create", *args,
                           cwd=tmp_path, fresh=True)

    rejected = org_create("herne", "--name", "Herne", "--ags", "5916", "--json")
    assert rejected.returncode == 1, rejected.stderr
    assert "Gemeindeschlüssel" in one_json_object(rejected.stdout)["error"]["message"]
    wrong = org_create("herne", "--json")
    assert wrong.returncode == 2 and wrong.stdout == ""
    assert "--name" in wrong.stderr


def test_unusable_data_dir_is_status_2_without_traceback(tmp_path):
    blocker = tmp_path / "eine-datei"
    blocker.write_text("kein Verzeichnis")
    result = run_process("--data-dir", blocker, "db", "upgrade", cwd=tmp_path)
    assert result.returncode == 2, result.stderr
    assert str(blocker.name) in result.stderr


def test_unreachable_database_fails_without_traceback(tmp_path):
    result = run_process("db", "upgrade", cwd=tmp_path, env={
        "ALLMENDE_DATA_DIR": str(tmp_path / "d"),
        "ALLMENDE_DATABASE_URL": "postgresql+psycopg://niemand@127.0.0.1:9/nichts"})
    assert result.returncode in (1, 2), result.stderr
    assert result.stderr.strip()


@pytest.mark.parametrize("backend", BACKENDS)
def test_database_url_from_the_environment(allmende, backend, tmp_path, postgres_url):
    """org create as a process, db upgrade, user and token create in this process, against
    ALLMENDE_DATABASE_URL (PostgreSQL when configured)."""
    data = tmp_path / "d"
    sqlite_url = f"sqlite:///{tmp_path / 'anderswo.db'}"
    url = postgres_url if backend == "postgresql" else sqlite_url
    env = {"ALLMENDE_DATABASE_URL": url, "ALLMENDE_DATA_DIR": str(data)}
    suffix = uuid.uuid4().hex[:8]
    slug, email = f"cli-{suffix}", f"cli-{suffix}@example.org"
    assert allmende("db", "upgrade", cwd=tmp_path, env=env).returncode == 0
    org = run_process("org", "create", slug, "--name", "Per Umgebung", "--ags", "05915000",
                      "--json", cwd=tmp_path, env=env)
    assert org.returncode == 0, org.stderr
    assert one_json_object(org.stdout)["slug"] == slug
    user = allmende("user", "create", email, "--password", "ein-langes-passwort", "--org",
                    slug, "--role", "admin", "--json", cwd=tmp_path, env=env)
    assert user.returncode == 0, user.stderr
    token = allmende("token", "create", email, cwd=tmp_path, env=env)
    assert token.returncode == 0, token.stderr
    secret = token.stdout.strip()
    # The rows are in that database, not in the data directory's SQLite file.
    assert not (data / "allmende.db").exists()
    engine = create_engine(url)
    try:
        with engine.connect() as connection:
            assert connection.scalar(select(Organization.ags).where(
                Organization.slug == slug)) == "05915000"
    finally:
        engine.dispose()
    platform = Platform(Settings(data_dir=data, database_url=url, secret_key="x"))
    try:
        with TestClient(create_app(platform)) as client:
            me = client.get("/api/v1/me", headers={"Authorization": f"Bearer {secret}"})
            assert me.status_code == 200, me.text
            assert me.json()["organizations"] == {slug: "admin"}
    finally:
        platform.close()
