"""The transparency log's public pages: ``/log`` (what the log is, its latest checkpoint, how
to verify it) and the events of an organization or a dataset. The lists leave out events of
datasets whose metadata the reader may not see (``transparency.log.events_of``)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse

from allmende.catalog import records
from allmende.catalog.organizations import get_organization
from allmende.transparency import checkpoints, log
from allmende.web.deps import ActorDep, PlatformDep, SessionDep
from allmende.web.ui.helpers import N_
from allmende.web.ui.render import render

router = APIRouter()
PER_PAGE = 50

#: What each kind of event is called on the pages (unknown kinds show their code).
EVENT_TYPES = {
    "request.submitted": N_("Data request submitted"),
    "request.decided": N_("Data request decided"),
    "request.needs_info": N_("Data request: information asked for"),
    "request.answered": N_("Data request: information given"),
    "request.withdrawn": N_("Data request withdrawn"),
    "agreement.created": N_("Agreement concluded"),
    "agreement.expired": N_("Agreement expired"),
    "agreement.exhausted": N_("Agreement used up"),
    "agreement.revoked": N_("Agreement revoked"),
    "access.rows": N_("Rows read"),
    "access.refused": N_("Access refused"),
    "privacy.decision": N_("Personal data decision"),
}
#: Fields every event has, shown in columns of their own rather than among the details.
SHOWN_APART = ("type", "time", "organization", "dataset")
#: What the details of a read are called on the pages (other fields show their key).
FIELD_LABELS = {
    "rows": N_("Rows"),
    "interface": N_("Interface"),
    "reader": N_("Reader (pseudonym)"),
    "reader_organization": N_("Reader's organizations"),
    "sysadmin": N_("System administrator"),
    "agreement": N_("Agreement"),
    "purpose": N_("Purpose"),
    "resource": N_("Resource"),
    "version": N_("Version"),
    "request": N_("Request"),
    "legal_basis": N_("Legal basis"),
    "requester": N_("Requester (pseudonym)"),
    "decision": N_("Decision"),
    "holder": N_("Holder (pseudonym)"),
    "max_count": N_("Accesses allowed"),
    "valid_until": N_("Valid until"),
    "reason": N_("Reason"),
    "published_version": N_("Published version"),
    "columns": N_("Columns"),
    "actor": N_("Decided by (pseudonym)"),
}


@router.get("/log", response_class=HTMLResponse)
def log_page(request: Request, session: SessionDep, actor: ActorDep, platform: PlatformDep,
             before: int | None = Query(None, ge=0)) -> HTMLResponse:
    latest = checkpoints.latest(session, platform.settings)
    events = log.events_of(session, actor, before=before, limit=PER_PAGE)
    return render(request, "log.html", {
        "checkpoint": latest, "root": latest.note.split("\n")[2],
        "key": checkpoints.signer_for(platform.settings).verifier,
        "base_url": platform.settings.base_url.rstrip("/"), "dataset": None,
        **_listing(events)}, actor=actor)


@router.get("/organizations/{slug}/log", response_class=HTMLResponse)
def organization_log(slug: str, request: Request, session: SessionDep, actor: ActorDep,
                     before: int | None = Query(None, ge=0)) -> HTMLResponse:
    organization = get_organization(session, slug)
    events = log.events_of(session, actor, organization=slug, before=before, limit=PER_PAGE)
    return render(request, "log_events.html", {
        "organization": organization, "dataset": None, **_listing(events)}, actor=actor)


@router.get("/datasets/{name}/log", response_class=HTMLResponse)
def dataset_log(name: str, request: Request, session: SessionDep, actor: ActorDep,
                before: int | None = Query(None, ge=0)) -> HTMLResponse:
    dataset = records.dataset_record(session, actor, name)
    events = log.events_of(session, actor, dataset=dataset.uuid, before=before,
                           limit=PER_PAGE)
    return render(request, "log_events.html", {
        "organization": dataset.organization, "dataset": dataset, **_listing(events)},
        actor=actor)


def _listing(events: log.Events) -> dict[str, Any]:
    rows = []
    for entry in events.entries:
        event = entry.event
        rows.append({
            "index": entry.index, "time": event.get("time", ""),
            "type": EVENT_TYPES.get(event["type"]), "code": event["type"],
            "dataset": events.datasets.get(event.get("dataset") or ""),
            "details": [(key, FIELD_LABELS.get(key), _shown(value))
                        for key, value in sorted(event.items()) if key not in SHOWN_APART],
        })
    return {"events": rows, "before": events.before}


def _shown(value: Any) -> Any:
    """A list (a reader's organizations) as text; other values as they are."""
    return ", ".join(map(str, value)) if isinstance(value, list) else value
