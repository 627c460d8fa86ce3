"""A real SMTP server on loopback (aiosmtpd) that keeps what it receives, for the e-mail
tests: who got which message, with which subject and in which language."""

from __future__ import annotations

import email
import email.policy
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from email.message import EmailMessage
from typing import Any

from aiosmtpd.controller import Controller

from allmende.config import Settings
from support import free_port


@dataclass
class Received:
    recipients: list[str]
    message: EmailMessage

    @property
    def subject(self) -> str:
        return str(self.message["Subject"])

    @property
    def body(self) -> str:
        return self.message.get_content()

    @property
    def language(self) -> str:
        return str(self.message["Content-Language"])


class Inbox:
    def __init__(self) -> None:
        self.received: list[Received] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        message = email.message_from_bytes(envelope.content, policy=email.policy.default)
        self.received.append(Received(list(envelope.rcpt_tos), message))  # type: ignore[arg-type]
        return "250 OK"

    def to(self, address: str) -> list[Received]:
        return [m for m in self.received if address in m.recipients]

    def wait_for(self, count: int, timeout: float = 10.0) -> list[Received]:
        """The messages received, once there are ``count``; fails naming those that came (a
        wait that ran out silently cost its whole timeout and checked nothing)."""
        deadline = time.monotonic() + timeout
        while len(self.received) < count:
            if time.monotonic() > deadline:
                raise AssertionError(f"{len(self.received)} of {count} mails came: "
                                     f"{[(m.recipients, m.subject) for m in self.received]}")
            time.sleep(0.02)
        return self.received

    def mail(self, address: str, subject: str, timeout: float = 10.0) -> Received:
        """The first message to ``address`` whose subject contains ``subject``, once it came;
        fails naming what did come."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            found = [m for m in self.to(address) if subject in m.subject]
            if found:
                return found[0]
            time.sleep(0.02)
        raise AssertionError(f"no mail to {address} about {subject!r}; received: "
                             f"{[(m.recipients, m.subject) for m in self.received]}")


@contextmanager
def smtp_server(settings: Settings) -> Iterator[Inbox]:
    """Start the server and point ``settings`` at it (no TLS, no sign-in)."""
    inbox = Inbox()
    port = free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    settings.smtp_host, settings.smtp_port, settings.smtp_starttls = "127.0.0.1", port, False
    settings.mail_sender = "allmende@test.allmende.de"
    try:
        yield inbox
    finally:
        controller.stop()
