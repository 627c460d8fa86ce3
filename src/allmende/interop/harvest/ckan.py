"""Sources of type ``ckan`` (a CKAN Action API) and ``allmende`` (another allmende node,
read through its CKAN Action API: 1,000 datasets with their resources per request, the
fastest of its interfaces for a whole catalog).

Paging as CKAN's own harvester does: ``package_search`` with ``sort=id asc``, ``start`` and
``rows``; changes since the last run with ``fq=metadata_modified:[X TO *]``; the full list
of identifiers (for deletions) as ``package_search`` with ``fl=id``. Read anonymously: what
an anonymous visitor of the source cannot see is not harvested."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import Any

from allmende.errors import msg
from allmende.interop.harvest import records as r
from allmende.interop.harvest.fetch import Fetcher, FetchError


class CkanReader:
    rows = 100

    def __init__(self, fetcher: Fetcher, url: str) -> None:
        self.fetcher = fetcher
        self.base = url.rstrip("/")
        self.api = self._api_root(self.base)
        self._identifiers: set[str] | None = None

    @staticmethod
    def _api_root(base: str) -> str:
        for suffix in ("/api/3/action", "/api/action"):
            if base.endswith(suffix):
                return base
        return base + "/api/3/action"

    def site(self) -> str:
        return self.api.removesuffix("/api/3/action").removesuffix("/api/action")

    def records(self, since: dt.datetime | None) -> Iterator[r.Harvested | r.BadRecord]:
        query: dict[str, Any] = {"sort": "id asc", "rows": self.rows}
        if since is not None:
            stamp = since.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
            query["fq"] = f"metadata_modified:[{stamp} TO *]"
        seen: set[str] = set()
        for package in self._search(query):
            found = self._record(package)
            seen.add(found.origin_id)
            yield found
        if since is None:  # the whole catalog was listed: that is the identifier list too
            self._identifiers = seen

    def identifiers(self) -> set[str]:
        if self._identifiers is None:
            self._identifiers = {str(p.get("id")) for p in self._search(
                {"sort": "id asc", "rows": 1000, "fl": "id"}) if isinstance(p, dict)}
        return self._identifiers

    def _search(self, query: dict[str, Any]) -> Iterator[Any]:
        """Every result of ``package_search``, page by page."""
        start = 0
        while True:
            url = f"{self.api}/package_search"
            body = self.fetcher.json(url, {**query, "start": start})
            result = body.get("result") if isinstance(body, dict) else None
            if not isinstance(body, dict) or body.get("success") is not True \
                    or not isinstance(result, dict) or not isinstance(result.get("results"), list):
                raise FetchError(msg("{url} antwortet nicht wie die CKAN Action API "
                                     "(package_search ohne „success“ und „result“).", url=url),
                                 "harvest_not_ckan")
            page = result["results"]
            yield from page
            start += len(page)
            count = result.get("count")
            if not page or not isinstance(count, int) or start >= count:
                return

    def _record(self, package: Any) -> r.Harvested | r.BadRecord:
        if not isinstance(package, dict) or not package.get("id"):
            return r.BadRecord(str(package)[:80] if not isinstance(package, dict) else "?",
                               msg("Ein Datensatz der Quelle hat keine Kennung (id)."))
        try:
            return self.harvested(package)
        except (TypeError, ValueError, AttributeError, KeyError) as error:
            return r.BadRecord(str(package["id"]), msg(
                "Der Datensatz lässt sich nicht lesen ({error}).", error=str(error)))

    def page_url(self, package: dict[str, Any]) -> str:
        return f"{self.site()}/dataset/{package.get('name') or package['id']}"

    def harvested(self, package: dict[str, Any]) -> r.Harvested:
        extras = {str(e.get("key")): e.get("value") for e in package.get("extras") or []
                  if isinstance(e, dict)}
        themes = [g.get("name", "") for g in package.get("groups") or [] if isinstance(g, dict)]
        themes += str(extras.get("theme") or "").split()
        return r.Harvested(
            origin_id=str(package["id"]), origin_url=self.page_url(package),
            name=str(package.get("name") or package["id"]),
            title=str(package.get("title") or package.get("name") or ""),
            description=str(package.get("notes") or ""),
            modified=r.moment(package.get("metadata_modified")),
            keywords=tuple(str(t.get("name")) for t in package.get("tags") or []
                           if isinstance(t, dict) and t.get("name")),
            themes=tuple(dict.fromkeys(c for c in map(r.theme_code, themes) if c)),
            license=r.licence_code(package.get("license_id"))
            or r.licence_code(package.get("license_url")),
            access_level=r.access_level(extras.get("access_rights")),
            contact_point=extras.get("contact_uri") or package.get("maintainer_email")
            or package.get("author_email"),
            issued=r.day(extras.get("issued")),
            temporal_start=r.day(extras.get("temporal_start")),
            temporal_end=r.day(extras.get("temporal_end")),
            spatial=extras.get("spatial_uri"),
            update_frequency=r.frequency_code(extras.get("frequency")),
            language=extras.get("language"),
            resources=tuple(_resource(x) for x in package.get("resources") or []
                            if isinstance(x, dict)))


def _resource(resource: dict[str, Any]) -> r.HarvestedResource:
    return r.HarvestedResource(
        name=str(resource.get("name") or ""), url=resource.get("url") or None,
        format=str(resource.get("format") or ""),
        description=str(resource.get("description") or ""))


class AllmendeReader(CkanReader):
    """Another allmende node: its CKAN API answers 1,000 datasets a page, and its datasets'
    ``url`` is their page on the node."""

    rows = 1000

    def page_url(self, package: dict[str, Any]) -> str:
        return str(package.get("url") or super().page_url(package))
