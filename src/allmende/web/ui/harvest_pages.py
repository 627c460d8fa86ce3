"""Harvesting pages: the sources an administrator manages, a new source, one source with its
runs (queue a run, change the schedule, delete). Thin over allmende.interop.harvest.service."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response
from starlette.datastructures import FormData

from allmende.access.policy import Action, Actor, is_allowed
from allmende.catalog.organizations import list_organizations
from allmende.db.models import Organization
from allmende.errors import Conflict, FieldError, Forbidden, Invalid, msg
from allmende.interop.harvest import service
from allmende.web.deps import ActorDep, SessionDep
from allmende.web.ui import helpers
from allmende.web.ui.common import FormDep, form_refused, gettext_for, login_redirect, redirect
from allmende.web.ui.render import render

router = APIRouter()

TYPE_LABELS = {"ckan": helpers.N_("CKAN portal (Action API)"),
               "dcat": helpers.N_("DCAT-AP catalog (RDF)"),
               "allmende": helpers.N_("allmende node")}
SCHEDULE_LABELS = {"off": helpers.N_("manual runs only"), "hourly": helpers.N_("every hour"),
                   "daily": helpers.N_("every day"), "weekly": helpers.N_("every week")}
FIELD_LABELS = {"name": helpers.N_("Short name"), "type": helpers.N_("Type of source"),
                "url": helpers.N_("Address"), "organization": helpers.N_("Into organization"),
                "schedule": helpers.N_("Schedule"),
                "ingest_resources": helpers.N_("Fetch and read in the files")}
STATUS_LABELS = {"queued": helpers.N_("queued"), "running": helpers.N_("running"),
                 "succeeded": helpers.N_("succeeded"), "failed": helpers.N_("failed")}
TRIGGER_LABELS = {"manual": helpers.N_("by hand"), "schedule": helpers.N_("by schedule"),
                  "cli": helpers.N_("command line")}
#: While a run of the source is queued or running, its page looks again after this long.
REFRESH_SECONDS = 3


def _manageable(session: Any, actor: Actor) -> list[Organization]:
    return [o for o in list_organizations(session)
            if is_allowed(actor, Action.MANAGE_HARVEST, o.id)]


def _source_data(form: FormData, new: bool) -> dict[str, Any]:
    data: dict[str, Any] = {"url": str(form.get("url") or "").strip(),
                            "schedule": str(form.get("schedule") or "off"),
                            "ingest_resources": form.get("ingest_resources") == "1"}
    if new:
        data |= {key: str(form.get(key) or "").strip()
                 for key in ("name", "type", "organization")}
    return data


def _labels(request: Request) -> dict[str, Any]:
    """The pages' labels, and the choices of the form's lists in the page's language."""
    gettext = gettext_for(request)
    return {"type_labels": TYPE_LABELS, "schedule_labels": SCHEDULE_LABELS,
            "status_labels": STATUS_LABELS, "trigger_labels": TRIGGER_LABELS,
            "labels": FIELD_LABELS,
            "type_options": [(code, gettext(text)) for code, text in TYPE_LABELS.items()],
            "schedule_options": [(code, gettext(text))
                                 for code, text in SCHEDULE_LABELS.items()]}


def _sources_page(request: Request, session: Any, actor: Actor, *,
                  values: dict[str, Any] | None = None, errors: Invalid | None = None,
                  status_code: int = 200) -> HTMLResponse:
    organizations = _manageable(session, actor)
    if not organizations:
        raise Forbidden(msg("Sie verwalten keine Organisation, in die geerntet werden kann."))
    return render(request, "harvest_sources.html", {
        "sources": service.list_sources(session, actor), "organizations": organizations,
        "values": values or {"schedule": "daily", "type": "ckan"},
        "errors": helpers.errors_by_field(errors.field_errors) if errors else {},
        "error": errors, **_labels(request),
    }, status_code=status_code, actor=actor)


@router.get("/harvest", response_class=HTMLResponse)
def sources(request: Request, session: SessionDep, actor: ActorDep) -> Response:
    if not actor.is_authenticated:
        return login_redirect(request)
    return _sources_page(request, session, actor)


@router.post("/harvest", response_class=HTMLResponse)
def create(request: Request, form: FormDep, session: SessionDep, actor: ActorDep) -> Response:
    if (refused := form_refused(request, form, actor)) is not None:
        return refused
    data = _source_data(form, new=True)
    try:
        source = service.create_source(session, actor, data)
    except (Invalid, Conflict) as error:
        if isinstance(error, Conflict):
            error = Invalid(field_errors=[FieldError("name", error.message)])
        return _sources_page(request, session, actor, values=data, errors=error,
                             status_code=422)
    return redirect(f"/harvest/{source.name}")


def _source_page(request: Request, session: Any, actor: Actor, name: str, *,
                 values: dict[str, Any] | None = None, errors: Invalid | None = None,
                 status_code: int = 200) -> HTMLResponse:
    source = service.get_source(session, actor, name)
    runs = service.list_runs(session, actor, name, limit=20)
    active = any(run.status in (service.QUEUED, service.RUNNING) for run in runs)
    return render(request, "harvest_source.html", {
        "source": source, "runs": runs, "refresh": REFRESH_SECONDS if active else None,
        "values": values or {"url": source.url, "schedule": source.schedule,
                             "ingest_resources": source.ingest_resources},
        "errors": helpers.errors_by_field(errors.field_errors) if errors else {},
        "error": errors, **_labels(request),
    }, status_code=status_code, actor=actor)


@router.get("/harvest/{name}", response_class=HTMLResponse)
def show(name: str, request: Request, session: SessionDep, actor: ActorDep) -> Response:
    if not actor.is_authenticated:
        return login_redirect(request)
    return _source_page(request, session, actor, name)


@router.post("/harvest/{name}", response_class=HTMLResponse)
def update(name: str, request: Request, form: FormDep, session: SessionDep,
           actor: ActorDep) -> Response:
    if (refused := form_refused(request, form, actor)) is not None:
        return refused
    data = _source_data(form, new=False)
    try:
        service.update_source(session, actor, name, data)
    except Invalid as error:
        return _source_page(request, session, actor, name, values=data, errors=error,
                            status_code=422)
    return redirect(f"/harvest/{name}")


@router.post("/harvest/{name}/runs")
def queue_run(name: str, request: Request, form: FormDep, session: SessionDep,
              actor: ActorDep) -> Response:
    if (refused := form_refused(request, form, actor)) is not None:
        return refused
    service.queue_run(session, actor, name)
    return redirect(f"/harvest/{name}")


@router.post("/harvest/{name}/delete")
def delete(name: str, request: Request, form: FormDep, session: SessionDep,
           actor: ActorDep) -> Response:
    if (refused := form_refused(request, form, actor)) is not None:
        return refused
    service.delete_source(session, actor, name)
    return redirect("/harvest")
