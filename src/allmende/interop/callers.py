"""Who calls an interface: the user of the API token the interface read from its request
(each reads tokens where its clients send them), else the browser's signed-in user, else an
anonymous visitor."""

from __future__ import annotations

from sqlalchemy.orm import Session
from starlette.requests import Request

from allmende.access import accounts
from allmende.access.policy import ANONYMOUS, Actor
from allmende.web.deps import session_user


def caller(request: Request, session: Session, token: str | None) -> Actor:
    """The actor behind ``token`` (an invalid or revoked one is refused: Unauthorized), else
    behind the session cookie, else anonymous."""
    if token:
        return accounts.actor_for(accounts.user_for_token(session, token))
    user = session_user(request, session) if "session" in request.scope else None
    return accounts.actor_for(user) if user is not None else ANONYMOUS


def bearer_token(request: Request) -> str | None:
    """The token of ``Authorization: Bearer <token>``, if the request sends one."""
    scheme, _, token = request.headers.get("authorization", "").strip().partition(" ")
    return token.strip() or None if scheme.lower() == "bearer" else None
