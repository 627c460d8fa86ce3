"""Self-registration for requesters outside the alliance: an account that stays inactive until
its e-mail address is confirmed with a signed, expiring link sent through the configured SMTP
server.

- ``register(session, mailer, email, password, name, language) -> str`` — the new inactive
  account; returns the confirmation token (also mailed as a link)
- ``confirm(session, settings, token) -> User`` — activates the account the token names
- ``purge_unconfirmed(session, settings) -> int`` — accounts never confirmed in time go
"""

from __future__ import annotations

import datetime as dt

from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer
from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from allmende.access import accounts
from allmende.access.mail import Mailer, localized
from allmende.config import Settings
from allmende.db.models import Registration, User, utcnow
from allmende.errors import Invalid, Message, msg

SALT = "allmende-registration"
CONFIRM_PATH = "/register/confirm"


def _serializer(settings: Settings) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(settings.session_secret(), salt=SALT)


def register(session: Session, mailer: Mailer, email: str, password: str, name: str,
             language: str = "de") -> str:
    """An inactive account and its pending registration; the link goes out after commit.
    An address that has an account already is refused (409), confirmed or not."""
    user = accounts.create_user(session, email, password, name=name)
    user.is_active = False
    language = language if language in ("de", "en") else "de"
    session.add(Registration(user_id=user.id, language=language))
    session.flush()
    token = _serializer(mailer.settings).dumps({"user": user.id, "email": user.email})
    link = mailer.link(f"{CONFIRM_PATH}?token={token}")
    _send(session, mailer, user.email, language, link)
    return token


def _send(session: Session, mailer: Mailer, email: str, language: str, link: str) -> None:
    subject = msg("Bitte bestätigen Sie Ihre E-Mail-Adresse für allmende")
    body = msg("Sie haben bei allmende ein Konto für {email} angelegt. Bitte bestätigen Sie "
               "Ihre E-Mail-Adresse mit diesem Link (gültig {hours} Stunden):\n\n{link}\n\n"
               "Wenn Sie das nicht waren, ignorieren Sie diese Nachricht; das Konto wird dann "
               "gelöscht.\n\n– allmende", email=email,
               hours=mailer.settings.registration_link_hours, link=link)
    mailer.after_commit(session, localized((email,), subject, body, language))


def _refused(reason: Message) -> Invalid:
    return Invalid(reason, code="bad_confirmation")


def confirm(session: Session, settings: Settings, token: str) -> User:
    """Activate the account of a valid, unexpired token (once; a second use changes nothing)."""
    max_age = settings.registration_link_hours * 3600
    try:
        data = _serializer(settings).loads(token, max_age=max_age)
    except SignatureExpired:
        raise _refused(msg("Der Bestätigungslink ist abgelaufen. Bitte registrieren Sie sich "
                           "erneut.")) from None
    except BadSignature:
        raise _refused(msg("Der Bestätigungslink ist ungültig.")) from None
    registration = session.get(Registration, data.get("user")) if isinstance(data, dict) \
        else None
    user = session.get(User, registration.user_id) if registration else None
    if user is None or user.email != data.get("email"):
        raise _refused(msg("Der Bestätigungslink ist ungültig."))
    if registration.confirmed_at is None:  # type: ignore[union-attr]
        registration.confirmed_at = utcnow()  # type: ignore[union-attr]
        user.is_active = True
    return user


def purge_unconfirmed(session: Session, settings: Settings,
                      now: dt.datetime | None = None) -> int:
    """Delete accounts whose registration was never confirmed within the link's validity."""
    cutoff = (now or utcnow()) - dt.timedelta(hours=settings.registration_link_hours)
    ids = list(session.scalars(select(Registration.user_id).where(
        Registration.confirmed_at.is_(None), Registration.created_at < cutoff)))
    if ids:
        session.execute(delete(User).where(User.id.in_(ids)))
    return len(ids)
