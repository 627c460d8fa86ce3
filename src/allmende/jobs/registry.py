"""What the worker runs, declared by the capabilities that bring it: job kinds (by the dotted
path of their handler, imported only when a job of that kind runs, so a process does not load
every capability to start) and periodic tasks (the one scheduler of the worker loop runs them).
The worker imports no capability; `allmende.wiring` registers them for every process."""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

_kinds: dict[str, str] = {}
_periodic: dict[str, Periodic] = {}


@dataclass(frozen=True)
class Periodic:
    """A task the worker loop runs every ``every_seconds`` (harvest schedules, expiries)."""

    name: str
    every_seconds: float
    run: Callable[[Any], object]  # takes the platform


def job_kind(kind: str, handler: str) -> None:
    """Register ``kind``, done by ``handler`` ("package.module:function")."""
    _kinds[kind] = handler


def handler_for(kind: str) -> Callable[..., dict[str, Any]] | None:
    target = _kinds.get(kind)
    if target is None:
        return None
    module, _, function = target.partition(":")
    return getattr(importlib.import_module(module), function)


def handler_modules() -> list[str]:
    """The modules of every registered job kind's handler (what a job process imports)."""
    return sorted({target.partition(":")[0] for target in _kinds.values()})


def kinds() -> list[str]:
    return sorted(_kinds)


def periodic(task: Periodic) -> None:
    _periodic[task.name] = task


def periodic_tasks() -> list[Periodic]:
    return list(_periodic.values())


def unregister(name: str) -> None:
    """Remove a periodic task (a capability switched off, or a test's own task)."""
    _periodic.pop(name, None)
