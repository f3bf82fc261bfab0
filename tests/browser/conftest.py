"""Browser tests of the clinicians' web app (issue 14): Playwright (from PyPI) driving the
system's Chromium (Debian's `chromium`: `playwright install` cannot download here, so the
executable is passed) against the real stack: the API served on a loopback port (`serve_api`,
uvicorn) with a real worker, on the time-skipping Temporal server and a fresh PostgreSQL
database per test (`tests.net.served_api`).

Without Chromium every browser test is skipped and the summary says how to run them. Where
Chromium is: `CAREPATH_CHROMIUM` (any Chromium executable), else `chromium` on the PATH, else
`/usr/bin/chromium`. `make test-browser` and `make screenshots` set `CAREPATH_BROWSER_REQUIRED=1`:
there, no Chromium fails the tests instead. `CAREPATH_SCREENSHOTS=1` (`make screenshots`) saves
each page the tests name into `docs/web/` as a PNG.
"""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest
import pytest_asyncio
from playwright.async_api import (
    Browser,
    Page,
    Response,
    ViewportSize,
    async_playwright,
    expect,
)
from temporalio.testing import WorkflowEnvironment

from database.pgtypes import Pool
from devstack.servers import time_skipping_server
from projections import ProjectionRunner, all_projections
from records.signin import set_password
from records.users import add_user
from tests.net import served_api

ROOT = Path(__file__).resolve().parents[2]
SCREENSHOTS = ROOT / "docs" / "web"
DEFAULT_CHROMIUM = "/usr/bin/chromium"
# As root, in a sandbox with a closed network: no sandbox, no GPU, no calls home.
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
NO_CHROMIUM = "browser tests skipped: no Chromium"
HOW_TO_RUN = (
    "install Debian's chromium (`apt-get install -y chromium`; .ci/run does) or set "
    "CAREPATH_CHROMIUM to a Chromium executable, then run `make test-browser`"
)
PASSWORD = "a long enough passphrase"
VIEWPORT = ViewportSize(width=1024, height=640)


def find_chromium() -> tuple[str | None, str]:
    """The Chromium to drive, or None and why there is none."""
    named = os.environ.get("CAREPATH_CHROMIUM")
    if named:
        found = shutil.which(named)
        return found, "" if found else f"{NO_CHROMIUM} at CAREPATH_CHROMIUM={named}; {HOW_TO_RUN}"
    found = shutil.which("chromium") or shutil.which(DEFAULT_CHROMIUM)
    return found, "" if found else f"{NO_CHROMIUM} found ({DEFAULT_CHROMIUM}); {HOW_TO_RUN}"


@pytest.fixture(scope="session", autouse=True)
def chromium() -> str:
    """The Chromium executable; skips every browser test when there is none. (Autouse and of
    the session: it runs before any other fixture, so a skip starts no server.)"""
    path, why = find_chromium()
    if path is None and os.environ.get("CAREPATH_BROWSER_REQUIRED") == "1":
        pytest.fail(why.replace("skipped", "cannot run"), pytrace=False)  # make test-browser
    if path is None:
        pytest.skip(why)
    return path


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    skipped = [
        report
        for report in terminalreporter.stats.get("skipped", [])
        if NO_CHROMIUM in str(getattr(report, "longrepr", ""))
    ]
    if skipped:
        terminalreporter.write_sep("=", "browser tests skipped", yellow=True)
        terminalreporter.write_line(
            f"{len(skipped)} browser tests did not run: no Chromium was found. To run them, "
            + HOW_TO_RUN
            + "."
        )


@pytest_asyncio.fixture(scope="session")
async def browser(chromium: str) -> AsyncIterator[Browser]:
    async with async_playwright() as playwright:
        # Each context is a fresh profile in a temporary user-data dir of Playwright's own.
        launched = await playwright.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
        try:
            yield launched
        finally:
            await launched.close()


@pytest_asyncio.fixture(scope="session")
async def temporal_env() -> AsyncIterator[WorkflowEnvironment]:
    async with time_skipping_server(define_search_attributes=True) as env:
        yield env


@dataclass(frozen=True)
class Clinician:
    clinician_id: str
    token: str
    role: str

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}


@dataclass
class Stack:
    """The served API and the clinic's people (every password `PASSWORD`)."""

    url: str
    pool: Pool
    ops: Clinician
    th: Clinician
    th2: Clinician
    rx: Clinician
    client_ids: list[str] = field(default_factory=list)

    async def start(self, therapist: Clinician, client_id: str | None = None) -> str:
        """Start a journey through the API, as ops; its client id."""
        client_id = client_id or f"cl-{uuid.uuid4().hex[:8]}"
        body = {
            "client_id": client_id,
            "therapist_id": therapist.clinician_id,
            "prescriber_id": self.rx.clinician_id,
        }
        async with httpx.AsyncClient(base_url=self.url) as http:
            started = await http.post("/journeys", json=body, headers=self.ops.headers, timeout=30)
        assert started.status_code == 201, started.text
        self.client_ids.append(client_id)
        return client_id

    async def catch_up(self) -> None:
        """The read models (My tasks reads the caseload) as of now."""
        await ProjectionRunner(self.pool, all_projections()).catch_up()


async def _clinician(pool: Pool, name: str, role: str) -> Clinician:
    clinician_id, token = await add_user(pool, name, role)
    await set_password(pool, clinician_id, PASSWORD)
    return Clinician(clinician_id, token, role)


@pytest_asyncio.fixture
async def stack(
    chromium: str, temporal_env: WorkflowEnvironment, db_pool: Pool, db_url: str
) -> AsyncIterator[Stack]:
    async with served_api(
        temporal_env.client, db_pool, db_url, api_runs_projections=False
    ) as settings:
        yield Stack(
            url=settings.api_url,
            pool=db_pool,
            ops=await _clinician(db_pool, "Olive Ops", "ops"),
            th=await _clinician(db_pool, "Theo Therapist", "therapist"),
            th2=await _clinician(db_pool, "Tara Therapist", "therapist"),
            rx=await _clinician(db_pool, "Rex Prescriber", "prescriber"),
        )


@dataclass
class Tab:
    """A browser tab of its own (a fresh context: no cookies) on the stack. Every document it
    loads is kept, to check their headers; `landed` checks the page's title."""

    page: Page
    stack: Stack
    documents: list[Response] = field(default_factory=list)

    async def landed(self, title: str, screenshot: str | None = None) -> None:
        """The page now shown has this title (never a client id); with `CAREPATH_SCREENSHOTS=1`,
        saved as docs/web/<screenshot>.png."""
        await expect(self.page).to_have_title(f"{title} · Carepath")
        shown = await self.page.title()
        assert not [c for c in self.stack.client_ids if c in shown], shown
        if screenshot and os.environ.get("CAREPATH_SCREENSHOTS") == "1":
            SCREENSHOTS.mkdir(parents=True, exist_ok=True)
            await self.page.screenshot(path=SCREENSHOTS / f"{screenshot}.png", full_page=True)

    async def sign_in(self, who: Clinician, password: str = PASSWORD) -> None:
        """Type into the sign-in form and click (the page must be the sign-in page)."""
        await self.page.get_by_label("Clinician id").fill(who.clinician_id)
        await self.page.get_by_label("Password").fill(password)
        await self.page.get_by_role("button", name="Sign in").click()

    def assert_never_cached(self) -> None:
        assert self.documents
        for response in self.documents:
            cache = response.headers.get("cache-control")
            assert cache == "no-store", (response.url, response.status, cache)


NewTab = Callable[[], Awaitable[Tab]]


@pytest_asyncio.fixture
async def new_tab(browser: Browser, stack: Stack) -> AsyncIterator[NewTab]:
    """`await new_tab()`: a tab in a fresh context (its own cookies), closed at the end."""
    contexts = []

    async def opened() -> Tab:
        context = await browser.new_context(base_url=stack.url, viewport=VIEWPORT)
        contexts.append(context)
        page = await context.new_page()
        tab = Tab(page, stack)

        def kept(response: Response) -> None:
            if response.request.resource_type == "document":
                tab.documents.append(response)

        page.on("response", kept)
        return tab

    yield opened
    for context in contexts:
        await context.close()
