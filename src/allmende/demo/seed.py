"""Seeds the demo region through the same services as every other client (idempotent)."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy.orm import Session

from allmende.access import accounts
from allmende.access.policy import Actor
from allmende.catalog import datasets, organizations
from allmende.errors import NotFound
from allmende.ingest.service import IngestRequest, ingest
from allmende.platform import Platform

DATA = Path(__file__).parent / "data"
FILES = Path(__file__).parent / "files"
SEEDER = Actor(is_sysadmin=True, name="allmende demo")


@dataclass
class SeedReport:
    organizations: int = 0
    users: int = 0
    datasets: int = 0
    versions: int = 0
    credentials: list[dict[str, Any]] = field(default_factory=list)


def _load(name: str) -> list[dict[str, Any]]:
    return json.loads((DATA / name).read_text(encoding="utf-8"))


def seed(platform: Platform) -> SeedReport:
    """Create whatever of the demo region is missing; existing records are left as they are."""
    report = SeedReport()
    with platform.db.session() as session:
        _organizations(session, report)
        _users(session, report)
        _datasets(session, report)
    _files(platform, report)
    return report


def _organizations(session: Session, report: SeedReport) -> None:
    for entry in _load("organizations.json"):
        try:
            organizations.get_organization(session, entry["slug"])
        except NotFound:
            organizations.create_organization(session, SEEDER, entry)
            report.organizations += 1


def _users(session: Session, report: SeedReport) -> None:
    for entry in _load("users.json"):
        roles = [f"{m['role']}@{m['org']}" for m in entry["memberships"]]
        report.credentials.append({"email": entry["email"], "password": entry["password"],
                                   "roles": ["sysadmin"] if entry["sysadmin"] else roles})
        try:
            accounts.get_user(session, entry["email"])
            continue
        except NotFound:
            pass
        user = accounts.create_user(session, entry["email"], entry["password"],
                                    name=entry["name"], sysadmin=entry["sysadmin"])
        for membership in entry["memberships"]:
            organization = organizations.get_organization(session, membership["org"])
            accounts.set_membership(session, SEEDER, user, organization, membership["role"])
        report.users += 1


def _datasets(session: Session, report: SeedReport) -> None:
    for entry in _load("datasets.json"):
        try:
            datasets.get_dataset(session, SEEDER, entry["name"])
        except NotFound:
            values = {k: v for k, v in entry.items() if k != "contact_email"}
            values["contact_point"] = entry.get("contact_email")
            datasets.create_dataset(session, SEEDER, values)
            report.datasets += 1


def _files(platform: Platform, report: SeedReport) -> None:
    """Ingest each demo source file once, through the same service as every upload."""
    for entry in _load("files.json"):
        with platform.db.session() as session:
            dataset = datasets.get_dataset(session, SEEDER, entry["dataset"])
            done = any(r.name == entry["resource"] and r.versions for r in dataset.resources)
        if not done:
            ingest(platform, SEEDER, IngestRequest(
                dataset=entry["dataset"], source=FILES / entry["file"],
                original_name=entry["file"], resource_name=entry["resource"]))
            report.versions += 1
