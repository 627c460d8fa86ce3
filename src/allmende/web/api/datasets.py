"""/api/v1/datasets and /api/v1/resources."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request, Response

from allmende.catalog import datasets as service
from allmende.catalog.datasets import DatasetCreate, DatasetPatch, ResourceFields
from allmende.catalog.search import MAX_PER_PAGE, SearchRequest, search_datasets
from allmende.catalog.search_index import FACETS
from allmende.tables import service as tables
from allmende.tables.versions import MAX_PAGE_SIZE, PAGE_SIZE
from allmende.web.api.params import (
    AccessLevel,
    Keyword,
    License,
    Page,
    ResourceFormat,
    Slug,
    Sort,
    Theme,
)
from allmende.web.api.responses import AUTH, WRITE, errors
from allmende.web.api.schemas import (
    ActivityList,
    ActivityOut,
    DatasetOut,
    ResourceDetail,
    ResourceOut,
    SearchOut,
    VersionList,
)
from allmende.web.deps import ActorDep, PlatformDep, SessionDep
from allmende.web.i18n import api_language_of

router = APIRouter(tags=["Datensätze"])


@router.get("/datasets", response_model=SearchOut, summary="Datensätze suchen",
            responses=errors(*AUTH, 422))
def search(
    request: Request, session: SessionDep, platform: PlatformDep, actor: ActorDep,
    q: str = "",
    organization: Annotated[list[Slug] | None, Query()] = None,
    theme: Annotated[list[Theme] | None, Query()] = None,
    format: Annotated[list[ResourceFormat] | None, Query()] = None,
    license: Annotated[list[License] | None, Query()] = None,
    access_level: Annotated[list[AccessLevel] | None, Query()] = None,
    keyword: Annotated[list[Keyword] | None, Query()] = None,
    sort: Sort = "relevance",
    page: Page = 1,
    per_page: Annotated[int, Query(ge=1, le=MAX_PER_PAGE)] = 20,
) -> SearchOut:
    """Full-text search (German folding and stemming) with facets over the datasets the caller
    may see. Repeat a facet parameter to select several values of it."""
    given = dict(zip(FACETS, (organization, theme, format, license, access_level, keyword),
                     strict=True))
    result = search_datasets(
        session, platform.search_index, actor,
        SearchRequest(q=q, filters={k: v for k, v in given.items() if v}, sort=sort, page=page,
                      per_page=per_page),
    )
    return SearchOut.of(result)


@router.post("/datasets", status_code=201, response_model=DatasetOut,
             summary="Datensatz anlegen", responses=errors(*WRITE, 400, 404, 409))
def create(body: DatasetCreate, session: SessionDep, actor: ActorDep) -> DatasetOut:
    return DatasetOut.of(service.create_dataset(session, actor, body.model_dump()))


@router.get("/datasets/{name}", response_model=DatasetOut, summary="Datensatz lesen",
            responses=errors(*AUTH, 404, 422))
def read(name: str, session: SessionDep, actor: ActorDep) -> DatasetOut:
    return DatasetOut.of(service.get_dataset(session, actor, name))


@router.patch("/datasets/{name}", response_model=DatasetOut, summary="Datensatz ändern",
              responses=errors(*WRITE, 400, 404, 409))
def patch(name: str, body: DatasetPatch, session: SessionDep,  # type: ignore[valid-type]
          actor: ActorDep) -> DatasetOut:
    changes = body.model_dump(exclude_unset=True)  # type: ignore[attr-defined]
    return DatasetOut.of(service.update_dataset(session, actor, name, changes))


@router.delete("/datasets/{name}", status_code=204, summary="Datensatz löschen (wiederherstellbar)",
               responses=errors(*WRITE, 404, 409))
def delete(name: str, session: SessionDep, actor: ActorDep) -> Response:
    service.delete_dataset(session, actor, name)
    return Response(status_code=204)


@router.post("/datasets/{name}/restore", response_model=DatasetOut,
             summary="Gelöschten Datensatz wiederherstellen",
             responses=errors(*WRITE, 404, 409))
def restore(name: str, session: SessionDep, actor: ActorDep) -> DatasetOut:
    return DatasetOut.of(service.restore_dataset(session, actor, name))


@router.get("/datasets/{name}/activity", response_model=ActivityList,
            summary="Änderungsverlauf eines Datensatzes", responses=errors(*AUTH, 404, 422))
def history(name: str, session: SessionDep, actor: ActorDep) -> ActivityList:
    items = [ActivityOut.of(a, show_email=actor.is_authenticated)
             for a in service.activity(session, actor, name)]
    return ActivityList(count=len(items), results=items)


@router.post("/datasets/{name}/links", status_code=201, response_model=ResourceOut,
             summary="Ressource als Verweis hinzufügen",
             responses=errors(*WRITE, 400, 404, 409))
def add_link(name: str, body: ResourceFields, session: SessionDep,
             actor: ActorDep) -> ResourceOut:
    return ResourceOut.of(service.add_resource(session, actor, name, body.model_dump()))


@router.get("/resources/{resource_id}", response_model=ResourceDetail,
            summary="Ressource lesen", responses=errors(*AUTH, 404, 422))
def read_resource(resource_id: str, request: Request, session: SessionDep,
                  actor: ActorDep) -> ResourceDetail:
    """With the newest 20 versions and `versions_total`; older ones page through
    `/resources/{id}/versions`. The versions' warnings and column notes are in the asker's
    language (`?lang=`, cookie, `Accept-Language`)."""
    newest = tables.version_history(session, actor, resource_id)
    return ResourceDetail.of(service.get_resource(session, actor, resource_id), newest,
                             api_language_of(request))


@router.get("/resources/{resource_id}/versions", response_model=VersionList,
            summary="Versionen einer Ressource, seitenweise",
            responses=errors(*AUTH, 404, 422))
def list_versions(resource_id: str, request: Request, session: SessionDep, actor: ActorDep,
                  page: Page = 1,
                  per_page: Annotated[int, Query(ge=1, le=MAX_PAGE_SIZE)] = PAGE_SIZE
                  ) -> VersionList:
    """All versions of a resource, newest first, `per_page` (≤ 100) at a time; warnings and
    column notes in the asker's language."""
    return VersionList.of(tables.version_history(session, actor, resource_id, page, per_page),
                          api_language_of(request))


@router.delete("/resources/{resource_id}", status_code=204, summary="Ressource entfernen",
               responses=errors(*WRITE, 404, 409))
def delete_resource(resource_id: str, session: SessionDep, actor: ActorDep) -> Response:
    service.delete_resource(session, actor, resource_id)
    return Response(status_code=204)
