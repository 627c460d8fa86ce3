"""The interactive API documentation at /api/docs: Swagger UI 5 (reads OpenAPI 3.1), shipped
with allmende under static/vendor/swagger-ui, started by static/api-docs.js."""

from __future__ import annotations

from html import escape

from fastapi.responses import HTMLResponse

ASSETS = "/static/vendor/swagger-ui"

# No inline script or style, no origin but our own: the page keeps working under a strict
# policy, and Swagger UI cannot be talked into loading anything from elsewhere. Images may be
# data: URIs because Swagger UI's stylesheet draws its icons that way.
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; font-src 'self'; object-src 'none'; base-uri 'none'; "
    "form-action 'self'; frame-ancestors 'none'"
)


def api_docs_page(openapi_url: str) -> HTMLResponse:
    page = f"""<!doctype html>
<html lang="de">
<head>
  <meta charset="utf-8">
  <meta name="viewport" content="width=device-width, initial-scale=1">
  <title>allmende API</title>
  <link rel="stylesheet" href="{ASSETS}/swagger-ui.css">
  <link rel="icon" href="/static/favicon.svg" type="image/svg+xml">
</head>
<body>
  <div id="swagger-ui" data-openapi-url="{escape(openapi_url)}"></div>
  <script src="{ASSETS}/swagger-ui-bundle.js"></script>
  <script src="/static/api-docs.js"></script>
</body>
</html>
"""
    return HTMLResponse(page, headers={"Content-Security-Policy": CONTENT_SECURITY_POLICY})
