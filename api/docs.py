"""The OpenAPI page, offline: Swagger UI served by the API itself, never from a CDN.

`GET /docs` is FastAPI's Swagger UI page pointing at `/openapi.json` and at its script, style
sheet and icon under `/docs/assets/` (from the `swagger-ui-bundle-v2` wheel: Swagger UI 5, the
first to read OpenAPI 3.1). The assets hold no data and need no token; only the files the page
loads are served (not the bundle's source maps or its demo page). The page has its own Content
Security Policy: scripts from this origin and the one inline start-up script (by its hash), no
request leaves the origin (Swagger's online validator is off), and the page is never framed.
ReDoc is not served: no wheel ships it.
"""

from __future__ import annotations

import base64
import hashlib
import re
from functools import cache
from pathlib import Path

from fastapi import APIRouter, FastAPI
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse, Response
from swagger_ui_bundle import swagger_ui_path  # type: ignore[import-untyped]

from api.errors import ApiError

DOCS_URL = "/docs"
ASSETS_URL = "/docs/assets"
# The files the page loads, with their media types (the guards send `nosniff`: a browser runs a
# script or applies a style sheet only when its type says so).
ASSETS: dict[str, str] = {
    "swagger-ui-bundle.js": "text/javascript; charset=utf-8",
    "swagger-ui.css": "text/css; charset=utf-8",
    "favicon-32x32.png": "image/png",
}
_INLINE_SCRIPT = re.compile(r"<script>(.*?)</script>", re.DOTALL)


@cache
def asset(name: str) -> bytes:
    return (Path(swagger_ui_path) / name).read_bytes()


def docs_page(openapi_url: str, title: str) -> tuple[str, str]:
    """The Swagger UI page on the local assets, and the policy that lets exactly it run."""
    page = get_swagger_ui_html(
        openapi_url=openapi_url,
        title=title,
        swagger_js_url=f"{ASSETS_URL}/swagger-ui-bundle.js",
        swagger_css_url=f"{ASSETS_URL}/swagger-ui.css",
        swagger_favicon_url=f"{ASSETS_URL}/favicon-32x32.png",
        oauth2_redirect_url=None,  # the API takes bearer tokens: no OAuth2 flow
        swagger_ui_parameters={"validatorUrl": None},  # no badge from validator.swagger.io
    )
    html = bytes(page.body).decode()
    hashes = " ".join(
        f"'sha256-{base64.b64encode(hashlib.sha256(script.encode()).digest()).decode()}'"
        for script in _INLINE_SCRIPT.findall(html)
    )
    policy = (
        f"default-src 'none'; script-src 'self' {hashes}; style-src 'self' 'unsafe-inline'; "
        "img-src 'self' data:; connect-src 'self'; base-uri 'none'; form-action 'self'; "
        "frame-ancestors 'none'"
    )
    return html, policy


def router(app: FastAPI) -> APIRouter:
    """`/docs` and its assets, for this app's OpenAPI document (create the app with
    `docs_url=None, redoc_url=None`, so FastAPI adds no page of its own)."""
    assert app.openapi_url is not None
    html, policy = docs_page(app.openapi_url, f"{app.title}: the clinicians' API")
    docs = APIRouter(include_in_schema=False)

    @docs.get(DOCS_URL)
    async def swagger_ui() -> HTMLResponse:
        return HTMLResponse(html, headers={"Content-Security-Policy": policy})

    @docs.get(ASSETS_URL + "/{name}")
    async def swagger_asset(name: str) -> Response:
        media_type = ASSETS.get(name)
        if media_type is None:
            raise ApiError(404, "no such file")
        return Response(asset(name), media_type=media_type)

    return docs
