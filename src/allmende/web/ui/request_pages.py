"""Data request pages: the form on a restricted dataset's page ("Zugang beantragen"), "my
requests", the owner's inbox, a request with its history and steps, attachments, an
organization's conditions of use, and self-registration with e-mail confirmation. Thin over
allmende.access.requests and allmende.access.registration."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import FileResponse, HTMLResponse, Response
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData

from allmende.access import registration
from allmende.access import requests as service
from allmende.access.mail import Mailer
from allmende.access.policy import Action, Actor, authorize
from allmende.catalog import datasets
from allmende.catalog.organizations import get_organization
from allmende.errors import AllmendeError, Conflict, FieldError, Invalid, msg
from allmende.tables import store
from allmende.web.deps import ActorDep, PlatformDep, SessionDep, check_csrf
from allmende.web.i18n import language_of
from allmende.web.multipart import receive
from allmende.web.ui import helpers
from allmende.web.ui.common import FormDep, form_refused, gettext_for, login_redirect, redirect
from allmende.web.ui.render import render

router = APIRouter()
N_ = helpers.N_

PURPOSE_LABELS = {"verkehrsplanung": N_("Transport planning"),
                  "stadtentwicklung": N_("Urban development"), "forschung": N_("Research"),
                  "journalismus": N_("Journalism"), "sonstiges": N_("Other purpose")}
LEGAL_BASIS_LABELS = {
    "dsgvo-6-1-a": N_("GDPR Art. 6(1)(a): consent"),
    "dsgvo-6-1-c": N_("GDPR Art. 6(1)(c): legal obligation"),
    "dsgvo-6-1-e": N_("GDPR Art. 6(1)(e): task in the public interest"),
    "dsgvo-6-1-f": N_("GDPR Art. 6(1)(f): legitimate interests"),
    "fachrecht": N_("Sector law (name it below)"),
    "keine-personendaten": N_("No personal data requested"),
    "sonstiges": N_("Other basis (name it below)")}
STATE_LABELS = {"draft": N_("Draft"), "submitted": N_("Submitted"),
                "needs_info": N_("Question to the requester"), "approved": N_("Approved"),
                "rejected": N_("Rejected"), "withdrawn": N_("Withdrawn")}
ACTION_LABELS = {"create": N_("created"), "submit": N_("Submit"), "ask": N_("Ask a question"),
                 "answer": N_("Answer"), "approve": N_("Approve"), "reject": N_("Reject"),
                 "withdraw": N_("Withdraw")}
FIELD_LABELS = {
    "requester_organization": N_("Your organization"), "position": N_("Your position"),
    "purpose": N_("Purpose"), "purpose_text": N_("Purpose in your words"),
    "legal_basis": N_("Legal basis"), "legal_basis_text": N_("Legal basis in detail"),
    "interest": N_("Your legitimate interest"), "columns": N_("Columns you need"),
    "row_filter": N_("Only rows where"), "period_start": N_("Period from"),
    "period_end": N_("Period until"), "period_column": N_("The period refers to"),
    "duration_days": N_("Access needed for (days)"),
    "recipients": N_("Who receives the data"), "processors": N_("Processors on your behalf"),
    "retention": N_("Retention and deletion plan"),
    "accepted_conditions": N_("Conditions of use"), "reason": N_("Reason"),
    "file": N_("Attachment (PDF)"), "email": N_("E-mail address"), "name": N_("Name"),
    "password": N_("Password"), "text": N_("Conditions of use")}
#: The comparisons the request form offers (one value each).
OP_LABELS = {op: helpers.CONDITION_OPERATORS[op]
             for op in ("eq", "gt", "gte", "lt", "lte", "contains")}
TEXTS = ("requester_organization", "position", "purpose", "purpose_text", "legal_basis",
         "legal_basis_text", "interest", "recipients", "processors", "retention")


def _labels() -> dict[str, Any]:
    return {"purpose_labels": PURPOSE_LABELS, "legal_basis_labels": LEGAL_BASIS_LABELS,
            "state_labels": STATE_LABELS, "action_labels": ACTION_LABELS,
            "labels": FIELD_LABELS, "op_labels": OP_LABELS,
            "condition_operators": helpers.CONDITION_OPERATORS}


def _mailer(platform: Any) -> Mailer:
    return Mailer(platform.settings)


def _form_fields(form: FormData) -> dict[str, Any]:
    """The request form as the service's fields (empty inputs: not given)."""
    data: dict[str, Any] = {name: str(form.get(name) or "").strip() for name in TEXTS}
    data["columns"] = [str(c) for c in form.getlist("columns")] or None
    for name in ("period_start", "period_end", "period_column", "duration_days"):
        data[name] = str(form.get(name) or "").strip() or None
    column, value = str(form.get("filter_column") or ""), str(form.get("filter_value") or "")
    data["row_filter"] = [{"column": column, "op": str(form.get("filter_op") or "eq"),
                           "value": value}] if column and value else None
    accepted = str(form.get("accepted_conditions") or "")
    data["accepted_conditions"] = int(accepted) if accepted.isdigit() else None
    return data


def _form_page(request: Request, session: Any, actor: Actor, dataset: Any, *,
               record: service.RequestRecord | None, values: dict[str, Any],
               error: Invalid | None = None, status_code: int = 200) -> HTMLResponse:
    conditions = service.current_conditions(session, dataset.organization.slug)
    gettext = gettext_for(request)
    columns = record.available_columns if record else service.columns_of(dataset)
    return render(request, "request_form.html", {
        "dataset": dataset, "record": record, "values": values, "columns": columns,
        "date_columns": [(c, c) for c in service.columns_of(dataset, service.DATE_TYPES)],
        "conditions": conditions, "error": error,
        "errors": helpers.errors_by_field(error.field_errors) if error else {}, **_labels(),
        "translated": lambda labels: [(code, gettext(text)) for code, text in labels.items()],
    }, status_code=status_code, actor=actor)


@router.get("/datasets/{name}/request", response_class=HTMLResponse)
def new_request(name: str, request: Request, session: SessionDep, actor: ActorDep) -> Response:
    if not actor.is_authenticated:
        return login_redirect(request)
    dataset = datasets.get_dataset(session, actor, name)
    authorize(actor, Action.REQUEST_DATA, dataset, refusal=service.refusal(actor, dataset))
    return _form_page(request, session, actor, dataset, record=None, values={})


@router.post("/datasets/{name}/request", response_class=HTMLResponse)
def create(name: str, request: Request, form: FormDep, session: SessionDep, actor: ActorDep,
           platform: PlatformDep) -> Response:
    if (refused := form_refused(request, form, actor)) is not None:
        return refused
    values = _form_fields(form)
    dataset = datasets.get_dataset(session, actor, name)
    try:
        record = service.create_request(session, actor, {"dataset": name, **values},
                                        language_of(request))
    except Invalid as error:
        return _form_page(request, session, actor, dataset, record=None, values=values,
                          error=error, status_code=422)
    return _after_save(request, session, actor, platform, record, form, values)


def _after_save(request: Request, session: Any, actor: Actor, platform: Any,
                record: service.RequestRecord, form: FormData,
                values: dict[str, Any]) -> Response:
    """Saved as a draft; submitted too when that button was pressed (a refusal shows the
    form again, the draft kept)."""
    if form.get("submit") == "1" and "submit" in record.actions:
        try:
            service.transition(session, actor, record.id, "submit", "", _mailer(platform))
        except Invalid as error:
            dataset = datasets.get_dataset(session, actor, record.dataset)
            return _form_page(request, session, actor, dataset, record=record, values=values,
                              error=error, status_code=422)
    return redirect(f"/requests/{record.id}")


@router.get("/requests/{request_id}/edit", response_class=HTMLResponse)
def edit(request_id: int, request: Request, session: SessionDep, actor: ActorDep) -> Response:
    if not actor.is_authenticated:
        return login_redirect(request)
    record = service.get_request(session, actor, request_id)
    dataset = datasets.get_dataset(session, actor, record.dataset)
    return _form_page(request, session, actor, dataset, record=record,
                      values=_values_of(record))


def _values_of(record: service.RequestRecord) -> dict[str, Any]:
    values = dict(record.fields)
    condition = (values.get("row_filter") or [{}])[0]
    values |= {"filter_column": condition.get("column"), "filter_op": condition.get("op"),
               "filter_value": condition.get("value")}
    return values


@router.post("/requests/{request_id}/edit", response_class=HTMLResponse)
def update(request_id: int, request: Request, form: FormDep, session: SessionDep,
           actor: ActorDep, platform: PlatformDep) -> Response:
    if (refused := form_refused(request, form, actor)) is not None:
        return refused
    values = _form_fields(form)
    try:
        record = service.update_request(session, actor, request_id, values)
    except Invalid as error:
        record = service.get_request(session, actor, request_id)
        dataset = datasets.get_dataset(session, actor, record.dataset)
        return _form_page(request, session, actor, dataset, record=record, values=values,
                          error=error, status_code=422)
    return _after_save(request, session, actor, platform, record, form, values)


def _list_page(request: Request, session: Any, actor: Actor, role: str) -> Response:
    if not actor.is_authenticated:
        return login_redirect(request)
    return render(request, "requests.html", {
        "role": role, "records": service.list_requests(session, actor, role), **_labels(),
    }, actor=actor)


@router.get("/requests", response_class=HTMLResponse)
def mine(request: Request, session: SessionDep, actor: ActorDep) -> Response:
    return _list_page(request, session, actor, "requester")


@router.get("/requests/inbox", response_class=HTMLResponse)
def inbox(request: Request, session: SessionDep, actor: ActorDep) -> Response:
    return _list_page(request, session, actor, "owner")


def _request_page(request: Request, session: Any, actor: Actor, request_id: int, *,
                  error: AllmendeError | None = None, status_code: int = 200) -> HTMLResponse:
    record = service.get_request(session, actor, request_id)
    conditions = service.current_conditions(session, record.organization)
    errors = helpers.errors_by_field(error.field_errors) if error else {}
    return render(request, "request.html", {
        "record": record, "conditions": conditions, "error": error, "errors": errors,
        "reason_required": {a: s.reason_required for a, s in service.TRANSITIONS.items()},
        **_labels()}, status_code=status_code, actor=actor)


@router.get("/requests/{request_id}", response_class=HTMLResponse)
def show(request_id: int, request: Request, session: SessionDep, actor: ActorDep) -> Response:
    if not actor.is_authenticated:
        return login_redirect(request)
    return _request_page(request, session, actor, request_id)


@router.post("/requests/{request_id}/steps/{action}", response_class=HTMLResponse)
def step(request_id: int, action: str, request: Request, form: FormDep, session: SessionDep,
         actor: ActorDep, platform: PlatformDep) -> Response:
    if (refused := form_refused(request, form, actor)) is not None:
        return refused
    try:
        service.transition(session, actor, request_id, action, str(form.get("reason") or ""),
                           _mailer(platform))
    except (Invalid, Conflict) as error:
        session.rollback()
        return _request_page(request, session, actor, request_id, error=error,
                             status_code=error.status)
    return redirect(f"/requests/{request_id}")


@router.post("/requests/{request_id}/attachments", response_class=HTMLResponse)
async def attach(request_id: int, request: Request, session: SessionDep, actor: ActorDep,
                 platform: PlatformDep) -> Response:
    if not actor.is_authenticated:
        return login_redirect(request)
    settings = platform.settings
    folder = store.uploads_folder(settings.data_dir)
    try:
        received = await receive(request, folder, settings.request_attachment_limit_bytes)
    except AllmendeError as error:  # too large: said on the page, not as an error page
        return await run_in_threadpool(_request_page, request, session, actor, request_id,
                                       error=Invalid(field_errors=[FieldError(
                                           "file", error.message)]), status_code=error.status)
    staged = received.files.pop("file", None)
    received.discard()
    check_csrf(request, received.fields.get("csrf_token"))
    try:
        if staged is None or not staged.filename:
            raise Invalid(field_errors=[FieldError("file", msg("Keine Datei ausgewählt."))])
        await run_in_threadpool(service.add_attachment, session, actor, request_id,
                                staged.path, staged.filename, settings.data_dir,
                                settings.request_attachment_limit_bytes)
    except (Invalid, Conflict) as error:
        return await run_in_threadpool(_request_page, request, session, actor, request_id,
                                       error=error, status_code=error.status)
    except AllmendeError as error:
        return await run_in_threadpool(_request_page, request, session, actor, request_id,
                                       error=Invalid(field_errors=[FieldError(
                                           "file", error.message)]), status_code=error.status)
    return redirect(f"/requests/{request_id}")


@router.get("/requests/{request_id}/attachments/{attachment_id}")
def attachment(request_id: int, attachment_id: int, request: Request, session: SessionDep,
               actor: ActorDep, platform: PlatformDep) -> Response:
    if not actor.is_authenticated:
        return login_redirect(request)
    path, filename = service.attachment_file(session, actor, request_id, attachment_id,
                                             platform.settings.data_dir)
    return FileResponse(path, media_type="application/pdf", filename=filename)


# --- conditions of use ------------------------------------------------------------------------

@router.get("/organizations/{slug}/conditions", response_class=HTMLResponse)
def conditions(slug: str, request: Request, session: SessionDep, actor: ActorDep) -> Response:
    organization = get_organization(session, slug)
    return render(request, "conditions.html", {
        "organization": organization, "conditions": service.current_conditions(session, slug),
        "can_edit": actor.is_authenticated and _may_edit(actor, organization.id),
        "errors": {}, "error": None, "labels": FIELD_LABELS}, actor=actor)


def _may_edit(actor: Actor, organization_id: int) -> bool:
    from allmende.access.policy import is_allowed

    return is_allowed(actor, Action.EDIT_ORGANIZATION, organization_id)


@router.post("/organizations/{slug}/conditions", response_class=HTMLResponse)
def new_conditions(slug: str, request: Request, form: FormDep, session: SessionDep,
                   actor: ActorDep) -> Response:
    if (refused := form_refused(request, form, actor)) is not None:
        return refused
    try:
        service.set_conditions(session, actor, slug, str(form.get("text") or ""))
    except Invalid as error:
        return render(request, "conditions.html", {
            "organization": get_organization(session, slug), "can_edit": True,
            "conditions": service.current_conditions(session, slug), "error": error,
            "errors": helpers.errors_by_field(error.field_errors), "labels": FIELD_LABELS},
            status_code=422, actor=actor)
    return redirect(f"/organizations/{slug}/conditions")


# --- registration -----------------------------------------------------------------------------

@router.get("/register", response_class=HTMLResponse)
def register_form(request: Request, actor: ActorDep) -> HTMLResponse:
    return render(request, "register.html", {"values": {}, "errors": {}, "error": None,
                                             "labels": FIELD_LABELS, "sent": False},
                  actor=actor)


@router.post("/register", response_class=HTMLResponse)
def register(request: Request, form: FormDep, session: SessionDep, actor: ActorDep,
             platform: PlatformDep) -> HTMLResponse:
    check_csrf(request, str(form.get("csrf_token") or ""))
    values = {k: str(form.get(k) or "") for k in ("email", "name")}
    try:
        registration.register(session, _mailer(platform), values["email"],
                              str(form.get("password") or ""), values["name"],
                              language_of(request))
    except (Invalid, Conflict) as error:
        if isinstance(error, Conflict):
            error = Invalid(field_errors=[FieldError("email", error.message)])
        return render(request, "register.html", {
            "values": values, "errors": helpers.errors_by_field(error.field_errors),
            "error": error, "labels": FIELD_LABELS, "sent": False}, status_code=422,
            actor=actor)
    return render(request, "register.html", {"values": values, "errors": {}, "error": None,
                                             "labels": FIELD_LABELS, "sent": True},
                  actor=actor)


@router.get("/register/confirm", response_class=HTMLResponse)
def confirm(request: Request, session: SessionDep, actor: ActorDep,
            platform: PlatformDep) -> HTMLResponse:
    try:
        user = registration.confirm(session, platform.settings,
                                    request.query_params.get("token", ""))
    except Invalid as error:
        return render(request, "register_confirmed.html", {"error": error, "email": None},
                      status_code=400, actor=actor)
    return render(request, "register_confirmed.html", {"error": None, "email": user.email},
                  actor=actor)
