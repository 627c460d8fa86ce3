"""/api/v1/schemas, a resource's mapping and quality report, and /api/v1/regional: the
Harmonize capability over HTTP."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, Query
from pydantic import BeforeValidator

from allmende.harmonize import service
from allmende.harmonize.mapping import Mapping, parse_mapping
from allmende.web.api.harmonize_schemas import (
    ConsolidationList,
    ConsolidationOut,
    MappingList,
    MappingOut,
    PreviewOut,
    QualityOut,
    SchemaInfoOut,
    SchemaList,
)
from allmende.web.api.responses import AUTH, WRITE, errors
from allmende.web.deps import ActorDep, PlatformDep, SessionDep, UserDep

router = APIRouter(tags=["Harmonisierung"])

MAX_PREVIEW_ROWS = 100
PreviewLimit = Annotated[int, Query(ge=1, le=MAX_PREVIEW_ROWS, description="Zeilen, höchstens 100")]
# parse_mapping rather than FastAPI's generic validation: the same German messages and
# "invalid_mapping" code as the UI and the CLI give for a malformed mapping.
MappingBody = Annotated[Mapping, BeforeValidator(parse_mapping), Body(description=(
    "Die Zuordnung: `schema_name` und je Schemafeld eine Regel aus `source` (Spalte oder "
    "Spalten) oder `constant`, gefolgt von `transforms`."))]


# --- schemas -------------------------------------------------------------------------------

@router.get("/schemas", response_model=SchemaList, summary="Gemeinsame Schemas auflisten",
            responses=errors(422))
def list_schemas(session: SessionDep) -> SchemaList:
    items = [SchemaInfoOut.of(info) for info in service.list_schemas(session)]
    return SchemaList(count=len(items), results=items)


@router.get("/schemas/{name}", response_model=dict[str, Any],
            summary="Ein gemeinsames Schema (Frictionless Table Schema)",
            responses=errors(404, 422))
def read_schema(name: str, session: SessionDep) -> dict[str, Any]:
    return service.get_schema(session, name)


@router.post("/schemas", status_code=201, response_model=SchemaInfoOut,
             summary="Schema hinzufügen oder ersetzen (Sysadmin)",
             responses=errors(*WRITE, 400, 409))
def add_schema(session: SessionDep, actor: UserDep,
               descriptor: Annotated[dict[str, Any], Body(
                   description="Frictionless Table Schema mit `name`, `title`, `version` "
                               "und `fields`", json_schema_extra=service.NEW_SCHEMA)]
               ) -> SchemaInfoOut:
    return SchemaInfoOut.of(service.add_schema(session, actor, descriptor))


# --- a resource's mapping ----------------------------------------------------------------------

@router.get("/resources/{resource_id}/mapping", response_model=MappingOut,
            summary="Aktuelle Zuordnung einer Ressource", responses=errors(*AUTH, 403, 404, 422))
def read_mapping(resource_id: str, session: SessionDep, actor: ActorDep) -> MappingOut:
    return MappingOut.of(service.current_mapping(session, actor, resource_id))


@router.get("/resources/{resource_id}/mapping/versions", response_model=MappingList,
            summary="Alle Versionen der Zuordnung einer Ressource (älteste zuerst)",
            responses=errors(*AUTH, 403, 404, 422))
def mapping_versions(resource_id: str, session: SessionDep, actor: ActorDep) -> MappingList:
    items = [MappingOut.of(m) for m in service.mapping_history(session, actor, resource_id)]
    return MappingList(count=len(items), results=items)


@router.post("/resources/{resource_id}/mapping/suggest", response_model=Mapping,
             response_model_exclude_none=True,
             summary="Zuordnung vorschlagen lassen (Redaktion der Organisation)",
             responses=errors(*WRITE, 404, 409))
def suggest_mapping(resource_id: str, session: SessionDep, actor: ActorDep,
                    platform: PlatformDep,
                    schema: Annotated[str, Query(description="Name des Schemas")]) -> Mapping:
    """Each field's rule carries `confidence` and `reason`; check it, then save it with PUT."""
    return service.suggest(platform, session, actor, resource_id, schema)


@router.post("/resources/{resource_id}/mapping/preview", response_model=PreviewOut,
             summary="Zuordnung an den ersten Zeilen ausprobieren, ohne zu speichern",
             responses=errors(*WRITE, 400, 404, 409))
def preview_mapping(resource_id: str, mapping: MappingBody, session: SessionDep,
                    actor: ActorDep, platform: PlatformDep,
                    limit: PreviewLimit = service.PREVIEW_ROWS) -> PreviewOut:
    return PreviewOut.of(service.preview(platform, session, actor, resource_id, mapping,
                                         limit))


@router.put("/resources/{resource_id}/mapping", status_code=201, response_model=MappingOut,
            summary="Zuordnung speichern (neue Version; Prüfung läuft im Hintergrund)",
            responses=errors(*WRITE, 400, 404, 409))
def save_mapping(resource_id: str, mapping: MappingBody, session: SessionDep,
                 actor: ActorDep, platform: PlatformDep) -> MappingOut:
    """Answers 422 naming schema field and source column when the mapping does not fit the
    file. The quality report follows at `GET …/quality` once the background job ran."""
    return MappingOut.of(service.save_mapping(platform, session, actor, resource_id, mapping))


# --- quality and the regional tables ---------------------------------------------------------

@router.get("/resources/{resource_id}/quality", response_model=QualityOut,
            summary="Neuester Qualitätsbericht einer Ressource",
            responses=errors(*AUTH, 403, 404, 422))
def quality(resource_id: str, session: SessionDep, actor: ActorDep) -> QualityOut:
    return QualityOut.of(service.quality_for(session, actor, resource_id))


@router.get("/regional", response_model=ConsolidationList,
            summary="Regionale Datensätze (je Schema) mit ihren Quellen",
            responses=errors(*AUTH, 422))
def list_regional(session: SessionDep, actor: ActorDep) -> ConsolidationList:
    items = [ConsolidationOut.of(c) for c in service.list_consolidations(session, actor)]
    return ConsolidationList(count=len(items), results=items)


@router.get("/regional/{schema}", response_model=ConsolidationOut,
            summary="Ein regionaler Datensatz mit Quellen und Problemen",
            responses=errors(*AUTH, 404, 422))
def read_regional(schema: str, session: SessionDep, actor: ActorDep) -> ConsolidationOut:
    return ConsolidationOut.of(service.get_consolidation(session, actor, schema))
