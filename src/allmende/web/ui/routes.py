"""Web UI pages: the router that app.py mounts, assembled from the page modules."""

from __future__ import annotations

from fastapi import APIRouter, Depends

from allmende.web.ui import (
    account,
    admin,
    agreement_pages,
    dataset_pages,
    harmonize_pages,
    harvest_pages,
    log_pages,
    pages,
    privacy_pages,
    request_pages,
    resource_pages,
)
from allmende.web.ui.common import remember_actor

router = APIRouter(include_in_schema=False, dependencies=[Depends(remember_actor)])
# dataset_pages first: /datasets/new must win over /datasets/{name}.
router.include_router(dataset_pages.router)
router.include_router(pages.router)
router.include_router(account.router)
router.include_router(agreement_pages.router)
router.include_router(admin.router)
router.include_router(resource_pages.router)
router.include_router(privacy_pages.router)
router.include_router(harmonize_pages.router)
router.include_router(harvest_pages.router)
router.include_router(log_pages.router)
router.include_router(request_pages.router)
