"""The API documentation at /api/docs in a real browser: the shipped Swagger UI reads the
OpenAPI 3.1 document, lists every operation and runs requests, under the page's own
Content-Security-Policy."""

from __future__ import annotations

import pytest
from playwright.sync_api import ConsoleMessage, Page, expect

pytestmark = pytest.mark.browser


def operations_in(spec: dict) -> set[tuple[str, str]]:
    methods = {"get", "post", "put", "patch", "delete"}
    return {(method.upper(), path) for path, item in spec["paths"].items()
            for method in item if method in methods}


def test_the_docs_list_every_operation_and_try_it_out_answers(page: Page) -> None:
    problems: list[str] = []
    page.on("pageerror", lambda error: problems.append(str(error)))
    page.on("console", lambda message: problems.append(message.text)
            if _is_error(message) else None)

    response = page.goto("/api/docs")
    assert response is not None and response.ok
    assert "script-src 'self'" in response.headers["content-security-policy"]
    spec = page.request.get("/api/v1/openapi.json").json()
    assert spec["openapi"].startswith("3.1")

    blocks = page.locator(".opblock")
    expect(blocks.first).to_be_visible()
    expect(page.get_by_text("Unable to render this definition")).to_have_count(0)
    expect(page.locator(".errors-wrapper")).to_have_count(0)
    expect(page.get_by_role("heading", name="allmende API")).to_be_visible()
    shown = {(block.locator(".opblock-summary-method").inner_text().strip(),
              block.locator(".opblock-summary-path").get_attribute("data-path"))
             for block in blocks.all()}
    assert shown == operations_in(spec)

    search = page.locator(".opblock-get").filter(
        has=page.locator('.opblock-summary-path[data-path="/api/v1/datasets"]'))
    search.locator(".opblock-summary-control").click()
    search.get_by_role("button", name="Try it out").click()
    search.get_by_role("button", name="Execute").click()
    answer = search.locator(".live-responses-table tr.response")
    expect(answer.locator(".response-col_status")).to_have_text("200")
    expect(answer.locator(".response-col_description")).to_contain_text('"count"')
    assert problems == []


def _is_error(message: ConsoleMessage) -> bool:
    # A refused script, style or image (Content-Security-Policy) is logged as a console error.
    return message.type == "error"
