"""What happens to datasets, told to whoever listens: another capability reacts (the regional
tables are rebuilt when a source's access changes) without the catalog knowing about it.
Listeners run inside the transaction of the change, so what they queue commits with it."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy.orm import Session

from allmende.access.policy import Actor


@dataclass(frozen=True)
class SourcesChanged:
    """Resources whose rows may no longer (or again) feed derived tables: their dataset was
    deleted, restored, restricted, made a draft or published, or they were removed."""

    resource_ids: tuple[str, ...]


Listener = Callable[[Session, Actor, SourcesChanged], None]
_listeners: list[Listener] = []


def listen(listener: Listener) -> None:
    if listener not in _listeners:
        _listeners.append(listener)


def emit(session: Session, actor: Actor, event: SourcesChanged) -> None:
    for listener in _listeners:
        listener(session, actor, event)
