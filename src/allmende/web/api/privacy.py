"""Personal data: the decision on a held version and a dataset's suppression threshold.
Thin over allmende.privacy."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from pydantic import BaseModel, Field

from allmende.privacy import decisions, suppression
from allmende.web.api.responses import AUTH, WRITE, errors
from allmende.web.deps import ActorDep, PlatformDep, SessionDep

router = APIRouter(tags=["Personenbezogene Daten"])


class ColumnDecisionIn(BaseModel):
    column: str
    action: str = Field(description="drop | hash | truncate | generalize | confirm")
    reason: str = Field("", description="Required for confirm")
    keep: int | None = Field(None, description="truncate: characters kept (default 3)")
    digits: int | None = Field(None, description="generalize a text (postcode): digits kept "
                                                 "(default 3)")
    step: float | None = Field(None, description="generalize a number: width of a band "
                                                 "(default 10)")


class DecisionIn(BaseModel):
    columns: list[ColumnDecisionIn]


class DecisionOut(BaseModel):
    dataset: str
    resource: str
    held_version: int
    published_version: int = Field(description="The version now published: a new one built "
                                               "from the held one, or the held one itself "
                                               "when every column was confirmed")
    columns: list[dict[str, Any]]


class PrivacySettings(BaseModel):
    suppression_k: int | None = Field(
        None, description="Counts below k are suppressed in aggregates of this dataset "
                          "(null: default 3, only where personal data was found)")


@router.post("/resources/{resource_id}/versions/{version}/privacy-decision",
             status_code=201, response_model=DecisionOut,
             summary="Über die personenbezogenen Daten einer zurückgehaltenen Version "
                     "entscheiden", responses=errors(*WRITE, 400, 404, 409, 422))
def decide(resource_id: str, version: int, body: DecisionIn, actor: ActorDep,
           platform: PlatformDep) -> DecisionOut:
    """Per column drop, hash (keyed, per dataset), truncate, generalize or confirm (with a
    reason); only the organization's admins."""
    result = decisions.decide(platform, actor, resource_id, version, [
        decisions.ColumnDecision(**c.model_dump()) for c in body.columns])
    return DecisionOut(**result.as_dict())


@router.get("/datasets/{name}/privacy", response_model=PrivacySettings,
            summary="Datenschutz-Einstellungen eines Datensatzes",
            responses=errors(*AUTH, 404, 422))
def read_settings(name: str, session: SessionDep, actor: ActorDep) -> PrivacySettings:
    return PrivacySettings(suppression_k=suppression.dataset_threshold(session, actor, name))


@router.put("/datasets/{name}/privacy", response_model=PrivacySettings,
            summary="Datenschutz-Einstellungen eines Datensatzes ändern",
            responses=errors(*WRITE, 400, 404, 422))
def write_settings(name: str, body: PrivacySettings, session: SessionDep,
                   actor: ActorDep) -> PrivacySettings:
    return PrivacySettings(suppression_k=suppression.set_dataset_threshold(
        session, actor, name, body.suppression_k))
