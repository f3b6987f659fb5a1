"""Pictures in feedback: feedback_format html or markdown draws the report on the network.

The SVG is read as XML, the way a browser or a grader would: its wrong-entry marks
(``<g class="wrong-entry" data-item data-entries>``) must be exactly the entries the report
lists as wrong, its item badges the items' statuses; no expected value may appear with
show_expected false; nothing a student wrote may become markup; Gradescope's and PrairieLearn's
results must still validate against their specifications.
"""

from __future__ import annotations

import base64
import copy
import html
import itertools
import json
import re
import xml.etree.ElementTree as ET
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import httpx
import pytest
from markdown_it import MarkdownIt

from app.cli import main
from engine.grading import all_items
from schemas import SPEC_EXAMPLE, picture
from schemas.picture import (
    MAX_DRAWN_BATCH_BYTES,
    MAX_LAYERS,
    MAX_SKIPPED,
    MAX_UNITS,
    largest_report,
)
from schemas.requests import BackpropRequest
from tests.grading_oracle import Student, solve
from tests.test_grading_api import GRADESCOPE, PRAIRIELEARN

pytestmark = pytest.mark.anyio

SVG = "{http://www.w3.org/2000/svg}"

SIGN = {  # docs/grading.md's example: delta^2 with the sign of dL/do flipped
    "loss": 0.4322,
    "layers": [{"deltas": [[-0.01049, -0.01016, -0.008323]]}, {"deltas": [[0.00771, -0.06405]]}],
}


def problem(
    sizes: list[int],
    samples: int = 1,
    *,
    conventions: str = "textbook",
    flat: bool = False,
    activation: str = "sigmoid",
) -> dict[str, Any]:
    """A problem with weights of both signs, made up of small exact decimals."""
    layers = []
    for i, (n_in, n_out) in enumerate(itertools.pairwise(sizes)):
        W = [[round(((j * 7 + k * 3 + i) % 11 - 5) / 10, 1) for k in range(n_out)]
             for j in range(n_in)]  # fmt: skip
        if conventions == "pytorch":
            W = [list(row) for row in zip(*W, strict=True)]
        layers.append({"weights": W, "biases": [0.1] * n_out, "activation": activation})
    inputs = [[round((s + j) % 5 / 4 - 0.5, 2) for j in range(sizes[0])] for s in range(samples)]
    targets = [[float((s + k) % 2) for k in range(sizes[-1])] for s in range(samples)]
    return {
        "network": {"layers": layers},
        "inputs": inputs[0] if flat else inputs,
        "targets": targets[0] if flat else targets,
        "loss": "mse",
        "learning_rate": 0.5,
        "conventions": conventions,
    }


async def solution(client: httpx.AsyncClient, body: dict[str, Any]) -> dict[str, Any]:
    response = await client.post("/v1/backprop", json=body)
    assert response.status_code == 200, response.text
    answer: dict[str, Any] = response.json()
    answer.pop("conventions")
    answer.pop("input_gradients")
    return answer


def perturbed(answer: dict[str, Any], plan: dict[str, list[tuple[int, ...]]]) -> dict[str, Any]:
    """The answer with 1 added to the entries the plan names, by item id: each one wrong."""
    changed = copy.deepcopy(answer)
    for item, indices in plan.items():
        found = re.fullmatch(r"layers\[(\d+)\]\.(\w+)", item)
        holder, key = (changed["layers"][int(found[1])], found[2]) if found else (changed, item)
        for index in indices:
            if not index:
                holder[key] += 1.0
                continue
            target = holder[key]
            for i in index[:-1]:
                target = target[i]
            target[index[-1]] += 1.0
    return changed


async def grade(client: httpx.AsyncClient, path: str = "/v1/grade", **body: Any) -> dict[str, Any]:
    response = await client.post(path, json=body)
    assert response.status_code == 200, response.text
    report: dict[str, Any] = response.json()
    return report


def svg_in(text: str) -> ET.Element:
    """The one SVG of an HTML text, parsed as XML (it must be well-formed)."""
    found = re.findall(r"<svg\b.*?</svg>", text, re.DOTALL)
    assert len(found) == 1
    return ET.fromstring(found[0])


def svg_of_uri(uri: str) -> ET.Element:
    prefix = "data:image/svg+xml;base64,"
    assert uri.startswith(prefix)
    return ET.fromstring(base64.b64decode(uri.removeprefix(prefix)).decode())


def svg_of_markdown(text: str) -> ET.Element:
    """The SVG of a Markdown text: the one HTML block a CommonMark renderer passes through."""
    blocks = [t for t in MarkdownIt("commonmark").parse(text) if t.type == "html_block"]
    assert len(blocks) == 1
    return svg_in(blocks[0].content)


def marked(svg: ET.Element) -> dict[str, list[tuple[int, ...]]]:
    """Item id: the entries its wrong-entry marks carry, sorted (duplicates kept)."""
    marks: dict[str, list[tuple[int, ...]]] = {}
    for g in svg.iter(f"{SVG}g"):
        if g.get("class") == "wrong-entry":
            entries = [tuple(e) for e in json.loads(g.attrib["data-entries"])]
            marks.setdefault(g.attrib["data-item"], []).extend(entries)
    return {item: sorted(entries) for item, entries in marks.items()}


def badges(svg: ET.Element) -> dict[str, str]:
    return {
        g.attrib["data-item"]: g.attrib["data-status"]
        for g in svg.iter(f"{SVG}g")
        if (g.get("class") or "").startswith("item ")
    }


def listed(report: dict[str, Any]) -> dict[str, list[tuple[int, ...]]]:
    """Item id: the wrong entries the native report lists, for failed items."""
    return {
        item["id"]: sorted(tuple(i) for i in item["wrong_entries"])
        for item in report["items"]
        if item["status"] == "failed" and item.get("wrong_entries")
    }


def words(svg: ET.Element) -> str:
    return " ".join(" ".join(svg.itertext()).split())


# The marks are the report's ----------------------------------------------------------------------

CASES = {
    "worked example": (
        problem([2, 3, 2]) | {"network": SPEC_EXAMPLE["network"]},
        {"layers[1].deltas": [(0, 1)], "layers[0].weight_gradients": [(1, 2), (0, 0)],
         "layers[1].updated_biases": [(0,)], "loss": [()]},
    ),
    "three samples": (
        problem([3, 4, 2], samples=3),
        {"layers[0].pre_activations": [(0, 1), (2, 1), (1, 3)], "outputs": [(2, 0)],
         "layers[1].updated_weights": [(3, 1)], "layers[0].bias_gradients": [(2,)]},
    ),
    "pytorch layout": (
        problem([2, 3, 3, 2], samples=2, conventions="pytorch"),
        {"layers[1].weight_gradients": [(2, 0), (0, 1)], "layers[2].updated_weights": [(1, 2)],
         "layers[2].activations": [(1, 1)]},
    ),
    "a flat sample": (
        problem([2, 2, 2], flat=True),
        {"layers[0].deltas": [(1,)], "outputs": [(0,)], "layers[1].weight_gradients": [(1, 0)]},
    ),
}  # fmt: skip


@pytest.mark.parametrize("drawing", ["html", "markdown"])
@pytest.mark.parametrize("case", list(CASES), ids=list(CASES))
async def test_the_marked_entries_are_exactly_those_the_report_lists(
    client: httpx.AsyncClient, case: str, drawing: str
) -> None:
    body, plan = CASES[case]
    answer = perturbed(await solution(client, body), plan)
    report = await grade(client, problem=body, submission=answer, feedback_format=drawing)
    svg = svg_in(report["rendered"]) if drawing == "html" else svg_of_markdown(report["rendered"])
    assert listed(report) == {item: sorted(entries) for item, entries in plan.items()}
    assert marked(svg) == listed(report)
    assert badges(svg) == {item["id"]: item["status"] for item in report["items"]}


async def test_more_wrong_entries_than_listed_marks_those_listed(
    client: httpx.AsyncClient,
) -> None:
    """The report lists the first 20 wrong entries of an item; the picture marks those."""
    body = problem([3, 8, 6], samples=3)
    right = await solution(client, body)
    plan = {"layers[0].deltas": [(s, u) for s in range(3) for u in range(8)]}
    report = await grade(
        client, problem=body, submission=perturbed(right, plan), feedback_format="html"
    )
    svg = svg_in(report["rendered"])
    assert len(listed(report)["layers[0].deltas"]) == 20
    assert marked(svg) == listed(report)
    assert "layer 1 deltas: wrong, 20 wrong entries marked (4 more not listed)" in words(svg)


async def test_a_right_answer_has_no_mark_and_every_badge_passed(
    client: httpx.AsyncClient,
) -> None:
    report = await grade(
        client,
        problem=SPEC_EXAMPLE,
        submission=solve(SPEC_EXAMPLE, Student()),
        feedback_format="html",
    )
    svg = svg_in(report["rendered"])
    assert marked(svg) == {}
    assert set(badges(svg).values()) == {"passed"}
    assert len(badges(svg)) == 16


async def test_an_item_passed_by_follow_through_is_not_marked_wrong(
    client: httpx.AsyncClient,
) -> None:
    """The gradient wrong, the update right given it: the update passes and is not marked."""
    answer = solve(SPEC_EXAMPLE, Student(mistakes={"weight_gradient_uses_z"}))
    report = await grade(
        client,
        problem=SPEC_EXAMPLE,
        submission=answer,
        quantities=["weight_gradients", "updated_weights"],
        follow_through=True,
        feedback_format="html",
    )
    statuses = {item["id"]: item["status"] for item in report["items"]}
    assert statuses["layers[1].weight_gradients"] == "failed"
    assert statuses["layers[1].updated_weights"] == "passed"
    svg = svg_in(report["rendered"])
    assert set(marked(svg)) == {"layers[1].weight_gradients"}
    assert badges(svg)["layers[1].updated_weights"] == "passed"


async def test_the_mistake_named_is_on_the_picture(client: httpx.AsyncClient) -> None:
    for drawing in ("html", "markdown"):
        report = await grade(
            client,
            problem=SPEC_EXAMPLE,
            submission=SIGN,
            quantities=["loss", "deltas"],
            feedback_format=drawing,
        )
        rendered = report["rendered"]
        svg = svg_in(rendered) if drawing == "html" else svg_of_markdown(rendered)
        text = words(svg)
        assert "layer 2 deltas: the sign of the loss derivative is flipped" in text
        assert "(loss_gradient_sign)" in text
        assert marked(svg) == {"layers[0].deltas": [(0, 0), (0, 1), (0, 2)],
                               "layers[1].deltas": [(0, 0), (0, 1)]}  # fmt: skip


# Nothing expected with show_expected false -----------------------------------------------------


def everything(report: dict[str, Any]) -> str:
    """The report as text, data: URIs decoded: all a student could read of it."""
    text = json.dumps(report, ensure_ascii=False)
    for uri in re.findall(r"data:image/svg\+xml;base64,[A-Za-z0-9+/=]+", text):
        text += ET.tostring(svg_of_uri(uri), encoding="unicode")
    return html.unescape(text)


def spellings(value: float) -> set[str]:
    """A value as feedback or a tooltip could write it, with 4 significant figures or more."""
    forms = {f"{value:.{d}g}" for d in (4, 5, 6, 7)} | {repr(value), f"{value:.4f}"}
    return {
        form.lstrip("-")
        for form in forms
        if len(re.sub(r"\D|^0\.0*", "", form.lstrip("-"))) >= 4  # a count of significant digits
    }


@pytest.mark.parametrize("report_format", ["native", "gradescope", "prairielearn"])
@pytest.mark.parametrize("drawing", ["html", "markdown"])
async def test_no_expected_value_appears_with_show_expected_false(
    client: httpx.AsyncClient, report_format: str, drawing: str
) -> None:
    body = problem([2, 3, 2], samples=2)
    right = await solution(client, body)
    wrong = solve(body | {"conventions": "textbook"}, Student(mistakes={"loss_gradient_sign"}))
    reference = {
        s
        for values in [right["loss"], right["outputs"], *(right["layers"])]
        for v in _numbers(values)
        for s in spellings(v)
    }
    submitted = {s for v in _numbers(wrong) for s in spellings(v)}
    secret = reference - submitted

    hidden = everything(
        await grade(client, problem=body, submission=wrong, format=report_format,
                    feedback_format=drawing, show_expected=False)
    )  # fmt: skip
    shown = everything(
        await grade(client, problem=body, submission=wrong, format=report_format,
                    feedback_format=drawing, show_expected=True)
    )  # fmt: skip
    assert not {s for s in secret if s in hidden}
    # the check can fail: with show_expected the furthest-off entries' values are there
    assert {s for s in secret if s in shown}


def _numbers(value: Any) -> list[float]:
    if isinstance(value, dict):
        return [v for item in value.values() for v in _numbers(item)]
    if isinstance(value, list):
        return [v for item in value for v in _numbers(item)]
    return [float(value)] if isinstance(value, int | float) else []


# A student's text is text -------------------------------------------------------------------------

HOSTILE = '</text></svg><script>alert("x")</script>]]><!--'


def hostile_answer() -> dict[str, Any]:
    answer = copy.deepcopy(SIGN)
    answer["layers"][0][HOSTILE] = [1]
    answer["layers"][0]['it\'s "quoted" & <b>bold</b>'] = 1
    answer["layers"][1]["deltas"][0][1] = HOSTILE  # an entry that is text: a note quotes it
    answer[f"{HOSTILE}top"] = 2
    return answer


class Tags(HTMLParser):
    """Every start tag of an HTML text, as a browser's tokenizer sees them."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[str] = []
        self.comments: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)

    def handle_comment(self, data: str) -> None:
        self.comments.append(data)


@pytest.mark.parametrize("report_format", ["native", "gradescope"])
async def test_a_student_s_keys_and_text_never_become_html(
    client: httpx.AsyncClient, report_format: str
) -> None:
    report = await grade(
        client,
        problem=SPEC_EXAMPLE,
        submission=hostile_answer(),
        quantities=["loss", "deltas"],
        format=report_format,
        feedback_format="html",
    )
    texts = (
        [report["rendered"], *(item["feedback"] for item in report["items"])]
        if report_format == "native"
        else [report["output"], *(test["output"] for test in report["tests"])]
    )
    whole = "".join(texts)
    assert "&lt;script&gt;" in whole  # the key is shown, as text
    for text in texts:
        tags = Tags()
        tags.feed(text)
        assert "script" not in tags.tags
        assert "b" not in tags.tags
        assert tags.comments == []
    svg_in(texts[0])  # still one well-formed SVG


async def test_markdown_keeps_a_student_s_text_out_of_markup(client: httpx.AsyncClient) -> None:
    report = await grade(
        client,
        problem=SPEC_EXAMPLE,
        submission=hostile_answer(),
        quantities=["loss", "deltas"],
        feedback_format="markdown",
    )
    md = MarkdownIt("commonmark")
    for text in [report["rendered"], *(item["feedback"] for item in report["items"])]:
        tokens = md.parse(text)
        inline = [t for token in tokens for t in (token.children or [])]
        markup = [t for t in [*tokens, *inline] if t.type in ("html_block", "html_inline")]
        # the one piece of HTML is the picture, whole
        assert [t.content.startswith("<figure><svg") for t in markup] == (
            [True] if text == report["rendered"] else []
        )
        tags = Tags()
        tags.feed(md.render(text))
        assert "script" not in tags.tags
        assert "b" not in tags.tags
        assert tags.comments == []
    assert HOSTILE[:30] in html.unescape(md.render(report["rendered"]))
    svg_of_markdown(report["rendered"])


# The platforms' formats ---------------------------------------------------------------------------


@pytest.mark.parametrize("drawing", ["html", "markdown"])
async def test_gradescope_gets_html_or_md_output_and_still_validates(
    client: httpx.AsyncClient, drawing: str
) -> None:
    results = await grade(
        client,
        problem=SPEC_EXAMPLE,
        submission=hostile_answer(),
        format="gradescope",
        feedback_format=drawing,
    )
    GRADESCOPE.validate(results)
    output_format = "html" if drawing == "html" else "md"
    assert results["output_format"] == output_format
    assert {test["output_format"] for test in results["tests"]} == {output_format}
    svg = svg_in(results["output"]) if drawing == "html" else svg_of_markdown(results["output"])
    assert "wrong-entry" in ET.tostring(svg, encoding="unicode")
    assert "which is not graded" in results["output"]  # the warnings are in the output


@pytest.mark.parametrize("drawing", ["html", "markdown"])
async def test_prairielearn_gets_the_picture_as_an_image_and_still_validates(
    client: httpx.AsyncClient, drawing: str
) -> None:
    results = await grade(
        client,
        problem=SPEC_EXAMPLE,
        submission=SIGN,
        quantities=["loss", "deltas"],
        format="prairielearn",
        feedback_format=drawing,
    )
    PRAIRIELEARN.validate(results)
    (image,) = results["images"]
    assert "marked wrong: layer 1 deltas, layer 2 deltas" in image["label"]
    assert set(marked(svg_of_uri(image["url"]))) == {"layers[0].deltas", "layers[1].deltas"}
    # PrairieLearn shows messages as text (HTML escaped): they stay text
    assert "<" not in results["message"]
    assert all("<" not in test["message"] for test in results["tests"])


async def test_a_batch_draws_each_report_and_reports_an_unreadable_answer(
    client: httpx.AsyncClient,
) -> None:
    body = {
        "problem": SPEC_EXAMPLE,
        "quantities": ["loss", "deltas"],
        "format": "gradescope",
        "submissions": [
            {"id": "ada", "submission": SIGN},
            {"id": "bob", "submission": "not json {"},
        ],
    }
    text = await grade(client, "/v1/grade/batch", **body)
    drawn = await grade(client, "/v1/grade/batch", **body, feedback_format="html")
    assert drawn["class_summary"] == text["class_summary"]
    ada, bob = (result["report"] for result in drawn["results"])
    for results in (ada, bob):
        GRADESCOPE.validate(results)
        assert results["output_format"] == "html"
    assert set(marked(svg_in(ada["output"]))) == {"layers[0].deltas", "layers[1].deltas"}
    assert bob["output"].startswith("<p>The answer could not be read")


async def test_native_items_carry_their_feedback_in_the_format(client: httpx.AsyncClient) -> None:
    """The same words as text feedback: in paragraphs (HTML) or a fenced block (Markdown)."""
    body = {"problem": SPEC_EXAMPLE, "submission": SIGN, "quantities": ["loss", "deltas"]}
    text = await grade(client, **body)
    in_html = await grade(client, **body, feedback_format="html")
    in_markdown = await grade(client, **body, feedback_format="markdown")
    for plain, drawn, written in zip(
        text["items"], in_html["items"], in_markdown["items"], strict=True
    ):
        paragraphs = re.findall(r"<p>(.*?)</p>", drawn["feedback"])
        lines = [html.unescape(re.sub(r"</?code>", "", p)) for p in paragraphs]
        assert lines == plain["feedback"].split("\n")
        fence = MarkdownIt("commonmark").parse(written["feedback"])
        assert [t.type for t in fence] == ["fence"]
        assert fence[0].content == plain["feedback"] + "\n"
        assert {k: v for k, v in drawn.items() if k != "feedback"} == {
            k: v for k, v in plain.items() if k != "feedback"
        }
    assert "rendered" not in text


# The SVG itself -----------------------------------------------------------------------------------


async def test_the_svg_is_labelled_for_screen_readers_and_has_a_dark_scheme(
    client: httpx.AsyncClient,
) -> None:
    report = await grade(
        client, problem=SPEC_EXAMPLE, submission=SIGN, quantities=["loss", "deltas"],
        feedback_format="html",
    )  # fmt: skip
    svg = svg_in(report["rendered"])
    assert svg.get("role") == "img"
    title, desc = svg[0], svg[1]
    assert (title.tag, desc.tag) == (f"{SVG}title", f"{SVG}desc")
    assert svg.get("aria-labelledby") == f"{title.get('id')} {desc.get('id')}"
    assert "1 of 3 items correct" in (title.text or "")
    assert "layer 2 deltas: wrong, 2 wrong entries marked" in (desc.text or "")
    groups = [g for g in svg.iter(f"{SVG}g") if g.get("data-item")]
    assert {g.get("class") for g in groups} == {"wrong-entry", "item passed", "item failed"}
    for g in groups:  # marks and badges: a tooltip, which is also their accessible name
        title = g.find(f"{SVG}title")
        assert title is not None
        assert title.text, ET.tostring(g, encoding="unicode")[:200]
        if g.get("class", "").startswith("item"):
            assert g.get("aria-label") == title.text
    style = svg.find(f"{SVG}style")
    assert style is not None
    assert style.text is not None
    assert "@media (prefers-color-scheme: dark)" in style.text
    # every colour drawn is set again for the dark scheme, through its element's class
    dark = set(re.findall(r"#[\w-]+ \.([\w-]+)\{", style.text))
    for element in svg.iter():
        painted = [a for a in ("fill", "stroke") if (element.get(a) or "").startswith("#")]
        if painted and element.tag != f"{SVG}svg":
            assert element.get("class") in dark, ET.tostring(element, encoding="unicode")[:120]
    # the scheme is scoped to this picture: it styles nothing else on a page
    selectors = re.findall(r"[{}]([^{}]+)\{", style.text)
    assert len(selectors) == len(dark)
    assert all(selector.startswith(f"#{svg.get('id')} .") for selector in selectors)


async def test_wide_and_deep_networks_are_drawn_in_part_and_say_so(
    client: httpx.AsyncClient,
) -> None:
    wide = problem([2, MAX_UNITS + 4, 2])
    right = await solution(client, wide)
    plan = {"layers[0].deltas": [(0, 1), (0, MAX_UNITS + 2)],
            "layers[1].weight_gradients": [(MAX_UNITS + 3, 1), (0, 0)]}  # fmt: skip
    report = await grade(
        client, problem=wide, submission=perturbed(right, plan), feedback_format="html"
    )
    svg = svg_in(report["rendered"])
    assert marked(svg) == listed(report) == {k: sorted(v) for k, v in plan.items()}
    assert f"units {MAX_UNITS} to {MAX_UNITS + 4} not drawn" in words(svg)
    assert words(svg).count("unit 1") >= 2  # unit boxes, drawn ...
    assert f"unit {MAX_UNITS}" not in re.findall(r"unit \d+", words(svg))  # ... up to 15

    deep = problem([2] * (MAX_LAYERS + 4))  # layers 1 to MAX_LAYERS + 3
    right = await solution(client, deep)
    plan = {f"layers[{MAX_LAYERS}].deltas": [(0, 1)],  # layer MAX_LAYERS + 1: not drawn
            f"layers[{MAX_LAYERS + 2}].deltas": [(0, 0)], "loss": [()]}  # fmt: skip
    report = await grade(
        client, problem=deep, submission=perturbed(right, plan), feedback_format="html"
    )
    svg = svg_in(report["rendered"])
    assert marked(svg) == listed(report) == {k: sorted(v) for k, v in plan.items()}
    assert f"layers {MAX_LAYERS} to {MAX_LAYERS + 2} not drawn" in words(svg)
    headings = [
        t.text
        for t in svg.iter(f"{SVG}text")
        if re.fullmatch(r"layer \d+( \(outputs\))?", t.text or "")
    ]
    drawn = [*(f"layer {i}" for i in range(1, MAX_LAYERS)), f"layer {MAX_LAYERS + 3} (outputs)"]
    assert headings == drawn


async def test_the_largest_picture_fits_prairielearn_s_1_mb(client: httpx.AsyncClient) -> None:
    """Every unit and weight that can be drawn, every item wrong with 20 entries listed, and
    many layers not drawn: their wrong items named up to MAX_SKIPPED, the others counted."""
    full = problem([MAX_UNITS] * (MAX_LAYERS + 1), activation="tanh")  # all drawn
    body = problem([MAX_UNITS + 8] * (MAX_LAYERS + 10), activation="tanh")
    for shapes in (full, body):
        answer = _nines(await solution(client, shapes))
        results = await grade(
            client, problem=shapes, submission=answer, format="prairielearn",
            feedback_format="markdown",
        )  # fmt: skip
        assert len(json.dumps(results)) < 1_000_000
    report = await grade(client, problem=body, submission=answer, feedback_format="html")
    svg = svg_in(report["rendered"])
    every = listed(report)
    assert len(every) == len(report["items"])
    L = MAX_LAYERS + 9
    hidden = [item for item in every if _layer(item) in range(MAX_LAYERS, L)]  # 1-based
    assert len(hidden) == (L - MAX_LAYERS) * 7
    named = hidden[:MAX_SKIPPED]
    assert marked(svg) == {item: every[item] for item in every if item not in hidden[MAX_SKIPPED:]}
    assert {item: every[item] for item in named} == {item: marked(svg)[item] for item in named}
    assert f"and {len(hidden) - MAX_SKIPPED} more not right (in the report)" in words(svg)


def _layer(item: str) -> int | None:
    """The layer of an item id, numbered from 1: "layers[1].deltas" -> 2."""
    found = re.match(r"layers\[(\d+)\]", item)
    return int(found[1]) + 1 if found else None


def _nines(value: Any) -> Any:
    """The same structure with 9.0 for every number."""
    if isinstance(value, dict):
        return {key: _nines(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_nines(item) for item in value]
    return 9.0


def test_the_command_line_draws_the_report(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "problem.json").write_text(json.dumps(SPEC_EXAMPLE))
    (tmp_path / "answer.json").write_text(json.dumps(SIGN))
    code = main(["grade", str(tmp_path / "problem.json"), str(tmp_path / "answer.json"),
                 "--feedback-format", "markdown", "--format", "gradescope"])  # fmt: skip
    results = json.loads(capsys.readouterr().out)
    assert code == 0
    GRADESCOPE.validate(results)
    assert results["output_format"] == "md"
    assert set(marked(svg_of_markdown(results["output"]))) == {
        "layers[0].deltas",
        "layers[1].deltas",
    }


# A batch of drawn reports -------------------------------------------------------------------------


@pytest.mark.parametrize("sizes", [[2, 3, 2], [4, 8, 8, 3], [3, MAX_UNITS + 2, 2]])
async def test_the_largest_report_bounds_every_drawn_report(
    client: httpx.AsyncClient, sizes: list[int]
) -> None:
    """largest_report, which sizes a batch, is never less than a report is: all wrong here."""
    body = problem(sizes, samples=2)
    request = BackpropRequest.model_validate(body)
    keys = tuple(all_items(len(sizes) - 1))
    bound = largest_report(tuple(request.widths()), 2, request.single_sample, request.layout, keys)
    answer = _nines(await solution(client, body))
    for report_format in ("native", "gradescope", "prairielearn"):
        for drawing in ("html", "markdown"):
            report = await grade(
                client, problem=body, submission=answer, format=report_format,
                feedback_format=drawing,
            )  # fmt: skip
            size = len(json.dumps(report, ensure_ascii=False).encode())
            assert bound / 2 < size <= bound, (report_format, drawing)


async def test_a_batch_of_drawn_reports_too_large_is_refused_with_what_fits(
    client: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    request = BackpropRequest.model_validate(SPEC_EXAMPLE)
    largest = largest_report(tuple(request.widths()), 1, False, request.layout, tuple(all_items(2)))
    assert MAX_DRAWN_BATCH_BYTES // largest > 2000  # the worked example: a large class fits
    monkeypatch.setattr(picture, "MAX_DRAWN_BATCH_BYTES", 3 * largest + 1)
    handins = [{"id": str(i), "submission": SIGN} for i in range(4)]
    body = {"problem": SPEC_EXAMPLE, "feedback_format": "html", "submissions": handins}
    response = await client.post("/v1/grade/batch", json=body)
    assert response.status_code == 422
    message = response.json()["detail"][0]["msg"]
    assert "at most 3 submissions fit in one batch, and 4 were sent" in message
    assert (
        await client.post("/v1/grade/batch", json=body | {"submissions": handins[:3]})
    ).is_success
    assert (
        await client.post("/v1/grade/batch", json=body | {"feedback_format": "text"})
    ).is_success
