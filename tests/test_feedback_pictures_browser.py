"""A drawn report in Debian's Chromium: the marks are there to be seen, in light and dark.

    make browser-test

The HTML report of a wrong answer is opened as a page (no server, no request leaves it); every
wrong entry the report lists must be drawn, visible and inside the picture, the mistake named
on it readable, and the dark scheme must change the picture's colours. Screenshots are kept in
test-artifacts/pictures/ (gitignored).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from app import services
from schemas import SPEC_EXAMPLE
from schemas.grading import GradeRequest
from tests.grading_oracle import Student, solve

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Page

pytestmark = pytest.mark.browser

ROOT = Path(__file__).resolve().parent.parent
ARTIFACTS = Path(os.environ.get("PICTURES_ARTIFACTS", ROOT / "test-artifacts" / "pictures"))
CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
CHROMIUM_FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking"]


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    from playwright.sync_api import sync_playwright

    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_FLAGS)
        yield browser
        browser.close()


def report() -> dict[str, Any]:
    """The sign of dL/do flipped: every delta and gradient wrong, the mistake named."""
    body = {
        "problem": SPEC_EXAMPLE,
        "submission": solve(SPEC_EXAMPLE, Student(mistakes={"loss_gradient_sign"})),
        "quantities": ["loss", "deltas", "weight_gradients", "bias_gradients"],
        "feedback_format": "html",
        "show_expected": False,
    }
    return services.grade(GradeRequest.model_validate(body))


def open_report(browser: Browser, scheme: str, html: str) -> Page:
    page = browser.new_page(color_scheme=scheme, viewport={"width": 1100, "height": 900})
    requests: list[str] = []
    page.on("request", lambda r: requests.append(r.url))
    page.set_content(f'<!doctype html><html lang="en"><meta charset="utf-8"><body>{html}')
    assert [url for url in requests if not url.startswith(("about:", "data:"))] == []
    return page


@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_every_wrong_entry_is_drawn_where_it_can_be_seen(browser: Browser, scheme: str) -> None:
    graded = report()
    listed = sum(
        len(item.get("wrong_entries") or [])
        for item in graded["items"]
        if item["status"] == "failed"
    )
    page = open_report(browser, scheme, graded["rendered"])
    svg = page.locator("figure svg")
    frame = svg.bounding_box()
    assert frame is not None
    marks = page.locator("svg g.wrong-entry")
    entries = marks.evaluate_all(
        "gs => gs.reduce((n, g) => n + JSON.parse(g.dataset.entries).length, 0)"
    )
    assert entries == listed > 0
    for i in range(marks.count()):
        mark = marks.nth(i)
        assert mark.is_visible()
        box = mark.bounding_box()
        assert box is not None
        assert box["width"] > 5
        assert box["height"] > 5
        assert frame["x"] <= box["x"]
        assert box["x"] + box["width"] <= frame["x"] + frame["width"]
        assert frame["y"] <= box["y"]
        assert box["y"] + box["height"] <= frame["y"] + frame["height"]
    named = page.locator("svg text", has_text="the sign of the loss derivative is flipped")
    assert named.count() >= 1
    assert named.first.is_visible()
    svg.screenshot(path=str(ARTIFACTS / f"report-{scheme}.png"))
    page.close()


def test_the_dark_scheme_changes_the_picture_s_colours(browser: Browser) -> None:
    html = report()["rendered"]
    colours = {}
    for scheme in ("light", "dark"):
        page = open_report(browser, scheme, html)
        colours[scheme] = page.locator("figure svg").evaluate(
            """svg => ["rect.bg", "text.bad", "g.ep", "rect.box"].map(
                s => getComputedStyle(svg.querySelector(s)).fill
                     + getComputedStyle(svg.querySelector(s)).stroke)"""
        )
        page.close()
    assert all(light != dark for light, dark in zip(colours["light"], colours["dark"], strict=True))
