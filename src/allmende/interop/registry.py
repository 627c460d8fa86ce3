"""The open interfaces and where they are mounted. Each interface registers itself here once
(from ``allmende.wiring``) with the paths it answers under and the dotted path of a function
that builds its ASGI application from the platform; ``web/app.py`` mounts every registered
interface and knows none of them. A new interface touches no existing one."""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

_interfaces: dict[str, Interface] = {}


@dataclass(frozen=True)
class Interface:
    name: str
    paths: tuple[str, ...]  # mount points, e.g. ("/api/3/action", "/api/action")
    factory: str  # "package.module:function", called with the platform

    def build(self, platform: Any) -> Callable[..., Any]:
        module, _, function = self.factory.partition(":")
        return getattr(importlib.import_module(module), function)(platform)


def interface(name: str, paths: tuple[str, ...], factory: str) -> None:
    """Register (or replace) the interface ``name``."""
    _interfaces[name] = Interface(name, paths, factory)


def interfaces() -> list[Interface]:
    return list(_interfaces.values())


def unregister(name: str) -> None:
    """Remove an interface (switched off, or a test's own)."""
    _interfaces.pop(name, None)
