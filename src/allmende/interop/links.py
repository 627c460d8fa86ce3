"""Every absolute link an interface hands out, from the one setting ``ALLMENDE_BASE_URL``: two
nodes on one machine each produce their own URLs."""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import quote, urlencode

#: Formats a table resource is downloaded in (GET /api/v1/resources/{id}/rows?format=…).
DOWNLOAD_FORMATS = ("csv", "json", "geojson", "parquet", "xlsx")


@dataclass(frozen=True)
class Links:
    base_url: str

    def url(self, path: str, **params: str) -> str:
        """``base_url`` + ``path`` (which starts with ``/``), with query parameters."""
        query = f"?{urlencode(params)}" if params else ""
        return self.base_url.rstrip("/") + path + query

    def dataset_page(self, name: str) -> str:
        return self.url(f"/datasets/{quote(name)}")

    def organization_page(self, slug: str) -> str:
        return self.url(f"/organizations/{quote(slug)}")

    def resource_page(self, resource_id: str) -> str:
        return self.url(f"/resources/{quote(resource_id)}")

    def download(self, resource_id: str, format: str) -> str:
        """The current version of a table in ``format`` (one of DOWNLOAD_FORMATS)."""
        return self.url(f"/api/v1/resources/{quote(resource_id)}/rows", format=format)
