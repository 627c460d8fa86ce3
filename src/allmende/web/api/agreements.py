"""/api/v1/agreements: usage agreements on restricted datasets (the holder's and the owning
organization's), as JSON or, with ``Accept: application/ld+json``, as W3C ODRL 2.2.
Thin over allmende.access.agreements."""

from __future__ import annotations

import datetime as dt
from typing import Any, Literal, Self

from fastapi import APIRouter, Body, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from allmende.access import accounts, agreements
from allmende.web.api.responses import AUTH, WRITE, errors
from allmende.web.deps import ActorDep, MailerDep, PlatformDep, SessionDep

router = APIRouter(prefix="/agreements", tags=["Nutzungsvereinbarungen"])
JSON_LD = "application/ld+json"


class RowFilterItem(BaseModel):
    column: str
    op: str = Field("eq", description=", ".join(agreements.FILTER_OPERATORS))
    value: Any = None


class AgreementIn(BaseModel):
    dataset: str = Field(description="Name oder UUID eines eingeschränkten Datensatzes")
    assignee: str = Field(description="E-Mail-Adresse des Kontos, das die Daten nutzt")
    valid_from: dt.datetime
    valid_until: dt.datetime
    max_count: int | None = Field(None, ge=1, le=agreements.MAX_INT,
                                  description="Zugriffe insgesamt; ohne: unbegrenzt")
    columns: list[str] | None = Field(None, description="Freigegebene Spalten; ohne: alle")
    row_filter: list[RowFilterItem] | None = None
    purpose: str = Field(description=", ".join(agreements.PURPOSES))
    purpose_text: str = ""
    duties: list[str] = Field(["attribute", "delete"],
                              description=", ".join(agreements.DUTIES))
    request_id: int | None = Field(None, ge=1, le=agreements.MAX_INT)


class AgreementOut(BaseModel):
    uid: str
    state: str = Field(description="active, expired, exhausted oder revoked")
    dataset: str
    dataset_title: str
    organization: str
    organization_name: str
    assignee_email: str
    assignee_name: str
    valid_from: dt.datetime
    valid_until: dt.datetime
    max_count: int | None
    used_count: int
    remaining: int | None
    columns: list[str] | None
    row_filter: list[dict[str, Any]] | None
    purpose: str
    purpose_label: str
    purpose_text: str
    duties: list[str]
    request_id: int | None
    created_at: dt.datetime
    last_used_at: dt.datetime | None
    revoked_at: dt.datetime | None
    revoke_reason: str | None

    @classmethod
    def of(cls, found: agreements.AgreementRecord) -> Self:
        fields = {name: getattr(found, name) for name in cls.model_fields}
        fields["columns"] = list(found.columns) if found.columns is not None else None
        fields["duties"] = list(found.duties)
        return cls(**fields)


class AgreementList(BaseModel):
    count: int
    results: list[AgreementOut]


@router.get("", response_model=AgreementList, summary="Meine Nutzungsvereinbarungen",
            responses=errors(*AUTH, 422))
def list_agreements(actor: ActorDep, session: SessionDep,
                    role: Literal["all", "holder", "owner"] = "all") -> AgreementList:
    """`role=holder`: die eigenen; `role=owner`: die der Organisationen, die Sie verwalten."""
    found = [AgreementOut.of(a) for a in agreements.agreements_of(session, actor, role)]
    return AgreementList(count=len(found), results=found)


@router.post("", status_code=201, response_model=AgreementOut,
             summary="Nutzungsvereinbarung schließen (Admins der Organisation)",
             responses=errors(*WRITE, 400, 404))
def create_agreement(terms: AgreementIn, actor: ActorDep, session: SessionDep
                     ) -> AgreementOut:
    user = accounts.get_user(session, terms.assignee)
    return AgreementOut.of(agreements.grant(session, actor, agreements.Grant(
        dataset=terms.dataset, assignee=user.id, valid_from=terms.valid_from,
        valid_until=terms.valid_until, max_count=terms.max_count,
        columns=tuple(terms.columns) if terms.columns is not None else None,
        row_filter=[f.model_dump() for f in terms.row_filter] if terms.row_filter else None,
        purpose=terms.purpose, purpose_text=terms.purpose_text, duties=tuple(terms.duties),
        request_id=terms.request_id)))


@router.post("/odrl", status_code=201, response_model=AgreementOut,
             summary="Nutzungsvereinbarung aus einem ODRL-2.2-Dokument schließen",
             responses=errors(*WRITE, 400, 404))
def create_from_odrl(actor: ActorDep, session: SessionDep,
                     document: dict[str, Any] = Body(description="ODRL 2.2 (JSON-LD)")
                     ) -> AgreementOut:
    """Ziel (`target`: Seite oder `urn:uuid:` des Datensatzes), Vertragspartei (`assignee`:
    `mailto:`), eine Erlaubnis `use` mit Bedingungen auf `dateTime`, `count` und `purpose`,
    Pflichten `attribute`, `delete`, `inform`, Verbot `distribute`: jede andere Regel wird
    abgelehnt (422), bevor etwas gilt."""
    return AgreementOut.of(agreements.grant_odrl(session, actor, document))


@router.get("/{uid}", response_model=AgreementOut, summary="Eine Nutzungsvereinbarung",
            responses={**errors(*AUTH, 404, 422), 200: {"content": {JSON_LD: {}}}})
def show_agreement(uid: str, request: Request, actor: ActorDep, session: SessionDep,
                   platform: PlatformDep) -> Any:
    """Mit `Accept: application/ld+json` als W3C-ODRL-2.2-Vereinbarung."""
    found = agreements.get_agreement(session, actor, uid)
    if JSON_LD in request.headers.get("accept", ""):
        return JSONResponse(agreements.odrl(found, platform.settings.base_url),
                            media_type=JSON_LD)
    return AgreementOut.of(found)


@router.post("/{uid}/revoke", response_model=AgreementOut,
             summary="Nutzungsvereinbarung widerrufen (Begründung nötig)",
             responses=errors(*WRITE, 400, 404))
def revoke_agreement(uid: str, actor: ActorDep, session: SessionDep, mailer: MailerDep,
                     reason: str = Body("", embed=True)) -> AgreementOut:
    """Die Person, die die Vereinbarung hält, erhält die Begründung per E-Mail."""
    return AgreementOut.of(agreements.revoke(session, actor, uid, reason, mailer))
