"""Uploads become ingest jobs: /api/v1/datasets/{name}/resources and /api/v1/jobs/{id}."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, File, Form, Request, UploadFile
from fastapi.responses import JSONResponse

from allmende.catalog import datasets
from allmende.errors import AllmendeError, FieldError, Invalid, msg
from allmende.jobs import queue
from allmende.tables import store
from allmende.web.api.schemas import JobOut
from allmende.web.deps import ActorDep, PlatformDep, SessionDep
from allmende.web.errors import localized_stored_error
from allmende.web.i18n import api_language_of, localize_text

router = APIRouter(tags=["Daten hochladen"])


class TooLarge(AllmendeError):
    def __init__(self, limit: int) -> None:
        super().__init__(msg("Die Datei ist größer als erlaubt ({megabytes} MB).",
                             megabytes=limit // (1 << 20)), "too_large", 413)


def _save(upload: UploadFile, folder: Path, limit: int) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / f"{uuid.uuid4()}.upload"
    written = 0
    with target.open("wb") as out:
        while chunk := upload.file.read(1 << 20):
            written += len(chunk)
            if written > limit:
                out.close()
                target.unlink(missing_ok=True)
                raise TooLarge(limit)
            out.write(chunk)
    return target


@router.post("/datasets/{name}/resources", status_code=202, response_model=JobOut,
             summary="Datei hochladen: wird im Hintergrund zur neuen Version")
def upload(
    name: str, request: Request, session: SessionDep, actor: ActorDep, platform: PlatformDep,
    file: Annotated[UploadFile, File(description="Die Datei, so wie sie ist")],
    resource_name: Annotated[str | None, Form(alias="name")] = None,
    encoding: Annotated[str | None, Form()] = None,
    delimiter: Annotated[str | None, Form()] = None,
    header_row: Annotated[int | None, Form(ge=1)] = None,
    sheet: Annotated[str | None, Form()] = None,
    crs: Annotated[str | None, Form()] = None,
    fill_down: Annotated[bool | None, Form(
        description="Verbundene Zellen aus der Zeile darüber füllen (leer: automatisch)")] = None,
) -> JSONResponse:
    """Answers 202 with a job; poll `GET /api/v1/jobs/{id}` until it is `done` (its `result`
    names the new version) or `failed` (its `error` says what is wrong and where)."""
    limit = platform.settings.upload_limit_bytes
    declared = int(request.headers.get("content-length") or 0)
    if declared > limit + (1 << 20):
        raise TooLarge(limit)
    datasets.check_editable(session, actor, name)
    if not file.filename:
        raise Invalid(field_errors=[FieldError("file", msg("Keine Datei ausgewählt."))])
    saved = _save(file, store.scratch_root(platform.settings.data_dir) / "uploads", limit)
    options = {k: v for k, v in {"encoding": encoding, "delimiter": delimiter,
                                 "header_row": header_row, "sheet": sheet, "crs": crs,
                                 "fill_down": fill_down}.items()
               if v is not None}
    job = queue.enqueue(session, "ingest", {
        "dataset": name, "upload": str(saved), "filename": Path(file.filename).name,
        "resource_name": resource_name, "options": options}, actor)
    body = JobOut.of(job).model_dump(mode="json")
    return JSONResponse(body, status_code=202, headers={"Location": f"/api/v1/jobs/{job.id}"})


@router.get("/jobs/{job_id}", response_model=JobOut, summary="Stand eines Auftrags")
def job_status(job_id: int, request: Request, session: SessionDep, actor: ActorDep) -> JobOut:
    """`message` and `error` in the asker's language (`?lang=`, cookie, `Accept-Language`)."""
    job = JobOut.of(queue.get_job(session, actor, job_id))
    language = api_language_of(request)
    if job.error is None:
        return job.model_copy(update={"message": localize_text(job.message, language)})
    error = localized_stored_error(job.error, language)
    return job.model_copy(update={"error": error, "message": error.get("message", job.message)})
