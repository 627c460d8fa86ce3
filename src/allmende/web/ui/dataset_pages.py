"""Dataset page, the create/edit forms, delete, restore and link resources."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response
from starlette.datastructures import FormData

from allmende.access.policy import Action, Actor, authorize, is_allowed
from allmende.catalog import datasets as service
from allmende.catalog.organizations import list_organizations
from allmende.catalog.vocabularies import DEFAULT_LICENSE
from allmende.db.models import Organization
from allmende.errors import Conflict, FieldError, Forbidden, Invalid, Unauthorized, msg
from allmende.interop.ogc import collections as ogc_collections
from allmende.web.deps import ActorDep, SessionDep, check_csrf
from allmende.web.ui import helpers
from allmende.web.ui.agreement_pages import reading_context
from allmende.web.ui.common import FormDep, login_redirect, redirect
from allmende.web.ui.quality import quality_index
from allmende.web.ui.render import render

router = APIRouter()


def _creatable(session: Any, actor: Actor) -> list[Organization]:
    """The organizations the actor may create datasets in."""
    return [o for o in list_organizations(session)
            if is_allowed(actor, Action.CREATE_DATASET, o.id)]


def _form(request: Request, actor: Actor, *, values: dict[str, Any], dataset: Any = None,
          organizations: list[Organization] | None = None, errors: Invalid | None = None,
          status_code: int = 200) -> HTMLResponse:
    return render(request, "dataset_form.html", {
        "dataset": dataset, "values": values, "organizations": organizations or [],
        "errors": helpers.errors_by_field(errors.field_errors) if errors else {},
        "error": errors,
    }, status_code=status_code, actor=actor)


def _require_user(actor: Actor) -> None:
    if not actor.is_authenticated:
        raise Unauthorized()


@router.get("/datasets/new", response_class=HTMLResponse)
def new_form(request: Request, session: SessionDep, actor: ActorDep) -> Response:
    if not actor.is_authenticated:
        return login_redirect(request)
    organizations = _creatable(session, actor)
    if not organizations:
        raise Forbidden(msg("Sie dürfen in keiner Organisation Datensätze anlegen."))
    values = {"license": DEFAULT_LICENSE, "language": "de", "access_level": "public",
              "organization": request.query_params.get("organization", ""), "themes": []}
    return _form(request, actor, values=values, organizations=organizations)


@router.post("/datasets/new", response_class=HTMLResponse)
def create(request: Request, form: FormDep, session: SessionDep, actor: ActorDep) -> Response:
    check_csrf(request, str(form.get("csrf_token") or ""))
    _require_user(actor)
    try:
        dataset = service.create_dataset(session, actor, helpers.dataset_data(form, new=True))
    except (Invalid, Conflict) as error:
        if isinstance(error, Conflict):
            error = Invalid(field_errors=[FieldError("name", error.message)])
        return _form(request, actor, values=helpers.form_values(form),
                     organizations=_creatable(session, actor), errors=error, status_code=422)
    return redirect(f"/datasets/{dataset.name}")


@router.get("/datasets/{name}", response_class=HTMLResponse)
def show(name: str, request: Request, session: SessionDep, actor: ActorDep) -> HTMLResponse:
    dataset = service.get_dataset(session, actor, name)
    return render(request, "dataset.html", {
        "dataset": dataset,
        "history": service.activity(session, actor, name, limit=50),
        "activity_labels": helpers.ACTIVITY_LABELS,
        "can_edit": is_allowed(actor, Action.EDIT_DATASET, dataset),
        "can_delete": is_allowed(actor, Action.DELETE_DATASET, dataset),
        "can_restore": is_allowed(actor, Action.RESTORE_DATASET, dataset),
        "quality": quality_index(session, actor, [dataset]),
        "collections": _collections(dataset, actor),
        **reading_context(session, actor, dataset),
    }, actor=actor)


def _collections(dataset: Any, actor: Actor) -> dict[str, str]:
    """Resource id → its OGC API Features collection, for the tables with geometries whose
    rows the actor may read."""
    if not is_allowed(actor, Action.READ_ROWS, dataset):
        return {}
    tables = [(r.id, r.name) for r in dataset.resources
              if r.current is not None and any(c["type"] == "geometry" for c in r.current.columns)]
    return {resource_id: ids[0]
            for resource_id, ids in ogc_collections.collection_ids(dataset.name, tables).items()}


@router.get("/datasets/{name}/edit", response_class=HTMLResponse)
def edit_form(name: str, request: Request, session: SessionDep, actor: ActorDep) -> Response:
    if not actor.is_authenticated:
        return login_redirect(request)
    dataset = service.get_dataset(session, actor, name)
    authorize(actor, Action.EDIT_DATASET, dataset)
    return _form(request, actor, values=helpers.dataset_values(dataset), dataset=dataset)


@router.post("/datasets/{name}/edit", response_class=HTMLResponse)
def update(name: str, request: Request, form: FormDep, session: SessionDep,
           actor: ActorDep) -> Response:
    check_csrf(request, str(form.get("csrf_token") or ""))
    _require_user(actor)
    try:
        dataset = service.update_dataset(session, actor, name,
                                         helpers.dataset_data(form, new=False))
    except Invalid as error:
        return _form(request, actor, values=helpers.form_values(form),
                     dataset=service.get_dataset(session, actor, name), errors=error,
                     status_code=422)
    return redirect(f"/datasets/{dataset.name}")


def _change_and_show(name: str, request: Request, form: FormData, session: Any, actor: Actor,
                     change: Callable[[Any, Actor, str], object]) -> Response:
    """Delete and restore: check the form, ``change`` the dataset, back to its page."""
    check_csrf(request, str(form.get("csrf_token") or ""))
    change(session, actor, name)
    return redirect(f"/datasets/{name}")


@router.post("/datasets/{name}/delete")
def delete(name: str, request: Request, form: FormDep, session: SessionDep,
           actor: ActorDep) -> Response:
    return _change_and_show(name, request, form, session, actor, service.delete_dataset)


@router.post("/datasets/{name}/restore")
def restore(name: str, request: Request, form: FormDep, session: SessionDep,
            actor: ActorDep) -> Response:
    return _change_and_show(name, request, form, session, actor, service.restore_dataset)


@router.post("/datasets/{name}/resources")
def add_resource(name: str, request: Request, form: FormDep, session: SessionDep,
                 actor: ActorDep) -> Response:
    check_csrf(request, str(form.get("csrf_token") or ""))
    data = {k: str(form.get(k) or "").strip() for k in ("name", "format", "url", "description")}
    service.add_resource(session, actor, name, {**data, "url": data["url"] or None})
    return redirect(f"/datasets/{name}#resources")


@router.post("/datasets/{name}/resources/{resource_id}/delete")
def delete_resource(name: str, resource_id: str, request: Request, form: FormDep,
                    session: SessionDep, actor: ActorDep) -> Response:
    check_csrf(request, str(form.get("csrf_token") or ""))
    service.delete_resource(session, actor, resource_id)
    return redirect(f"/datasets/{name}#resources")
