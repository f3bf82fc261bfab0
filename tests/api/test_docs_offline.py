"""`/docs` works offline: the Swagger UI page loads its script, style sheet and icon from the API
itself (no CDN), each served without a token with the type a browser needs under `nosniff`, and
the page's own Content Security Policy lets exactly its scripts run."""

from __future__ import annotations

import base64
import hashlib
import re

from tests.api.conftest import Api

TYPES = {".js": "text/javascript", ".css": "text/css", ".png": "image/png"}


def referenced(html: str) -> list[str]:
    """Every URL the page names: src, href and the OpenAPI document's `url:`."""
    found = re.findall(r"""(?:src|href)\s*=\s*["']([^"']+)["']""", html)
    found += re.findall(r"""\burl\s*:\s*['"]([^'"]+)['"]""", html)
    return found


def policy(header: str) -> dict[str, list[str]]:
    parts = (d.strip().split() for d in header.split(";") if d.strip())
    return {p[0]: p[1:] for p in parts}


async def test_the_docs_page_names_only_same_origin_urls(api: Api) -> None:
    page = await api.http.get("/docs")
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    html = page.text
    urls = referenced(html)
    assert len(urls) >= 4, urls  # script, style sheet, icon, the OpenAPI document
    for url in urls:
        assert url.startswith("/") and not url.startswith("//"), f"not same-origin: {url}"
    assert "http://" not in html and "https://" not in html and "cdn" not in html.lower()
    assert "/openapi.json" in urls


async def test_each_asset_is_served_without_a_token_with_its_type(api: Api) -> None:
    html = (await api.http.get("/docs")).text
    assets = [u for u in referenced(html) if u.startswith("/docs/assets/")]
    assert {u.rsplit(".", 1)[1] for u in assets} == {"js", "css", "png"}
    for url in assets:
        for headers in ({}, {"Authorization": "Bearer not-a-token"}):
            response = await api.http.get(url, headers=headers)
            assert response.status_code == 200, url
            wanted = TYPES[url[url.rindex(".") :]]
            assert response.headers["content-type"].startswith(wanted), url
            assert response.headers["x-content-type-options"] == "nosniff"
            assert len(response.content) > 500, url
    script = (await api.http.get("/docs/assets/swagger-ui-bundle.js")).text
    # Swagger UI 5 or later: the first to render OpenAPI 3.1, which FastAPI writes.
    assert "SwaggerUIBundle" in script and "isOAS31" in script
    spec = (await api.http.get("/openapi.json")).json()
    assert spec["openapi"].startswith("3.1")


async def test_only_the_pages_files_are_served(api: Api) -> None:
    for url in (
        "/docs/assets/swagger-ui-bundle.js.map",
        "/docs/assets/index.html",
        "/docs/assets/swagger-initializer.js",
        "/docs/assets/..%2F__init__.py",
        "/docs/oauth2-redirect",
        "/redoc",
    ):
        response = await api.http.get(url)
        assert response.status_code == 404, url


async def test_the_page_s_policy_lets_its_own_scripts_run_and_nothing_leave(api: Api) -> None:
    page = await api.http.get("/docs")
    rules = policy(page.headers["content-security-policy"])
    inline = re.findall(r"<script>(.*?)</script>", page.text, re.DOTALL)
    assert len(inline) == 1  # Swagger UI's start-up
    digest = base64.b64encode(hashlib.sha256(inline[0].encode()).digest()).decode()
    assert rules["script-src"] == ["'self'", f"'sha256-{digest}'"]
    assert rules["default-src"] == ["'none'"]
    assert rules["connect-src"] == ["'self'"]
    assert rules["frame-ancestors"] == ["'none'"]
    assert "validatorUrl" in inline[0]  # Swagger's online validator is off: nothing leaves
    # The guards' headers stay on the page (and only the docs page has this policy).
    assert page.headers["cache-control"] == "no-store"
    health = await api.http.get("/healthz")
    assert "content-security-policy" not in health.headers


async def test_the_openapi_document_is_unchanged_by_the_docs_routes(api: Api) -> None:
    spec = (await api.http.get("/openapi.json")).json()
    assert not [path for path in spec["paths"] if path.startswith(("/docs", "/redoc"))]
