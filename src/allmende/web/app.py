"""The ASGI application: REST API, web UI, API docs, health and metrics."""

from __future__ import annotations

import threading
from contextlib import asynccontextmanager
from functools import cache
from pathlib import Path

from fastapi import APIRouter, Depends, FastAPI
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles
from starlette.middleware.sessions import SessionMiddleware
from starlette.routing import BaseRoute, Route

from allmende import __version__
from allmende.interop import registry as interfaces
from allmende.jobs.worker import recover, run_until
from allmende.platform import Platform
from allmende.web import errors
from allmende.web.api import agreements as agreements_api
from allmende.web.api import datasets as datasets_api
from allmende.web.api import harmonize as harmonize_api
from allmende.web.api import harvest as harvest_api
from allmende.web.api import organizations as organizations_api
from allmende.web.api import privacy as privacy_api
from allmende.web.api import requests as requests_api
from allmende.web.api import rows as rows_api
from allmende.web.api import uploads as uploads_api
from allmende.web.apidocs import api_docs_page
from allmende.web.deps import refuse_nul
from allmende.web.downloads import DownloadSlots
from allmende.web.multipart import CloseUnreadBodies
from allmende.web.ui import routes as ui_routes

STATIC = Path(__file__).parent / "static"
SESSION_COOKIE = "allmende_session"
SESSION_MAX_AGE = 14 * 24 * 3600

DESCRIPTION = """Die offene Datenplattform der Kommunen der Region.

Authentifizierung: `Authorization: Bearer <Token>` (Token unter „Meine API-Tokens“ oder mit
`allmende token create`). Fehler antworten mit `{"error": {"code", "message", "fields"}}`."""


def create_app(platform: Platform | None = None) -> FastAPI:
    platform = platform or Platform()
    api_routes, page_routes = _shared_routes()

    @asynccontextmanager
    async def lifespan(app: FastAPI):  # type: ignore[no-untyped-def]
        platform.upgrade()
        recover(platform)
        # Build the search index before the first search needs it, without delaying start-up.
        threading.Thread(target=platform.search_index.refresh, name="search-warmup",
                         daemon=True).start()
        stop = threading.Event()
        if platform.settings.inprocess_worker:
            threading.Thread(target=run_until, args=(platform, stop), name="jobs",
                             daemon=True).start()
        yield
        stop.set()

    app = FastAPI(
        title="allmende API", version=__version__, description=DESCRIPTION,
        openapi_url="/api/v1/openapi.json", docs_url=None, redoc_url=None, lifespan=lifespan,
    )
    app.state.platform = platform
    app.state.download_slots = DownloadSlots(platform.settings.download_slots,
                                             platform.settings.download_slots_per_client)
    app.add_middleware(
        SessionMiddleware, secret_key=platform.settings.session_secret(),
        session_cookie=SESSION_COOKIE, max_age=SESSION_MAX_AGE, same_site="lax",
        https_only=platform.settings.secure_cookies,
    )
    app.add_middleware(CloseUnreadBodies)
    errors.install(app)
    app.router.routes.extend(api_routes)
    # Open interfaces: each its own application with its own error format (allmende.wiring).
    for interface in interfaces.interfaces():
        mounted = interface.build(platform)
        for path in interface.paths:
            app.mount(path, mounted, name=f"{interface.name}:{path}")
        for path in interface.routes:
            app.router.routes.append(Route(path, mounted, name=f"{interface.name}:{path}"))
    app.mount("/static", StaticFiles(directory=STATIC), name="static")

    @app.get("/healthz", include_in_schema=False)
    def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/api/docs", include_in_schema=False, response_class=HTMLResponse)
    def api_docs() -> HTMLResponse:
        return api_docs_page(app.openapi_url or "")

    app.router.routes.extend(page_routes)
    return app


@cache
def _shared_routes() -> tuple[list[BaseRoute], list[BaseRoute]]:
    """The routes of the REST API and of the pages, made once per process and shared by its
    applications. FastAPI prepares an included router's routes (their dependencies and pydantic
    models, a tenth of a second) at the first request of each application that includes it;
    routes included here are prepared once, however many applications a process builds (the
    tests build one per test)."""
    api = APIRouter(prefix="/api/v1", dependencies=[Depends(refuse_nul)])
    for module in (datasets_api, organizations_api, uploads_api, rows_api, harmonize_api,
                   harvest_api, requests_api, privacy_api, agreements_api):
        api.include_router(module.router)
    pages = APIRouter()
    pages.include_router(ui_routes.router)
    return list(api.routes), list(pages.routes)
