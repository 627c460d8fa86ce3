"""/api/v1/requests: data requests (Datenanträge), their transitions and attachments, and an
organization's conditions of use. Thin over allmende.access.requests."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any, Literal, Self

from fastapi import APIRouter, Query, Request
from fastapi.responses import FileResponse
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool

from allmende.access import requests as service
from allmende.access.requests import RequestCreate, RequestFields, RequestRecord
from allmende.catalog.validation import partial
from allmende.errors import FieldError, Invalid, NotFound, msg
from allmende.tables import store
from allmende.web.api.params import Id
from allmende.web.api.responses import AUTH, WRITE, errors
from allmende.web.deps import (
    ActorDep,
    ApiLanguageDep,
    MailerDep,
    PlatformDep,
    SessionDep,
    refuse_nul_in,
)
from allmende.web.multipart import receive

router = APIRouter(tags=["Datenanträge"])
RequestChanges = partial(RequestFields, "RequestChanges")


class EventOut(BaseModel):
    action: str = Field(description="create, submit, ask, answer, approve, reject, withdraw")
    from_state: str | None
    to_state: str
    reason: str
    by: str
    at: dt.datetime


class AttachmentOut(BaseModel):
    id: int
    filename: str
    size: int
    created: dt.datetime


class RequestOut(BaseModel):
    id: int
    state: str = Field(description="draft, submitted, needs_info, approved, rejected, withdrawn")
    dataset: str
    dataset_id: str = Field(description="The dataset's UUID")
    organization: str = Field(description="The owning organization (its admins decide)")
    requester: str = Field(description="The requester's e-mail address (from the account)")
    requester_name: str
    fields: dict[str, Any] = Field(description="What the requester stated (RequestFields)")
    created: dt.datetime
    modified: dt.datetime
    submitted: dt.datetime | None
    decided: dt.datetime | None
    history: list[EventOut]
    attachments: list[AttachmentOut]
    actions: list[str] = Field(description="The steps the caller may take now")
    editable: bool = Field(description="Whether the caller may change the fields now")
    available_columns: list[str] = Field(description="Columns the dataset's tables have")
    agreement: str | None = Field(None, description="The uid of the agreement an approval "
                                                    "made (`/api/v1/agreements/{uid}`)")

    @classmethod
    def of(cls, record: RequestRecord) -> Self:
        fields = {k: v.isoformat() if isinstance(v, dt.date) else v
                  for k, v in record.fields.items()}
        return cls(id=record.id, state=record.state, dataset=record.dataset,
                   dataset_id=record.dataset_id, organization=record.organization,
                   requester=record.requester_email, requester_name=record.requester_name,
                   fields=fields, created=record.created, modified=record.modified,
                   submitted=record.submitted, decided=record.decided,
                   history=[EventOut(**e.__dict__) for e in record.history],
                   attachments=[AttachmentOut(**a.__dict__) for a in record.attachments],
                   actions=list(record.actions), editable=record.editable,
                   available_columns=list(record.available_columns),
                   agreement=record.agreement)


class RequestList(BaseModel):
    count: int
    results: list[RequestOut]


class StepIn(BaseModel):
    reason: str = Field("", max_length=service.REASON_MAX,
                        description="The written reason (required for ask, answer, approve "
                                    "and reject)")


class ConditionsIn(BaseModel):
    text: str = Field(min_length=1, max_length=100_000)


class ConditionsOut(BaseModel):
    organization: str
    version: int
    text: str
    created: dt.datetime


@router.get("/requests", response_model=RequestList, summary="Datenanträge auflisten",
            responses=errors(*AUTH, 403, 422))
def list_requests(session: SessionDep, actor: ActorDep,
                  role: Annotated[Literal["requester", "owner"], Query(
                      description="requester: my requests; owner: the inbox of the "
                                  "organizations I decide for")] = "requester") -> RequestList:
    items = [RequestOut.of(r) for r in service.list_requests(session, actor, role)]
    return RequestList(count=len(items), results=items)


@router.post("/requests", status_code=201, response_model=RequestOut,
             summary="Datenantrag anlegen (als Entwurf)", responses=errors(*WRITE, 400, 404))
def create_request(body: RequestCreate, session: SessionDep, actor: ActorDep,
                   language: ApiLanguageDep) -> RequestOut:
    data = body.model_dump(exclude_unset=True, mode="json")
    return RequestOut.of(service.create_request(session, actor, data, language))


@router.get("/requests/{request_id}", response_model=RequestOut,
            summary="Datenantrag mit Verlauf lesen", responses=errors(*AUTH, 404, 422))
def read_request(request_id: Id, session: SessionDep, actor: ActorDep) -> RequestOut:
    return RequestOut.of(service.get_request(session, actor, request_id))


@router.patch("/requests/{request_id}", response_model=RequestOut,
              summary="Datenantrag ändern (Entwurf oder bei Rückfrage)",
              responses=errors(*WRITE, 400, 404, 409))
def update_request(request_id: Id, body: RequestChanges,  # type: ignore[valid-type]
                   session: SessionDep, actor: ActorDep) -> RequestOut:
    changes = body.model_dump(exclude_unset=True, mode="json")  # type: ignore[attr-defined]
    return RequestOut.of(service.update_request(session, actor, request_id, changes))


STEP_SUMMARIES = {
    "submit": "Antrag einreichen (die antragstellende Person)",
    "ask": "Rückfrage stellen (Admins der Eigentümerin; Begründung nötig)",
    "answer": "Rückfrage beantworten (die antragstellende Person; Antwort nötig)",
    "approve": "Antrag bewilligen (Admins der Eigentümerin; Begründung nötig)",
    "reject": "Antrag ablehnen (Admins der Eigentümerin; Begründung nötig)",
    "withdraw": "Antrag zurückziehen (die antragstellende Person)",
}


def _step_route(action: str) -> None:
    def step(request_id: Id, body: StepIn, session: SessionDep, actor: ActorDep,
             mailer: MailerDep) -> RequestOut:
        return RequestOut.of(service.transition(session, actor, request_id, action,
                                                body.reason, mailer))

    step.__name__ = f"{action}_request"
    router.post(f"/requests/{{request_id}}/{action}", response_model=RequestOut,
                summary=STEP_SUMMARIES[action],
                responses=errors(*WRITE, 400, 404, 409))(step)


for _action in service.TRANSITIONS:
    _step_route(_action)


ATTACHMENT_FORM = {"requestBody": {"required": True, "content": {"multipart/form-data": {
    "schema": {"type": "object", "required": ["file"], "properties": {
        "file": {"type": "string", "format": "binary", "description": "Eine PDF-Datei"}}}}}}}


@router.post("/requests/{request_id}/attachments", status_code=201,
             response_model=AttachmentOut, summary="PDF-Anlage hinzufügen",
             openapi_extra=ATTACHMENT_FORM, responses=errors(*WRITE, 400, 404, 409, 413))
async def add_attachment(request_id: Id, request: Request, session: SessionDep,
                         actor: ActorDep, platform: PlatformDep) -> AttachmentOut:
    await run_in_threadpool(service.get_request, session, actor, request_id)
    folder = store.uploads_folder(platform.settings.data_dir)
    limit = platform.settings.request_attachment_limit_bytes
    received = await receive(request, folder, limit)
    staged = received.files.pop("file", None)
    received.discard()  # anything but the one file
    if staged is None or not staged.filename:
        if staged is not None:
            staged.path.unlink(missing_ok=True)
        raise Invalid(field_errors=[FieldError("file", msg("Keine Datei ausgewählt."))])
    try:
        refuse_nul_in([("file", staged.filename)])
    except Invalid:
        staged.path.unlink(missing_ok=True)
        raise
    added = await run_in_threadpool(service.add_attachment, session, actor, request_id,
                                    staged.path, staged.filename, platform.settings.data_dir,
                                    limit)
    return AttachmentOut(**added.__dict__)


@router.get("/requests/{request_id}/attachments/{attachment_id}",
            response_class=FileResponse, summary="PDF-Anlage herunterladen",
            responses={200: {"content": {"application/pdf": {}}},
                       **errors(*AUTH, 404, 422)})
def read_attachment(request_id: Id, attachment_id: Id, session: SessionDep, actor: ActorDep,
                    platform: PlatformDep) -> FileResponse:
    path, filename = service.attachment_file(session, actor, request_id, attachment_id,
                                             platform.settings.data_dir)
    return FileResponse(path, media_type="application/pdf", filename=filename)


@router.get("/organizations/{slug}/conditions", response_model=ConditionsOut,
            tags=["Organisationen"], summary="Aktuelle Nutzungsbedingungen der Organisation",
            responses=errors(404, 422))
def read_conditions(slug: str, session: SessionDep) -> ConditionsOut:
    found = service.current_conditions(session, slug)
    if found is None:
        raise NotFound(msg("Die Organisation „{slug}“ hat keine Nutzungsbedingungen "
                           "hinterlegt.", slug=slug), "no_conditions")
    return ConditionsOut(**found.__dict__)


@router.post("/organizations/{slug}/conditions", status_code=201,
             response_model=ConditionsOut, tags=["Organisationen"],
             summary="Neue Fassung der Nutzungsbedingungen (Admins der Organisation)",
             responses=errors(*WRITE, 400, 404))
def add_conditions(slug: str, body: ConditionsIn, session: SessionDep,
                   actor: ActorDep) -> ConditionsOut:
    return ConditionsOut(**service.set_conditions(session, actor, slug, body.text).__dict__)
