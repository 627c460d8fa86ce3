"""Seeds the demo region through the same services as every other client (idempotent)."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from allmende.access import accounts
from allmende.access.policy import ANONYMOUS, Actor
from allmende.catalog import datasets, organizations
from allmende.catalog.search import SearchRequest, search_datasets
from allmende.db.models import Consolidation, Job, Resource
from allmende.demo.sovereignty import seed_requests
from allmende.errors import NotFound
from allmende.harmonize import service
from allmende.harmonize.mapping import load_mapping
from allmende.ingest.service import IngestRequest, ingest
from allmende.jobs import queue, worker
from allmende.platform import Platform

DATA = Path(__file__).parent / "data"
FILES = Path(__file__).parent / "files"
MAPPINGS = Path(__file__).parent / "mappings"
SEEDER = Actor(is_sysadmin=True, name="allmende demo")


@dataclass
class SeedReport:
    organizations: int = 0
    users: int = 0
    datasets: int = 0
    versions: int = 0
    mappings: int = 0
    regional: int = 0
    requests: int = 0
    #: reads of restricted rows under an agreement (each one entry in the transparency log)
    accesses: int = 0
    credentials: list[dict[str, Any]] = field(default_factory=list)
    #: afterwards: all datasets, and those anyone sees without signing in (the start page's
    #: count)
    total_datasets: int = 0
    public_datasets: int = 0


def _load(name: str) -> list[dict[str, Any]]:
    return json.loads((DATA / name).read_text(encoding="utf-8"))


def seed(platform: Platform) -> SeedReport:
    """Create whatever of the demo region is missing; existing records are left as they are."""
    report = SeedReport()
    with platform.db.session() as session:
        queued_before = session.scalar(select(func.max(Job.id))) or 0
        _organizations(session, report)
        _users(session, report)
        _datasets(session, report)
    _files(platform, report)
    _harmonize(platform, report)
    _finish_queued(platform, queued_before)
    report.requests, report.accesses = seed_requests(platform, SEEDER)
    with platform.db.sessions() as session:
        report.total_datasets = search_datasets(session, platform.search_index, SEEDER,
                                                SearchRequest(per_page=1)).count
        report.public_datasets = search_datasets(session, platform.search_index, ANONYMOUS,
                                                 SearchRequest(per_page=1)).count
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
        roles = [f"{m['role']}@{m['org']}" for m in entry["memberships"]] or [
            "registriert, ohne Organisation"]
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
            done = any(r.name == entry["resource"] and r.current_version
                       for r in dataset.resources)
        if not done:
            ingest(platform, SEEDER, IngestRequest(
                dataset=entry["dataset"], source=FILES / entry["file"],
                original_name=entry["file"], resource_name=entry["resource"]))
            report.versions += 1


def _harmonize(platform: Platform, report: SeedReport) -> None:
    """Save each demo file's confirmed mapping once (like the files: an existing mapping is
    left as it is), harmonize what has no report for its latest version and mapping yet, and
    rebuild the regional table of each schema that got a new report (or has none yet). All
    in-process, so the region is ready when ``allmende demo`` returns."""
    schemas: set[str] = set()
    changed: set[str] = set()
    for entry in (e for e in _load("files.json") if "mapping" in e):
        mapping = load_mapping(MAPPINGS / entry["mapping"])
        schemas.add(mapping.schema_name)
        with platform.db.session() as session:
            resource = _resource(session, entry)
            if service.find_mapping(session, SEEDER, resource.id) is None:
                service.save_mapping(platform, session, SEEDER, resource.id, mapping)
                report.mappings += 1
            resource_id, stale = resource.id, _not_harmonized(session, resource)
        if stale:
            service.harmonize_resource(platform, resource_id)
            changed.add(mapping.schema_name)
    with platform.db.session() as session:
        changed |= {name for name in schemas if session.get(Consolidation, name) is None}
    for name in sorted(changed):
        service.consolidate(platform, name)
        report.regional += 1


def _resource(session: Session, entry: dict[str, Any]) -> Resource:
    dataset = datasets.get_dataset(session, SEEDER, entry["dataset"])
    return next(r for r in dataset.resources if r.name == entry["resource"])


def _not_harmonized(session: Session, resource: Resource) -> bool:
    """No quality report yet for the resource's latest table version and mapping."""
    done = service.find_report(session, SEEDER, resource.id)
    mapping = service.find_mapping(session, SEEDER, resource.id)
    current = (resource.current_version, mapping.version if mapping else None)
    return done is None or (done.table_version, done.mapping_version) != current


def _finish_queued(platform: Platform, after: int) -> None:
    """Saving a mapping queues a harmonize job, harmonizing a consolidate job. The demo did
    that work above, so it runs the jobs it queued now (each finds nothing left to do) instead
    of leaving them for a worker."""
    with platform.db.session() as session:
        jobs = list(session.scalars(select(Job.id).where(
            Job.id > after, Job.status == queue.QUEUED,
            Job.kind.in_(("harmonize", "consolidate"))).order_by(Job.id)))
    for job_id in jobs:
        worker.run_job(platform, job_id)
