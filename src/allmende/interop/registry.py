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
class Service:
    """How an interface describes itself in the catalog (a DCAT data service): its name, the
    path of its endpoint and, where there is one, of its machine-readable description and the
    URI of the standard it implements."""

    title: str  # German, e.g. "CKAN Action API"
    endpoint: str  # a path, e.g. "/api/3/action/"
    description: str | None = None  # a path, e.g. an OpenAPI document
    conforms_to: str | None = None  # a URI


@dataclass(frozen=True)
class Interface:
    name: str
    paths: tuple[str, ...]  # mount points, e.g. ("/api/3/action", "/api/action")
    factory: str  # "package.module:function", called with the platform
    # Paths answered exactly (Starlette path syntax, e.g. "/catalog.{format}"), for
    # interfaces whose documents are not below a folder of their own; the application sees
    # the whole path.
    routes: tuple[str, ...] = ()
    service: Service | None = None

    def build(self, platform: Any) -> Callable[..., Any]:
        module, _, function = self.factory.partition(":")
        return getattr(importlib.import_module(module), function)(platform)


def interface(name: str, paths: tuple[str, ...], factory: str, *, routes: tuple[str, ...] = (),
              service: Service | None = None) -> None:
    """Register (or replace) the interface ``name``."""
    _interfaces[name] = Interface(name, paths, factory, routes, service)


def interfaces() -> list[Interface]:
    return list(_interfaces.values())


def unregister(name: str) -> None:
    """Remove an interface (switched off, or a test's own)."""
    _interfaces.pop(name, None)
