"""The OpenAPI document tells the truth: Schemathesis drives every operation of /api/v1 in
this process (no network) against a small seeded world, and every answer must be one the
document describes (status, content type, body, headers), never a server error. A bounded run
with a fixed seed, so it fails the same way twice; only revoking the run's own token is left
out (it would sign the run out halfway). Below it, what the run found, pinned as plain tests."""

from __future__ import annotations

import shutil
import tempfile
from collections import defaultdict
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from fastapi.testclient import TestClient
from schemathesis.engine import Status, events

from allmende.platform import Platform
from databases import Installation
from support import DORTMUND_CSV, mapped_source

SEED = 20261204
MAX_EXAMPLES = 8
CHECKS = ("not_a_server_error", "status_code_conformance", "content_type_conformance",
          "response_schema_conformance", "response_headers_conformance", "unsupported_method")
SELF_REVOCATION = {"include-method": "DELETE", "include-path": "/api/v1/me/tokens/{token_id}",
                   "enabled": False}


def _seed_contract(platform: Platform, seeded: dict[str, Any]) -> dict[str, Any]:
    """The world plus a mapped table (rows, versions, a mapping, a quality report and a
    regional table for the operations to find)."""
    folder = Path(tempfile.mkdtemp())
    try:
        resource = mapped_source(platform, folder, "ladesaeulen-dortmund", "dortmund",
                                 DORTMUND_CSV)
    finally:
        shutil.rmtree(folder)
    return {"resource": resource}


TEMPLATES = {"contract": (_seed_contract, "world")}


@pytest.fixture
def contract(installation: Installation) -> dict[str, Any]:
    return installation.seeded


def _config(token: str) -> schemathesis.Config:
    return schemathesis.Config.from_dict({
        "seed": SEED,
        "continue-on-failure": True,
        "headers": {"Authorization": f"Bearer {token}"},
        "generation": {"max-examples": MAX_EXAMPLES, "database": "none"},
        "checks": {"enabled": False, **{name: {"enabled": True} for name in CHECKS}},
        "operations": [SELF_REVOCATION],
    })


def _failures(schema: Any) -> tuple[int, dict[tuple[str, str], list[str]]]:
    """How many cases ran, and each check's failures per operation (one line per case)."""
    found: dict[tuple[str, str], list[str]] = defaultdict(list)
    cases = 0
    for event in schemathesis.engine.from_schema(schema).execute():
        if isinstance(event, events.NonFatalError):
            found[("error", event.label)].append(str(event.value))
        if not isinstance(event, events.ScenarioFinished):
            continue
        cases += len(event.recorder.cases)
        for case_id, checks in event.recorder.checks.items():
            for check in checks:
                if check.status != Status.FAILURE:
                    continue
                case = event.recorder.cases[case_id].value
                interaction = event.recorder.interactions.get(case_id)
                status = interaction.response.status_code if interaction and \
                    interaction.response else None
                title = check.failure_info.failure.title if check.failure_info else ""
                found[(check.name, event.recorder.label)].append(
                    f"{case.method} {case.formatted_path} {case.query or ''} → {status}: {title}")
    return cases, found


def test_schemathesis_finds_no_server_error_and_no_undocumented_answer(
        client: TestClient, contract: dict[str, Any]) -> None:
    schema = schemathesis.openapi.from_asgi("/api/v1/openapi.json", client.app,
                                            config=_config(contract["tokens"]["sysadmin"]))
    cases, failures = _failures(schema)
    report = "\n".join(f"{check} {operation}: {len(lines)}×, e.g. {lines[0]}"
                       for (check, operation), lines in sorted(failures.items()))
    assert not failures, report
    assert cases > 1000  # the run did run
