"""Absolute links of the OGC API, from ALLMENDE_BASE_URL (interop.links), and OGC's link
objects."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from allmende.interop.links import Links

MOUNT = "/ogc"


@dataclass(frozen=True)
class OgcLinks:
    site: Links  # the platform's pages and downloads

    def url(self, path: str = "/", **params: str) -> str:
        """An absolute link below the mount (``path`` starts with ``/``)."""
        return self.site.url(MOUNT + path, **params)

    def page(self, path: str, params: Iterable[tuple[str, str]]) -> str:
        """An absolute link with query parameters in the given order (repeats allowed)."""
        query = urlencode(list(params))
        return self.site.url(MOUNT + path) + (f"?{query}" if query else "")


def link(href: str, rel: str, media_type: str, title: str | None = None) -> dict[str, Any]:
    found = {"href": href, "rel": rel, "type": media_type}
    if title:
        found["title"] = title
    return found
