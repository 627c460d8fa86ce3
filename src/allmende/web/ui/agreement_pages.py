"""Usage agreements in the web UI: the holder's "Meine Vereinbarungen" and the owning
organization's list, where its admins revoke an agreement with a reason; what a restricted
dataset's pages tell someone outside its organization about reading its rows."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, JSONResponse, Response

from allmende.access import agreements
from allmende.access.policy import Action, Actor, RowAccess, is_allowed, row_access
from allmende.catalog.organizations import get_organization
from allmende.db.models import Dataset
from allmende.errors import Invalid
from allmende.web.deps import ActorDep, MailerDep, PlatformDep, SessionDep, check_csrf
from allmende.web.ui import helpers
from allmende.web.ui.common import FormDep, login_redirect, redirect
from allmende.web.ui.helpers import CONDITION_OPERATORS, N_
from allmende.web.ui.render import render

router = APIRouter()


def labels() -> dict[str, Any]:
    """What the pages that show an agreement need to name its parts."""
    return {"purposes": agreements.PURPOSES, "duty_labels": DUTY_LABELS,
            "state_labels": STATE_LABELS, "condition_operators": CONDITION_OPERATORS}


#: English msgids of the UI (translated by messages.po), per duty and state code.
DUTY_LABELS = {"attribute": N_("Name the owning organization"),
               "delete": N_("Delete the data when the agreement ends"),
               "inform": N_("Inform the owning organization about the use")}
STATE_LABELS = {"active": N_("active"), "expired": N_("expired"), "exhausted": N_("used up"),
                "revoked": N_("revoked")}


def reading_context(session: Any, actor: Actor, dataset: Dataset) -> dict[str, Any]:
    """What a restricted dataset's page and its tables' pages say about reading its rows:
    whether the actor may ask for them (anonymous visitors too: the form asks them to sign in
    or register first) and, for someone outside the owning organization, the agreement they
    read by or why they cannot (looking spends no access)."""
    outside = row_access(actor, dataset) is RowAccess.AGREEMENT
    return {
        "can_request": dataset.access_level == "restricted" and not dataset.deleted_at and (
            not actor.is_authenticated or is_allowed(actor, Action.REQUEST_DATA, dataset)),
        "standing": agreements.standing(session, actor, dataset) if outside else None,
        **labels()}


@router.get("/account/agreements", response_class=HTMLResponse)
def my_agreements(request: Request, session: SessionDep, actor: ActorDep) -> Response:
    if not actor.is_authenticated:
        return login_redirect(request)
    return render(request, "agreements.html", {
        "agreements": agreements.agreements_of(session, actor, "holder"), "owner": None,
        "errors": {}, **labels()}, actor=actor)


def _owner_page(request: Request, session: Any, actor: Any, slug: str,
                failed: tuple[str, Invalid] | None = None) -> HTMLResponse:
    organization = get_organization(session, slug)
    found = [a for a in agreements.agreements_of(session, actor, "owner")
             if a.organization == organization.slug]
    return render(request, "agreements.html", {
        "agreements": found, "owner": organization,
        "can_revoke": is_allowed(actor, Action.MANAGE_AGREEMENTS, organization.id),
        "failed_uid": failed[0] if failed else None,
        "errors": helpers.errors_by_field(failed[1].field_errors) if failed else {},
        **labels()}, status_code=422 if failed else 200, actor=actor)


@router.get("/organizations/{slug}/agreements", response_class=HTMLResponse)
def organization_agreements(slug: str, request: Request, session: SessionDep,
                            actor: ActorDep) -> Response:
    if not actor.is_authenticated:
        return login_redirect(request)
    return _owner_page(request, session, actor, slug)


@router.post("/agreements/{uid}/revoke", response_class=HTMLResponse)
def revoke(uid: str, request: Request, form: FormDep, session: SessionDep,
           actor: ActorDep, mailer: MailerDep) -> Response:
    check_csrf(request, str(form.get("csrf_token") or ""))
    found = agreements.get_agreement(session, actor, uid)
    try:
        agreements.revoke(session, actor, uid, str(form.get("reason") or ""), mailer)
    except Invalid as error:
        return _owner_page(request, session, actor, found.organization, (uid, error))
    return redirect(f"/organizations/{found.organization}/agreements#a-{uid}")


@router.get("/agreements/{uid}.jsonld")
def odrl_document(uid: str, session: SessionDep, actor: ActorDep,
                  platform: PlatformDep) -> Response:
    """The ODRL 2.2 document to download (the API gives it for Accept: application/ld+json)."""
    document = agreements.odrl(agreements.get_agreement(session, actor, uid),
                               platform.settings.base_url)
    return JSONResponse(document, media_type="application/ld+json", headers={
        "Content-Disposition": f'attachment; filename="vereinbarung-{uid}.jsonld"'})
