"""Read-only pages: start page, dataset search, organizations."""

from __future__ import annotations

import math

import orjson
from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from allmende.access.policy import Action, is_allowed
from allmende.catalog.organizations import area_map, get_organization, list_organizations
from allmende.catalog.search import SearchRequest, facet_label, search_datasets
from allmende.catalog.search_index import FACETS, SORTS
from allmende.platform import Platform
from allmende.web.deps import ActorDep, PlatformDep, SessionDep
from allmende.web.ui.common import language
from allmende.web.ui.helpers import N_
from allmende.web.ui.quality import quality_index
from allmende.web.ui.render import render

router = APIRouter()
PER_PAGE = 20
SORT_LABELS = {"relevance": N_("Relevance"), "modified": N_("Last modified"), "title": N_("Title")}


def _page(value: str | None) -> int:
    try:
        return max(1, int(value or 1))
    except ValueError:
        return 1


@router.get("/", response_class=HTMLResponse)
def home(request: Request, session: SessionDep, platform: PlatformDep,
         actor: ActorDep) -> HTMLResponse:
    organizations = list_organizations(session)
    newest = search_datasets(session, platform.search_index, actor,
                             SearchRequest(sort="modified", per_page=5), language(request))
    return render(request, "home.html", {
        "organizations": organizations, "newest": newest.datasets, "dataset_count": newest.count,
    }, actor=actor)


@router.get("/datasets", response_class=HTMLResponse)
def search(request: Request, session: SessionDep, platform: PlatformDep,
           actor: ActorDep) -> HTMLResponse:
    params = request.query_params
    filters = {f: params.getlist(f) for f in FACETS if params.getlist(f)}
    sort = params.get("sort") if params.get("sort") in SORTS else "relevance"
    q = params.get("q", "").strip()
    lang = language(request)
    result = search_datasets(
        session, platform.search_index, actor,
        SearchRequest(q=q, filters=filters, sort=sort, page=_page(params.get("page")),
                      per_page=PER_PAGE),
        lang,
    )
    return render(request, "search.html", {
        "q": q, "sort": sort, "sorts": SORT_LABELS, "result": result, "filters": filters,
        "chips": _chip_labels(filters, platform, lang),
        "pages": max(1, math.ceil(result.count / PER_PAGE)),
        "quality": quality_index(session, actor, result.datasets),
    }, actor=actor)


def _chip_labels(filters: dict[str, list[str]], platform: Platform, lang: str
                 ) -> dict[str, dict[str, str]]:
    """What an active filter is called: the facet value's label (an organization's name, a
    theme's title), not its code."""
    return {facet: {value: facet_label(platform.search_index, facet, value, lang)
                    for value in values} for facet, values in filters.items()}


@router.get("/map/areas.geojson")
def areas(session: SessionDep) -> Response:
    """The base layer of every map: the outlines and names of the organizations' areas (maps
    work offline; a tile server is optional, ALLMENDE_MAP_TILE_URL)."""
    body = orjson.dumps(area_map(session))
    return Response(body, media_type="application/geo+json",
                    headers={"Cache-Control": "public, max-age=300"})


@router.get("/organizations", response_class=HTMLResponse)
def organizations(request: Request, session: SessionDep, actor: ActorDep) -> HTMLResponse:
    return render(request, "organizations.html",
                  {"organizations": list_organizations(session)}, actor=actor)


@router.get("/organizations/{slug}", response_class=HTMLResponse)
def organization(slug: str, request: Request, session: SessionDep, platform: PlatformDep,
                 actor: ActorDep) -> HTMLResponse:
    org = get_organization(session, slug)
    result = search_datasets(
        session, platform.search_index, actor,
        SearchRequest(filters={"organization": [slug]}, sort="modified", per_page=PER_PAGE),
        language(request),
    )
    return render(request, "organization.html", {
        "organization": org, "result": result,
        "can_edit": is_allowed(actor, Action.EDIT_ORGANIZATION, org.id),
        "can_manage_members": is_allowed(actor, Action.MANAGE_MEMBERS, org.id),
    }, actor=actor)
