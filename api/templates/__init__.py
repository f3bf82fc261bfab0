"""The API's HTML pages: Jinja2 templates beside this module, autoescaped, on one base layout.

`base.html` is the layout every page extends (its title, a small inline style, no script);
each page is a template of its own (`survey.html`, `not_found.html`). Values are escaped
wherever a template writes them, so text from a spec, the settings or a request is never markup.
The templates are package data: found through the `api` package wherever it is installed.
"""

from __future__ import annotations

from typing import Any

from fastapi.responses import HTMLResponse
from jinja2 import Environment, PackageLoader, StrictUndefined

ENVIRONMENT = Environment(
    loader=PackageLoader("api", "templates"),
    autoescape=True,  # every template, whatever its name
    undefined=StrictUndefined,  # a misspelt name fails, never renders as nothing
    trim_blocks=True,
    lstrip_blocks=True,
)

# Pages are never cached (they may show a client's crisis resources), run no script, load
# nothing from elsewhere, post only to their own origin and are never framed.
HEADERS = {
    "Cache-Control": "no-store",
    "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; "
    "form-action 'self'; frame-ancestors 'none'",
}


def render(template: str, **context: Any) -> str:
    return ENVIRONMENT.get_template(template).render(**context)


def page(template: str, status: int = 200, **context: Any) -> HTMLResponse:
    """A page from its template, with the headers every page has."""
    return HTMLResponse(render(template, **context), status_code=status, headers=HEADERS)
