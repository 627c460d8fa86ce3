"""E-mail through the configured SMTP server (settings ``smtp_host``, ``smtp_port``,
``smtp_starttls``, ``smtp_user``, ``smtp_password``, ``mail_sender``).

Without ``smtp_host`` sending is switched off: each mail is logged as not sent (recipients and
subject, never the body), so a node without a mail server still works. Mails are queued on the
database session and sent only after it commits: a transition that is rolled back (a lost
race, an error) sends nothing, and a mail server that is down never undoes a decision.
"""

from __future__ import annotations

import logging
import smtplib
import ssl
from dataclasses import dataclass
from email.message import EmailMessage

from sqlalchemy import event
from sqlalchemy.orm import Session

from allmende.config import Settings
from allmende.errors import Message

log = logging.getLogger(__name__)
OUTBOX = "allmende_outbox"
TIMEOUT_SECONDS = 30


@dataclass(frozen=True)
class Mail:
    to: tuple[str, ...]
    subject: str
    body: str
    language: str = "de"


def localized(to: tuple[str, ...], subject: Message, body: Message, language: str) -> Mail:
    """A mail whose subject and body (messages, see ``allmende.errors.msg``) are rendered in
    ``language``."""
    from allmende.web.i18n import localize  # messages are rendered where they are read

    return Mail(to, localize(subject, language), localize(body, language), language)


class Mailer:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    @property
    def enabled(self) -> bool:
        return bool(self.settings.smtp_host)

    def link(self, path: str) -> str:
        """``path`` (with its leading slash) on this node, for a mail (``base_url``)."""
        return f"{self.settings.base_url.rstrip('/')}{path}"

    def send(self, mail: Mail) -> bool:
        """Send now; ``False`` when sending is off or the server refused (logged)."""
        if not mail.to:
            return False
        if not self.enabled:
            log.info("E-Mail nicht gesendet (kein SMTP-Server eingestellt): an %s, Betreff %r",
                     ", ".join(mail.to), mail.subject)
            return False
        try:
            self._deliver(self._message(mail))
        except (OSError, smtplib.SMTPException) as error:
            log.warning("E-Mail an %s nicht gesendet: %s", ", ".join(mail.to), error)
            return False
        return True

    def _message(self, mail: Mail) -> EmailMessage:
        message = EmailMessage()
        message["From"] = self.settings.mail_sender
        message["To"] = ", ".join(mail.to)
        message["Subject"] = mail.subject
        message.set_content(mail.body)
        message["Content-Language"] = mail.language  # after: set_content drops Content-*
        return message

    def _deliver(self, message: EmailMessage) -> None:
        settings = self.settings
        with smtplib.SMTP(settings.smtp_host, settings.smtp_port,
                          timeout=TIMEOUT_SECONDS) as server:
            if settings.smtp_starttls:
                server.starttls(context=ssl.create_default_context())
            if settings.smtp_user:
                server.login(settings.smtp_user, settings.smtp_password)
            server.send_message(message)

    def after_commit(self, session: Session, mail: Mail) -> None:
        """Send ``mail`` once ``session`` commits; dropped if it rolls back."""
        if not event.contains(session, "after_commit", _flush):
            event.listen(session, "after_commit", _flush)
            event.listen(session, "after_rollback", _drop)
        session.info.setdefault(OUTBOX, []).append((self, mail))


def _flush(session: Session) -> None:
    for mailer, mail in session.info.pop(OUTBOX, []):
        mailer.send(mail)


def _drop(session: Session) -> None:
    session.info.pop(OUTBOX, None)
