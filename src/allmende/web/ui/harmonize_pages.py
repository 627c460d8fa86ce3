"""Harmonize in the web UI: the quality report of a resource and the quality badges; the
router of all harmonize pages (mapping editor, schemas, regional overviews)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse
from sqlalchemy.orm import object_session

from allmende.access.policy import Action, Actor, authorize, is_allowed
from allmende.catalog.datasets import get_resource
from allmende.db.models import Dataset, QualityReport
from allmende.harmonize import service
from allmende.harmonize.validate import SCORE_WEIGHTS
from allmende.web.deps import ActorDep, SessionDep
from allmende.web.ui import mapping_pages, region_pages, schema_pages
from allmende.web.ui.helpers import N_
from allmende.web.ui.render import render, templates

router = APIRouter()
router.include_router(mapping_pages.router)
router.include_router(schema_pages.router)
router.include_router(region_pages.router)

#: Lower bounds of the score bands: the badge's colour and its word.
BANDS = ((90.0, "good"), (70.0, "fair"), (0.0, "poor"))
BAND_LABELS = {"good": N_("good"), "fair": N_("fair"), "poor": N_("poor")}

ERROR_TYPES = {
    "type-error": N_("A cell does not have the field's type (e.g. text in a number field, a "
                     "date in another format)."),
    "constraint-error": N_("A cell breaks a rule of the field: required, minimum or maximum, "
                           "length, pattern or list of allowed values."),
    "unique-error": N_("A value that must be unique occurs more than once."),
    "primary-key": N_("Two rows have the same key, or a row has no key."),
    "blank-row": N_("A row is completely empty."),
    "extra-cell": N_("A row has more cells than the header."),
    "missing-cell": N_("A row has fewer cells than the header."),
    "blank-label": N_("A column of the header has no name."),
    "duplicate-label": N_("Two columns of the header have the same name."),
    "extra-label": N_("The header has a column the schema does not know."),
    "missing-label": N_("A field of the schema has no column."),
    "incorrect-label": N_("A column name does not match the schema's field at its position."),
    "blank-header": N_("The header is empty."),
    "cross-field-error": N_("Fields of a row contradict each other (e.g. the end before the "
                            "start)."),
    "area-error": N_("A location lies outside the area of the municipality."),
    "mapping-error": N_("The mapping could not convert a cell (e.g. a date that does not "
                        "exist, text where a number was expected)."),
}


def band(score: float) -> str:
    return next(name for bound, name in BANDS if score >= bound)


@dataclass(frozen=True)
class Quality:
    resource_id: str
    score: float

    @property
    def band(self) -> str:
        return band(self.score)


class QualityIndex:
    """The latest quality reports of the resources of the datasets on one page."""

    def __init__(self, reports: dict[str, QualityReport]) -> None:
        self._found = {rid: Quality(rid, r.score) for rid, r in reports.items()}

    def resource(self, resource_id: str) -> Quality | None:
        return self._found.get(resource_id)

    def dataset(self, dataset: Dataset) -> Quality | None:
        """The lowest score among the dataset's resources: the badge promises no more."""
        found = [q for r in dataset.resources if (q := self._found.get(r.id))]
        return min(found, key=lambda q: q.score, default=None)


def quality_index(actor: Actor, datasets: Iterable[Dataset]) -> QualityIndex:
    """One query for all datasets of a page, in the session they were loaded in (templates
    call this, so the search and dataset handlers stay as they are). Only datasets whose rows
    the actor may read get a badge: it links to the report, which shows cells."""
    readable = [d for d in datasets if is_allowed(actor, Action.READ_ROWS, d)]
    session = object_session(readable[0]) if readable else None
    if session is None:
        return QualityIndex({})
    ids = [r.id for d in readable for r in d.resources]
    return QualityIndex(service.reports_for(session, ids))


templates.env.globals.update(quality_index=quality_index, quality_band=band,
                             band_labels=BAND_LABELS)


@router.get("/resources/{resource_id}/quality", response_class=HTMLResponse)
def quality(resource_id: str, request: Request, session: SessionDep,
            actor: ActorDep) -> HTMLResponse:
    resource = get_resource(session, actor, resource_id)
    dataset = resource.dataset
    authorize(actor, Action.READ_ROWS, dataset)
    report = service.latest_report(session, resource.id)
    mapping = service.latest_mapping(session, resource.id)
    return render(request, "quality.html", {
        "resource": resource, "dataset": dataset, "report": report, "mapping": mapping,
        "details": report.report if report else {}, "error_types": ERROR_TYPES,
        "weights": {k: round(v * 100) for k, v in SCORE_WEIGHTS.items()},
        "can_edit": is_allowed(actor, Action.EDIT_DATASET, dataset) and not dataset.deleted_at,
    }, actor=actor)
