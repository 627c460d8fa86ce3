"""Optionally, a harvested dataset's resources are fetched (through :mod:`fetch`, bounded
like every document) and handed to the normal ingest job, which makes each one a table
version of its resource. Only formats ingest reads are fetched; the others stay links."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import PurePosixPath
from urllib.parse import urlsplit

from allmende.access.policy import HARVESTER
from allmende.catalog.datasets import get_dataset
from allmende.errors import AllmendeError, msg
from allmende.interop.harvest.apply import resources_of
from allmende.interop.harvest.fetch import Fetcher
from allmende.interop.harvest.records import Harvested
from allmende.jobs import queue
from allmende.platform import Platform
from allmende.tables import store

#: Resource formats ingest reads (see ingest.readers), as sources label them.
INGESTIBLE = {"CSV": ".csv", "TSV": ".tsv", "XLSX": ".xlsx", "XLS": ".xls", "ODS": ".ods",
              "JSON": ".json", "GEOJSON": ".geojson", "GPKG": ".gpkg", "SHP": ".zip"}
#: The payload key that makes an ingest job act as the harvester (harvested datasets are
#: read-only to everybody else).
HARVESTED = "harvested"


def ingest(platform: Platform, fetcher: Fetcher, written: list[tuple[str, Harvested]],
           failed: Callable[[str, str], None]) -> None:
    """Fetch the ingestible resources of the open datasets just written and queue their
    ingest; a resource that cannot be fetched is a failure entry of its record. The files of
    restricted datasets are not asked for: their origin shares the metadata, not the rows."""
    folder = store.uploads_folder(platform.settings.data_dir)
    folder.mkdir(parents=True, exist_ok=True)
    for dataset, record in written:
        if record.access_level != "public":
            continue
        for resource in resources_of(record):
            suffix = INGESTIBLE.get(resource["format"])
            if suffix is None or not resource["url"]:
                continue
            staged = store.staged_upload(folder)
            try:
                fetcher.download(resource["url"], staged)
            except AllmendeError as error:
                staged.unlink(missing_ok=True)
                failed(record.origin_id, msg("Ressource „{name}“: {problem}",
                                             name=resource["name"], problem=error.message))
                continue
            _queue(platform, dataset, resource["name"], _file_name(resource["url"], suffix),
                   str(staged))


def _file_name(url: str, suffix: str) -> str:
    """A file name ingest can tell the format by: the URL's own, else one with the suffix of
    the source's format label."""
    name = PurePosixPath(urlsplit(url).path).name
    return name if name.lower().endswith(suffix) else f"{name or 'ressource'}{suffix}"


def _queue(platform: Platform, dataset: str, resource: str, filename: str, staged: str) -> None:
    with platform.db.session() as session:
        found = get_dataset(session, HARVESTER, dataset)
        queue.enqueue(session, "ingest", {
            "dataset": dataset, "upload": staged, "filename": filename,
            "resource_name": resource, "options": {}, HARVESTED: True}, HARVESTER,
            found.organization_id)
