"""/api/v1/harvest/sources: harvest sources and their runs (sysadmins, and admins of a
source's target organization). Thin over allmende.interop.harvest.service."""

from __future__ import annotations

import datetime as dt
from typing import Self

from fastapi import APIRouter, Response
from pydantic import BaseModel, Field

from allmende.interop.harvest import service
from allmende.interop.harvest.service import (
    RunRecord,
    SourceChanges,
    SourceCreate,
    SourceRecord,
)
from allmende.web.api.responses import AUTH, WRITE, errors
from allmende.web.deps import ActorDep, ApiLanguageDep, SessionDep
from allmende.web.i18n import localize_text

router = APIRouter(prefix="/harvest", tags=["Harvesting"])


class FailureOut(BaseModel):
    id: str = Field(description="The origin's identifier of the record")
    message: str


class RunOut(BaseModel):
    id: int
    source: str
    status: str = Field(description="queued, running, succeeded or failed")
    trigger: str = Field(description="manual, schedule or cli")
    job: int | None = Field(description="The job doing the run (GET /api/v1/jobs/{id})")
    queued: dt.datetime
    started: dt.datetime | None
    finished: dt.datetime | None
    created: int
    updated: int
    deleted: int
    unchanged: int
    failed: list[FailureOut] = Field(description="Records that could not be taken over")
    reason: str | None = Field(description="Why the run failed as a whole")

    @classmethod
    def of(cls, run: RunRecord, language: str) -> Self:
        return cls(id=run.id, source=run.source, status=run.status, trigger=run.trigger,
                   job=run.job_id, queued=run.queued, started=run.started,
                   finished=run.finished, created=run.created, updated=run.updated,
                   deleted=run.deleted, unchanged=run.unchanged,
                   failed=[FailureOut(id=f.id, message=localize_text(f.message, language))
                           for f in run.failed],
                   reason=localize_text(run.reason, language) if run.reason else None)


class RunList(BaseModel):
    count: int
    results: list[RunOut]


class SourceOut(BaseModel):
    name: str
    type: str = Field(description="ckan, dcat or allmende")
    url: str
    organization: str = Field(description="The organization its datasets go to")
    schedule: str = Field(description="hourly, daily, weekly or off")
    ingest_resources: bool
    created: dt.datetime
    datasets: int = Field(description="Its harvested datasets (not deleted)")
    last_run: RunOut | None

    @classmethod
    def of(cls, source: SourceRecord, language: str) -> Self:
        return cls(name=source.name, type=source.type, url=source.url,
                   organization=source.organization, schedule=source.schedule,
                   ingest_resources=source.ingest_resources, created=source.created,
                   datasets=source.datasets,
                   last_run=RunOut.of(source.last_run, language) if source.last_run else None)


class SourceList(BaseModel):
    count: int
    results: list[SourceOut]


@router.get("/sources", response_model=SourceList, summary="Harvest-Quellen auflisten",
            responses=errors(*AUTH, 403, 422))
def list_sources(session: SessionDep, actor: ActorDep, language: ApiLanguageDep) -> SourceList:
    """The sources the caller manages (sysadmins: all)."""
    items = [SourceOut.of(s, language) for s in service.list_sources(session, actor)]
    return SourceList(count=len(items), results=items)


@router.post("/sources", status_code=201, response_model=SourceOut,
             summary="Harvest-Quelle anlegen", responses=errors(*WRITE, 400, 404, 409))
def create_source(body: SourceCreate, session: SessionDep, actor: ActorDep,
                  language: ApiLanguageDep) -> SourceOut:
    return SourceOut.of(service.create_source(session, actor, body.model_dump()), language)


@router.get("/sources/{name}", response_model=SourceOut, summary="Harvest-Quelle lesen",
            responses=errors(*AUTH, 403, 404, 422))
def read_source(name: str, session: SessionDep, actor: ActorDep,
                language: ApiLanguageDep) -> SourceOut:
    return SourceOut.of(service.get_source(session, actor, name), language)


@router.patch("/sources/{name}", response_model=SourceOut, summary="Harvest-Quelle ändern",
              responses=errors(*WRITE, 400, 404))
def update_source(name: str, body: SourceChanges,  # type: ignore[valid-type]
                  session: SessionDep, actor: ActorDep, language: ApiLanguageDep) -> SourceOut:
    changes = body.model_dump(exclude_unset=True)  # type: ignore[attr-defined]
    return SourceOut.of(service.update_source(session, actor, name, changes), language)


@router.delete("/sources/{name}", status_code=204,
               summary="Harvest-Quelle löschen (ihre Datensätze gehen in den Papierkorb)",
               responses=errors(*WRITE, 404))
def delete_source(name: str, session: SessionDep, actor: ActorDep) -> Response:
    service.delete_source(session, actor, name)
    return Response(status_code=204)


@router.post("/sources/{name}/runs", status_code=202, response_model=RunOut,
             summary="Harvest-Lauf starten (als Auftrag)", responses=errors(*WRITE, 404))
def queue_run(name: str, session: SessionDep, actor: ActorDep,
              language: ApiLanguageDep) -> RunOut:
    return RunOut.of(service.queue_run(session, actor, name), language)


@router.get("/sources/{name}/runs", response_model=RunList,
            summary="Berichte der Harvest-Läufe, neueste zuerst",
            responses=errors(*AUTH, 403, 404, 422))
def list_runs(name: str, session: SessionDep, actor: ActorDep,
              language: ApiLanguageDep) -> RunList:
    items = [RunOut.of(r, language) for r in service.list_runs(session, actor, name)]
    return RunList(count=len(items), results=items)
