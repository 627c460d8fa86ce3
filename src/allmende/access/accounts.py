"""User accounts, memberships, passwords and API tokens."""

from __future__ import annotations

import datetime as dt
import hashlib
import re
import secrets
from dataclasses import dataclass
from functools import cache
from typing import Any

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session, joinedload

from allmende.access.policy import ROLES, Action, Actor, authorize
from allmende.db.models import (
    ApiToken,
    LoginFailure,
    Membership,
    Organization,
    User,
    UserSession,
    utcnow,
)
from allmende.errors import (
    Conflict,
    FieldError,
    Invalid,
    NotFound,
    TooManyRequests,
    Unauthorized,
    msg,
)

EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
TOKEN_PREFIX = "alm_"  # noqa: S105 - a marker, not a secret
MIN_PASSWORD_LENGTH = 10
# Recording every use would turn each API read into a write; a minute is precise enough.
TOKEN_USE_RESOLUTION = dt.timedelta(minutes=1)

_hasher = PasswordHasher()


@cache
def _dummy_hash() -> str:
    """Verified when the e-mail is unknown, so a login takes as long whether the account exists
    or not (made on first use: hashing costs time every command would pay at start)."""
    return _hasher.hash("allmende-timing-equalizer")


def actor_for(user: User) -> Actor:
    return Actor(
        user_id=user.id,
        email=user.email,
        name=user.name,
        is_sysadmin=user.is_sysadmin,
        roles={m.organization_id: m.role for m in user.memberships},
    )


def normalize_email(email: str) -> str:
    email = email.strip().lower()
    if not EMAIL.match(email):
        raise Invalid(field_errors=[FieldError("email", msg("Keine gültige E-Mail-Adresse."))])
    return email


def create_user(
    session: Session, email: str, password: str, *, name: str = "", sysadmin: bool = False
) -> User:
    email = normalize_email(email)
    if len(password) < MIN_PASSWORD_LENGTH:
        raise Invalid(field_errors=[FieldError(
            "password", f"Das Passwort muss mindestens {MIN_PASSWORD_LENGTH} Zeichen lang sein.")])
    if session.scalar(select(User.id).where(User.email == email)) is not None:
        raise Conflict(msg("Es gibt bereits ein Konto für {email}.", email=email),
                       "user_exists")
    user = User(email=email, name=name.strip(), password_hash=_hasher.hash(password),
                is_sysadmin=sysadmin)
    session.add(user)
    session.flush()
    return user


def get_user(session: Session, email: str) -> User:
    user = session.scalar(select(User).where(User.email == email.strip().lower()))
    if user is None:
        raise NotFound(msg("Es gibt kein Konto für {email}.", email=email), "user_not_found")
    return user


#: Failed sign-ins counted over this window: per account, and per address (a caller trying
#: many accounts).
FAILURE_WINDOW = dt.timedelta(minutes=15)
MAX_FAILURES_PER_ACCOUNT = 5
MAX_FAILURES_PER_ADDRESS = 20


def authenticate(session: Session, email: str, password: str, address: str = "") -> User:
    """Check a password; the error never tells whether the account exists. After
    :data:`MAX_FAILURES_PER_ACCOUNT` failures for one account (or
    :data:`MAX_FAILURES_PER_ADDRESS` from one address) within :data:`FAILURE_WINDOW`, further
    tries are refused with 429 until the oldest counted failure leaves the window. A failure
    is added to the session: the caller that answers it commits."""
    email = email.strip().lower()
    _throttle(session, email, address)
    user = session.scalar(select(User).where(User.email == email))
    try:
        _hasher.verify(user.password_hash if user else _dummy_hash(), password)
    except (VerificationError, InvalidHashError):
        user = None
    if user is None or not user.is_active:
        session.add(LoginFailure(email=email[:300], address=address[:100]))
        session.flush()
        raise Unauthorized(msg("E-Mail-Adresse oder Passwort ist falsch."), "bad_credentials")
    session.execute(delete(LoginFailure).where(LoginFailure.email == email))
    if _hasher.check_needs_rehash(user.password_hash):
        user.password_hash = _hasher.hash(password)
    user.last_login_at = utcnow()
    return user


def _throttle(session: Session, email: str, address: str) -> None:
    wait = _wait(session, LoginFailure.email, email, MAX_FAILURES_PER_ACCOUNT)
    if wait:
        raise TooManyRequests(msg(
            "Zu viele fehlgeschlagene Anmeldungen für dieses Konto. Bitte versuchen Sie es in "
            "{minutes} Minuten erneut.", minutes=max(1, round(wait / 60))), wait,
            "login_throttled")
    wait = _wait(session, LoginFailure.address, address, MAX_FAILURES_PER_ADDRESS)
    if wait:
        raise TooManyRequests(msg(
            "Zu viele fehlgeschlagene Anmeldungen von Ihrer Adresse. Bitte versuchen Sie es in "
            "{minutes} Minuten erneut.", minutes=max(1, round(wait / 60))), wait,
            "login_throttled")


def _wait(session: Session, column: Any, value: str, limit: int) -> int:
    """Seconds until fewer than ``limit`` failures with ``column == value`` lie in the window
    (0: none to wait)."""
    if not value:
        return 0
    times = list(session.scalars(select(LoginFailure.at).where(
        column == value, LoginFailure.at >= utcnow() - FAILURE_WINDOW).order_by(
        LoginFailure.at)))
    if len(times) < limit:
        return 0
    return max(1, int((times[-limit] + FAILURE_WINDOW - utcnow()).total_seconds()) + 1)


#: How long a browser sign-in lasts (the cookie's lifetime too).
SESSION_LIFETIME = dt.timedelta(days=14)


def start_session(session: Session, user: User) -> str:
    """A new browser sign-in; returns the token for the cookie (only its hash is kept)."""
    token = secrets.token_urlsafe(32)
    session.add(UserSession(token_hash=_token_hash(token), user_id=user.id,
                            expires_at=utcnow() + SESSION_LIFETIME))
    session.flush()
    return token


def user_for_session(session: Session, token: str) -> User | None:
    """The active user of a sign-in that was neither ended nor has expired."""
    found = session.scalar(select(UserSession).where(
        UserSession.token_hash == _token_hash(token)))
    if found is None or found.expires_at < utcnow():
        return None
    user = session.get(User, found.user_id)
    return user if user is not None and user.is_active else None


def end_session(session: Session, token: str) -> None:
    """Sign out: the token is worthless from now on, wherever a copy of the cookie is."""
    session.execute(delete(UserSession).where(UserSession.token_hash == _token_hash(token)))


def set_membership(
    session: Session, actor: Actor, user: User, organization: Organization, role: str
) -> Membership:
    authorize(actor, Action.MANAGE_MEMBERS, organization.id)
    if role not in ROLES:
        raise Invalid(field_errors=[FieldError("role", msg(
            "Unbekannte Rolle „{role}“; erlaubt: {allowed}.", role=role,
            allowed=", ".join(ROLES)))])
    membership = session.get(Membership, (user.id, organization.id))
    if membership is not None and role != "admin":
        _keep_an_admin(session, membership)
    if membership is None:
        # Appending (not session.add) keeps user.memberships right within this session too.
        membership = Membership(organization_id=organization.id, role=role)
        user.memberships.append(membership)
    membership.role = role
    session.flush()
    return membership


def list_members(session: Session, actor: Actor, organization: Organization) -> list[Membership]:
    """The organization's members with their roles (for its admins)."""
    authorize(actor, Action.MANAGE_MEMBERS, organization.id)
    return list(session.scalars(
        select(Membership).join(User).where(Membership.organization_id == organization.id)
        .order_by(User.email)))


def remove_membership(
    session: Session, actor: Actor, user: User, organization: Organization
) -> None:
    authorize(actor, Action.MANAGE_MEMBERS, organization.id)
    membership = session.get(Membership, (user.id, organization.id))
    if membership is not None:
        _keep_an_admin(session, membership)
        user.memberships.remove(membership)
        session.delete(membership)


def _keep_an_admin(session: Session, leaving: Membership) -> None:
    """An organization must keep at least one admin, or nobody could manage it any more."""
    if leaving.role != "admin":
        return
    admins = session.scalar(select(func.count()).select_from(Membership).where(
        Membership.organization_id == leaving.organization_id, Membership.role == "admin"))
    if admins <= 1:
        raise Conflict(msg("Die Organisation braucht mindestens eine Person mit der Rolle "
                           "Admin. Ernennen Sie zuerst eine weitere."), "last_admin")


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


@dataclass(frozen=True)
class NewToken:
    token: ApiToken
    secret: str


def create_token(session: Session, user_id: int, name: str,
                 expires_at: dt.datetime | None = None) -> NewToken:
    """A new API token, valid until revoked or until ``expires_at``; its secret is returned
    once and only its hash is kept."""
    name = name.strip() or "API-Token"
    if expires_at is not None and (expires_at.tzinfo is None or expires_at <= utcnow()):
        raise Invalid(field_errors=[FieldError("expires_at", msg(
            "Das Ablaufdatum muss in der Zukunft liegen und eine Zeitzone haben."))])
    secret = TOKEN_PREFIX + secrets.token_urlsafe(32)
    token = ApiToken(user_id=user_id, name=name[:200], token_hash=_token_hash(secret),
                     prefix=secret[:12], expires_at=expires_at)
    session.add(token)
    session.flush()
    return NewToken(token, secret)


def list_tokens(session: Session, user_id: int) -> list[ApiToken]:
    return list(session.scalars(
        select(ApiToken).where(ApiToken.user_id == user_id).order_by(ApiToken.created_at.desc())))


def revoke_token(session: Session, user_id: int, token_id: int) -> None:
    token = session.get(ApiToken, token_id)
    if token is None or token.user_id != user_id:
        raise NotFound(msg("Dieses Token gibt es nicht."), "token_not_found")
    token.revoked_at = token.revoked_at or utcnow()


def my_tokens(session: Session, actor: Actor) -> list[ApiToken]:
    """The signed-in user's own API tokens."""
    authorize(actor, Action.MANAGE_OWN_ACCOUNT)
    return list_tokens(session, actor.user_id)  # type: ignore[arg-type]


def create_my_token(session: Session, actor: Actor, name: str,
                    expires_at: dt.datetime | None = None) -> NewToken:
    authorize(actor, Action.MANAGE_OWN_ACCOUNT)
    return create_token(session, actor.user_id, name, expires_at)  # type: ignore[arg-type]


def revoke_my_token(session: Session, actor: Actor, token_id: int) -> None:
    authorize(actor, Action.MANAGE_OWN_ACCOUNT)
    revoke_token(session, actor.user_id, token_id)  # type: ignore[arg-type]


def user_for_token(session: Session, secret: str) -> User:
    """The active user a bearer token belongs to; records when the token was last used."""
    # one round trip for token, account and memberships: this runs before every API request
    found = session.execute(
        select(ApiToken, User).join(User, User.id == ApiToken.user_id)
        .where(ApiToken.token_hash == _token_hash(secret))
        .options(joinedload(User.memberships))).unique().first()
    if found is None or not found.User.is_active:
        raise Unauthorized(msg("Das API-Token ist unbekannt: es wurde nie ausgegeben oder "
                               "gehört zu keinem aktiven Konto."), "bad_token")
    token, user = found
    now = utcnow()
    if token.revoked_at is not None:
        raise Unauthorized(msg("Das API-Token „{name}“ wurde am {date} widerrufen.",
                               name=token.name, date=_minute(token.revoked_at)),
                           "token_revoked")
    if token.expires_at is not None and token.expires_at <= now:
        raise Unauthorized(msg("Das API-Token „{name}“ ist am {date} abgelaufen.",
                               name=token.name, date=_minute(token.expires_at)),
                           "token_expired")
    if token.last_used_at is None or now - token.last_used_at > TOKEN_USE_RESOLUTION:
        token.last_used_at = now
    return user


def _minute(moment: dt.datetime) -> str:
    return moment.astimezone(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
