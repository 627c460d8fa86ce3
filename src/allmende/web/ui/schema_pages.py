"""The shared schemas: a list, one page per schema with its fields documented, and the
sysadmins' form to add a schema from Table Schema JSON."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response
from markupsafe import Markup, escape
from sqlalchemy.orm import Session
from starlette.datastructures import FormData, UploadFile

from allmende.access.policy import SCHEMAS_REFUSAL, Action, Actor, authorize, is_allowed
from allmende.errors import Conflict, FieldError, Invalid, NotFound
from allmende.harmonize import service
from allmende.web.deps import ActorDep, SessionDep, check_csrf
from allmende.web.i18n import USER_CONTENT
from allmende.web.ui.common import FormDep, gettext_for, redirect
from allmende.web.ui.helpers import errors_by_field
from allmende.web.ui.render import render

router = APIRouter()
MAX_SCHEMA_BYTES = 1 << 20


def _list(request: Request, session: Session, actor: Actor, *, error: Invalid | None = None,
          text: str = "", status_code: int = 200) -> HTMLResponse:
    regional = {c.schema_name for c in service.list_consolidations(session, actor)}
    errors = errors_by_field(error.field_errors) if error else {}
    return render(request, "schemas.html", {
        "schemas": service.list_schemas(session), "regional": regional, "error": error,
        "errors": errors, "text": text,
        "can_add": is_allowed(actor, Action.MANAGE_SCHEMAS),
        # every problem is in the uploaded JSON: the links lead to the upload field
        "error_targets": dict.fromkeys(errors, "file"),
    }, status_code=status_code, actor=actor)


@router.get("/schemas", response_class=HTMLResponse)
def schemas(request: Request, session: SessionDep, actor: ActorDep) -> HTMLResponse:
    return _list(request, session, actor)


async def _descriptor_text(form: FormData) -> str:
    """The uploaded file, else the pasted text."""
    upload = form.get("file")
    if isinstance(upload, UploadFile) and upload.filename:
        return (await upload.read(MAX_SCHEMA_BYTES)).decode("utf-8-sig", errors="replace")
    return str(form.get("text") or "")


@router.post("/schemas", response_class=HTMLResponse)
async def add(request: Request, form: FormDep, actor: ActorDep,
              session: SessionDep) -> Response:
    check_csrf(request, str(form.get("csrf_token") or ""))
    authorize(actor, Action.MANAGE_SCHEMAS, refusal=SCHEMAS_REFUSAL)  # before reading the file
    text = await _descriptor_text(form)
    _ = gettext_for(request)
    try:
        try:
            descriptor = json.loads(text)
        except ValueError as error:
            raise Invalid(field_errors=[FieldError("file", _(
                "The schema is not valid JSON: %(error)s") % {"error": error})]) from None
        info = service.add_schema(session, actor, descriptor)
    except (Invalid, Conflict) as error:
        if isinstance(error, Conflict):
            error = Invalid(field_errors=[FieldError("name", error.message)])
        return _list(request, session, actor, error=error, text=text, status_code=422)
    return redirect(f"/schemas/{info.name}")


def constraint_texts(spec: Mapping[str, Any], _: Callable[[str], str]) -> list[Markup]:
    """A field's constraints in words, for people reading the schema (as HTML: the values
    come from the schema, as written by its authors, and are marked so)."""
    rules = spec.get("constraints") or {}
    words = {"required": _("required"), "unique": _("unique")}
    texts = [escape(text) for key, text in words.items() if rules.get(key)]
    labelled = {"minimum": _("minimum %(value)s"), "maximum": _("maximum %(value)s"),
                "minLength": _("at least %(value)s characters"),
                "maxLength": _("at most %(value)s characters"),
                "pattern": _("pattern %(value)s")}
    texts += [escape(text) % {"value": USER_CONTENT.format(rules[key])}
              for key, text in labelled.items() if key in rules]
    if "enum" in rules:
        values = ", ".join(map(str, rules["enum"]))
        texts.append(escape(_("one of: %(values)s")) % {"values": USER_CONTENT.format(values)})
    return texts


@router.get("/schemas/{name}", response_class=HTMLResponse)
def schema(name: str, request: Request, session: SessionDep, actor: ActorDep) -> HTMLResponse:
    descriptor = service.get_schema(session, name)
    _ = gettext_for(request)
    try:
        service.get_consolidation(session, actor, name)
        regional = True
    except NotFound:
        regional = False
    return render(request, "schema.html", {
        "schema": descriptor, "regional": regional,
        "constraints": {f["name"]: constraint_texts(f, _) for f in descriptor["fields"]},
        "json_text": json.dumps(descriptor, ensure_ascii=False, indent=2),
    }, actor=actor)
