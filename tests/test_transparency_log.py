"""The transparency log on both backends: appends (also concurrent ones), stored proofs
against pymerkle, pseudonyms, signed checkpoints, the /log/v1 API and the witness
(``allmende log verify``) finding changed, deleted and reordered entries."""

from __future__ import annotations

import base64
import html
import json
import os
import re
import stat
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from pymerkle import InmemoryTree
from sqlalchemy import select, text

import zygote
from allmende.db.models import LogEntry, LogNode, Organization
from allmende.jobs import registry
from allmende.transparency import checkpoints, log, merkle
from allmende.web.app import create_app
from allmende.wiring import wire
from support import served

ROOT = Path(__file__).resolve().parent.parent


def _events(count: int, start: int = 0) -> list[dict]:
    return [{"type": "access.rows", "organization": "dortmund", "rows": i,
             "time": "2026-12-14T10:00:00Z"} for i in range(start, start + count)]


def _fill(platform, count: int) -> None:
    with platform.db.session() as session:
        log.append_many(session, _events(count))


def _leaves(platform) -> list[bytes]:
    with platform.db.session() as session:
        return [bytes(leaf) for leaf in
                session.scalars(select(LogEntry.leaf).order_by(LogEntry.index))]


# --- appending and proofs ---------------------------------------------------------------

def test_appends_number_the_events_and_the_stored_tree_agrees_with_pymerkle(platform):
    with platform.db.session() as session:
        assert log.tree(session).size == 0
        assert log.tree(session).root == merkle.EMPTY_ROOT
        assert log.append(session, {"type": "request.submitted", "organization": "dortmund",
                                    "time": "2026-12-14T10:00:00Z"}) == 0
        assert log.append_many(session, _events(40)) == list(range(1, 41))
        assert log.append(session, {"type": "x"}) == 41
    leaves = _leaves(platform)
    oracle = InmemoryTree(algorithm="sha256")
    for leaf in leaves:
        oracle.append_entry(leaf)
    assert json.loads(leaves[0]) == {"type": "request.submitted", "organization": "dortmund",
                                     "time": "2026-12-14T10:00:00Z"}
    assert "time" in json.loads(leaves[41])  # added on append
    with platform.db.session() as session:
        assert log.tree(session).root == oracle.get_root(42)
        for index, size in ((0, 1), (0, 42), (17, 42), (41, 42), (31, 32), (5, 33)):
            proof = log.inclusion_proof(session, index, size)
            assert oracle.prove_inclusion(index + 1, size).path == \
                [merkle.leaf_hash(leaves[index]), *proof]
        for first, second in ((1, 42), (16, 42), (17, 42), (41, 42), (42, 42), (3, 7)):
            proof = log.consistency_proof(session, first, second)
            assert merkle.verify_consistency(first, second, oracle.get_root(first),
                                             oracle.get_root(second), proof)


def test_one_by_one_appends_build_the_same_tree_as_batches(platform):
    """Single appends (on PostgreSQL the server-side function of migration 0014) and batches
    (the Python path) store the same hashes: every subtree of 70 one-by-one appends agrees
    with pymerkle, the ones closing six levels at once (index 63) included."""
    for event in _events(70):
        with platform.db.session() as session:
            log.append(session, event)
    leaves = _leaves(platform)
    oracle = InmemoryTree(algorithm="sha256")
    for leaf in leaves:
        oracle.append_entry(leaf)
    frontier: list[bytes] = []
    expected: dict[int, bytes] = {}
    for index, leaf in enumerate(leaves):
        frontier, made = merkle.push(frontier, index, leaf)
        expected.update(made)
    with platform.db.session() as session:
        stored = {row.id: bytes(row.hash) for row in session.execute(
            select(LogNode.id, LogNode.hash))}
        assert stored == expected
        assert log.tree(session).root == oracle.get_root(70) == merkle.frontier_root(frontier)
        for size in (1, 2, 3, 63, 64, 65, 70):
            proof = log.inclusion_proof(session, size - 1, size)
            assert oracle.prove_inclusion(size, size).path == \
                [merkle.leaf_hash(leaves[size - 1]), *proof]


def test_a_rolled_back_transaction_leaves_no_entry(platform):
    with pytest.raises(RuntimeError), platform.db.session() as session:
        log.append(session, {"type": "x"})
        raise RuntimeError("the caller's work failed")
    with platform.db.session() as session:
        assert log.tree(session).size == 0
        assert log.append(session, {"type": "x"}) == 0


def test_concurrent_appends_from_threads_have_no_gaps_or_duplicates(platform):
    def append_some(worker: int) -> list[int]:
        found = []
        for i in range(15):
            with platform.db.session() as session:
                found.append(log.append(session, {"type": "t", "worker": worker, "i": i}))
        return found

    with ThreadPoolExecutor(max_workers=6) as pool:
        indexes = [i for found in pool.map(append_some, range(6)) for i in found]
    assert sorted(indexes) == list(range(90))
    _assert_tree_matches_leaves(platform, 90)


APPENDER = """
import sys
from allmende.db.session import Database
from allmende.transparency import log
db = Database(sys.argv[1], 0)
for i in range(int(sys.argv[3])):
    with db.session() as session:
        log.append(session, {"type": "t", "process": int(sys.argv[2]), "i": i})
"""


def test_concurrent_appends_from_processes_have_no_gaps_or_duplicates(platform):
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
    children = [zygote.popen([sys.executable, "-c", APPENDER, platform.db.url, str(n), "40"],
                             env=env) for n in range(4)]
    assert all(child.wait(timeout=300) == 0 for child in children)
    _assert_tree_matches_leaves(platform, 160)
    events = [json.loads(leaf) for leaf in _leaves(platform)]
    assert sorted((e["process"], e["i"]) for e in events) == \
        [(p, i) for p in range(4) for i in range(40)]


def _assert_tree_matches_leaves(platform, size: int) -> None:
    leaves = _leaves(platform)
    assert len(leaves) == size
    with platform.db.session() as session:
        indexes = list(session.scalars(select(LogEntry.index).order_by(LogEntry.index)))
        assert indexes == list(range(size))
        assert log.tree(session) == log.Tree(size, merkle.root_of(leaves))
        for index in (0, size // 2, size - 1):
            assert merkle.verify_inclusion(leaves[index], index, size,
                                           log.inclusion_proof(session, index, size),
                                           log.tree(session).root)


# --- pseudonyms ------------------------------------------------------------------------------

def test_pseudonyms_are_stable_per_organization_and_unlinkable_after_erasure(platform, world):
    with platform.db.session() as session:
        dortmund, bochum = (session.scalars(select(Organization.id)
                                            .where(Organization.slug == slug)).one()
                            for slug in ("dortmund", "bochum"))
        first = log.pseudonym(session, dortmund, 7)
        assert first == log.pseudonym(session, dortmund, 7)
        assert len(first) == 32 and first != "7"
        assert log.pseudonym(session, dortmund, 8) != first
        assert log.pseudonym(session, bochum, 7) != first
        other = log.pseudonym(session, bochum, 7)
    with platform.db.session() as session:
        assert log.erase_pseudonym_key(session, dortmund)
        assert not log.erase_pseudonym_key(session, dortmund)
    with platform.db.session() as session:
        assert log.pseudonym(session, dortmund, 7) != first
        assert log.pseudonym(session, bochum, 7) == other


def test_concurrent_first_pseudonyms_share_one_key(platform, world):
    with platform.db.session() as session:
        dortmund = session.scalars(select(Organization.id)
                                   .where(Organization.slug == "dortmund")).one()

    def pseudonym(_: int) -> str:
        with platform.db.session() as session:
            return log.pseudonym(session, dortmund, 1)

    with ThreadPoolExecutor(max_workers=4) as pool:
        assert len(set(pool.map(pseudonym, range(8)))) == 1


# --- checkpoints ----------------------------------------------------------------------------

def test_checkpoints_are_signed_notes_a_wrong_key_does_not_verify(platform):
    _fill(platform, 5)
    with platform.db.session() as session:
        made = checkpoints.publish(session, platform.settings)
    origin = "127.0.0.1:8000/log"
    body, signature = made.note.split("\n\n")
    assert body.split("\n") == [origin, "5", base64.b64encode(made.root).decode()]
    assert signature.startswith(f"\u2014 {origin} ") and signature.endswith("\n")
    key_file = platform.settings.keys_dir / checkpoints.KEY_FILE
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    verifier = checkpoints.signer_for(platform.settings).verifier
    key = str(verifier)
    assert key.startswith(f"{origin}+{verifier.key_id.hex()}+")
    opened = checkpoints.open_checkpoint(made.note, checkpoints.parse_verifier(key))
    assert (opened.origin, opened.size, opened.root) == (origin, 5, merkle.root_of(
        _leaves(platform)))

    other = checkpoints.Signer(origin, checkpoints.Ed25519PrivateKey.generate()).verifier
    with pytest.raises(checkpoints.BadNote, match="keine gültige Signatur"):
        checkpoints.open_checkpoint(made.note, other)
    forged = made.note.replace("\n5\n", "\n6\n", 1)
    with pytest.raises(checkpoints.BadNote, match="keine gültige Signatur"):
        checkpoints.open_checkpoint(forged, verifier)
    with pytest.raises(checkpoints.BadNote):
        checkpoints.parse_verifier(key.replace("+", "+0", 1))


def test_a_checkpoint_is_published_periodically_while_entries_arrive(platform):
    wire()
    task = next(t for t in registry.periodic_tasks() if t.name == "log-checkpoint")
    assert task.every_seconds <= 300
    task.run(platform)
    with platform.db.session() as session:
        assert checkpoints.latest(session, platform.settings).size == 0
    _fill(platform, 3)
    task.run(platform)
    task.run(platform)  # nothing new: no new checkpoint
    with platform.db.session() as session:
        assert checkpoints.latest(session, platform.settings).size == 3
        assert session.execute(text("SELECT count(*) FROM log_checkpoints")).scalar() == 2


# --- the API ---------------------------------------------------------------------------------

@pytest.fixture
def log_client(platform):
    platform.settings.inprocess_worker = False
    with TestClient(create_app(platform)) as client:
        yield client


def test_the_api_serves_checkpoint_key_entries_and_proofs(platform, log_client):
    _fill(platform, 12)
    with platform.db.session() as session:
        checkpoints.publish(session, platform.settings)
    note = log_client.get("/log/v1/checkpoint")
    assert note.status_code == 200 and note.headers["content-type"].startswith("text/plain")
    key = log_client.get("/log/v1/key").text.strip()
    checkpoint = checkpoints.open_checkpoint(note.text, checkpoints.parse_verifier(key))
    assert checkpoint.size == 12
    page = log_client.get("/log/v1/entries", params={"start": 3, "end": 6}).json()["entries"]
    assert [e["index"] for e in page] == [3, 4, 5]
    assert page[0]["event"]["rows"] == 3
    leaf = base64.b64decode(page[0]["leaf"])
    proof = log_client.get("/log/v1/proof/inclusion", params={"index": 3, "tree_size": 12})
    hashes = [base64.b64decode(h) for h in proof.json()["hashes"]]
    assert merkle.verify_inclusion(leaf, 3, 12, hashes, checkpoint.root)
    consistency = log_client.get("/log/v1/proof/consistency", params={"first": 5, "second": 12})
    assert merkle.verify_consistency(5, 12, merkle.root_of(_leaves(platform)[:5]),
                                     checkpoint.root,
                                     [base64.b64decode(h) for h in consistency.json()["hashes"]])
    assert len(log_client.get("/log/v1/entries", params={"start": 0, "end": 10**6})
               .json()["entries"]) == 12


@pytest.mark.parametrize(("path", "params", "says"), [
    ("/log/v1/entries", {"start": 5, "end": 5}, "kleiner als end"),
    ("/log/v1/entries", {"start": 12, "end": 20}, "liegt dahinter"),
    ("/log/v1/entries", {"start": -1, "end": 2}, "„start“ muss eine ganze Zahl"),
    ("/log/v1/entries", {"start": "a", "end": 2}, "„start“"),
    ("/log/v1/entries", {"end": 2}, "„start“"),
    ("/log/v1/proof/inclusion", {"index": 12, "tree_size": 12}, "Ungültiger Index"),
    ("/log/v1/proof/inclusion", {"index": 0, "tree_size": 13}, "Baumgröße 13"),
    ("/log/v1/proof/consistency", {"first": 0, "second": 5}, "first (0)"),
    ("/log/v1/proof/consistency", {"first": 6, "second": 5}, "first (6)"),
])
def test_bad_ranges_get_a_clear_400(platform, log_client, path, params, says):
    _fill(platform, 12)
    answer = log_client.get(path, params=params)
    assert answer.status_code == 400
    assert says in answer.text
    english = log_client.get(path, params=params, headers={"Accept-Language": "en"})
    assert english.status_code == 400 and english.text != answer.text


def test_unknown_log_paths_answer_in_the_logs_own_format(log_client):
    answer = log_client.get("/log/v1/nothing")
    assert answer.status_code == 404 and answer.text == "Diese Adresse gibt es nicht.\n"


# --- the witness -----------------------------------------------------------------------------

@pytest.fixture
def node(platform):
    platform.settings.inprocess_worker = False
    with served(create_app(platform)) as address:
        yield f"http://{address}"


def _checkpoint(platform) -> None:
    with platform.db.session() as session:
        checkpoints.publish(session, platform.settings)


def _verify(allmende, tmp_path, url, *extra):
    result = allmende("log", "verify", "--url", url, "--json", *extra, cwd=tmp_path)
    return result.returncode, json.loads(result.stdout)


def test_verify_follows_a_growing_log_with_a_state_file(platform, node, allmende, tmp_path):
    state = tmp_path / "witness.json"
    _fill(platform, 7)
    _checkpoint(platform)
    status, report = _verify(allmende, tmp_path, node, "--state", state)
    assert (status, report["status"], report["tree_size"]) == (0, "consistent", 7)
    assert report["checked_entries"] == 7
    with platform.db.session() as session:
        log.append_many(session, _events(1030, 7))
    _checkpoint(platform)
    status, report = _verify(allmende, tmp_path, node, "--state", state)
    assert (status, report["tree_size"], report["checked_entries"]) == (0, 1037, 1030)
    assert json.loads(state.read_text())["size"] == 1037
    status, report = _verify(allmende, tmp_path, node, "--state", state)
    assert (status, report["checked_entries"]) == (0, 0)
    text_run = allmende("log", "verify", "--url", node, cwd=tmp_path)
    assert text_run.returncode == 0 and "Konsistent: 1037 Einträge" in text_run.stderr


def _tamper(platform, statement: str, **params) -> None:
    with platform.db.session() as session:
        session.execute(text(statement), params)


@pytest.mark.parametrize("how", ["change", "delete", "reorder"])
def test_verify_names_a_changed_deleted_or_reordered_entry(platform, node, allmende,
                                                             tmp_path, how):
    _fill(platform, 20)
    _checkpoint(platform)
    assert _verify(allmende, tmp_path, node)[0] == 0
    leaves = _leaves(platform)
    if how == "change":
        forged = log.leaf_bytes({**json.loads(leaves[11]), "rows": 0})
        _tamper(platform, 'UPDATE log_entries SET leaf = :leaf WHERE "index" = 11', leaf=forged)
        named = [11]
    elif how == "delete":
        _tamper(platform, 'DELETE FROM log_entries WHERE "index" = 11')
        named = [11]
    else:
        for index, other in ((11, 14), (14, 11)):
            _tamper(platform, 'UPDATE log_entries SET leaf = :leaf WHERE "index" = :index',
                    leaf=leaves[other], index=index)
        named = [11, 14]
    status, report = _verify(allmende, tmp_path, node)
    assert (status, report["status"]) == (1, "rewritten"), report
    assert [p["entry"] for p in report["problems"]] == named
    text_run = allmende("log", "verify", "--url", node, cwd=tmp_path)
    assert text_run.returncode == 1 and "Eintrag 11" in text_run.stderr


def test_verify_reports_a_rewritten_tree_against_the_saved_state(platform, node, allmende,
                                                                  tmp_path):
    state = tmp_path / "witness.json"
    _fill(platform, 6)
    _checkpoint(platform)
    assert _verify(allmende, tmp_path, node, "--state", state)[0] == 0
    # the whole log rewritten from scratch (entries, nodes and state): a new, signed history
    for table in ("log_entries", "log_nodes"):
        _tamper(platform, f"DELETE FROM {table}")
    _tamper(platform, "UPDATE log_state SET size = 0, frontier = :empty", empty=b"")
    with platform.db.session() as session:
        log.append_many(session, _events(9, 100))
    _checkpoint(platform)
    status, report = _verify(allmende, tmp_path, node, "--state", state)
    assert (status, report["problems"][0]["checkpoint"]) == (1, 9)
    assert "nicht fort" in report["message"]


def test_verify_with_a_state_file_from_a_longer_tree_or_garbage_exits_2(
        platform, node, allmende, tmp_path):
    _fill(platform, 4)
    _checkpoint(platform)
    state = tmp_path / "witness.json"
    assert _verify(allmende, tmp_path, node, "--state", state)[0] == 0
    saved = json.loads(state.read_text())
    longer = [b"x" * 32] * 3  # a tree of 7 leaves: 4 + 2 + 1
    saved.update(size=7, frontier=[base64.b64encode(h).decode() for h in longer],
                 root=base64.b64encode(merkle.frontier_root(longer)).decode())
    state.write_text(json.dumps(saved))
    status, report = _verify(allmende, tmp_path, node, "--state", state)
    assert (status, report["status"]) == (2, "unusable")
    assert "längeren Baum (7 Einträge)" in report["message"]
    state.write_text("nicht json {")
    status, report = _verify(allmende, tmp_path, node, "--state", state)
    assert status == 2 and str(state) in report["message"]


def test_verify_of_an_unreachable_node_exits_2(allmende, tmp_path):
    status, report = _verify(allmende, tmp_path, "http://127.0.0.1:9")
    assert status == 2 and "nicht erreichbar" in report["message"]


def test_verify_refuses_a_checkpoint_signed_with_another_key(platform, node, allmende,
                                                             tmp_path):
    state = tmp_path / "witness.json"
    _fill(platform, 3)
    _checkpoint(platform)
    assert _verify(allmende, tmp_path, node, "--state", state)[0] == 0
    (platform.settings.keys_dir / checkpoints.KEY_FILE).unlink()  # a new key on next use
    _checkpoint(platform)
    status, report = _verify(allmende, tmp_path, node, "--state", state)
    assert status == 1 and "Schlüssel" in report["message"]
    # a checkpoint whose signature does not verify with the served key
    _tamper(platform, "UPDATE log_checkpoints SET note = replace(note, :a, :b)",
            a="\n3\n", b="\n2\n")
    status, report = _verify(allmende, tmp_path, node)
    assert status == 1 and "keine gültige Signatur" in report["message"]


# --- the public pages ------------------------------------------------------------------------

def _logged_datasets(platform) -> dict[str, str]:
    """A public, a members-only and a restricted dataset of Dortmund, each with an event, and
    an event of Bochum; their UUIDs by name."""
    from allmende.catalog import datasets
    from support import OPERATOR, dataset_body

    uuids = {}
    with platform.db.session() as session:
        for name, level in (("offen", "public"), ("intern", "members"),
                            ("vertraulich", "restricted")):
            made = datasets.create_dataset(session, OPERATOR, dataset_body(
                name, title=f"Titel {name}", access_level=level))
            uuids[name] = made.uuid
            log.append(session, {"type": "access.rows", "organization": "dortmund",
                                 "dataset": made.uuid, "rows": 17, "reader": "p" * 32,
                                 "reader_organization": ["bochum", "herne"],
                                 "sysadmin": True, "agreement": None})
        log.append(session, {"type": "request.submitted", "organization": "dortmund",
                             "request": 4})
        log.append(session, {"type": "agreement.revoked", "organization": "bochum"})
    return uuids


def test_organization_log_shows_only_events_of_datasets_the_reader_may_see(
        platform, world, log_client):
    _logged_datasets(platform)
    anonymous = log_client.get("/organizations/dortmund/log")
    assert anonymous.status_code == 200
    assert "Titel offen" in anonymous.text and "Titel vertraulich" in anonymous.text
    assert "Titel intern" not in anonymous.text
    assert "Datenantrag gestellt" in anonymous.text
    assert "Nutzungsvereinbarung widerrufen" not in anonymous.text  # Bochum's
    assert 'id="entry-1"' not in anonymous.text and 'id="entry-3"' in anonymous.text
    member = log_client.get("/organizations/dortmund/log", headers=world.auth("member"))
    assert "Titel intern" in member.text
    english = log_client.get("/organizations/dortmund/log?lang=en")
    assert "Rows read" in english.text and "Data request submitted" in english.text
    assert log_client.get("/organizations/nirgendwo/log").status_code == 404
    # the whole log's page: the latest events of every organization, by the same rule
    whole = log_client.get("/log?lang=de")
    assert "Neueste Ereignisse" in whole.text and "Titel offen" in whole.text
    assert "Nutzungsvereinbarung widerrufen" in whole.text  # Bochum's too
    assert 'id="entry-1"' not in whole.text and "Titel intern" not in whole.text
    assert "Titel intern" in log_client.get("/log", headers=world.auth("member")).text


def test_dataset_log_lists_its_events_and_hides_an_invisible_dataset(platform, world,
                                                                      log_client):
    _logged_datasets(platform)
    page = log_client.get("/datasets/vertraulich/log")
    assert page.status_code == 200 and 'id="entry-2"' in page.text
    assert 'id="entry-0"' not in page.text
    shown = html.unescape(re.sub(r"<[^>]+>", "", page.text))
    assert "Zeilen: 17" in shown and "Lesende Person (Pseudonym): " + "p" * 32 in shown
    assert "Organisationen der lesenden Person: bochum, herne" in shown
    assert "Systemadministration: ja" in shown and "Nutzungsvereinbarung: –" in shown
    english = html.unescape(re.sub(r"<[^>]+>", "", log_client.get(
        "/datasets/vertraulich/log?lang=en").text))
    assert "Rows: 17" in english and "Reader's organizations: bochum, herne" in english
    assert log_client.get("/datasets/intern/log").status_code == 404
    assert log_client.get("/datasets/intern/log",
                          headers=world.auth("bochum-editor")).status_code == 200


def test_the_log_page_shows_the_latest_checkpoint_and_how_to_verify(platform, log_client):
    _fill(platform, 4)
    _checkpoint(platform)
    page = log_client.get("/log")
    key = log_client.get("/log/v1/key").text.strip()
    assert page.status_code == 200 and key in page.text
    assert '<dd id="log-size">4</dd>' in page.text
    assert "allmende log verify --url http://127.0.0.1:8000" in page.text
    assert "Transparency log" in log_client.get("/log?lang=en").text
