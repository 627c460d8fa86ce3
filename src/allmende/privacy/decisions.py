"""An admin's decision on a held version: per column drop, hash, truncate, generalize or
confirm (with a reason); applied to the published version and recorded.

Applied how: a decision that changes data publishes a *new version* built from the held one
(the held version stays held: it keeps the raw values, readable only by the organization's
editors and admins); a decision that only confirms publishes the held version as it is. A new
version rather than masking at read time, because every interface reads the Parquet file
directly (filters, sorting, aggregates, six download formats, OGC, CKAN): a masked view
would have to be repeated in each of them, filtering on a hashed column would still match the
raw values, and the raw values would stay in the published file. Versions are immutable, so
the published one is computed once.

Hashing is HMAC-SHA-256 with a random key per dataset (``dataset_privacy.hash_key``, never
shown): equal values stay equal within a dataset, so counts and joins still work, but no one
can hash a guessed name or e-mail address to find it, and the same person has different
hashes in different datasets.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa
from sqlalchemy import update
from sqlalchemy.orm import Session

from allmende import sql
from allmende.access.policy import Action, Actor, authorize
from allmende.catalog import datasets
from allmende.db.models import (
    DatasetPrivacy,
    PrivacyDecision,
    Resource,
    TableVersion,
    VersionPrivacy,
)
from allmende.errors import Conflict, FieldError, Invalid, NotFound, msg
from allmende.ingest.service import schema_changes
from allmende.jobs.attempt import Attempt
from allmende.platform import Platform
from allmende.privacy import held, suppression
from allmende.tables import store, versions
from allmende.transparency import log as transparency_log

ACTIONS = ("drop", "hash", "truncate", "generalize", "confirm")
#: Characters a truncated value keeps, digits a generalized postcode keeps, width of a band.
DEFAULT_KEEP = 3
DEFAULT_DIGITS = 3
DEFAULT_STEP = 10
HASH_FUNCTION = "allmende_keyed_hash"
GENERALIZABLE = ("date", "datetime", "integer", "number", "string")


@dataclass(frozen=True)
class ColumnDecision:
    column: str
    action: str
    reason: str = ""
    #: truncate: characters kept; generalize: digits of a postcode kept, width of a band
    keep: int | None = None
    digits: int | None = None
    step: float | None = None

    def parameters(self) -> dict[str, Any]:
        return {k: v for k, v in (("keep", self.keep), ("digits", self.digits),
                                  ("step", self.step)) if v is not None}


@dataclass
class DecisionResult:
    dataset: str
    resource: str
    held_version: int
    published_version: int
    columns: list[dict[str, Any]] = field(default_factory=list)
    #: for the transparency log (wired on merge): the event this decision appends
    event: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {"dataset": self.dataset, "resource": self.resource,
                "held_version": self.held_version,
                "published_version": self.published_version, "columns": self.columns}


@dataclass(frozen=True)
class _Plan:
    """What a decision will do, read in one short transaction."""

    dataset_id: int
    dataset_name: str
    organization: str
    dataset_uuid: str
    resource_name: str
    held: TableVersion
    findings: dict[str, dict[str, Any]]
    columns: list[dict[str, str]]
    hash_key: bytes | None


def decide(platform: Platform, actor: Actor, resource_id: str, version: int,
           decisions: Sequence[ColumnDecision]) -> DecisionResult:
    """Decide on every flagged column of a held version (and on any other column the admin
    names); returns which version is now published."""
    plan = _plan(platform, actor, resource_id, version, decisions)
    if all(d.action == "confirm" for d in decisions):
        return _confirm(platform, actor, resource_id, plan, decisions)
    attempt = Attempt(platform.settings.data_dir, pause_at=platform.settings.pause_at)
    try:
        built, columns = _build(platform.settings.data_dir, attempt.scratch, plan, decisions)
        return versions.publish(platform.db, attempt, resource_id, built,
                                _recorder(actor, plan, decisions, columns),
                                expected=plan.held.version)
    finally:
        attempt.close()


def _plan(platform: Platform, actor: Actor, resource_id: str, version: int,
          decisions: Sequence[ColumnDecision]) -> _Plan:
    with platform.db.session() as session:
        resource = datasets.get_resource(session, actor, resource_id)
        dataset = resource.dataset
        authorize(actor, Action.DECIDE_PERSONAL_DATA, dataset, msg(
            "Über personenbezogene Daten entscheiden nur die Administratorinnen und "
            "Administratoren der Organisation."))
        state = held.status_of(session, resource.id, version)
        if state is None:
            raise NotFound(msg("In Version {version} von „{resource}“ wurden keine "
                               "personenbezogenen Daten gefunden; es gibt nichts zu "
                               "entscheiden.", version=version, resource=resource.name),
                           "nothing_to_decide")
        if state.status != "pending":
            raise Conflict(msg("Über Version {version} von „{resource}“ ist schon "
                               "entschieden.", version=version, resource=resource.name),
                           "already_decided")
        if resource.current_version != version:
            raise versions.StaleVersion(resource.name)
        chosen = versions.version_of(session, resource.id, version)
        findings = {f["column"]: f for f in state.findings}
        _check(decisions, findings, chosen.columns)
        key = _hash_key(session, dataset.id) if any(d.action == "hash" for d in decisions) \
            else None
        session.expunge(chosen)
        return _Plan(dataset.id, dataset.name, dataset.organization.slug, dataset.uuid,
                     resource.name, chosen, findings, list(chosen.columns), key)


def _check(decisions: Sequence[ColumnDecision], findings: dict[str, Any],
           columns: list[dict[str, str]]) -> None:
    """Every flagged column decided once, every decision possible; each problem named."""
    types = {c["name"]: c["type"] for c in columns}
    problems: list[FieldError] = []
    named = [d.column for d in decisions]
    for column in findings:
        if column not in named:
            problems.append(FieldError(column, msg(
                "Für die Spalte „{column}“ fehlt die Entscheidung.", column=column)))
    for decision in decisions:
        problems += _problems(decision, types, named.count(decision.column) > 1)
    if problems:
        raise Invalid(msg("Die Entscheidung ist unvollständig oder ungültig."), problems,
                      code="invalid_decision")


def _problems(d: ColumnDecision, types: dict[str, str], repeated: bool) -> list[FieldError]:
    def problem(message: str) -> list[FieldError]:
        return [FieldError(d.column, message)]

    column = d.column
    if column not in types:
        return problem(msg("Die Spalte „{column}“ gibt es in dieser Version nicht.",
                           column=column))
    if repeated:
        return problem(msg("Für die Spalte „{column}“ ist mehr als eine Entscheidung "
                           "angegeben.", column=column))
    if d.action not in ACTIONS:
        return problem(msg("„{action}“ ist keine Entscheidung (möglich: {allowed}).",
                           action=d.action, allowed=", ".join(ACTIONS)))
    kind = types[column]
    if d.action == "confirm" and not d.reason.strip():
        return problem(msg("Wer die Spalte „{column}“ unverändert veröffentlicht, gibt einen "
                           "Grund an.", column=column))
    if kind == "geometry" and d.action != "confirm":
        return problem(msg("Die Geometrie-Spalte „{column}“ lässt sich nur unverändert "
                           "veröffentlichen.", column=column))
    if d.action == "generalize" and kind not in GENERALIZABLE:
        return problem(msg("Die Spalte „{column}“ ({type}) lässt sich nicht vergröbern.",
                           column=column, type=kind))
    for name, value in (("keep", d.keep), ("digits", d.digits)):
        if value is not None and not 1 <= value <= 100:
            return problem(msg("{name} für „{column}“: zwischen 1 und 100.", name=name,
                               column=column))
    if d.step is not None and not d.step > 0:
        return problem(msg("Die Klassenbreite für „{column}“ ist größer als 0.", column=column))
    return []


def _hash_key(session: Session, dataset_id: int) -> bytes:
    """The dataset's hashing key, made on first use."""
    own = suppression.own_settings(session, dataset_id)
    if own.hash_key is None:
        # only where none is set yet: a decision running at the same time keeps its key
        session.execute(update(DatasetPrivacy).where(
            DatasetPrivacy.dataset_id == dataset_id, DatasetPrivacy.hash_key.is_(None))
            .values(hash_key=secrets.token_hex(32)))
        session.refresh(own)
    return bytes.fromhex(own.hash_key)


def keyed_hash(key: bytes, values: pa.Array) -> pa.Array:
    """HMAC-SHA-256 of each text (hex, 32 characters); null stays null."""
    return pa.array([None if v is None else
                     hmac.new(key, v.encode(), hashlib.sha256).hexdigest()[:32]
                     for v in values.to_pylist()], type=pa.string())


def _expression(d: ColumnDecision, column: dict[str, str]) -> tuple[str, str]:
    """(SQL over the held file, type of the result) of a changed column."""
    name = sql.ident(d.column)
    text = f"CAST({name} AS VARCHAR)"
    if d.action == "hash":
        return f"{HASH_FUNCTION}({text})", "string"
    if d.action == "truncate":
        return f"left({text}, {int(d.keep or DEFAULT_KEEP)})", "string"
    kind = column["type"]
    if kind in ("date", "datetime"):
        return f"CAST(year({name}) AS BIGINT)", "integer"
    if kind in ("integer", "number"):
        step = d.step or DEFAULT_STEP
        cast = "BIGINT" if kind == "integer" else "DOUBLE"
        return f"CAST(floor({name} / {float(step)!r}) * {float(step)!r} AS {cast})", kind
    digits = int(d.digits or DEFAULT_DIGITS)
    return f"nullif(left(regexp_replace({text}, '[^0-9]', '', 'g'), {digits}), '')", "string"


def _build(data_dir: Path, scratch: Path, plan: _Plan, decisions: Sequence[ColumnDecision]
           ) -> tuple[Path, list[dict[str, str]]]:
    """The published file: the held one with the decisions applied."""
    by_column = {d.column: d for d in decisions}
    dropped = [d.column for d in decisions if d.action == "drop"]
    replaced: list[str] = []
    columns: list[dict[str, str]] = []
    for column in plan.columns:
        decision = by_column.get(column["name"])
        if decision is None or decision.action == "confirm":
            columns.append(column)
        elif decision.action != "drop":
            expression, kind = _expression(decision, column)
            replaced.append(f"{expression} AS {sql.ident(column['name'])}")
            columns.append({"name": column["name"], "type": kind})
    star = "*"
    if dropped:
        star += f" EXCLUDE ({', '.join(map(sql.ident, dropped))})"
    if replaced:
        star += f" REPLACE ({', '.join(replaced)})"
    target = scratch / "published.parquet"
    con = duckdb.connect()
    try:
        if plan.hash_key is not None:
            key = plan.hash_key
            con.create_function(HASH_FUNCTION, lambda values: keyed_hash(key, values),
                                [duckdb.sqltype("VARCHAR")], duckdb.sqltype("VARCHAR"),
                                type="arrow")
        source = sql.table_function("read_parquet", str(data_dir / plan.held.path))
        store.write_parquet(con, sql.select(star, source), target)
    finally:
        con.close()
    return target, columns


def _recorder(actor: Actor, plan: _Plan, decisions: Sequence[ColumnDecision],
              columns: list[dict[str, str]]) -> versions.Record[DecisionResult]:
    def record(session: Session, resource: Resource, number: int, path: str) -> DecisionResult:
        source = plan.held
        session.add(TableVersion(
            resource_id=resource.id, version=number, path=path, rows=source.rows,
            columns=columns, crs=source.crs, source_name=source.source_name,
            source_sha256=source.source_sha256, source_size=source.source_size,
            source_format=source.source_format, read_report=source.read_report,
            warnings=source.warnings, schema_changes=schema_changes(source.columns, columns),
            created_by_id=actor.user_id))
        session.add(VersionPrivacy(
            resource_id=resource.id, version=number, status="published",
            findings=[f for f in plan.findings.values()
                      if f["column"] in {c["name"] for c in columns}],
            related_version=source.version))
        _settle(session, resource, plan, "replaced", number)
        return _record(session, actor, resource, plan, decisions, number)

    return record


def _confirm(platform: Platform, actor: Actor, resource_id: str, plan: _Plan,
             decisions: Sequence[ColumnDecision]) -> DecisionResult:
    with platform.db.session() as session:
        resource = session.get(Resource, resource_id)
        _settle(session, resource, plan, "confirmed", plan.held.version)
        return _record(session, actor, resource, plan, decisions, plan.held.version)


def _settle(session: Session, resource: Resource, plan: _Plan, status: str,
            published: int) -> None:
    """Move the held version out of ``pending``: exactly one of two decisions made at once
    gets there, the other is refused."""
    moved = session.execute(update(VersionPrivacy).where(
        VersionPrivacy.resource_id == resource.id,
        VersionPrivacy.version == plan.held.version, VersionPrivacy.status == "pending")
        .values(status=status, related_version=published)).rowcount
    if moved != 1:
        raise Conflict(msg("Über Version {version} von „{resource}“ ist schon entschieden.",
                           version=plan.held.version, resource=plan.resource_name),
                       "already_decided")


def _record(session: Session, actor: Actor, resource: Resource, plan: _Plan,
            decisions: Sequence[ColumnDecision], published: int) -> DecisionResult:
    """The decision table, the dataset's history, and the transparency log's event."""
    columns = []
    for d in decisions:
        finding = plan.findings.get(d.column) or {}
        session.add(PrivacyDecision(
            dataset_id=plan.dataset_id, resource_id=resource.id, version=plan.held.version,
            published_version=published, column=d.column, kind=finding.get("kind"),
            action=d.action, parameters=d.parameters(), reason=d.reason.strip(),
            decided_by_id=actor.user_id))
        columns.append({"column": d.column, "kind": finding.get("kind"),
                        "confidence": finding.get("confidence"), "action": d.action,
                        "parameters": d.parameters(), "reason": d.reason.strip()})
    datasets.record_change(session, actor, resource.dataset, "personal_data_decided", {
        "resource": [None, resource.name], "version": [plan.held.version, published]})
    event = {"type": "privacy.decision", "organization": plan.organization,
             "dataset": plan.dataset_uuid, "resource": resource.id,
             "version": plan.held.version, "published_version": published,
             # the public log says that a reason was given, not what it says: an admin's
             # words may name people (the reason stays with the decision)
             "columns": [{k: v for k, v in c.items() if k != "reason"}
                         | {"reason_given": bool(c["reason"])} for c in columns]}
    if actor.user_id is not None:
        event["actor"] = transparency_log.pseudonym(
            session, resource.dataset.organization_id, actor.user_id)
    transparency_log.append(session, event)
    return DecisionResult(plan.dataset_name, resource.id, plan.held.version, published,
                          columns, event)
