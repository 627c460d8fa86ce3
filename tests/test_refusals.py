"""Refusals leave a trace although they change nothing: the operators' log names every 401
and 403 (never a secret), and what a unit of work asks to record should it fail survives its
rollback."""

from __future__ import annotations

import logging

import pytest
from sqlalchemy import func, select

from allmende.access.policy import Actor
from allmende.catalog import organizations
from allmende.db.models import LogEntry, Organization
from allmende.db.session import on_failure
from allmende.errors import Forbidden, msg
from allmende.transparency import log
from support import dataset_body

FORGED = "allmende_forged-token-that-was-never-issued"


def test_refused_tokens_are_in_the_operators_log_without_the_secret(client, world, caplog):
    with caplog.at_level(logging.INFO, logger="allmende.security"):
        forged = client.get("/api/v1/datasets", headers={"Authorization": f"Bearer {FORGED}"})
        anonymous = client.post("/api/v1/datasets", json=dataset_body("neu"))
    assert forged.status_code == 401 and forged.json()["error"]["code"] == "bad_token"
    assert anonymous.status_code == 401
    lines = [r.getMessage() for r in caplog.records if r.name == "allmende.security"]
    assert any(line.startswith("refused 401 bad_token: GET /api/v1/datasets") for line in lines)
    assert any(line.startswith("refused 401 ") and "POST /api/v1/datasets" in line
               for line in lines)
    assert not any(FORGED in line for line in caplog.text.splitlines())


def test_what_a_failing_unit_of_work_asks_to_record_survives_its_rollback(platform):
    def record(session, error) -> None:
        log.append(session, {"type": "access.refused", "organization": "witten",
                             "reason": error.code})

    with pytest.raises(Forbidden), platform.db.session() as session:
        organizations.create_organization(session, Actor(is_sysadmin=True), {"slug": "witten",
                                                           "name": "Stadt Witten"})
        on_failure(session, record)
        raise Forbidden(msg("Nein."), "refused_for_the_test")
    with platform.db.session() as session:
        assert session.scalar(select(func.count()).select_from(Organization)
                              .where(Organization.slug == "witten")) == 0
        assert [e.type for e in session.scalars(select(LogEntry))] == ["access.refused"]
        assert b"refused_for_the_test" in session.scalars(select(LogEntry.leaf)).one()


def test_a_failing_record_never_hides_the_error(platform, caplog):
    def broken(session, error) -> None:
        raise RuntimeError("the record failed")

    refusal = Forbidden(msg("Nein."), "refused_for_the_test")
    with pytest.raises(Forbidden) as raised, platform.db.session() as session:
        on_failure(session, broken)
        raise refusal
    assert raised.value is refusal
    assert "could not record after the rollback" in caplog.text
