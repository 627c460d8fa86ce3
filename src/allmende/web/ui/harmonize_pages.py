"""Harmonize in the web UI: the quality report of a resource; the router of all harmonize pages
(mapping editor, schemas, regional overviews). The badges are in ``quality``."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from allmende.catalog.datasets import get_resource, tables_changeable
from allmende.harmonize import service
from allmende.harmonize.validate import SCORE_WEIGHTS
from allmende.web.deps import ActorDep, SessionDep
from allmende.web.ui import mapping_pages, region_pages, schema_pages
from allmende.web.ui.helpers import N_
from allmende.web.ui.render import render

router = APIRouter()
router.include_router(mapping_pages.router)
router.include_router(schema_pages.router)
router.include_router(region_pages.router)

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
    "source-error": N_("The file could not be read as a table (e.g. it is empty)."),
    "mapping-error": N_("The mapping could not convert a cell (e.g. a date that does not "
                        "exist, text where a number was expected)."),
}


@router.get("/resources/{resource_id}/quality", response_class=HTMLResponse)
def quality(resource_id: str, request: Request, session: SessionDep,
            actor: ActorDep) -> HTMLResponse:
    report = service.find_report(session, actor, resource_id)
    mapping = service.find_mapping(session, actor, resource_id)
    resource = get_resource(session, actor, resource_id)
    dataset = resource.dataset
    return render(request, "quality.html", {
        "resource": resource, "dataset": dataset, "report": report, "mapping": mapping,
        "details": report.report if report else {}, "error_types": ERROR_TYPES,
        "weights": {k: round(v * 100) for k, v in SCORE_WEIGHTS.items()},
        "can_edit": tables_changeable(actor, dataset),
    }, actor=actor)
