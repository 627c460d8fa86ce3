"""Ingest as a service: a file becomes the next version of a resource, or is rejected with a
clear message and nothing changes. Used by the CLI (in-process) and the background job."""

from __future__ import annotations

import codecs
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from allmende.access.policy import Action, Actor, authorize
from allmende.catalog import datasets
from allmende.db.models import Resource, ResourceMapping, TableVersion
from allmende.errors import Conflict, FieldError, Invalid, NotFound, msg, stored
from allmende.ingest import pipeline
from allmende.ingest.geo import parse_crs
from allmende.ingest.sniff import ReadOptions
from allmende.jobs import queue
from allmende.jobs.attempt import Attempt
from allmende.platform import Platform
from allmende.privacy import held
from allmende.tables import store, versions

Progress = Callable[[float, str], None]
AUTO = "auto"


@dataclass
class IngestRequest:
    dataset: str
    source: Path
    original_name: str
    resource_name: str | None = None
    options: ReadOptions = field(default_factory=ReadOptions)
    # used only when the dataset does not exist yet (the CLI creates it)
    organization: str | None = None
    title: str | None = None
    access_level: str | None = None


@dataclass
class IngestResult:
    dataset: str
    resource: str
    version: int
    rows: int
    columns: list[dict[str, str]]
    crs: str | None
    warnings: list[dict[str, Any]]
    read_report: dict[str, Any]
    schema_changes: dict[str, Any]
    #: the version waits for an admin's decision on its personal data (privacy.held)
    held: bool = False
    personal_data: list[dict[str, Any]] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def _no_progress(_fraction: float, _message: str) -> None:
    return None


def _prepare(session: Session, actor: Actor, request: IngestRequest
             ) -> tuple[ReadOptions, list[float] | None, str]:
    """Check the caller may upload here, create the dataset if asked to, and merge the
    options remembered for this resource with the given ones."""
    try:
        dataset = datasets.get_dataset(session, actor, request.dataset)
    except NotFound:
        if not request.organization:
            raise
        dataset = datasets.create_dataset(session, actor, {
            "name": request.dataset, "organization": request.organization,
            "title": request.title or Path(request.original_name).stem,
            "description": f"Hochgeladen aus {request.original_name}.",
            "access_level": request.access_level or "public"})
    authorize(actor, Action.EDIT_DATASET, dataset)
    if request.organization and dataset.organization.slug != request.organization:
        raise Conflict(msg("Der Datensatz „{dataset}“ gehört zu „{owner}“, nicht zu "
                           "„{organization}“.", dataset=dataset.name,
                           owner=dataset.organization.slug, organization=request.organization),
                       "wrong_organization")
    name = request.resource_name or request.original_name
    remembered = next((r.read_options for r in dataset.resources if r.name == name), {})
    # "auto" given for an option forgets what was remembered for it
    merged = {**remembered, **request.options.as_dict()}
    options = ReadOptions(**{k: v for k, v in merged.items() if v != AUTO})
    return options, dataset.organization.bbox, name


def check_options(options: ReadOptions) -> None:
    """Refuse reading options that can never work (a 422 naming each), so that an upload is
    refused at once and not as a failed job later."""
    problems: list[tuple[str, FieldError]] = []
    given = {k: v for k, v in options.as_dict().items() if v != AUTO}
    if "encoding" in given:
        try:
            codecs.lookup(str(given["encoding"]))
        except LookupError:
            problems.append(("bad_encoding", FieldError("encoding", msg(
                "Unbekannte Zeichenkodierung „{value}“ (z. B. utf-8, cp1252).",
                value=given["encoding"]))))
    if "delimiter" in given and len(str(given["delimiter"])) != 1:
        problems.append(("bad_delimiter", FieldError("delimiter", msg(
            "Das Trennzeichen ist genau ein Zeichen, z. B. ; oder ,."))))
    if "crs" in given:
        try:
            parse_crs(str(given["crs"]))
        except Invalid as error:
            problems.append((error.code, FieldError("crs", error.message)))
    if problems:  # the code of the first problem, as callers of a single check expect it
        code, first = problems[0]
        raise Invalid(first.message, [field for _code, field in problems], code=code)


def ingest(platform: Platform, actor: Actor, request: IngestRequest,
           progress: Progress = _no_progress, attempt: Attempt | None = None) -> IngestResult:
    """Read the file into the next version of the resource. ``attempt`` owns the files this
    run writes (a background job passes its own; the CLI gets a fresh one)."""
    if not request.source.is_file():
        raise Invalid(msg("Die Datei {name} ist nicht lesbar.", name=request.original_name),
                      code="unreadable")
    check_options(request.options)  # refuse wrong options before anything is remembered
    with platform.db.session() as session:
        options, area, resource_name = _prepare(session, actor, request)
    attempt = attempt or Attempt(platform.settings.data_dir,
                                 pause_at=platform.settings.pause_at)
    try:
        built = pipeline.build(request.source, request.original_name, options,
                               attempt.scratch, area, progress, attempt.checkpoint)
        progress(0.9, msg("Version wird veröffentlicht"))
        return _publish(platform, actor, request, resource_name, options, built, attempt)
    finally:
        attempt.close()


def schema_changes(previous: list[dict[str, str]] | None,
                   current: list[dict[str, str]]) -> dict[str, Any]:
    """Columns added, removed and retyped since the previous version."""
    if previous is None:
        return {}
    before = {c["name"]: c["type"] for c in previous}
    after = {c["name"]: c["type"] for c in current}
    return {
        "added": [n for n in after if n not in before],
        "removed": [n for n in before if n not in after],
        "retyped": [{"name": n, "from": before[n], "to": t} for n, t in after.items()
                    if n in before and before[n] != t],
    }


def _publish(platform: Platform, actor: Actor, request: IngestRequest, resource_name: str,
             options: ReadOptions, built: pipeline.BuiltTable, attempt: Attempt) -> IngestResult:
    with platform.db.session() as session:
        resource_id = datasets.file_resource(session, actor, request.dataset, resource_name).id
    # the version keeps the messages' templates (its page shows them in English too), and so
    # does the result: `allmende ingest --json` prints them beside the German text, the job's
    # poller gets them in its language
    warnings = [{"code": w.code, **stored(w.message)} for w in built.warnings]
    digest, size = store.sha256_of(request.source), request.source.stat().st_size

    def record(session: Session, resource: Resource, number: int, path: str) -> IngestResult:
        previous = versions.version_of(session, resource.id, number - 1)
        changes = schema_changes(previous.columns if previous else None, built.columns)
        session.add(TableVersion(
            resource_id=resource.id, version=number, path=path, rows=built.rows,
            columns=built.columns, crs=built.crs, source_name=request.original_name,
            source_sha256=digest, source_size=size, source_format=built.source_format,
            read_report=built.report, warnings=warnings, schema_changes=changes,
            created_by_id=actor.user_id))
        _remember(resource, options, request.original_name)
        held.record_findings(session, resource.id, number, built.personal_data)
        _queue_harmonization(session, actor, resource)
        datasets.record_change(session, actor, resource.dataset, "version_added",
                               {"resource": [None, resource_name], "version": [None, number]})
        return IngestResult(resource.dataset.name, resource.id, number, built.rows,
                            built.columns, built.crs, warnings, built.report, changes,
                            held.is_held(resource.dataset, "pending" if built.personal_data
                                         else None),
                            [f.as_dict() for f in built.personal_data])

    return versions.publish(platform.db, attempt, resource_id, built.parquet, record)


def _queue_harmonization(session: Session, actor: Actor, resource: Resource) -> None:
    """A mapped resource's new version is mapped and validated again, in the background."""
    if session.scalar(select(ResourceMapping.id).where(
            ResourceMapping.resource_id == resource.id).limit(1)) is not None:
        queue.enqueue(session, "harmonize", {"resource": resource.id}, actor,
                      resource.dataset.organization_id)


def _remember(resource: Resource, options: ReadOptions, original_name: str) -> None:
    """Keep what a person set for this resource, so the next upload reads the same way."""
    resource.read_options = options.as_dict()
    resource.format = Path(original_name).suffix.lstrip(".").upper()
