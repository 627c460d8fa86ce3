"""Sign-in, sign-out and the user's API tokens."""

from __future__ import annotations

import secrets

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from allmende.access import accounts
from allmende.db.models import utcnow
from allmende.errors import Unauthorized
from allmende.web.deps import SIGN_IN, ActorDep, SessionDep, check_csrf
from allmende.web.ui.common import FormDep, login_redirect, redirect
from allmende.web.ui.helpers import safe_next
from allmende.web.ui.render import render

router = APIRouter()


@router.get("/login", response_class=HTMLResponse)
def login_form(request: Request, actor: ActorDep) -> HTMLResponse:
    return render(request, "login.html", {
        "next": safe_next(request.query_params.get("next")), "email": "", "failed": False,
    }, actor=actor)


@router.post("/login", response_class=HTMLResponse)
def login(request: Request, form: FormDep, session: SessionDep, actor: ActorDep) -> Response:
    check_csrf(request, str(form.get("csrf_token") or ""))
    email = str(form.get("email") or "")
    target = safe_next(str(form.get("next") or ""))
    address = request.client.host if request.client else ""
    try:
        user = accounts.authenticate(session, email, str(form.get("password") or ""), address)
    except Unauthorized:  # answered here, so the failure counted for throttling is committed
        return render(request, "login.html", {"next": target, "email": email, "failed": True},
                      status_code=401, actor=actor)
    request.session.clear()
    request.session[SIGN_IN] = accounts.start_session(session, user)
    request.session["csrf"] = secrets.token_urlsafe(32)
    return redirect(target)


@router.post("/logout")
def logout(request: Request, form: FormDep, session: SessionDep) -> Response:
    check_csrf(request, str(form.get("csrf_token") or ""))
    token = request.session.get(SIGN_IN)
    if isinstance(token, str):
        accounts.end_session(session, token)
    request.session.clear()
    return redirect("/")


def _tokens_page(request: Request, session: SessionDep, actor: ActorDep,
                 new_token: accounts.NewToken | None = None) -> HTMLResponse:
    return render(request, "tokens.html", {
        "tokens": accounts.my_tokens(session, actor), "new_token": new_token,
        "now": utcnow(),
    }, actor=actor)


@router.get("/account/tokens", response_class=HTMLResponse)
def tokens(request: Request, session: SessionDep, actor: ActorDep) -> Response:
    if not actor.is_authenticated:
        return login_redirect(request)
    return _tokens_page(request, session, actor)


@router.post("/account/tokens", response_class=HTMLResponse)
def create_token(request: Request, form: FormDep, session: SessionDep,
                 actor: ActorDep) -> Response:
    check_csrf(request, str(form.get("csrf_token") or ""))
    new_token = accounts.create_my_token(session, actor, str(form.get("name") or ""))
    response = _tokens_page(request, session, actor, new_token)
    response.headers["Cache-Control"] = "no-store"
    return response


@router.post("/account/tokens/{token_id}/revoke")
def revoke_token(token_id: int, request: Request, form: FormDep, session: SessionDep,
                 actor: ActorDep) -> Response:
    check_csrf(request, str(form.get("csrf_token") or ""))
    accounts.revoke_my_token(session, actor, token_id)
    return redirect("/account/tokens")
