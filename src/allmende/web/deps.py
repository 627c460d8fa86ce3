"""Typed FastAPI dependencies: what a handler needs, declared in one line."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy.orm import Session

from allmende.access import accounts
from allmende.access.policy import ANONYMOUS, Actor
from allmende.db.models import User
from allmende.errors import Forbidden, Unauthorized, msg
from allmende.platform import Platform
from allmende.web.i18n import api_language_of

SAFE_METHODS = {"GET", "HEAD", "OPTIONS"}
CSRF_HEADER = "X-CSRF-Token"


def get_platform(request: Request) -> Platform:
    return request.app.state.platform


PlatformDep = Annotated[Platform, Depends(get_platform)]
#: The language an API answer's messages are rendered in (``?lang=``, cookie,
#: ``Accept-Language``).
ApiLanguageDep = Annotated[str, Depends(api_language_of)]


def get_session(platform: PlatformDep) -> Iterator[Session]:
    """One unit of work per request, committed before the response is sent."""
    with platform.db.session() as session:
        yield session


SessionDep = Annotated[Session, Depends(get_session, scope="function")]


def csrf_token(request: Request) -> str:
    """The session's CSRF token, created on first use."""
    token = request.session.get("csrf")
    if not token:
        token = request.session["csrf"] = secrets.token_urlsafe(32)
    return token


def check_csrf(request: Request, submitted: str | None) -> None:
    expected = request.session.get("csrf")
    if not expected or not submitted or not secrets.compare_digest(expected, submitted):
        raise Forbidden(msg("Das Formular ist abgelaufen oder stammt nicht von dieser Seite. "
                            "Bitte laden Sie die Seite neu und versuchen Sie es erneut."), "csrf")


#: The cookie session's key of the sign-in token (see accounts.start_session).
SIGN_IN = "sign_in"


def _session_user(request: Request, session: Session) -> User | None:
    token = request.session.get(SIGN_IN)
    if not isinstance(token, str):
        return None
    user = accounts.user_for_session(session, token)
    if user is None:  # signed out elsewhere, expired or deactivated
        request.session.clear()
    return user


def get_actor(request: Request, session: SessionDep) -> Actor:
    """The caller: a bearer token wins; otherwise the browser session; otherwise anonymous.

    Cookie-authenticated API writes must carry the session's CSRF token in a header.
    """
    header = request.headers.get("authorization", "")
    if header:
        scheme, _, secret = header.partition(" ")
        if scheme.lower() != "bearer" or not secret.strip():
            raise Unauthorized(msg("Erwartet „Authorization: Bearer <Token>“."), "bad_token")
        return accounts.actor_for(accounts.user_for_token(session, secret.strip()))
    user = _session_user(request, session)
    if user is None:
        return ANONYMOUS
    is_api = request.url.path.startswith("/api/")
    if is_api and request.method not in SAFE_METHODS:
        check_csrf(request, request.headers.get(CSRF_HEADER))
    return accounts.actor_for(user)


ActorDep = Annotated[Actor, Depends(get_actor, scope="function")]


def require_user(actor: ActorDep) -> Actor:
    if not actor.is_authenticated:
        raise Unauthorized()
    return actor


UserDep = Annotated[Actor, Depends(require_user, scope="function")]
