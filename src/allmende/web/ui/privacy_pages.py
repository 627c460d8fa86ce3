"""The decision form on a held version's page (the organization's admins): one choice per
column, applied by privacy.decisions; errors are shown on the resource page beside the form."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response
from starlette.datastructures import FormData

from allmende.errors import Invalid
from allmende.privacy.decisions import ColumnDecision, decide
from allmende.web.deps import ActorDep, PlatformDep, SessionDep, check_csrf
from allmende.web.ui.common import FormDep, redirect
from allmende.web.ui.resource_pages import resource_page

router = APIRouter()


def decisions_of(form: FormData) -> list[ColumnDecision]:
    """The form's rows (``column-N``, ``action-N``, ``reason-N``) where a choice was made;
    a column left at "please choose" is one the service names as undecided."""
    found = []
    for key in form:
        index = key.removeprefix("column-")
        if key.startswith("column-") and (action := str(form.get(f"action-{index}") or "")):
            found.append(ColumnDecision(str(form[key]), action,
                                        str(form.get(f"reason-{index}") or "")))
    return found


@router.post("/resources/{resource_id}/versions/{version}/privacy",
             response_class=HTMLResponse)
def decide_on_version(resource_id: str, version: int, request: Request, form: FormDep,
                      session: SessionDep, actor: ActorDep, platform: PlatformDep) -> Response:
    check_csrf(request, str(form.get("csrf_token") or ""))
    chosen = decisions_of(form)
    try:
        result = decide(platform, actor, resource_id, version, chosen)
    except Invalid as error:
        return resource_page(request, session, actor, platform, resource_id, {
            "decision_errors": error, "decision_values": {
                d.column: {"action": d.action, "reason": d.reason} for d in chosen}},
            status_code=422)
    return redirect(f"/resources/{resource_id}?decided={result.published_version}")
