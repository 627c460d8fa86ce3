"""Typed FastAPI dependencies: what a handler needs, declared in one line."""

from __future__ import annotations

import contextlib
import json
import secrets
from collections.abc import Iterable, Iterator
from typing import Annotated, Any

from fastapi import Depends, Request
from sqlalchemy.orm import Session

from allmende.access import accounts
from allmende.access.mail import Mailer
from allmende.access.policy import ANONYMOUS, Actor
from allmende.db.models import User
from allmende.errors import FieldError, Forbidden, Invalid, Unauthorized, msg
from allmende.platform import Platform
from allmende.web.i18n import api_language_of

SAFE_METHODS = {"GET", "HEAD", "OPTIONS"}
CSRF_HEADER = "X-CSRF-Token"
NUL = "\x00"


def get_platform(request: Request) -> Platform:
    return request.app.state.platform


PlatformDep = Annotated[Platform, Depends(get_platform)]


def get_mailer(platform: PlatformDep) -> Mailer:
    return Mailer(platform.settings)


#: E-mail through the node's SMTP settings (sent once the request's unit of work commits).
MailerDep = Annotated[Mailer, Depends(get_mailer)]
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


def session_user(request: Request, session: Session) -> User | None:
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
    user = session_user(request, session)
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


async def refuse_nul(request: Request) -> None:
    """No name, text or filter of the API needs the NUL character, and PostgreSQL cannot store
    it: a path or query parameter or a JSON body that holds one is refused (422 naming where)
    before anything is looked up."""
    where = [name for name, value in request.path_params.items() if NUL in str(value)]
    where += [name for name, value in request.query_params.multi_items()
              if NUL in name or NUL in value]
    if _has_json_body(request):
        body = await request.body()  # FastAPI read it already: cached, not read twice
        if b"\\u0000" in body or b"\x00" in body:
            # unreadable JSON is FastAPI's validation's to report
            with contextlib.suppress(ValueError):
                where += [".".join(map(str, path)) or "body"
                          for path in _nul_paths(json.loads(body), ())]
    _refuse(where)


def refuse_nul_in(values: Iterable[tuple[str, str]]) -> None:
    """The same for values read by hand (an upload's form fields and file name)."""
    _refuse([name for name, value in values if NUL in value])


def _refuse(where: list[str]) -> None:
    if where:
        message = msg("Das Nullzeichen (U+0000) ist hier nicht erlaubt.")
        raise Invalid(field_errors=[FieldError(name, message) for name in where])


def _has_json_body(request: Request) -> bool:
    route = request.scope.get("route")
    return getattr(route, "body_field", None) is not None and \
        "json" in request.headers.get("content-type", "")


def _nul_paths(value: Any, path: tuple[str | int, ...]) -> Iterator[tuple[str | int, ...]]:
    """Where in a JSON value a text (or a key) holds NUL, as FastAPI names body fields."""
    if isinstance(value, str):
        if NUL in value:
            yield path
    elif isinstance(value, dict):
        for key, item in value.items():
            if NUL in key:
                yield (*path, key)
            else:
                yield from _nul_paths(item, (*path, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _nul_paths(item, (*path, index))
