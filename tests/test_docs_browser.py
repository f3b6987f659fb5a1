"""/docs (Swagger UI) and /redoc (ReDoc) in Debian's Chromium, with no internet: make browser-test.

Every request the pages make is recorded: one to any host but the server's 127.0.0.1 fails the
test (and is refused, so that nothing leaves the machine), as does any answer but 200 or 304.
Each page must render the API's operations, and "Try it out" in Swagger UI must get the worked
example's answer from the service. Screenshots are kept in test-artifacts/docs/ (gitignored).
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import httpx
import pytest

from tests.live import serving
from tests.test_playground_browser import CHROMIUM, CHROMIUM_FLAGS

if TYPE_CHECKING:
    from playwright.sync_api import BrowserContext, Page

pytestmark = pytest.mark.browser

ROOT = Path(__file__).resolve().parent.parent
ARTIFACTS = Path(os.environ.get("DOCS_ARTIFACTS", ROOT / "test-artifacts" / "docs"))


class Traffic:
    """What the pages asked for: answers by URL, requests to other hosts, console errors."""

    def __init__(self) -> None:
        self.answers: dict[str, int] = {}
        self.foreign: list[str] = []
        self.failed: list[str] = []
        self.errors: list[str] = []


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with serving(tmp_path_factory.mktemp("docs-server") / "server.log") as url:
        yield url


@pytest.fixture(scope="module")
def context(tmp_path_factory: pytest.TempPathFactory) -> Iterator[BrowserContext]:
    from playwright.sync_api import sync_playwright

    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    profile = tmp_path_factory.mktemp("chromium-docs-profile")
    with sync_playwright() as p:
        context = p.chromium.launch_persistent_context(
            str(profile),
            executable_path=CHROMIUM,
            headless=True,
            args=CHROMIUM_FLAGS,
            viewport={"width": 1300, "height": 1000},
        )
        yield context
        context.close()
    shutil.rmtree(profile, ignore_errors=True)


@pytest.fixture
def traffic(context: BrowserContext) -> Iterator[Traffic]:
    """Refuses every request to another host, and records what was asked and answered."""
    seen = Traffic()

    def guard(route: Any) -> None:
        if urlsplit(route.request.url).hostname == "127.0.0.1":
            route.continue_()
        else:
            seen.foreign.append(route.request.url)
            route.abort()

    context.route("**/*", guard)
    yield seen
    context.unroute("**/*", guard)


def open_page(context: BrowserContext, traffic: Traffic, url: str) -> Page:
    page = context.new_page()
    page.on("response", lambda r: traffic.answers.__setitem__(r.url, r.status))
    page.on("requestfailed", lambda r: traffic.failed.append(r.url))
    page.on("console", lambda m: traffic.errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: traffic.errors.append(str(e)))
    page.goto(url)
    return page


def assert_offline_and_whole(traffic: Traffic, server: str) -> None:
    assert traffic.foreign == [], f"requests to other hosts: {traffic.foreign}"
    assert traffic.failed == [], f"requests that failed: {traffic.failed}"
    assert traffic.errors == [], f"errors in the page: {traffic.errors}"
    not_ok = {url: status for url, status in traffic.answers.items() if status not in (200, 304)}
    assert not_ok == {}, f"assets not answered 200: {not_ok}"
    assert all(url.startswith(server) for url in traffic.answers)


def operations(server: str) -> list[tuple[str, str]]:
    """(method, path) of every operation of the service's OpenAPI document."""
    paths = httpx.get(f"{server}/openapi.json").json()["paths"]
    return [(method.upper(), path) for path, ops in paths.items() for method in ops]


def test_swagger_ui_renders_every_operation_offline(
    context: BrowserContext, traffic: Traffic, server: str
) -> None:
    page = open_page(context, traffic, f"{server}/docs")
    page.wait_for_selector(".opblock-summary-path[data-path='/v1/backprop']", timeout=20_000)
    shown = page.eval_on_selector_all(
        ".opblock-summary",
        """els => els.map(e => [e.querySelector('.opblock-summary-method').textContent,
            e.querySelector('.opblock-summary-path').dataset.path])""",
    )
    assert sorted(map(tuple, shown)) == sorted(operations(server))
    loaded = {urlsplit(url).path for url in traffic.answers}
    assert {"/docs/assets/swagger-ui-bundle.js", "/docs/assets/swagger-ui.css"} <= loaded
    assert "/openapi.json" in loaded
    page.screenshot(path=str(ARTIFACTS / "swagger-ui.png"), full_page=False)
    page.close()
    assert_offline_and_whole(traffic, server)


def test_try_it_out_gets_the_worked_examples_answer(
    context: BrowserContext, traffic: Traffic, server: str
) -> None:
    page = open_page(context, traffic, f"{server}/docs#/network/backprop_v1_backprop_post")
    block = page.locator("#operations-network-backprop_v1_backprop_post")
    block.locator(".try-out__btn").click(timeout=20_000)
    block.locator(".execute").click()
    answer = block.locator(".live-responses-table .response-col_status", has_text="200")
    answer.wait_for(timeout=20_000)
    assert '"loss": 0.43222056229515043' in block.locator(".live-responses-table").inner_text()
    page.screenshot(path=str(ARTIFACTS / "swagger-ui-try-it-out.png"), full_page=False)
    page.close()
    assert_offline_and_whole(traffic, server)


def test_redoc_renders_every_operation_offline(
    context: BrowserContext, traffic: Traffic, server: str
) -> None:
    page = open_page(context, traffic, f"{server}/redoc")
    summary = "Forward pass, loss, backpropagation and one gradient step"
    page.get_by_role("heading", name=summary).wait_for(timeout=30_000)
    sections = page.eval_on_selector_all(
        "[data-section-id^='operation/']", "els => els.map(e => e.dataset.sectionId)"
    )
    assert len(set(sections)) == len(operations(server))
    assert page.get_by_text("/v1/backprop", exact=True).count() >= 1
    loaded = {urlsplit(url).path for url in traffic.answers}
    assert {"/docs/assets/redoc.offline.js", "/openapi.json"} <= loaded
    page.screenshot(path=str(ARTIFACTS / "redoc.png"), full_page=False)
    page.close()
    assert_offline_and_whole(traffic, server)
