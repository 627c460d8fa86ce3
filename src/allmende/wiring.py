"""How the capabilities plug into each other, in one place: the job kinds the worker runs, the
catalog events other capabilities react to and the open interfaces the web app mounts. Every
process that builds a Platform is wired (idempotent); adding a capability touches this file,
not the worker, the catalog or the web app."""

from __future__ import annotations

from allmende.catalog import events
from allmende.harmonize.events import rebuild_regional
from allmende.interop import registry as interfaces
from allmende.jobs import registry

#: How often agreements past their end are stored as expired and holders are told of the end
#: ahead: a refused read already records an expiry it finds, so the sweep can be unhurried.
AGREEMENT_LIFECYCLE_SECONDS = 300.0


def wire() -> None:
    registry.job_kind("ingest", "allmende.ingest.jobs:ingest_job")
    registry.job_kind("harmonize", "allmende.harmonize.jobs:harmonize_job")
    registry.job_kind("consolidate", "allmende.harmonize.jobs:consolidate_job")
    registry.job_kind("harvest", "allmende.interop.harvest.jobs:harvest_job")
    registry.periodic(registry.Periodic("harvest-schedules", 60.0, _queue_scheduled_harvests))
    # well within the five minutes a checkpoint may lag behind arriving entries
    registry.periodic(registry.Periodic("log-checkpoint", 60.0, _publish_log_checkpoint))
    registry.periodic(registry.Periodic("request-retention", 3600.0, _purge_requests))
    registry.periodic(registry.Periodic("agreement-lifecycle", AGREEMENT_LIFECYCLE_SECONDS,
                                        _agreement_lifecycle))
    events.listen(rebuild_regional)
    interfaces.interface("ckan", ("/api/3/action", "/api/action"),
                         "allmende.interop.ckan.app:create_app",
                         service=interfaces.Service("CKAN Action API", "/api/3/action/"))
    interfaces.interface("dcat", (), "allmende.interop.dcat.app:create_app",
                         routes=("/catalog", "/catalog.{format}", "/catalog/datasets/{file}"))
    interfaces.interface("ogc", ("/ogc",), "allmende.interop.ogc.app:create_app",
                         service=interfaces.Service(
                             "OGC API Features", "/ogc/", "/ogc/api",
                             "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/core"))
    interfaces.interface("transparency-log", ("/log/v1",), "allmende.transparency.app:create_app")


def _queue_scheduled_harvests(platform: object) -> None:
    """Imported when it runs, so that a process does not load harvesting to start."""
    from allmende.interop.harvest.jobs import queue_scheduled

    queue_scheduled(platform)  # type: ignore[arg-type]


def _publish_log_checkpoint(platform: object) -> None:
    from allmende.transparency.checkpoints import publish_periodically

    publish_periodically(platform)  # type: ignore[arg-type]


def _purge_requests(platform: object) -> None:
    """Data requests past their retention, and registrations never confirmed, are deleted."""
    from allmende.access.requests import run_retention

    run_retention(platform)


def _agreement_lifecycle(platform: object) -> None:
    """Agreements past their end are stored as expired; holders hear of the end ahead."""
    from allmende.access.agreements import run_lifecycle

    run_lifecycle(platform)
