"""The mapping editor of a file resource: choose a schema, check the suggestion (repeated
column groups turned into rows, then field by field), preview the first mapped rows, save a new
mapping version. Plain forms, so it works without JavaScript; only editors of the resource's
organization reach it."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response
from sqlalchemy.orm import Session

from allmende.access.policy import Action, Actor, authorize
from allmende.catalog.datasets import get_resource
from allmende.db.models import Resource, ResourceMapping
from allmende.errors import Invalid
from allmende.harmonize import service
from allmende.harmonize.mapping import Mapping, parse_mapping
from allmende.ingest.geo import WGS84
from allmende.platform import Platform
from allmende.web.deps import ActorDep, PlatformDep, SessionDep, check_csrf
from allmende.web.ui.common import FormDep, gettext_for, login_redirect, redirect
from allmende.web.ui.ingest_options import CRS_OPTIONS
from allmende.web.ui.mapping_form import error_field, field_rows, groups_form, read_mapping
from allmende.web.ui.render import render

router = APIRouter()


def _editable(session: Session, actor: Actor, resource_id: str) -> Resource:
    resource = get_resource(session, actor, resource_id)
    authorize(actor, Action.EDIT_DATASET, resource.dataset)
    return resource


def _mapped(rules: dict[str, Any]) -> int:
    """How many fields a saved mapping fills."""
    return sum(1 for rule in (rules.get("fields") or {}).values()
               if rule.get("source") or rule.get("constant") is not None)


def _errors(error: Invalid, names: set[str]) -> tuple[dict[str, list[str]], list[str]]:
    """The service's field errors by schema field, and those about the whole mapping."""
    by_field: dict[str, list[str]] = {}
    general = [] if error.field_errors else [error.message]
    for problem in error.field_errors:
        target = error_field(problem.field, names)
        if target:
            by_field.setdefault(target, []).append(problem.message)
        else:
            general.append(f"{problem.field}: {problem.message}")
    return by_field, general


def _page(request: Request, session: Session, actor: Actor, resource: Resource, *,
          schema: dict[str, Any] | None = None, data: dict[str, Any] | None = None,
          raw: Any = None, status_code: int = 200, **extra: Any) -> HTMLResponse:
    """The editor; ``data`` is the mapping shown (its JSON data), ``raw`` the form submitted."""
    versions: list[ResourceMapping] = service.mapping_history(session, actor, resource.id)
    data = data or {}
    context = {
        "resource": resource, "dataset": resource.dataset,
        "schemas": service.list_schemas(session), "schema": schema,
        "columns": service.source_columns(session, actor, resource.id),
        "mapping_versions": [(m, _mapped(m.rules)) for m in versions[::-1]],
        "rows": field_rows(schema, data.get("fields") or {}, raw) if schema else [],
        "groups": groups_form(data.get("groups"), raw),
        "field_errors": {}, "general_errors": [], "preview": None, "suggested": False,
        "has_report": service.find_report(session, actor, resource.id) is not None,
        "saved": request.query_params.get("saved"),
        "crs_choices": [(code, text) for code, text in CRS_OPTIONS if code not in ("auto", WGS84)],
        **extra,
    }
    return render(request, "mapping.html", context, status_code=status_code, actor=actor)


def _initial(platform: Platform, session: Session, actor: Actor, resource: Resource,
             request: Request) -> tuple[Mapping | None, bool]:
    """The mapping to show: a saved version asked for, the latest saved one for its schema,
    or a suggestion for the chosen schema (then True)."""
    params = request.query_params
    saved = service.find_mapping(session, actor, resource.id)
    asked = params.get("mapping_version", "")
    if asked.isdigit():
        chosen = next((m for m in service.mapping_history(session, actor, resource.id)
                       if m.version == int(asked)), None)
        if chosen is not None:
            return parse_mapping(chosen.rules), False
    schema_name = params.get("schema") or (saved.schema_name if saved else "") or \
        service.best_schema(platform, session, actor, resource.id) or ""
    if not schema_name:
        return None, False
    if saved and saved.schema_name == schema_name and not params.get("suggest"):
        return parse_mapping(saved.rules), False
    return service.suggest(platform, session, actor, resource.id, schema_name), True


@router.get("/resources/{resource_id}/mapping", response_class=HTMLResponse)
def editor(resource_id: str, request: Request, session: SessionDep, actor: ActorDep,
           platform: PlatformDep) -> Response:
    if not actor.is_authenticated:
        return login_redirect(request)
    resource = _editable(session, actor, resource_id)
    if not resource.current_version:
        return _page(request, session, actor, resource)
    mapping, suggested = _initial(platform, session, actor, resource, request)
    if mapping is None:
        return _page(request, session, actor, resource)
    schema = service.get_schema(session, mapping.schema_name)
    return _page(request, session, actor, resource, schema=schema,
                 data=mapping.model_dump(mode="json", exclude_none=True), suggested=suggested)


@router.post("/resources/{resource_id}/mapping", response_class=HTMLResponse)
def submit(resource_id: str, request: Request, form: FormDep, session: SessionDep,
           actor: ActorDep, platform: PlatformDep) -> Response:
    """``action=preview`` shows the first mapped rows; ``action=save`` stores a new version."""
    check_csrf(request, str(form.get("csrf_token") or ""))
    resource = _editable(session, actor, resource_id)
    schema = service.get_schema(session, str(form.get("schema_name") or ""))
    data, problems = read_mapping(form, schema, gettext_for(request))
    names = {f["name"] for f in schema["fields"]}
    try:
        if problems:
            raise Invalid(field_errors=problems)
        mapping = parse_mapping(data)
        if form.get("action") == "save":
            saved = service.save_mapping(platform, session, actor, resource.id, mapping)
            return redirect(f"/resources/{resource.id}/mapping?saved={saved.version}")
        shown = service.preview(platform, session, actor, resource.id, mapping)
    except Invalid as error:
        by_field, general = _errors(error, names)
        return _page(request, session, actor, resource, schema=schema, data=data, raw=form,
                     status_code=422, field_errors=by_field, general_errors=general)
    return _page(request, session, actor, resource, schema=schema, data=data, raw=form,
                 preview=_preview_table(shown, data["fields"]))


def _preview_table(shown: service.Preview, rules: dict[str, Any]) -> dict[str, Any]:
    """The preview as the template shows it: only mapped fields; per row its source row (and
    group) and its failed cells."""
    fields = [f for f in shown.fields
              if (rules.get(f) or {}).get("source") or (rules.get(f) or {}).get("constant")]
    failed: dict[tuple[int, int | None, str], str] = {}
    for error in shown.errors:
        failed.setdefault((error["row"], error["group"], error["field"]), error["message"])
    rows = [{"row": row, "group": group,
             "cells": [(values[f], failed.get((row, group, f))) for f in fields]}
            for values, (row, group) in zip(shown.rows, shown.positions, strict=True)]
    return {"fields": fields, "rows": rows, "groups": shown.groups, "errors": shown.errors,
            "counts": shown.error_counts}
