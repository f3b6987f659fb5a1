"""/playground end to end: Debian's Chromium, driven by Playwright, against a real server.

    make browser-test

Every request the page makes is checked: one to any host but the server's 127.0.0.1 fails the
test (and is refused, so that nothing leaves the machine). The values the page draws are
compared with the API's own answer to the same request, to the 4 significant figures shown.
Screenshots are kept in test-artifacts/playground/ (gitignored).
"""

from __future__ import annotations

import json
import math
import os
import re
import shutil
from collections.abc import Iterator
from itertools import pairwise
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import httpx
import pytest

from schemas import SPEC_EXAMPLE
from tests.live import serving

if TYPE_CHECKING:
    from playwright.sync_api import BrowserContext, Page, Playwright

pytestmark = pytest.mark.browser

ROOT = Path(__file__).resolve().parent.parent
ARTIFACTS = Path(os.environ.get("PLAYGROUND_ARTIFACTS", ROOT / "test-artifacts" / "playground"))
CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
CHROMIUM_FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
]

WRONG_SIGN = {  # docs/api.md's example: every delta with the sign of dL/do flipped
    "loss": 0.4322,
    "layers": [
        {"deltas": [[-0.01049, -0.01016, -0.008323]]},
        {"deltas": [[0.00771, -0.06405]]},
    ],
}


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with serving(tmp_path_factory.mktemp("playground-server") / "server.log") as url:
        yield url


@pytest.fixture(scope="module")
def playwright() -> Iterator[Playwright]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        yield p


class Offline:
    """Requests the page made to any host but 127.0.0.1 (refused), and its console errors."""

    def __init__(self) -> None:
        self.foreign: list[str] = []
        self.errors: list[str] = []


@pytest.fixture(scope="module")
def offline() -> Offline:
    return Offline()


@pytest.fixture(scope="module")
def context(
    playwright: Playwright, offline: Offline, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[BrowserContext]:
    """Headless Chromium with a fresh profile; every request to another host is refused."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    profile = tmp_path_factory.mktemp("chromium-profile")
    context = playwright.chromium.launch_persistent_context(
        str(profile),
        executable_path=CHROMIUM,
        headless=True,
        args=CHROMIUM_FLAGS,
        viewport={"width": 1300, "height": 1000},
    )

    def guard(route: Any) -> None:
        if urlsplit(route.request.url).hostname == "127.0.0.1":
            route.continue_()
        else:
            offline.foreign.append(route.request.url)
            route.abort()

    context.route("**/*", guard)
    yield context
    context.close()
    shutil.rmtree(profile, ignore_errors=True)


def open_page(context: BrowserContext, server: str, offline: Offline) -> Page:
    page = context.new_page()
    page.on("console", lambda m: offline.errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: offline.errors.append(str(e)))
    page.goto(f"{server}/playground")
    page.wait_for_selector("body[data-ready]", timeout=15_000)
    return page


@pytest.fixture
def page(context: BrowserContext, server: str, offline: Offline) -> Iterator[Page]:
    page = open_page(context, server, offline)
    yield page
    page.close()
    assert offline.foreign == [], f"requests to other hosts: {offline.foreign}"
    assert offline.errors == [], f"errors in the page: {offline.errors}"


def api(server: str, path: str, body: dict[str, Any]) -> dict[str, Any]:
    response = httpx.post(f"{server}{path}", json=body)
    assert response.status_code == 200, response.text
    answer: dict[str, Any] = response.json()
    return answer


def shown_number(text: str) -> float:
    """The number of an entry's text: "z 0.6000" -> 0.6, "δ -0.007710 ✗" -> -0.00771."""
    return float(text.split()[1])


def assert_shows(text: str, exact: float) -> None:
    """The text shows ``exact`` rounded to 4 significant figures or more."""
    shown = shown_number(text)
    digits = re.sub(r"e.*$", "", text.split()[1]).lstrip("-").replace(".", "").lstrip("0")
    if exact == 0:
        assert shown == 0
        return
    assert len(digits) >= 4, f"{text!r} shows fewer than 4 significant figures"
    half_unit = 0.5 * 10 ** (math.floor(math.log10(abs(exact))) - 3)
    assert abs(shown - exact) <= half_unit * (1 + 1e-9), f"{text!r} does not show {exact!r}"


def entries(page: Page) -> list[dict[str, str]]:
    found: list[dict[str, str]] = page.eval_on_selector_all(
        "#network-svg text.entry",
        """els => els.map(e => ({quantity: e.dataset.quantity, layer: e.dataset.layer,
            unit: e.dataset.unit, text: e.textContent, value: e.dataset.value,
            wrong: e.classList.contains('wrong'), label: e.getAttribute('aria-label')}))""",
    )
    return found


def edges(page: Page) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = page.eval_on_selector_all(
        "#network-svg g.edge",
        """els => els.map(e => ({layer: e.dataset.layer, index: e.dataset.index,
            weight: Number(e.dataset.weight), gradient: Number(e.dataset.value),
            positive: e.classList.contains('positive'), wrong: e.classList.contains('wrong'),
            width: Number(e.querySelector('.line').getAttribute('stroke-width')),
            label: e.getAttribute('aria-label')}))""",
    )
    return found


def assert_diagram_is(
    page: Page, request: dict[str, Any], answer: dict[str, Any], sample: int = 0
) -> None:
    """Every value on the diagram is the API's answer for the sample shown, to 4 figures."""
    in_out = answer["conventions"]["weight_layout"] == "in_out"
    drawn = entries(page)
    expected: dict[tuple[str, str, str], float] = {}
    for j, x in enumerate(request["inputs"][sample]):
        expected["inputs", "", str(j)] = x
        expected["input_gradients", "", str(j)] = answer["input_gradients"][sample][j]
    for i, layer in enumerate(answer["layers"]):
        for q in ("pre_activations", "activations", "deltas"):
            for k, value in enumerate(layer[q][sample]):
                expected[q, str(i), str(k)] = value
        for k, value in enumerate(layer["bias_gradients"]):
            expected["bias_gradients", str(i), str(k)] = value
    assert {(e["quantity"], e["layer"], e["unit"]) for e in drawn} == set(expected)
    for e in drawn:
        exact = expected[e["quantity"], e["layer"], e["unit"]]
        assert float(e["value"]) == exact
        assert_shows(e["text"], exact)
        assert e["label"], "every entry is labelled for screen readers"
    lines = edges(page)
    assert len(lines) == sum(len(layer["weights"]) * len(layer["weights"][0])
                             for layer in request["network"]["layers"])  # fmt: skip
    for edge in lines:
        r, c = map(int, edge["index"].split(","))
        i = int(edge["layer"])
        assert edge["gradient"] == answer["layers"][i]["weight_gradients"][r][c]
        assert edge["weight"] == request["network"]["layers"][i]["weights"][r][c]
        assert edge["positive"] == (edge["weight"] >= 0)
        assert edge["label"]
    widest = max(lines, key=lambda e: e["width"])
    assert abs(widest["gradient"]) == max(abs(e["gradient"]) for e in lines)
    assert in_out or all(e["index"] for e in lines)
    loss = page.locator("#loss-value")
    assert float(loss.get_attribute("data-value") or "nan") == answer["loss"]
    assert_shows("loss " + loss.inner_text(), answer["loss"])


def screenshot(page: Page, name: str) -> None:
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


# The tests ---------------------------------------------------------------------------------------


def test_the_page_opens_on_the_worked_example_with_the_apis_values(page: Page, server: str) -> None:
    answer = api(server, "/v1/backprop", SPEC_EXAMPLE)
    assert_diagram_is(page, SPEC_EXAMPLE, answer)
    assert page.locator("#network-svg text.entry", has_text="a 0.6457").count() == 1
    screenshot(page, "worked-example-light")


def test_the_page_loads_nothing_from_another_host(
    context: BrowserContext, server: str, offline: Offline
) -> None:
    seen: list[str] = []
    page = context.new_page()
    page.on("request", lambda r: seen.append(r.url))
    page.goto(f"{server}/playground")
    page.wait_for_selector("body[data-ready]")
    page.close()
    assert seen, "the page made requests"
    assert {urlsplit(url).hostname for url in seen} == {"127.0.0.1"}
    assert offline.foreign == []


def test_a_descent_step_lowers_the_loss_as_the_api_computes_it(page: Page, server: str) -> None:
    before = float(page.locator("#loss-value").get_attribute("data-value") or "nan")
    page.get_by_role("button", name="Step", exact=True).click()
    page.wait_for_selector("#loss-svg circle[data-step='1']")
    after = float(page.locator("#loss-value").get_attribute("data-value") or "nan")
    first = api(server, "/v1/backprop", SPEC_EXAMPLE)
    stepped = stepped_request(SPEC_EXAMPLE, first)
    assert after == api(server, "/v1/backprop", stepped)["loss"]
    assert after < before
    assert_diagram_is(page, stepped, api(server, "/v1/backprop", stepped))
    screenshot(page, "one-descent-step")


def stepped_request(request: dict[str, Any], answer: dict[str, Any]) -> dict[str, Any]:
    layers = [
        {**layer, "weights": a["updated_weights"], "biases": a["updated_biases"]}
        for layer, a in zip(request["network"]["layers"], answer["layers"], strict=True)
    ]
    return {**request, "network": {"layers": layers}}


def test_n_steps_plot_every_loss_and_ascent_raises_it(page: Page, server: str) -> None:
    page.get_by_label("Steps", exact=True).fill("10")
    page.get_by_role("button", name="Run steps").click()
    page.wait_for_selector("#loss-svg circle[data-step='10']")
    plotted = page.eval_on_selector_all(
        "#loss-svg circle", "els => els.map(e => Number(e.dataset.loss))"
    )
    request, losses = SPEC_EXAMPLE, []
    for _ in range(11):
        answer = api(server, "/v1/backprop", request)
        losses.append(answer["loss"])
        request = stepped_request(request, answer)
    assert plotted == losses
    assert all(b < a for a, b in pairwise(losses))
    screenshot(page, "ten-descent-steps")

    page.get_by_role("button", name="Reset").click()
    page.get_by_label("ascent").check()
    page.wait_for_selector("body:not([aria-busy])")
    page.get_by_role("button", name="Step", exact=True).click()
    page.wait_for_selector("#loss-svg circle[data-step='1']")
    after = float(page.locator("#loss-value").get_attribute("data-value") or "nan")
    assert after > losses[0]


def grade(page: Page, answer: dict[str, Any]) -> None:
    page.get_by_label("Student's answer").fill(json.dumps(answer))
    page.get_by_role("button", name="Grade answer").click()
    page.wait_for_selector("#report .summary")


def marked(page: Page) -> set[tuple[str, str, str]]:
    found = {(e["quantity"], e["layer"], e["unit"]) for e in entries(page) if e["wrong"]}
    assert page.locator("#network-svg text.entry[data-status='wrong']").count() == len(found)
    return found


def test_a_graded_wrong_answer_marks_its_entries_and_names_the_mistake(page: Page) -> None:
    grade(page, WRONG_SIGN)
    layer_1 = {("deltas", "0", str(unit)) for unit in range(3)}
    assert marked(page) == layer_1 | {("deltas", "1", "0"), ("deltas", "1", "1")}
    assert not any(e["wrong"] for e in edges(page))
    mistake = "the sign of the loss derivative is flipped"
    assert page.locator("#network-svg text.mistake-note", has_text=mistake).count() >= 1
    assert mistake in page.locator("#report").inner_text()
    assert "1 of 3 items correct" in page.locator("#report .summary").inner_text()
    screenshot(page, "graded-wrong-sign")


def test_one_slip_marks_that_entry_only(page: Page) -> None:
    slip = {"layers": [{"deltas": [[0.01049, 0.0200, 0.008323]]}]}
    grade(page, slip)
    assert marked(page) == {("deltas", "0", "1")}
    entry = page.locator(
        "#network-svg text.entry[data-quantity='deltas'][data-layer='0'][data-unit='1']"
    )
    assert "marked wrong" in (entry.get_attribute("aria-label") or "")


def test_a_wrong_weight_gradient_marks_its_connection(page: Page, server: str) -> None:
    answer = api(server, "/v1/backprop", SPEC_EXAMPLE)
    gradients = [row[:] for row in answer["layers"][1]["weight_gradients"]]
    gradients[2][0] *= 2  # dL/dw^2_(3,1)
    grade(page, {"layers": [{}, {"weight_gradients": gradients}]})
    assert [e["index"] for e in edges(page) if e["wrong"]] == ["2,0"]
    assert marked(page) == set()


def test_the_keyboard_reaches_every_value_and_shows_its_worked_formula(
    page: Page, server: str
) -> None:
    explained = api(server, "/v1/backprop", {**SPEC_EXAMPLE, "explain": True})["explanation"]
    page.locator("#diagram-heading").focus()
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.dataset.quantity") == "inputs"
    page.keyboard.press("End")
    label = page.evaluate("document.activeElement.getAttribute('aria-label')")
    assert label.startswith("layer 2 unit 2, bias gradient")
    formula = page.locator("#formula-text").inner_text()
    assert explained["layers"][1]["bias_gradients"][1]["text"] in formula
    assert explained["layers"][1]["updated_biases"][1]["text"] in formula
    page.keyboard.press("ArrowLeft")
    page.keyboard.press("ArrowLeft")
    formula = page.locator("#formula-text").inner_text()
    assert formula == explained["layers"][1]["activations"][1]["text"]


def test_hovering_a_connection_shows_its_gradients_formula(page: Page, server: str) -> None:
    explained = api(server, "/v1/backprop", {**SPEC_EXAMPLE, "explain": True})["explanation"]
    page.locator("#network-svg g.edge[data-layer='0'][data-index='1,2'] path.line").hover()
    formula = page.locator("#formula-text").inner_text()
    entry = next(e for e in explained["layers"][0]["weight_gradients"] if e["index"] == [1, 2])
    assert entry["text"] in formula
    assert "dL/dw^1_(2,3)" in formula


def test_every_control_is_labelled(page: Page) -> None:
    unlabelled = page.eval_on_selector_all(
        "input, select, textarea, button",
        """els => els.filter(e => !(e.labels && e.labels.length) && !e.getAttribute('aria-label')
            && !(e.tagName === 'BUTTON' && e.textContent.trim())).map(e => e.outerHTML)""",
    )
    assert unlabelled == []


def test_an_edited_network_draws_the_apis_answer(page: Page, server: str) -> None:
    page.get_by_label("Activation of layer 1").select_option("leaky_relu")
    page.get_by_label("negative_slope").fill("0.2")
    page.get_by_label("Conventions preset").select_option("pytorch")
    page.get_by_label("Learning rate").fill("0.1")
    page.locator("#inputs").fill("[[-1.5, 0.5]]")
    page.get_by_role("button", name="Compute").click()
    page.wait_for_selector("#status:has-text('computed')")
    request = json.loads(page.locator("#request-json").input_value())
    assert request["conventions"] == "pytorch"
    assert request["network"]["layers"][0]["activation"] == {
        "name": "leaky_relu",
        "negative_slope": 0.2,
    }
    # the same network, its weights now [n_out, n_in]
    assert request["network"]["layers"][0]["weights"] == [[0.1, 0.2], [0.3, 0.4], [0.5, 0.6]]
    answer = api(server, "/v1/backprop", request)
    assert_diagram_is(page, request, answer)
    screenshot(page, "edited-pytorch-leaky-relu")


def test_a_seeded_problem_loads_and_is_drawn(page: Page, server: str) -> None:
    page.get_by_text("Load a seeded problem").click()
    page.get_by_label("Seed").fill("7")
    page.get_by_role("button", name="Load problem").click()
    page.wait_for_selector("#status:has-text('loaded problem 7')")
    generated = api(server, "/v1/problems", {"seed": 7, "layer_sizes": [2, 3, 2],
                                             "activations": ["sigmoid", "sigmoid"],
                                             "loss": "mse", "learning_rate": 0.5,
                                             "solution": True})  # fmt: skip
    assert_diagram_is(page, generated["problem"], generated["solution"])


def test_a_batch_shows_the_sample_chosen_with_its_formulas(page: Page, server: str) -> None:
    request = {
        **SPEC_EXAMPLE,
        "inputs": [[1.0, 2.0], [-0.5, 0.25]],
        "targets": [[1.0, 0.0], [0.0, 1.0]],
    }
    page.get_by_text("The request as JSON").click()
    page.get_by_label("The /v1/backprop request of the diagram").fill(json.dumps(request))
    page.get_by_role("button", name="Load this request").click()
    page.get_by_label("Sample shown").select_option("1")
    page.wait_for_selector("#network-svg title:has-text('sample 2')", state="attached")
    answer = api(server, "/v1/backprop", request)
    assert_diagram_is(page, request, answer, sample=1)
    explained = api(server, "/v1/backprop", {**request, "explain": True, "explain_sample": 1})
    page.locator(
        "#network-svg text.entry[data-quantity='deltas'][data-layer='0'][data-unit='2']"
    ).click()
    delta = next(e for e in explained["explanation"]["layers"][0]["deltas"] if e["index"] == [1, 2])
    assert page.locator("#formula-text").inner_text() == delta["text"]


def test_an_invalid_request_shows_the_services_located_message(
    page: Page, offline: Offline
) -> None:
    page.get_by_label("Targets").fill("[[1, 0, 0]]")
    page.get_by_role("button", name="Compute").click()
    alert = page.get_by_role("alert")
    alert.filter(has_text="422").wait_for()
    assert "targets has 3 columns but the last layer has 2 outputs" in alert.inner_text()
    # Chromium logs the 422 answer itself as a console error: that one is expected
    offline.errors[:] = [e for e in offline.errors if "status of 422" not in e]


def test_the_dark_scheme_is_dark_and_readable(
    context: BrowserContext, server: str, offline: Offline
) -> None:
    page = open_page(context, server, offline)
    page.emulate_media(color_scheme="dark")
    colours = page.evaluate(
        """() => [getComputedStyle(document.body).backgroundColor,
                  getComputedStyle(document.body).color,
                  getComputedStyle(document.querySelector('#network-svg text.entry')).fill]"""
    )
    background, text, entry = (luminance(c) for c in colours)
    assert background < 0.05
    assert contrast(text, background) >= 7
    assert contrast(entry, luminance(page.evaluate(
        "getComputedStyle(document.querySelector('.unit-box')).fill")
    )) >= 4.5  # fmt: skip
    grade(page, WRONG_SIGN)
    screenshot(page, "graded-wrong-sign-dark")
    page.close()


def luminance(css: str) -> float:
    """Relative luminance (WCAG 2) of "rgb(r, g, b)"."""
    r, g, b = (int(v) / 255 for v in re.findall(r"\d+", css)[:3])

    def linear(c: float) -> float:
        return c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4

    return 0.2126 * linear(r) + 0.7152 * linear(g) + 0.0722 * linear(b)


def contrast(a: float, b: float) -> float:
    return (max(a, b) + 0.05) / (min(a, b) + 0.05)
