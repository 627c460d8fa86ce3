"""Data requests (Datenanträge): someone outside the owning organization asks for a restricted
dataset, with purpose, legal basis, legitimate interest and the data they need; the owning
organization's admins decide, each decision with a written reason.

API (routers and the UI call only these; ``actor`` decides access through ``access.policy``):

- ``create_request(session, actor, data, language) -> RequestRecord`` — a draft; ``data`` as
  :class:`RequestCreate` (``dataset`` name or UUID plus :class:`RequestFields`)
- ``update_request(session, actor, request_id, changes) -> RequestRecord`` — the requester,
  while the request is a draft or needs information
- ``transition(session, actor, request_id, action, reason, mailer) -> RequestRecord`` —
  ``submit``, ``ask`` (for information), ``answer``, ``approve``, ``reject``, ``withdraw``
  (see :data:`TRANSITIONS`); two deciders at once: one wins, the other gets 409
- ``get_request(session, actor, request_id)``; ``list_requests(session, actor, role)`` with
  ``role`` ``requester`` (my requests) or ``owner`` (the inbox of the organizations I admin)
- ``add_attachment(...)``, ``attachment_file(...)`` — PDFs only, size-limited, visible to the
  requester and the owner's admins
- ``set_conditions(session, actor, organization, text)``, ``current_conditions(...)`` — an
  organization's versioned conditions of use; a request stores the version accepted
- ``purge_expired(platform) -> int`` — the periodic task: closed requests past their retention
  are deleted with their attachments

States: draft → submitted ⇄ needs_info → approved | rejected; withdrawn (by the requester).

Transparency log events (``allmende.transparency.log``; never personal data in clear, the
requester only as the owning organization's pseudonym of them):

- ``request.submitted`` — ``organization`` (owner slug), ``dataset`` (UUID), ``request`` (id),
  ``purpose`` (code), ``legal_basis`` (code), ``requester`` (pseudonym)
- ``request.needs_info`` / ``request.answered`` / ``request.withdrawn`` — the same keys
- ``request.decided`` — the same keys and ``decision`` (``approved`` | ``rejected``)
"""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
import shutil
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator
from sqlalchemy import delete, func, select, update
from sqlalchemy.orm import Session

from allmende.access import agreements
from allmende.access.mail import Mailer, localized
from allmende.access.policy import Action, Actor, authorize, is_allowed
from allmende.catalog import datasets
from allmende.catalog.organizations import get_organization
from allmende.catalog.validation import check_text, parsed
from allmende.db.models import (
    Agreement,
    DataRequest,
    DataRequestAttachment,
    DataRequestEvent,
    Dataset,
    Membership,
    OrganizationConditions,
    User,
    utcnow,
)
from allmende.errors import (
    Conflict,
    FieldError,
    Invalid,
    Message,
    NotFound,
    TooLarge,
    msg,
)
from allmende.transparency import log as transparency_log

log = logging.getLogger(__name__)

DRAFT, SUBMITTED, NEEDS_INFO = "draft", "submitted", "needs_info"
APPROVED, REJECTED, WITHDRAWN = "approved", "rejected", "withdrawn"
STATES = (DRAFT, SUBMITTED, NEEDS_INFO, APPROVED, REJECTED, WITHDRAWN)
CLOSED = (APPROVED, REJECTED, WITHDRAWN)
PURPOSES = ("verkehrsplanung", "stadtentwicklung", "forschung", "journalismus", "sonstiges")
LEGAL_BASES = ("dsgvo-6-1-a", "dsgvo-6-1-c", "dsgvo-6-1-e", "dsgvo-6-1-f", "fachrecht",
               "keine-personendaten", "sonstiges")
FILTER_OPS = ("eq", "in", "gt", "gte", "lt", "lte", "contains")
ROLES = ("requester", "owner")
TEXT_MAX = 10_000
REASON_MAX = 10_000
MAX_DURATION_DAYS = 3650
PDF_MAGIC = b"%PDF-"
ATTACHMENTS_DIR = "requests"


# --- fields -----------------------------------------------------------------------------------

class RowCondition(BaseModel):
    model_config = ConfigDict(extra="forbid")

    column: str = Field(min_length=1, max_length=300)
    op: Literal[FILTER_OPS] = "eq"  # type: ignore[valid-type]
    value: str | int | float | bool | list[str | int | float] = Field(
        description="For `in` a list, else one value")


class RequestFields(BaseModel):
    """What a requester states; everything may stay empty in a draft (see :func:`_missing`)."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    requester_organization: str = Field("", max_length=300,
                                        description="The requester's organization")
    position: str = Field("", max_length=300, description="The requester's position in it")
    purpose: Literal[("", *PURPOSES)] = ""  # type: ignore[valid-type]
    purpose_text: str = Field("", max_length=TEXT_MAX)
    legal_basis: Literal[("", *LEGAL_BASES)] = ""  # type: ignore[valid-type]
    legal_basis_text: str = Field("", max_length=TEXT_MAX,
                                  description="The sector law or other basis, in words")
    interest: str = Field("", max_length=TEXT_MAX,
                          description="The legitimate interest, in the requester's words")
    columns: list[str] | None = Field(None, max_length=1000,
                                      description="Requested columns (data minimisation)")
    row_filter: list[RowCondition] | None = Field(None, max_length=50)
    period_start: dt.date | None = None
    period_end: dt.date | None = None
    period_column: str | None = Field(
        None, min_length=1, max_length=300,
        description="The date column the period refers to: the agreement then keeps only the "
                    "rows of the period (without it the period is a statement)")
    duration_days: int | None = Field(None, ge=1, le=MAX_DURATION_DAYS,
                                      description="How long access is needed")
    recipients: str = Field("", max_length=TEXT_MAX, description="Recipients of the data")
    processors: str = Field("", max_length=TEXT_MAX, description="Processors on their behalf")
    retention: str = Field("", max_length=TEXT_MAX, description="Retention and deletion plan")
    accepted_conditions: int | None = Field(
        None, ge=1, le=2**31 - 1, description="The version of the owner's conditions accepted")

    @field_validator("requester_organization", "position", "purpose_text", "legal_basis_text",
                     "interest", "recipients", "processors", "retention")
    @classmethod
    def _text(cls, value: str) -> str:
        return check_text(value)


class RequestCreate(RequestFields):
    dataset: str = Field(min_length=1, max_length=100, description="Dataset name or UUID")


FIELDS = tuple(RequestFields.model_fields)


# --- records ----------------------------------------------------------------------------------

@dataclass(frozen=True)
class EventRecord:
    action: str
    from_state: str | None
    to_state: str
    reason: str
    by: str  # the actor's name or e-mail
    at: dt.datetime


@dataclass(frozen=True)
class AttachmentRecord:
    id: int
    filename: str
    size: int
    created: dt.datetime


@dataclass(frozen=True)
class ConditionsRecord:
    organization: str
    version: int
    text: str
    created: dt.datetime


@dataclass(frozen=True)
class RequestRecord:
    id: int
    state: str
    dataset: str
    dataset_id: str
    dataset_title: str
    organization: str
    organization_name: str
    requester_email: str
    requester_name: str
    fields: dict[str, Any]
    created: dt.datetime
    modified: dt.datetime
    submitted: dt.datetime | None
    decided: dt.datetime | None
    history: tuple[EventRecord, ...]
    attachments: tuple[AttachmentRecord, ...]
    #: the transitions the asking actor may make now
    actions: tuple[str, ...]
    #: whether the asking actor may change the request's fields now
    editable: bool
    #: the columns the dataset's tables have (what may be requested)
    available_columns: tuple[str, ...]
    #: the uid of the agreement the approval made (None before, or for other outcomes)
    agreement: str | None = None


# --- transitions ------------------------------------------------------------------------------

@dataclass(frozen=True)
class Transition:
    sources: tuple[str, ...]
    target: str
    by_owner: bool
    reason_required: bool


TRANSITIONS = {
    "submit": Transition((DRAFT,), SUBMITTED, False, False),
    "ask": Transition((SUBMITTED,), NEEDS_INFO, True, True),
    "answer": Transition((NEEDS_INFO,), SUBMITTED, False, True),
    "approve": Transition((SUBMITTED,), APPROVED, True, True),
    "reject": Transition((SUBMITTED, NEEDS_INFO), REJECTED, True, True),
    "withdraw": Transition((DRAFT, SUBMITTED, NEEDS_INFO), WITHDRAWN, False, False),
}
EDITABLE = (DRAFT, NEEDS_INFO)


def _not_found(request_id: int) -> NotFound:
    return NotFound(msg("Den Antrag {id} gibt es nicht.", id=request_id), "request_not_found")


def _load(session: Session, actor: Actor, request_id: int) -> DataRequest:
    """A request the actor may read; a draft is its requester's alone."""
    request = session.get(DataRequest, request_id)
    if request is None or not is_allowed(actor, Action.READ_REQUEST, request) or (
            request.state == DRAFT and request.requester_id != actor.user_id):
        if not actor.is_authenticated:
            authorize(actor, Action.READ_REQUEST, request)
        raise _not_found(request_id)
    return request


def _may(actor: Actor, request: DataRequest, name: str) -> bool:
    step = TRANSITIONS[name]
    if request.state not in step.sources:
        return False
    if step.by_owner:
        return is_allowed(actor, Action.DECIDE_REQUEST, request.organization_id)
    return is_allowed(actor, Action.EDIT_REQUEST, request)


def columns_of(dataset: Dataset, types: tuple[str, ...] | None = None) -> tuple[str, ...]:
    """The column names of the dataset's current tables, each once, in their order (only
    those of ``types`` when given)."""
    names: dict[str, None] = {}
    for resource in dataset.resources:
        current = resource.current
        for column in (current.columns if current is not None else []):
            wanted = column.get("type") in types if types else column.get("type") != "geometry"
            if wanted:
                names.setdefault(column["name"], None)
    return tuple(names)


#: Column types a requested period can refer to.
DATE_TYPES = ("date", "datetime")


def _record(session: Session, actor: Actor, request: DataRequest) -> RequestRecord:
    history = session.scalars(select(DataRequestEvent).where(
        DataRequestEvent.request_id == request.id).order_by(DataRequestEvent.id))
    files = session.scalars(select(DataRequestAttachment).where(
        DataRequestAttachment.request_id == request.id).order_by(DataRequestAttachment.id))
    return RequestRecord(
        id=request.id, state=request.state, dataset=request.dataset.name,
        dataset_id=request.dataset.uuid, dataset_title=request.dataset.title,
        organization=request.organization.slug, organization_name=request.organization.name,
        requester_email=request.requester.email, requester_name=request.requester.name,
        fields=_fields_of(request), created=request.created_at, modified=request.modified_at,
        submitted=request.submitted_at, decided=request.decided_at,
        history=tuple(EventRecord(e.action, e.from_state, e.to_state, e.reason,
                                  (e.actor.name or e.actor.email) if e.actor else "–", e.at)
                      for e in history),
        attachments=tuple(AttachmentRecord(f.id, f.filename, f.size, f.created_at)
                          for f in files),
        actions=tuple(name for name in TRANSITIONS if _may(actor, request, name)),
        editable=request.state in EDITABLE and is_allowed(actor, Action.EDIT_REQUEST, request),
        available_columns=columns_of(request.dataset),
        agreement=session.scalar(select(Agreement.uid).where(
            Agreement.request_id == request.id).order_by(Agreement.id.desc()).limit(1))
        if request.state == APPROVED else None)


def _fields_of(request: DataRequest) -> dict[str, Any]:
    values = {name: getattr(request, name) for name in FIELDS if name != "accepted_conditions"}
    values["accepted_conditions"] = request.conditions_version
    return values


def _apply(request: DataRequest, fields: RequestFields, names: set[str]) -> None:
    for name in names:
        value = getattr(fields, name)
        if name == "accepted_conditions":
            request.conditions_version = value
        elif name == "row_filter":
            request.row_filter = None if value is None else [c.model_dump() for c in value]
        else:
            setattr(request, name, value)
    request.modified_at = utcnow()


def _check_scope(request: DataRequest) -> None:
    """Requested columns and row filters name columns the dataset's tables have."""
    available = set(columns_of(request.dataset))
    errors = [FieldError("columns", msg("Die Spalte „{column}“ gibt es in diesem Datensatz "
                                        "nicht.", column=name))
              for name in request.columns or [] if name not in available]
    errors += [FieldError("row_filter", msg("Die Spalte „{column}“ gibt es in diesem "
                                            "Datensatz nicht.", column=c["column"]))
               for c in request.row_filter or [] if c["column"] not in available]
    # the agreement made of it filters rows only by columns it releases (access/agreements.py)
    errors += [FieldError("row_filter", msg(
        "Der Zeilenfilter nennt die Spalte „{column}“; bitte beantragen Sie sie auch unter "
        "den Spalten.", column=c["column"]))
        for c in request.row_filter or []
        if request.columns and c["column"] in available and c["column"] not in request.columns]
    if request.period_start and request.period_end and request.period_end < request.period_start:
        errors.append(FieldError("period_end", msg("Das Ende des Zeitraums liegt vor seinem "
                                                   "Anfang.")))
    errors += _period_errors(request)
    if errors:
        raise Invalid(field_errors=errors)


def _period_errors(request: DataRequest) -> list[FieldError]:
    """A period column is a date column of the dataset, among the requested columns (the
    agreement filters only by columns it releases), with a start or an end to apply."""
    name = request.period_column
    if name is None:
        return []
    if name not in columns_of(request.dataset, DATE_TYPES):
        return [FieldError("period_column", msg(
            "„{column}“ ist keine Datumsspalte dieses Datensatzes.", column=name))]
    if request.columns and name not in request.columns:
        return [FieldError("period_column", msg(
            "Der Zeitraum bezieht sich auf die Spalte „{column}“; bitte beantragen Sie sie "
            "auch unter den Spalten.", column=name))]
    if not (request.period_start or request.period_end):
        return [FieldError("period_start", msg(
            "Bitte geben Sie Anfang oder Ende des Zeitraums an, auf den sich „{column}“ "
            "beziehen soll.", column=name))]
    return []


def create_request(session: Session, actor: Actor, data: dict[str, Any],
                   language: str = "de") -> RequestRecord:
    fields: RequestCreate = parsed(RequestCreate, data)
    dataset = _dataset(session, actor, fields.dataset)
    authorize(actor, Action.REQUEST_DATA, dataset, refusal=refusal(actor, dataset))
    request = DataRequest(dataset=dataset, organization_id=dataset.organization_id,
                          requester_id=actor.user_id, state=DRAFT,
                          language=language if language in ("de", "en") else "de")
    session.add(request)
    _apply(request, fields, set(FIELDS))
    _check_scope(request)
    session.flush()
    _event(session, actor, request, "create", None, DRAFT, "")
    return _record(session, actor, request)


def _dataset(session: Session, actor: Actor, name: str) -> Dataset:
    by_uuid = session.scalar(select(Dataset.name).where(Dataset.uuid == name))
    return datasets.get_dataset(session, actor, by_uuid or name)


def refusal(actor: Actor, dataset: Dataset) -> Message:
    if actor.role_in(dataset.organization_id) is not None:
        return msg("Ihre Organisation besitzt den Datensatz „{name}“; Sie brauchen keinen "
                   "Antrag.", name=dataset.name)
    return msg("Für den Datensatz „{name}“ ist kein Antrag nötig: er ist nicht "
               "zugangsbeschränkt.", name=dataset.name)


def update_request(session: Session, actor: Actor, request_id: int,
                   changes: dict[str, Any]) -> RequestRecord:
    request = _load(session, actor, request_id)
    authorize(actor, Action.EDIT_REQUEST, request)
    if request.state not in EDITABLE:
        raise Conflict(msg("Der Antrag {id} ist {state} und kann nicht mehr geändert werden.",
                           id=request_id, state=state_label(request.state)), "request_closed")
    fields: RequestFields = parsed(RequestFields, {**_fields_of(request), **changes})
    _apply(request, fields, set(changes) & set(FIELDS))
    _check_scope(request)
    return _record(session, actor, request)


def get_request(session: Session, actor: Actor, request_id: int) -> RequestRecord:
    return _record(session, actor, _load(session, actor, request_id))


def list_requests(session: Session, actor: Actor, role: str = "requester",
                  limit: int = 200) -> list[RequestRecord]:
    """``requester``: the actor's own requests; ``owner``: those (not drafts) of the
    organizations the actor decides for, open ones first."""
    authorize(actor, Action.MANAGE_OWN_ACCOUNT)
    query = select(DataRequest)
    if role == "owner":
        query = query.where(DataRequest.state != DRAFT)
        if not actor.is_sysadmin:
            admin_of = [o for o, r in actor.roles.items() if r == "admin"]
            query = query.where(DataRequest.organization_id.in_(admin_of))
        open_first = (DataRequest.state.in_((SUBMITTED, NEEDS_INFO))).desc()
        query = query.order_by(open_first, DataRequest.modified_at.desc())
    else:
        query = query.where(DataRequest.requester_id == actor.user_id).order_by(
            DataRequest.modified_at.desc())
    return [_record(session, actor, r) for r in session.scalars(query.limit(limit))]


def transition(session: Session, actor: Actor, request_id: int, action: str, reason: str,
               mailer: Mailer) -> RequestRecord:
    """One step of the request's life; refused (403) for the wrong side, 409 when the request
    is no longer in a state the step starts from (e.g. another admin decided first)."""
    step = TRANSITIONS.get(action)
    if step is None:
        raise NotFound(msg("Unbekannter Schritt „{action}“; möglich: {allowed}.",
                           action=action, allowed=", ".join(TRANSITIONS)), "unknown_step")
    request = _load(session, actor, request_id)
    if step.by_owner:
        authorize(actor, Action.DECIDE_REQUEST, request.organization_id, refusal=msg(
            "Über Anträge entscheiden nur die Admins der Organisation, der der Datensatz "
            "gehört."))
    else:
        authorize(actor, Action.EDIT_REQUEST, request, refusal=msg(
            "Diesen Schritt kann nur die antragstellende Person gehen."))
    reason = check_text(reason.strip())
    if step.reason_required and not reason:
        raise Invalid(field_errors=[FieldError("reason", msg(
            "Bitte begründen Sie diesen Schritt schriftlich."))])
    if len(reason) > REASON_MAX:
        raise Invalid(field_errors=[FieldError("reason", msg(
            "Ist zu lang (höchstens {max_length} Zeichen).", max_length=REASON_MAX))])
    if step.target == SUBMITTED:
        _check_complete(session, request)
    previous = request.state
    _move(session, request, step, actor, mailer.settings.request_retention_days)
    _event(session, actor, request, action, previous, step.target, reason)
    if step.target == APPROVED:
        _on_approved(session, actor, request)
    _notify(session, mailer, request, action, reason)
    return _record(session, actor, request)


def _move(session: Session, request: DataRequest, step: Transition, actor: Actor,
          retention_days: int) -> None:
    """The state changes only if it still is one the step starts from: of two deciders at
    once, the second finds the row changed (PostgreSQL re-reads it after the first commits)
    and gets 409."""
    now = utcnow()
    values: dict[str, Any] = {"state": step.target, "modified_at": now}
    if step.target == SUBMITTED and request.submitted_at is None:
        values["submitted_at"] = now
    if step.by_owner and step.target in CLOSED:
        values |= {"decided_at": now, "decided_by_id": actor.user_id}
    changed = session.execute(update(DataRequest).where(
        DataRequest.id == request.id, DataRequest.state.in_(step.sources)).values(**values)
        .execution_options(synchronize_session=False)).rowcount
    session.refresh(request)
    if not changed:
        raise Conflict(msg("Der Antrag {id} ist inzwischen {state}; der Schritt ist nicht mehr "
                           "möglich. Bitte laden Sie ihn neu.", id=request.id,
                           state=state_label(request.state)), "request_state_changed")
    if step.target in CLOSED:
        request.purge_after = _purge_after(request, retention_days)


def _purge_after(request: DataRequest, retention_days: int) -> dt.datetime:
    """A closed request is kept for the retention period; an approved one counts from the
    end of the access it asked for."""
    start = utcnow()
    if request.state == APPROVED and request.duration_days:
        start += dt.timedelta(days=request.duration_days)
    return start + dt.timedelta(days=retention_days)


def _check_complete(session: Session, request: DataRequest) -> None:
    errors = [FieldError(name, msg("Für den Antrag nötig.")) for name in _missing(request)]
    conditions = _current(session, request.organization_id)
    if conditions is not None and request.conditions_version != conditions.version:
        errors.append(FieldError("accepted_conditions", msg(
            "Bitte lesen und akzeptieren Sie die Nutzungsbedingungen der Organisation "
            "(Fassung {version}).", version=conditions.version)))
    if errors:
        raise Invalid(msg("Der Antrag ist noch nicht vollständig."), field_errors=errors)
    _check_scope(request)


def _missing(request: DataRequest) -> list[str]:
    required = ["requester_organization", "purpose", "purpose_text", "legal_basis",
                "interest", "duration_days", "recipients", "retention"]
    missing = [name for name in required if not getattr(request, name)]
    if request.legal_basis in ("fachrecht", "sonstiges") and not request.legal_basis_text:
        missing.append("legal_basis_text")
    if columns_of(request.dataset) and not request.columns:
        missing.append("columns")
    return missing


#: The transparency log's event type of each step (creating a draft is not logged).
LOGGED = {"submit": "request.submitted", "ask": "request.needs_info",
          "answer": "request.answered", "withdraw": "request.withdrawn",
          "approve": "request.decided", "reject": "request.decided"}


def _event(session: Session, actor: Actor, request: DataRequest, action: str,
           from_state: str | None, to_state: str, reason: str) -> None:
    session.add(DataRequestEvent(request_id=request.id, actor_id=actor.user_id, action=action,
                                 from_state=from_state, to_state=to_state, reason=reason))
    if action in LOGGED:
        event = {"type": LOGGED[action], "organization": request.organization.slug,
                 "dataset": request.dataset.uuid, "request": request.id,
                 "purpose": request.purpose, "legal_basis": request.legal_basis,
                 "requester": transparency_log.pseudonym(session, request.organization_id,
                                            request.requester_id)}
        if LOGGED[action] == "request.decided":
            event["decision"] = to_state
        transparency_log.append(session, event)
    session.flush()


def _on_approved(session: Session, actor: Actor, request: DataRequest) -> None:
    """An approved request becomes an agreement with what it asked for: its columns, its
    row filter and its period (when it names the date column the period refers to; else the
    period stays a statement of the request), from now for its duration, for its purpose."""
    now = utcnow()
    conditions = [*(request.row_filter or []), *_period_conditions(request)]
    agreements.grant(session, actor, agreements.Grant(
        dataset=request.dataset.uuid, assignee=request.requester_id, valid_from=now,
        valid_until=now + dt.timedelta(days=request.duration_days or 0),
        columns=tuple(request.columns) if request.columns else None,
        row_filter=conditions or None, purpose=request.purpose or "sonstiges",
        purpose_text=request.purpose_text, request_id=request.id))


def _period_conditions(request: DataRequest) -> list[dict[str, Any]]:
    """The period as row conditions on its column: from its first day to the end of its
    last (a date-time column: before the next day)."""
    if request.period_column is None:
        return []
    column = request.period_column
    found = []
    if request.period_start:
        found.append({"column": column, "op": "gte", "value": request.period_start.isoformat()})
    if request.period_end:
        last_day = column in columns_of(request.dataset, ("date",))
        end = request.period_end if last_day else request.period_end + dt.timedelta(days=1)
        found.append({"column": column, "op": "lte" if last_day else "lt",
                      "value": end.isoformat()})
    return found


# --- e-mails ----------------------------------------------------------------------------------

_SUBJECTS: dict[str, Callable[[int, str], Message]] = {
    "submit": lambda i, d: msg(
        "Neuer Datenantrag {id} für „{dataset}“", id=i, dataset=d),
    "answer": lambda i, d: msg(
        "Antwort zum Datenantrag {id} für „{dataset}“", id=i, dataset=d),
    "withdraw": lambda i, d: msg(
        "Datenantrag {id} für „{dataset}“ zurückgezogen", id=i, dataset=d),
    "submitted": lambda i, d: msg(
        "Ihr Datenantrag {id} für „{dataset}“ ist eingegangen", id=i, dataset=d),
    "ask": lambda i, d: msg(
        "Rückfrage zu Ihrem Datenantrag {id} für „{dataset}“", id=i, dataset=d),
    "approve": lambda i, d: msg(
        "Ihr Datenantrag {id} für „{dataset}“ ist bewilligt", id=i, dataset=d),
    "reject": lambda i, d: msg(
        "Ihr Datenantrag {id} für „{dataset}“ ist abgelehnt", id=i, dataset=d),
}


def _body(headline: Message, reason: str, link: str) -> Message:
    return msg("{headline}\n\nBegründung bzw. Nachricht:\n{reason}\n\nZum Antrag: {link}\n\n"
               "– allmende", headline=headline, reason=reason, link=link)


def _notify(session: Session, mailer: Mailer, request: DataRequest, action: str,
            reason: str) -> None:
    """Submit, answer and withdrawal go to the owner's admins (in German, the
    municipalities' language); the requester hears of receipt, questions and decisions in
    the language they asked in."""
    if action in ("submit", "answer") or (action == "withdraw" and request.submitted_at):
        _mail(mailer, session, request, action, reason, _admin_emails(session, request), "de")
    if action == "submit":
        action = "submitted"
    if action in ("submitted", "ask", "approve", "reject"):
        _mail(mailer, session, request, action, reason, (request.requester.email,),
              request.language)


def _mail(mailer: Mailer, session: Session, request: DataRequest, kind: str, reason: str,
          to: tuple[str, ...], language: str) -> None:
    subject = _SUBJECTS[kind](request.id, request.dataset.title)
    body = _body(subject, reason or "–", mailer.link(f"/requests/{request.id}"))
    mailer.after_commit(session, localized(to, subject, body, language))


def _admin_emails(session: Session, request: DataRequest) -> tuple[str, ...]:
    return tuple(session.scalars(select(User.email).join(Membership).where(
        Membership.organization_id == request.organization_id, Membership.role == "admin",
        User.is_active.is_(True)).order_by(User.email)))


# --- attachments ------------------------------------------------------------------------------

def add_attachment(session: Session, actor: Actor, request_id: int, staged: Path,
                   filename: str, data_dir: Path, limit: int) -> AttachmentRecord:
    """Keep ``staged`` (an uploaded file) as a PDF of the request; the staged file is moved
    or, when refused, removed."""
    try:
        request = _load(session, actor, request_id)
        authorize(actor, Action.EDIT_REQUEST, request, refusal=msg(
            "Anlagen fügt nur die antragstellende Person hinzu."))
        if request.state in CLOSED:
            raise Conflict(msg("Der Antrag {id} ist abgeschlossen; Anlagen sind nicht mehr "
                               "möglich.", id=request_id), "request_closed")
        size = staged.stat().st_size
        _check_pdf(staged, filename, size, limit)
        target = Path(ATTACHMENTS_DIR) / str(request.id) / f"{uuid.uuid4().hex}.pdf"
        (data_dir / target).parent.mkdir(parents=True, exist_ok=True)
        digest = hashlib.sha256(staged.read_bytes()).hexdigest()
        shutil.move(staged, data_dir / target)
    finally:
        staged.unlink(missing_ok=True)
    attachment = DataRequestAttachment(request_id=request.id, filename=_safe_name(filename),
                                       path=str(target), size=size, sha256=digest,
                                       uploaded_by_id=actor.user_id)
    session.add(attachment)
    request.modified_at = utcnow()
    session.flush()
    return AttachmentRecord(attachment.id, attachment.filename, size, attachment.created_at)


def _check_pdf(path: Path, filename: str, size: int, limit: int) -> None:
    if size > limit:
        raise TooLarge(msg("Die Anlage {name} ist größer als erlaubt ({megabytes} MB).",
                           name=filename, megabytes=round(limit / (1 << 20), 1)),
                       "attachment_too_large")
    with path.open("rb") as handle:
        start = handle.read(len(PDF_MAGIC))
    if start != PDF_MAGIC:
        raise Invalid(field_errors=[FieldError("file", msg(
            "Die Anlage {name} ist keine PDF-Datei; Anlagen müssen PDF sein.",
            name=filename))], code="not_pdf")


def _safe_name(filename: str) -> str:
    name = Path(filename.replace("\\", "/")).name.strip() or "anlage.pdf"
    return name[:300]


def attachment_file(session: Session, actor: Actor, request_id: int, attachment_id: int,
                    data_dir: Path) -> tuple[Path, str]:
    """The stored PDF and its file name, for the requester and the owner's admins."""
    request = _load(session, actor, request_id)
    attachment = session.get(DataRequestAttachment, attachment_id)
    if attachment is None or attachment.request_id != request.id:
        raise NotFound(msg("Diese Anlage gibt es nicht."), "attachment_not_found")
    return data_dir / attachment.path, attachment.filename


# --- conditions of use ------------------------------------------------------------------------

def _current(session: Session, organization_id: int) -> OrganizationConditions | None:
    return session.scalar(select(OrganizationConditions).where(
        OrganizationConditions.organization_id == organization_id).order_by(
        OrganizationConditions.version.desc()).limit(1))


def current_conditions(session: Session, organization: str) -> ConditionsRecord | None:
    """The organization's newest conditions of use (public: requesters read them)."""
    found = get_organization(session, organization)
    current = _current(session, found.id)
    return None if current is None else ConditionsRecord(found.slug, current.version,
                                                         current.text, current.created_at)


def set_conditions(session: Session, actor: Actor, organization: str,
                   text: str) -> ConditionsRecord:
    """A new version of the organization's conditions (its admins); earlier versions stay,
    so each request still names the text its requester accepted."""
    found = get_organization(session, organization)
    authorize(actor, Action.EDIT_ORGANIZATION, found.id)
    text = check_text(text.strip())
    if not text or len(text) > 100_000:
        raise Invalid(field_errors=[FieldError("text", msg(
            "Bitte geben Sie den Text der Nutzungsbedingungen ein (höchstens 100.000 "
            "Zeichen)."))])
    latest = session.scalar(select(func.max(OrganizationConditions.version)).where(
        OrganizationConditions.organization_id == found.id)) or 0
    conditions = OrganizationConditions(organization_id=found.id, version=latest + 1,
                                        text=text, created_by_id=actor.user_id)
    session.add(conditions)
    session.flush()
    return ConditionsRecord(found.slug, conditions.version, text, conditions.created_at)


# --- retention --------------------------------------------------------------------------------

def purge_expired(session: Session, data_dir: Path, retention_days: int,
                  now: dt.datetime | None = None) -> int:
    """Delete closed requests past their retention, with their attachments (and drafts left
    untouched for as long); the number of requests deleted."""
    now = now or utcnow()
    untouched = now - dt.timedelta(days=retention_days)
    ids = list(session.scalars(select(DataRequest.id).where(
        (DataRequest.purge_after < now)
        | ((DataRequest.state == DRAFT) & (DataRequest.modified_at < untouched)))))
    if not ids:
        return 0
    session.execute(delete(DataRequest).where(DataRequest.id.in_(ids)))
    for request_id in ids:
        shutil.rmtree(data_dir / ATTACHMENTS_DIR / str(request_id), ignore_errors=True)
    log.info("%d Datenanträge nach Ablauf der Aufbewahrungsfrist gelöscht", len(ids))
    return len(ids)


STATE_LABELS = {DRAFT: msg("ein Entwurf"), SUBMITTED: msg("eingereicht"),
                NEEDS_INFO: msg("mit einer Rückfrage versehen"), APPROVED: msg("bewilligt"),
                REJECTED: msg("abgelehnt"), WITHDRAWN: msg("zurückgezogen")}


def state_label(state: str) -> Message:
    return STATE_LABELS.get(state, msg("ein Entwurf"))


def run_retention(platform: Any) -> int:
    """The periodic task (see ``allmende.wiring``): expired requests and registrations never
    confirmed are deleted."""
    from allmende.access.registration import purge_unconfirmed

    settings = platform.settings
    with platform.db.session() as session:
        purge_unconfirmed(session, settings)
        return purge_expired(session, settings.data_dir, settings.request_retention_days)
