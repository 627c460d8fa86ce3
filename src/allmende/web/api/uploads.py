"""Uploads become ingest jobs: /api/v1/datasets/{name}/resources and /api/v1/jobs/{id}."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from allmende.catalog import datasets
from allmende.errors import FieldError, Invalid, msg
from allmende.ingest.service import check_options
from allmende.ingest.sniff import ReadOptions
from allmende.jobs import queue
from allmende.tables import store
from allmende.web.api.params import Id
from allmende.web.api.responses import AUTH, WRITE, errors
from allmende.web.api.schemas import JobOut
from allmende.web.deps import ActorDep, ApiLanguageDep, PlatformDep, SessionDep, refuse_nul_in
from allmende.web.errors import localized_stored_error
from allmende.web.i18n import localize_text, localized_result
from allmende.web.multipart import receive

router = APIRouter(tags=["Daten hochladen"])


#: The upload form as OpenAPI describes it (the body is read by hand, see web.multipart).
UPLOAD_FORM = {"requestBody": {"required": True, "content": {"multipart/form-data": {"schema": {
    "type": "object", "required": ["file"], "properties": {
        "file": {"type": "string", "format": "binary", "description": "Die Datei, so wie sie ist"},
        "name": {"type": "string", "description": "Name der Ressource (Vorgabe: Dateiname); "
                                                  "derselbe Name ergibt eine neue Version"},
        "encoding": {"type": "string"},
        "delimiter": {"type": "string", "maxLength": 1,
                      "description": "genau ein Zeichen; leer: erkennen"},
        "header_row": {"type": "integer", "minimum": 1}, "sheet": {"type": "string"},
        "crs": {"type": "string", "examples": ["EPSG:25832"]},
        "fill_down": {"type": "boolean", "description": "Verbundene Zellen aus der Zeile "
                                                        "darüber füllen (leer: automatisch)"}}}}}}}
OPTIONS = ("encoding", "delimiter", "header_row", "sheet", "crs", "fill_down")


def _options(fields: dict[str, str]) -> dict[str, Any]:
    """The reading options of the form, typed; a wrong one is a 422 naming it."""
    options: dict[str, Any] = {k: fields[k] for k in OPTIONS if fields.get(k, "") != ""}
    if "header_row" in options:
        if not options["header_row"].isdigit() or int(options["header_row"]) < 1:
            raise Invalid(field_errors=[FieldError("header_row", msg(
                "Erwartet eine Zeilennummer ab 1."))])
        options["header_row"] = int(options["header_row"])
    if "fill_down" in options:
        value = options["fill_down"].lower()
        if value not in ("true", "false"):
            raise Invalid(field_errors=[FieldError("fill_down", msg(
                "Erwartet true oder false."))])
        options["fill_down"] = value == "true"
    check_options(ReadOptions(**options))
    return options


@router.post("/datasets/{name}/resources", status_code=202, response_model=JobOut,
             summary="Datei hochladen: wird im Hintergrund zur neuen Version",
             openapi_extra=UPLOAD_FORM,
             responses=errors(*WRITE, 400, 404, 409, 413))
async def upload(name: str, request: Request, session: SessionDep, actor: ActorDep,
                 platform: PlatformDep) -> JSONResponse:
    """Answers 202 with a job; poll `GET /api/v1/jobs/{id}` until it is `done` (its `result`
    names the new version) or `failed` (its `error` says what is wrong and where). Who may
    not upload here is refused before a byte of the file is read."""
    dataset = await run_in_threadpool(datasets.check_editable, session, actor, name)
    folder = store.uploads_folder(platform.settings.data_dir)
    received = await receive(request, folder, platform.settings.upload_limit_bytes)
    try:
        staged = received.files.get("file")
        if staged is None or not staged.filename:
            raise Invalid(field_errors=[FieldError("file", msg("Keine Datei ausgewählt."))])
        refuse_nul_in([*received.fields.items(), ("file", staged.filename)])
        options = _options(received.fields)
        job = await run_in_threadpool(queue.enqueue, session, "ingest", {
            "dataset": name, "upload": str(staged.path), "filename": staged.filename,
            "resource_name": received.fields.get("name") or None, "options": options}, actor,
            dataset.organization_id)
    except BaseException:
        received.discard()
        raise
    for other in (f for key, f in received.files.items() if key != "file"):
        other.path.unlink(missing_ok=True)
    body = JobOut.of(job).model_dump(mode="json")
    return JSONResponse(body, status_code=202, headers={"Location": f"/api/v1/jobs/{job.id}"})


@router.get("/jobs/{job_id}", response_model=JobOut, summary="Stand eines Auftrags",
            responses=errors(*AUTH, 404, 422))
def job_status(job_id: Id, session: SessionDep, actor: ActorDep,
               language: ApiLanguageDep) -> JobOut:
    """`message`, `error` and the messages in `result` (warnings, notes) in the asker's
    language (`?lang=`, cookie, `Accept-Language`)."""
    job = JobOut.of(queue.get_job(session, actor, job_id))
    if job.error is None:
        return job.model_copy(update={"message": localize_text(job.message, language),
                                      "result": localized_result(job.result, language)})
    error = localized_stored_error(job.error, language)
    return job.model_copy(update={"error": error, "message": error.get("message", job.message)})
