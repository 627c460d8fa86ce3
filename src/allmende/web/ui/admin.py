"""Administration pages: editing an organization, its members, and the trash of deleted
datasets."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response
from starlette.datastructures import FormData

from allmende.access import accounts
from allmende.access.policy import ROLES, Action, Actor, authorize
from allmende.catalog import organizations as service
from allmende.catalog.datasets import deleted_datasets
from allmende.db.models import Organization, User
from allmende.errors import FieldError, Invalid, NotFound, Unauthorized
from allmende.web.deps import ActorDep, SessionDep, check_csrf
from allmende.web.ui import helpers
from allmende.web.ui.common import FormDep, gettext_for, login_redirect, redirect
from allmende.web.ui.render import render

router = APIRouter()


def _require_user(actor: Actor) -> None:
    if not actor.is_authenticated:
        raise Unauthorized()


# --- Organization edit -----------------------------------------------------------------------

def _organization_form(request: Request, actor: Actor, organization: Organization, *,
                       values: dict[str, Any], errors: Invalid | None = None,
                       status_code: int = 200) -> HTMLResponse:
    return render(request, "organization_form.html", {
        "organization": organization, "values": values,
        "errors": helpers.errors_by_field(errors.field_errors) if errors else {},
        "error": errors, "labels": helpers.ORGANIZATION_FIELD_LABELS,
    }, status_code=status_code, actor=actor)


@router.get("/organizations/{slug}/edit", response_class=HTMLResponse)
def edit_organization_form(slug: str, request: Request, session: SessionDep,
                           actor: ActorDep) -> Response:
    if not actor.is_authenticated:
        return login_redirect(request)
    organization = service.get_organization(session, slug)
    authorize(actor, Action.EDIT_ORGANIZATION, organization.id)
    return _organization_form(request, actor, organization,
                              values=helpers.organization_values(organization))


@router.post("/organizations/{slug}/edit", response_class=HTMLResponse)
def edit_organization(slug: str, request: Request, form: FormDep, session: SessionDep,
                      actor: ActorDep) -> Response:
    check_csrf(request, str(form.get("csrf_token") or ""))
    _require_user(actor)
    organization = service.get_organization(session, slug)
    authorize(actor, Action.EDIT_ORGANIZATION, organization.id)
    changes, problems = helpers.organization_changes(form, organization, gettext_for(request))
    try:
        if problems:
            raise Invalid(field_errors=problems)
        service.update_organization(session, actor, slug, changes)
    except Invalid as error:
        # The service may have set some fields before it found the area invalid.
        session.rollback()
        return _organization_form(request, actor, organization,
                                  values=helpers.entered_values(form), errors=error,
                                  status_code=422)
    return redirect(f"/organizations/{slug}")


# --- Members ---------------------------------------------------------------------------------

def _members_page(request: Request, session: Any, actor: Actor, organization: Organization, *,
                  values: dict[str, str] | None = None, errors: Invalid | None = None,
                  row_errors: dict[str, list[str]] | None = None,
                  status_code: int = 200) -> HTMLResponse:
    """``errors`` belong to the add form, ``row_errors`` (by e-mail) to a member's role."""
    _ = gettext_for(request)
    return render(request, "organization_members.html", {
        "organization": organization,
        "members": accounts.list_members(session, actor, organization),
        "role_options": [(role, _(helpers.ROLE_LABELS[role])) for role in ROLES],
        "values": values or {"email": "", "role": "editor"},
        "errors": helpers.errors_by_field(errors.field_errors) if errors else {},
        "error": errors, "labels": helpers.MEMBER_FIELD_LABELS,
        "row_errors": row_errors or {},
    }, status_code=status_code, actor=actor)


def _managed_organization(slug: str, session: Any, actor: Actor) -> Organization:
    organization = service.get_organization(session, slug)
    authorize(actor, Action.MANAGE_MEMBERS, organization.id)
    return organization


def _members_post(slug: str, request: Request, form: FormData, session: Any,
                  actor: Actor) -> Organization:
    """What every change of the members checks first: the form's CSRF token, a signed-in user
    and the right to manage the members; returns the organization."""
    check_csrf(request, str(form.get("csrf_token") or ""))
    _require_user(actor)
    return _managed_organization(slug, session, actor)


def _after_member_change(actor: Actor, user: User, organization: Organization,
                         role: str | None) -> Response:
    """Back to the members list, unless admins just took their own right to see it."""
    if user.id == actor.user_id and not actor.is_sysadmin and role != "admin":
        return redirect(f"/organizations/{organization.slug}")
    return redirect(f"/organizations/{organization.slug}/members")


@router.get("/organizations/{slug}/members", response_class=HTMLResponse)
def members(slug: str, request: Request, session: SessionDep, actor: ActorDep) -> Response:
    if not actor.is_authenticated:
        return login_redirect(request)
    organization = _managed_organization(slug, session, actor)
    return _members_page(request, session, actor, organization)


@router.post("/organizations/{slug}/members", response_class=HTMLResponse)
def add_member(slug: str, request: Request, form: FormDep, session: SessionDep,
               actor: ActorDep) -> Response:
    organization = _members_post(slug, request, form, session, actor)
    _ = gettext_for(request)
    values = {"email": str(form.get("email") or "").strip(), "role": str(form.get("role") or "")}
    try:
        if not values["email"]:
            raise Invalid(field_errors=[FieldError(
                "email", _("Enter the e-mail address of an existing account."))])
        try:
            user = accounts.get_user(session, values["email"])
        except NotFound as error:
            raise Invalid(field_errors=[FieldError("email", error.message)]) from None
        accounts.set_membership(session, actor, user, organization, values["role"])
    except Invalid as error:
        return _members_page(request, session, actor, organization, values=values, errors=error,
                             status_code=422)
    return redirect(f"/organizations/{slug}/members")


@router.post("/organizations/{slug}/members/role", response_class=HTMLResponse)
def change_role(slug: str, request: Request, form: FormDep, session: SessionDep,
                actor: ActorDep) -> Response:
    organization = _members_post(slug, request, form, session, actor)
    user = accounts.get_user(session, str(form.get("email") or ""))
    role = str(form.get("role") or "")
    try:
        accounts.set_membership(session, actor, user, organization, role)
    except Invalid as error:
        return _members_page(request, session, actor, organization, status_code=422,
                             row_errors={user.email: [e.message for e in error.field_errors]})
    return _after_member_change(actor, user, organization, role)


@router.post("/organizations/{slug}/members/remove")
def remove_member(slug: str, request: Request, form: FormDep, session: SessionDep,
                  actor: ActorDep) -> Response:
    organization = _members_post(slug, request, form, session, actor)
    user = accounts.get_user(session, str(form.get("email") or ""))
    accounts.remove_membership(session, actor, user, organization)
    return _after_member_change(actor, user, organization, None)


# --- Trash -----------------------------------------------------------------------------------

@router.get("/trash", response_class=HTMLResponse)
def trash(request: Request, session: SessionDep, actor: ActorDep) -> Response:
    if not actor.is_authenticated:
        return login_redirect(request)
    return render(request, "trash.html", {"datasets": deleted_datasets(session, actor)},
                  actor=actor)
