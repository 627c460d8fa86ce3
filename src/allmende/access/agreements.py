"""Usage agreements (Nutzungsvereinbarungen): who may read a restricted dataset, which columns
and rows, from when until when, how often, and for which purpose.

An agreement is made by :func:`grant` (only admins of the owning organization, or the system,
e.g. when a data request is approved) and ended by :func:`revoke` (with a reason, e-mailed to
the holder) or by itself: its time window passes (*expired*) or its accesses are used up
(*exhausted*). Every read of a restricted dataset by someone outside its organization goes
through :func:`consume` (called by ``tables.service.readable_version``, so by
``tables.reader.open_table`` and every interface on it): one request — a page, a download, a
``datastore_search``, an OGC items page — is one access, counted by a single conditional
UPDATE so that parallel requests never exceed the count. Revocation takes effect on the next
request: nothing is cached.

States: active → expired | exhausted | revoked. *expired* is stored by :func:`sweep`, the
periodic task "agreement-lifecycle" (:func:`run_lifecycle`, every
``wiring.AGREEMENT_LIFECYCLE_SECONDS``), or by the first read refused after the end; until
then :func:`effective_state` reads it from ``valid_until``. The sweep also e-mails each
holder once, ``agreement_expiry_notice_days`` (setting) before the end, that access ends
soon, unless the agreement lasts no longer than that. E-mails go to the holder in the
language of the data request the agreement came from (German for one made directly), after
the transaction commits.

Columns outside the agreement are left out of every answer; a request naming one (``fields``,
a filter, ``sort``, ``group_by``) is refused with 403 naming it. The row filter is added to
every query.

:func:`odrl` writes the agreement as a W3C ODRL 2.2 Agreement (JSON-LD). :func:`grant_from_odrl`
reads one back; any constraint, action or duty beyond what allmende enforces or records is
refused when the policy is made (fail closed).

Events in the transparency log (``transparency.log``; the fields are listed in
``allmende.transparency``): ``agreement.created``, ``agreement.revoked``,
``agreement.exhausted`` and ``agreement.expired`` (by the sweep or the first refused read
after the end) here (:func:`_logged`, the holder only as a pseudonym), in the caller's
transaction; ``access.refused`` for a read the agreement no longer allows, recorded after
the refused request rolled back (:func:`record_refusal`); each counted access is an
``access.rows`` event of ``transparency.reads``, started by
``tables.service.readable_version`` and appended when the transaction that counted it commits.
"""

from __future__ import annotations

import datetime as dt
import logging
import re
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cache, partial
from typing import Any

from sqlalchemy import and_, bindparam, case, or_, select, update
from sqlalchemy.orm import Session

from allmende.access.mail import Mailer, localized
from allmende.access.policy import Action, Actor, authorize, visibility
from allmende.db.models import Agreement, DataRequest, Dataset, User, utcnow
from allmende.db.session import on_failure
from allmende.errors import FieldError, Forbidden, Invalid, Message, NotFound, joined, msg
from allmende.tables.query import typed_filter
from allmende.tables.schema import Column
from allmende.tables.values import ValueProblem
from allmende.transparency import log as transparency_log

#: Purposes a request or agreement names (codes, shown with their German label).
PURPOSES: dict[str, str] = {
    "verkehrsplanung": "Verkehrsplanung",
    "stadtentwicklung": "Stadtentwicklung",
    "forschung": "Forschung",
    "journalismus": "Journalismus",
    "sonstiges": "Sonstiges",
}
#: Duties (ODRL actions) an agreement may impose: recorded and shown, not machine-enforced.
DUTIES: dict[str, str] = {
    "attribute": "Namensnennung der datenhaltenden Organisation",
    "delete": "Löschung der Daten nach Ablauf der Vereinbarung",
    "inform": "Information der datenhaltenden Organisation über die Verwendung",
}
#: Row filter operators: those of the data API (``col=v`` is ``eq``).
FILTER_OPERATORS = ("eq", "in", "gt", "gte", "lt", "lte", "contains", "null")
#: ODRL left operands allmende enforces or records; any other is refused (fail closed).
CONSTRAINT_OPERANDS = ("dateTime", "count", "purpose")
STATES = ("active", "expired", "exhausted", "revoked")
_PURPOSE_CODE = re.compile(r"^[a-z0-9][a-z0-9-]{0,49}$")
MAX_TEXT = 5000
MAX_INT = 2**31 - 1

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Grant:
    """What an agreement allows. ``dataset``: name or UUID; ``assignee``: a user id;
    ``max_count`` None: no limit; ``columns`` None: all; ``row_filter``: [{column, op, value}]
    or None; ``purpose``: a code (see :data:`PURPOSES`); ``duties``: codes of :data:`DUTIES`."""

    dataset: str
    assignee: int
    valid_from: dt.datetime
    valid_until: dt.datetime
    max_count: int | None = None
    columns: tuple[str, ...] | None = None
    row_filter: list[dict[str, Any]] | None = None
    purpose: str = "sonstiges"
    purpose_text: str = ""
    duties: tuple[str, ...] = ("attribute", "delete")
    request_id: int | None = None


@dataclass(frozen=True)
class AgreementRecord:
    """An agreement as both sides see it (``state`` as of now: expired is read from the
    time window)."""

    uid: str
    state: str
    dataset: str
    dataset_uuid: str
    dataset_title: str
    organization: str
    organization_name: str
    assignee_id: int
    assignee_email: str
    assignee_name: str
    valid_from: dt.datetime
    valid_until: dt.datetime
    max_count: int | None
    used_count: int
    columns: tuple[str, ...] | None
    row_filter: list[dict[str, Any]] | None
    purpose: str
    purpose_text: str
    duties: tuple[str, ...]
    request_id: int | None
    created_at: dt.datetime
    last_used_at: dt.datetime | None
    revoked_at: dt.datetime | None
    revoke_reason: str | None

    @property
    def remaining(self) -> int | None:
        return None if self.max_count is None else max(0, self.max_count - self.used_count)

    @property
    def purpose_label(self) -> str:
        return PURPOSES.get(self.purpose, self.purpose)


@dataclass(frozen=True)
class Scope:
    """What one access under an agreement may read: the columns (None: all) and the rows
    (filters added to every query)."""

    agreement: str
    columns: tuple[str, ...] | None
    row_filter: tuple[Mapping[str, Any], ...] = field(default_factory=tuple)
    purpose: str = ""


def effective_state(agreement: Agreement, now: dt.datetime | None = None) -> str:
    """active, expired, exhausted or revoked, as of ``now``."""
    if agreement.state != "active":
        return agreement.state
    if (now or utcnow()) >= agreement.valid_until:
        return "expired"
    return "active"


def record(agreement: Agreement) -> AgreementRecord:
    dataset, assignee = agreement.dataset, agreement.assignee
    return AgreementRecord(
        uid=agreement.uid, state=effective_state(agreement), dataset=dataset.name,
        dataset_uuid=dataset.uuid, dataset_title=dataset.title,
        organization=agreement.organization.slug,
        organization_name=agreement.organization.name, assignee_id=assignee.id,
        assignee_email=assignee.email, assignee_name=assignee.name,
        valid_from=agreement.valid_from, valid_until=agreement.valid_until,
        max_count=agreement.max_count, used_count=agreement.used_count,
        columns=tuple(agreement.columns) if agreement.columns is not None else None,
        row_filter=agreement.row_filter, purpose=agreement.purpose_code,
        purpose_text=agreement.purpose_text, duties=tuple(agreement.duties),
        request_id=agreement.request_id, created_at=agreement.created_at,
        last_used_at=agreement.last_used_at, revoked_at=agreement.revoked_at,
        revoke_reason=agreement.revoke_reason)


# --- Making and ending agreements ------------------------------------------------------------


def grant(session: Session, actor: Actor, terms: Grant) -> AgreementRecord:
    """Make an agreement: only admins of the dataset's organization (or the system) may."""
    dataset = _dataset(session, actor, terms.dataset)
    authorize(actor, Action.MANAGE_AGREEMENTS, dataset.organization_id, refusal=msg(
        "Nutzungsvereinbarungen für „{name}“ schließen nur Admins der Organisation, der der "
        "Datensatz gehört.", name=dataset.name))
    _check_terms(session, dataset, terms)
    agreement = Agreement(
        dataset_id=dataset.id, organization_id=dataset.organization_id,
        assignee_id=terms.assignee, granted_by_id=actor.user_id, request_id=terms.request_id,
        valid_from=terms.valid_from, valid_until=terms.valid_until, max_count=terms.max_count,
        used_count=0, columns=list(terms.columns) if terms.columns is not None else None,
        row_filter=terms.row_filter, purpose_code=terms.purpose,
        purpose_text=terms.purpose_text.strip(), duties=list(terms.duties), state="active")
    session.add(agreement)
    session.flush()
    session.refresh(agreement)
    _logged(session, agreement, "agreement.created", max_count=terms.max_count,
            valid_until=terms.valid_until.isoformat(timespec="seconds"))
    return record(agreement)


def _logged(session: Session, agreement: Agreement, kind: str, **extra: Any) -> None:
    """The agreement's event in the transparency log: the holder only as a pseudonym."""
    transparency_log.append(session, {
        "type": kind, "organization": agreement.organization.slug,
        "dataset": agreement.dataset.uuid, "agreement": agreement.uid,
        "purpose": agreement.purpose_code, "request": agreement.request_id,
        "holder": transparency_log.pseudonym(session, agreement.organization_id,
                                             agreement.assignee_id), **extra})


def revoke(session: Session, actor: Actor, uid: str, reason: str,
           mailer: Mailer) -> AgreementRecord:
    """End an agreement now, with a written reason; it takes effect on the next request. The
    holder is e-mailed the reason (once: only by the revocation that changed the state)."""
    agreement = _visible(session, actor, uid)
    authorize(actor, Action.MANAGE_AGREEMENTS, agreement.organization_id, refusal=msg(
        "Nur Admins der Organisation „{organization}“ können diese Vereinbarung widerrufen.",
        organization=agreement.organization.name))
    reason = (reason or "").strip()
    if not reason:
        raise Invalid(field_errors=[FieldError("reason", msg(
            "Bitte begründen Sie den Widerruf: die Begründung wird der Person angezeigt, die "
            "die Vereinbarung hält."))])
    # a conditional UPDATE: of two admins revoking at once, the second is told the first's
    # reason instead of overwriting it
    revoked = session.execute(update(Agreement).where(
        Agreement.id == agreement.id, Agreement.state != "revoked").values(
        state="revoked", revoked_at=utcnow(), revoked_by_id=actor.user_id,
        revoke_reason=reason[:MAX_TEXT]).execution_options(synchronize_session=False)).rowcount
    session.refresh(agreement)
    if revoked:
        _logged(session, agreement, "agreement.revoked")
        title = agreement.dataset.title
        _mail_holder(session, mailer, agreement, msg(
            "Ihr Datenzugang zu „{dataset}“ ist widerrufen", dataset=title), [
            msg("{organization} hat Ihre Nutzungsvereinbarung {uid} für „{dataset}“ "
                "widerrufen; Sie können die Daten ab sofort nicht mehr abrufen.",
                organization=agreement.organization.name, uid=agreement.uid, dataset=title),
            msg("Begründung:\n{reason}", reason=agreement.revoke_reason or "–")])
    return record(agreement)


# --- The end of an agreement: expiry and e-mails ---------------------------------------------


@dataclass(frozen=True)
class Swept:
    """What one :func:`sweep` did: the uids of the agreements it stored as expired and of
    those whose holder it told that they end soon."""

    expired: tuple[str, ...]
    warned: tuple[str, ...]


def sweep(session: Session, mailer: Mailer, notice: dt.timedelta,
          now: dt.datetime | None = None) -> Swept:
    """The periodic task's work (see :func:`run_lifecycle`): holders of active agreements
    ending within ``notice`` are e-mailed once, and active agreements past their end are
    stored as expired, each with its ``agreement.expired`` event. Both are conditional
    UPDATEs, so sweeps running at once (several workers) mail and log each agreement once.

    An agreement that lasts no longer than ``notice`` gets no such e-mail: its holder knew
    the end when it was made, and the mail would come right after the one announcing it."""
    now = now or utcnow()
    # the rows first, the log last: a read under an agreement takes its row and then the
    # log, so the sweep never waits for an agreement while holding the log
    warned = _loaded(session, _claim_warnings(session, now, notice))
    expired = _expire(session, now)
    for agreement in warned:
        title, end = agreement.dataset.title, _day(agreement.valid_until)
        _mail_holder(session, mailer, agreement, msg(
            "Ihr Datenzugang zu „{dataset}“ endet am {date}", dataset=title, date=end), [
            msg("Ihre Nutzungsvereinbarung {uid} mit {organization} für „{dataset}“ endet am "
                "{date}; danach können Sie die Daten nicht mehr abrufen. Brauchen Sie sie "
                "länger, stellen Sie bitte rechtzeitig einen neuen Datenantrag.",
                uid=agreement.uid, organization=agreement.organization.name, dataset=title,
                date=end)])
    return Swept(tuple(expired), tuple(a.uid for a in warned))


def run_lifecycle(platform: Any) -> Swept:
    """The periodic task "agreement-lifecycle" (see ``allmende.wiring``)."""
    settings = platform.settings
    with platform.db.session() as session:
        swept = sweep(session, Mailer(settings),
                      dt.timedelta(days=settings.agreement_expiry_notice_days))
    if swept.expired or swept.warned:
        log.info("%d Nutzungsvereinbarungen abgelaufen, %d vor ihrem Ende angekündigt",
                 len(swept.expired), len(swept.warned))
    return swept


def _claim_warnings(session: Session, now: dt.datetime, notice: dt.timedelta) -> list[int]:
    """The agreements whose holder is now to be told of the end, marked as told."""
    ending = session.execute(select(Agreement.id, Agreement.valid_from, Agreement.valid_until)
                             .where(Agreement.state == "active",
                                    Agreement.expiry_notified_at.is_(None),
                                    Agreement.valid_until > now,
                                    Agreement.valid_until <= now + notice))
    due = [agreement for agreement, start, end in ending if end - start > notice]
    if not due:
        return []
    # of two sweeps at once, the second finds the mark set (PostgreSQL re-reads the row
    # after the first commits; SQLite runs writers one at a time)
    return list(session.scalars(update(Agreement).where(
        Agreement.id.in_(due), Agreement.state == "active",
        Agreement.expiry_notified_at.is_(None)).values(expiry_notified_at=now)
        .returning(Agreement.id).execution_options(synchronize_session=False)))


def _expire(session: Session, now: dt.datetime, only: Collection[int] | None = None
            ) -> list[str]:
    """Store the active agreements past their end (all, or those of ``only``) as expired and
    log ``agreement.expired`` for each: a conditional UPDATE, so each is expired (and logged)
    once however many callers race. The uids expired."""
    ended = update(Agreement).where(Agreement.state == "active", Agreement.valid_until <= now)
    if only is not None:
        ended = ended.where(Agreement.id.in_(only))
    found = _loaded(session, list(session.scalars(
        ended.values(state="expired").returning(Agreement.id)
        .execution_options(synchronize_session=False))))
    for agreement in found:
        _logged(session, agreement, "agreement.expired",
                valid_until=agreement.valid_until.isoformat(timespec="seconds"))
    return [agreement.uid for agreement in found]


def _loaded(session: Session, ids: Sequence[int]) -> list[Agreement]:
    if not ids:
        return []
    return list(session.scalars(select(Agreement).where(Agreement.id.in_(ids))
                                .order_by(Agreement.id)
                                .execution_options(populate_existing=True)))


def record_refusal(session: Session, error: BaseException, *, agreement: str) -> None:
    """A read its agreement refused, recorded after the reader's unit of work rolled back
    (``db.session.on_failure``, set by :func:`consume` for a read the agreement no longer
    allows and by ``tables.service.readable_version`` for one going beyond it: a column it
    withholds, a row filter the table cannot apply): an agreement found past its end is stored
    as expired (its event at the first refusal rather than at the next sweep), and the refusal
    is an ``access.refused`` event. Refusals of people who never held an agreement are only in
    the operators' log: anyone signed in could fill the public log with them."""
    if not isinstance(error, Forbidden):
        return
    found = session.scalar(select(Agreement).where(Agreement.uid == agreement))
    if found is not None:
        _expire(session, utcnow(), [found.id])
        _logged(session, found, "access.refused", reason=error.code)


def _mail_holder(session: Session, mailer: Mailer, agreement: Agreement, subject: Message,
                 news: list[Message]) -> None:
    """E-mail the holder ``news`` about the agreement, in the language of the data request
    it came from (German for one made directly), with a link to their agreements."""
    request = session.get(DataRequest, agreement.request_id) \
        if agreement.request_id is not None else None
    paragraphs: list[Message | str] = [subject, *news]
    if "delete" in agreement.duties:
        paragraphs.append(msg("Mit dem Ende der Vereinbarung löschen Sie bitte, wie "
                              "vereinbart, die erhaltenen Daten."))
    if request is not None:
        paragraphs.append(msg("Die Vereinbarung beruht auf Ihrem Datenantrag {id}: {link}",
                              id=request.id, link=mailer.link(f"/requests/{request.id}")))
    paragraphs += [msg("Ihre Vereinbarungen: {link}",
                       link=mailer.link(f"/account/agreements#a-{agreement.uid}")),
                   "– allmende"]
    mailer.after_commit(session, localized(
        (agreement.assignee.email,), subject, joined(paragraphs, "\n\n"),
        request.language if request is not None else "de"))


def agreements_of(session: Session, actor: Actor, role: str = "all") -> list[AgreementRecord]:
    """The actor's agreements: those they hold (``role="holder"``), those of organizations
    they administer (``"owner"``), or both (``"all"``); newest first."""
    _signed_in(actor)
    if role not in ("all", "holder", "owner"):
        raise Invalid(field_errors=[FieldError("role", msg(
            "Erlaubt: holder, owner oder all."))])
    held = Agreement.assignee_id == actor.user_id
    administered = _administered(actor)
    condition = {"holder": held, "owner": administered, "all": or_(held, administered)}[role]
    found = session.scalars(select(Agreement).where(condition).order_by(Agreement.id.desc()))
    return [record(a) for a in found]


def get_agreement(session: Session, actor: Actor, uid: str) -> AgreementRecord:
    """One agreement, for its holder and the owning organization's admins."""
    return record(_visible(session, actor, uid))


def held_dataset_ids(session: Session, actor: Actor) -> set[int]:
    """Datasets the actor may read under an agreement now (for listings such as OGC's
    collections; every read still goes through :func:`consume`)."""
    if not actor.is_authenticated:
        return set()
    now = utcnow()
    return set(session.scalars(select(Agreement.dataset_id).where(
        Agreement.assignee_id == actor.user_id, Agreement.state == "active",
        Agreement.valid_from <= now, Agreement.valid_until > now)))


@dataclass(frozen=True)
class Standing:
    """Where the actor stands with a restricted dataset. ``refusal`` None: ``agreement`` is the
    one their next read would use. Otherwise ``refusal`` is the message that read would be
    refused with, and ``agreement`` their newest one (None: they never held one)."""

    agreement: AgreementRecord | None
    refusal: Message | None


def standing(session: Session, actor: Actor, dataset: Dataset) -> Standing:
    """What :func:`consume` would decide, without counting an access: for pages that show a
    holder their agreement and what it releases (looking is no reading)."""
    now = utcnow()
    held = list(session.scalars(select(Agreement).where(
        Agreement.dataset_id == dataset.id, Agreement.assignee_id == actor.user_id)
        .order_by(Agreement.id.desc()))) if actor.is_authenticated else []
    # consume's choice: the newest agreement in force (an exhausted one has its state set)
    usable = next((a for a in held if effective_state(a, now) == "active"
                   and a.valid_from <= now), None)
    if usable is not None:
        return Standing(record(usable), None)
    newest = held[0] if held else None
    return Standing(record(newest) if newest else None,
                    _refusal(dataset, newest, now).message)


def _administered(actor: Actor) -> Any:
    if actor.is_sysadmin:
        return Agreement.id.is_not(None)
    admin_of = visibility(actor).admin_organization_ids
    return Agreement.organization_id.in_(admin_of) if admin_of else Agreement.id.is_(None)


def _signed_in(actor: Actor) -> None:
    """Agreements concern accounts: the caller is one, or the system (a sysadmin actor)."""
    authorize(actor, Action.READ_AGREEMENTS)


def _visible(session: Session, actor: Actor, uid: str) -> Agreement:
    _signed_in(actor)
    agreement = session.scalar(select(Agreement).where(Agreement.uid == uid))
    if agreement is None or not (
            agreement.assignee_id == actor.user_id or actor.is_sysadmin
            or actor.role_in(agreement.organization_id) == "admin"):
        # whether someone else holds an agreement is not to be disclosed
        raise NotFound(msg("Die Vereinbarung „{uid}“ gibt es nicht.", uid=uid),
                       "agreement_not_found")
    return agreement


def _dataset(session: Session, actor: Actor, name_or_uuid: str) -> Dataset:
    dataset = session.scalar(select(Dataset).where(
        or_(Dataset.name == name_or_uuid, Dataset.uuid == name_or_uuid)))
    if dataset is None or dataset.deleted_at is not None or not visibility(actor).sees(dataset):
        raise NotFound(msg("Den Datensatz „{name}“ gibt es nicht.", name=name_or_uuid),
                       "dataset_not_found")
    return dataset


def _check_terms(session: Session, dataset: Dataset, terms: Grant) -> None:
    """Every term is one allmende enforces (or records): anything else is refused."""
    errors: list[FieldError] = []
    if dataset.access_level != "restricted":
        errors.append(FieldError("dataset", msg(
            "Vereinbarungen gibt es nur für eingeschränkte Datensätze; „{name}“ ist es nicht.",
            name=dataset.name)))
    assignee = session.get(User, terms.assignee)
    if assignee is None or not assignee.is_active:
        errors.append(FieldError("assignee", msg("Dieses Konto gibt es nicht.")))
    if terms.valid_from.tzinfo is None or terms.valid_until.tzinfo is None:
        errors.append(FieldError("valid_until", msg("Zeitpunkte brauchen eine Zeitzone.")))
    elif terms.valid_until <= terms.valid_from:
        errors.append(FieldError("valid_until", msg(
            "Das Ende muss nach dem Beginn liegen.")))
    if terms.max_count is not None and not 1 <= terms.max_count <= MAX_INT:
        errors.append(FieldError("max_count", msg(
            "Zwischen 1 und {maximum} Zugriffe, oder keine Grenze.", maximum=MAX_INT)))
    if not _PURPOSE_CODE.match(terms.purpose or ""):
        errors.append(FieldError("purpose", msg(
            "Unbekannter Zweck; erlaubt: {allowed}.", allowed=", ".join(PURPOSES))))
    errors += [FieldError("duties", msg("Unbekannte Pflicht „{duty}“; erlaubt: {allowed}.",
                                        duty=d, allowed=", ".join(DUTIES)))
               for d in terms.duties if d not in DUTIES]
    if len(terms.purpose_text) > MAX_TEXT:
        errors.append(FieldError("purpose_text", msg("Höchstens {n} Zeichen.", n=MAX_TEXT)))
    errors += _column_errors(dataset, terms)
    if errors:
        raise Invalid(field_errors=errors)


def _column_errors(dataset: Dataset, terms: Grant) -> list[FieldError]:
    known = {c["name"]: c["type"] for r in dataset.resources if r.current is not None
             for c in r.current.columns}
    named = list(terms.columns or ())
    errors: list[FieldError] = []
    if terms.columns is not None and not terms.columns:
        errors.append(FieldError("columns", msg("Mindestens eine Spalte, oder alle.")))
    for position, item in enumerate(terms.row_filter or ()):
        where = f"row_filter.{position}"
        if not isinstance(item, Mapping) or set(item) - {"column", "op", "value"} \
                or not isinstance(item.get("column"), str):
            errors.append(FieldError(where, msg(
                "Ein Zeilenfilter ist {{column, op, value}}.")))
            continue
        if item.get("op", "eq") not in FILTER_OPERATORS:
            errors.append(FieldError(where, msg(
                "Unbekannter Vergleich „{op}“; erlaubt: {allowed}.", op=str(item.get("op")),
                allowed=", ".join(FILTER_OPERATORS))))
        named.append(item["column"])
        errors += _value_errors(item, known.get(item["column"]), where)
        if terms.columns is not None and item["column"] not in terms.columns:
            errors.append(FieldError(where, msg(
                "Der Zeilenfilter darf nur vereinbarte Spalten nennen; „{name}“ fehlt in "
                "columns.", name=item["column"])))
    if known:
        errors += [FieldError("columns", msg(
            "Die Spalte „{name}“ gibt es in den Tabellen von „{dataset}“ nicht.", name=name,
            dataset=dataset.name)) for name in dict.fromkeys(named) if name not in known]
    return errors


def _value_errors(item: Mapping[str, Any], column_type: str | None, where: str
                  ) -> list[FieldError]:
    """The filter's value must be one the data API accepts for the column."""
    if column_type is None or item.get("op", "eq") not in FILTER_OPERATORS:
        return []
    try:
        typed_filter(Column(item["column"], column_type), item.get("op", "eq"),
                     filter_text(item.get("value")), where)
    except ValueProblem as problem:
        return [FieldError(where, problem.message)]
    return []


def filter_text(value: Any) -> str:
    """A filter value as the data API's parameter text (lists: comma-separated)."""
    if isinstance(value, list | tuple):
        return ",".join(str(v) for v in value)
    if isinstance(value, bool):
        return "true" if value else "false"
    return "" if value is None else str(value)


# --- Enforcing them ---------------------------------------------------------------------------


def consume(session: Session, actor: Actor, dataset: Dataset) -> Scope:
    """One access to a restricted dataset under the actor's agreement: counted, or refused
    with 403 saying why (none, not yet valid, expired, used up, revoked).

    One conditional UPDATE both checks and counts (on the newest usable agreement), so that
    parallel requests never count past ``max_count``: PostgreSQL re-checks the condition
    after a concurrent update of the row, SQLite runs writers one at a time. The refusal of
    someone who holds or held an agreement is recorded, see :func:`record_refusal`."""
    now = utcnow()
    counted = session.execute(_counting_update(), {
        "for_dataset": dataset.id, "for_assignee": actor.user_id, "now": now}).first()
    if counted is None:
        newest = session.scalars(select(Agreement).where(
            Agreement.dataset_id == dataset.id, Agreement.assignee_id == actor.user_id)
            .order_by(Agreement.id.desc()).limit(1)).first()
        if newest is not None:
            on_failure(session, partial(record_refusal, agreement=newest.uid))
        raise _refusal(dataset, newest, now)
    uid, columns, row_filter, purpose, state = counted
    if state == "exhausted":  # this access used the last one
        _logged(session, _visible(session, actor, uid), "agreement.exhausted")
    return Scope(uid, tuple(columns) if columns is not None else None, tuple(row_filter or ()),
                 purpose)


@cache
def _counting_update() -> Any:
    """The check-and-count statement, built once (building it cost more than running it)."""
    table = Agreement.__table__
    c = table.c
    now = bindparam("now", type_=Agreement.valid_from.type)
    has_count_left = or_(c.max_count.is_(None), c.used_count < c.max_count)
    usable = (select(c.id).where(
        c.dataset_id == bindparam("for_dataset"), c.assignee_id == bindparam("for_assignee"),
        c.state == "active", c.valid_from <= now, c.valid_until > now, has_count_left)
        .order_by(c.id.desc()).limit(1).scalar_subquery())
    return (update(table)
            .where(c.id == usable, c.state == "active", has_count_left)
            .values(used_count=c.used_count + 1, last_used_at=now,
                    state=case((and_(c.max_count.is_not(None),
                                     c.used_count + 1 >= c.max_count), "exhausted"),
                               else_="active"))
            .returning(c.uid, c.columns, c.row_filter, c.purpose_code, c.state))


def _refusal(dataset: Dataset, agreement: Agreement | None, now: dt.datetime) -> Forbidden:
    if agreement is None:
        return Forbidden(msg(
            "Die Zeilen von „{name}“ sind eingeschränkt: lesen dürfen sie nur die Organisation "
            "und Personen mit einer Nutzungsvereinbarung. Stellen Sie dafür einen Datenantrag.",
            name=dataset.name), "agreement_required")
    uid = agreement.uid
    if agreement.state == "revoked":
        return Forbidden(msg(
            "Ihre Vereinbarung {uid} für „{name}“ wurde am {date} widerrufen: {reason}",
            uid=uid, name=dataset.name, date=_day(agreement.revoked_at),
            reason=agreement.revoke_reason or ""), "agreement_revoked")
    if agreement.state == "exhausted":
        return Forbidden(msg(
            "Ihre Vereinbarung {uid} für „{name}“ erlaubte {count} Zugriffe; sie sind "
            "verbraucht.", uid=uid, name=dataset.name, count=agreement.max_count or 0),
            "agreement_exhausted")
    if now < agreement.valid_from:
        return Forbidden(msg("Ihre Vereinbarung {uid} für „{name}“ gilt erst ab {date}.",
                             uid=uid, name=dataset.name, date=_day(agreement.valid_from)),
                         "agreement_not_yet_valid")
    return Forbidden(msg("Ihre Vereinbarung {uid} für „{name}“ ist am {date} abgelaufen.",
                         uid=uid, name=dataset.name, date=_day(agreement.valid_until)),
                     "agreement_expired")


def _day(moment: dt.datetime | None) -> str:
    return moment.astimezone(dt.UTC).strftime("%Y-%m-%d %H:%M UTC") if moment else "–"


# --- ODRL 2.2 -------------------------------------------------------------------------------

ODRL_CONTEXT = "http://www.w3.org/ns/odrl.jsonld"


def odrl(agreement: AgreementRecord, base_url: str) -> dict[str, Any]:
    """The agreement as a W3C ODRL 2.2 Agreement in JSON-LD."""
    base = base_url.rstrip("/")
    target = f"{base}/datasets/{agreement.dataset}"
    window = [_constraint("dateTime", "gteq", _when(agreement.valid_from), "xsd:dateTime"),
              _constraint("dateTime", "lt", _when(agreement.valid_until), "xsd:dateTime")]
    constraints = [*window, _constraint("purpose", "eq", agreement.purpose)]
    if agreement.max_count is not None:
        constraints.append(_constraint("count", "lteq", agreement.max_count, "xsd:integer"))
    duties = [_duty(code, agreement, target) for code in agreement.duties]
    asset: dict[str, Any] = {"@type": "Asset", "uid": target,
                             "allmende:dataset": f"urn:uuid:{agreement.dataset_uuid}"}
    if agreement.columns is not None:
        asset["allmende:columns"] = list(agreement.columns)
    if agreement.row_filter:
        asset["allmende:rowFilter"] = agreement.row_filter
    return {
        "@context": [ODRL_CONTEXT, {"allmende": f"{base}/ns/agreements#",
                                    "xsd": "http://www.w3.org/2001/XMLSchema#"}],
        "@type": "Agreement",
        "uid": f"{base}/api/v1/agreements/{agreement.uid}",
        "profile": f"{base}/ns/agreements",
        "assigner": {"@type": "Party", "uid": f"{base}/organizations/{agreement.organization}",
                     "allmende:name": agreement.organization_name},
        "assignee": {"@type": "Party", "uid": f"mailto:{agreement.assignee_email}"},
        "target": asset,
        "permission": [{"target": target, "action": "use", "constraint": constraints,
                        "duty": duties}],
        "prohibition": [{"target": target, "action": "distribute"}],
        "allmende:purposeText": agreement.purpose_text,
        "allmende:state": agreement.state,
    }


def _constraint(operand: str, operator: str, value: Any, datatype: str | None = None
                ) -> dict[str, Any]:
    right = {"@value": value, "@type": datatype} if datatype else value
    return {"leftOperand": operand, "operator": operator, "rightOperand": right}


def _duty(code: str, agreement: AgreementRecord, target: str) -> dict[str, Any]:
    duty: dict[str, Any] = {"action": code, "target": target,
                            "allmende:label": DUTIES.get(code, code)}
    if code == "delete":
        duty["constraint"] = [_constraint("dateTime", "gteq", _when(agreement.valid_until),
                                          "xsd:dateTime")]
    if code == "attribute":
        duty["allmende:attribution"] = agreement.organization_name
    return duty


def _when(moment: dt.datetime) -> str:
    return moment.astimezone(dt.UTC).isoformat().replace("+00:00", "Z")


def grant_from_odrl(document: Mapping[str, Any], assignee: int, dataset: str,
                    request_id: int | None = None) -> Grant:
    """The terms of an ODRL offer or agreement, refused (422 naming each) when it holds any
    rule allmende does not enforce or record: another action than ``use``, a constraint on
    another operand than dateTime, count or purpose, an unknown duty, another prohibition than
    ``distribute``, or a permission without an end."""
    errors: list[FieldError] = []
    permissions = _list(document.get("permission"))
    if len(permissions) != 1 or not isinstance(permissions[0], Mapping):
        raise Invalid(field_errors=[FieldError("permission", msg(
            "Genau eine Erlaubnis „use“ wird erwartet."))])
    permission = permissions[0]
    unknown = _unknown_keys(document, DOCUMENT_KEYS)
    if unknown:
        errors.append(FieldError("policy", msg("Unbekannte Angaben in der Vereinbarung: "
                                               "{keys}.", keys=unknown)))
    unknown = _unknown_keys(permission, RULE_KEYS)
    if unknown:
        errors.append(FieldError("permission", msg("Unbekannte Angaben in der Erlaubnis: "
                                                   "{keys}.", keys=unknown)))
    if _action(permission) != "use":
        errors.append(FieldError("permission.action", msg(
            "Nur die Handlung „use“ wird vereinbart, nicht „{action}“.",
            action=str(_action(permission)))))
    window: dict[str, dt.datetime] = {}
    terms: dict[str, Any] = {"max_count": None, "purpose": None}
    for position, item in enumerate(_list(permission.get("constraint"))):
        errors += _read_constraint(item, f"permission.constraint.{position}", window, terms)
    duties = []
    for position, item in enumerate(_list(permission.get("duty"))):
        code = _action(item) if isinstance(item, Mapping) else None
        if code not in DUTIES or _unknown_keys(item, RULE_KEYS) or any(
                _term(c.get("leftOperand") if isinstance(c, Mapping) else c) != "dateTime"
                for c in _list(item.get("constraint"))):
            # a duty is shown, not enforced: only its action and the agreement's end are read
            errors.append(FieldError(f"permission.duty.{position}", msg(
                "Unbekannte Pflicht „{duty}“ oder Bedingung daran; erlaubt: {allowed}, "
                "bedingt höchstens durch dateTime.", duty=str(code),
                allowed=", ".join(DUTIES))))
        else:
            duties.append(code)
    for position, item in enumerate(_list(document.get("prohibition"))):
        if not isinstance(item, Mapping) or _action(item) != "distribute" \
                or item.get("constraint") or _unknown_keys(item, RULE_KEYS):
            errors.append(FieldError(f"prohibition.{position}", msg(
                "Nur das Verbot „distribute“ wird vereinbart.")))
    if document.get("obligation"):
        errors.append(FieldError("obligation", msg("Eigenständige Pflichten werden nicht "
                                                   "vereinbart; nennen Sie sie als duty.")))
    if "gteq" not in window or "lt" not in window:
        errors.append(FieldError("permission.constraint", msg(
            "Beginn (dateTime gteq) und Ende (dateTime lt) sind nötig.")))
    if terms["purpose"] is None:
        errors.append(FieldError("permission.constraint", msg(
            "Ein Zweck (purpose eq) ist nötig.")))
    if errors:
        raise Invalid(msg("Die Vereinbarung enthält Regeln, die allmende nicht durchsetzt."),
                      errors)
    target = document.get("target")
    columns = target.get("allmende:columns") if isinstance(target, Mapping) else None
    row_filter = target.get("allmende:rowFilter") if isinstance(target, Mapping) else None
    if columns is not None and not (isinstance(columns, list)
                                    and all(isinstance(c, str) for c in columns)):
        errors.append(FieldError("target.allmende:columns", msg("Eine Liste von Spaltennamen.")))
    if row_filter is not None and not isinstance(row_filter, list):
        errors.append(FieldError("target.allmende:rowFilter", msg(
            "Eine Liste von {{column, op, value}}.")))
    if errors:
        raise Invalid(msg("Die Vereinbarung enthält Regeln, die allmende nicht durchsetzt."),
                      errors)
    return Grant(dataset=dataset, assignee=assignee, valid_from=window["gteq"],
                 valid_until=window["lt"], max_count=terms["max_count"],
                 columns=tuple(columns) if columns is not None else None,
                 row_filter=row_filter, purpose=terms["purpose"],
                 purpose_text=str(document.get("allmende:purposeText", "")),
                 duties=tuple(duties), request_id=request_id)


def grant_odrl(session: Session, actor: Actor, document: Mapping[str, Any]) -> AgreementRecord:
    """Make an agreement from an ODRL document: the target names the dataset (its page URL,
    or ``allmende:dataset`` as ``urn:uuid:…``), the assignee a user as ``mailto:``."""
    target = document.get("target")
    target = target if isinstance(target, Mapping) else {"uid": target}
    dataset = str(target.get("allmende:dataset") or target.get("uid") or "")
    dataset = dataset.removeprefix("urn:uuid:").rstrip("/").rsplit("/", 1)[-1]
    assignee = document.get("assignee")
    party = assignee.get("uid") if isinstance(assignee, Mapping) else assignee
    email = str(party or "").removeprefix("mailto:")
    user = session.scalar(select(User).where(User.email == email.strip().lower()))
    if user is None:
        raise Invalid(field_errors=[FieldError("assignee", msg(
            "Die Vertragspartei muss ein Konto sein, als mailto:E-Mail-Adresse angegeben."))])
    request_id = document.get("allmende:request")
    return grant(session, actor, grant_from_odrl(
        document, user.id, dataset,
        request_id if isinstance(request_id, int) and 0 < request_id <= MAX_INT else None))


#: What an ODRL document and its rules may hold; anything else is refused (fail closed).
DOCUMENT_KEYS = {"@context", "@type", "@id", "uid", "profile", "assigner", "assignee", "target",
                 "permission", "prohibition", "obligation"}
RULE_KEYS = {"@type", "uid", "action", "target", "assigner", "assignee", "constraint", "duty"}


def _read_constraint(item: Any, where: str, window: dict[str, dt.datetime],
                     terms: dict[str, Any]) -> list[FieldError]:
    if not isinstance(item, Mapping):
        return [FieldError(where, msg("Eine Bedingung ist ein Objekt."))]
    operand, operator = _term(item.get("leftOperand")), _term(item.get("operator"))
    value = item.get("rightOperand")
    value = value.get("@value") if isinstance(value, Mapping) else value
    unknown = _unknown_keys(item, {"leftOperand", "operator", "rightOperand", "@type", "uid"})
    if unknown:
        return [FieldError(where, msg("Unbekannte Angaben in der Bedingung: {keys}.",
                                      keys=unknown))]
    allowed = {"dateTime": ("gteq", "lt"), "count": ("lteq",), "purpose": ("eq",)}
    if operand not in allowed:
        return [FieldError(where, msg(
            "Bedingungen auf „{operand}“ setzt allmende nicht durch; erlaubt: {allowed}.",
            operand=str(operand), allowed=", ".join(CONSTRAINT_OPERANDS)))]
    if operator not in allowed[operand]:
        return [FieldError(where, msg("„{operand}“ erlaubt hier nur {allowed}.",
                                      operand=operand, allowed=", ".join(allowed[operand])))]
    try:
        if operand == "dateTime":
            window[operator] = _datetime(value)
        elif operand == "count":
            terms["max_count"] = _count(value)
        else:
            terms["purpose"] = str(value)
    except (TypeError, ValueError):
        return [FieldError(where, msg("Der Wert „{value}“ passt nicht zu „{operand}“.",
                                      value=str(value), operand=operand))]
    return []


def _datetime(value: Any) -> dt.datetime:
    moment = dt.datetime.fromisoformat(str(value))
    if moment.tzinfo is None:
        raise ValueError("a point in time needs a zone")
    return moment


def _count(value: Any) -> int:
    if isinstance(value, bool) or not (isinstance(value, int) or str(value).isdigit()):
        raise ValueError("not a count")
    return int(value)


def _term(value: Any) -> str:
    """An ODRL term as its short name (``odrl:use`` and the full IRI both read as ``use``);
    anything that is no term (a refined action, a number) reads as its text, which no rule
    accepts."""
    if isinstance(value, Mapping) and set(value) == {"@id"}:
        value = value["@id"]
    if isinstance(value, str):
        return value.rsplit("/", 1)[-1].rsplit("#", 1)[-1].removeprefix("odrl:")
    return repr(value)


def _unknown_keys(rule: Mapping[str, Any], known: set[str]) -> str:
    """The keys of a rule allmende does not read (its own ``allmende:`` notes aside)."""
    return ", ".join(sorted(str(k) for k in rule
                            if k not in known and not str(k).startswith("allmende:")))


def _action(rule: Mapping[str, Any]) -> Any:
    return _term(rule.get("action"))


def _list(value: Any) -> Sequence[Any]:
    if value is None:
        return []
    return value if isinstance(value, list) else [value]
