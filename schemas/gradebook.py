"""Graded items and the three report formats a grader can ask for.

A grader (backprop answers, derivatives, ...) produces ``GradedItem``s; ``report`` turns them into
the format the caller named:

  native        {"score", "max_score", "items": [...]}: everything, for this service's clients
  gradescope    results.json as Gradescope's autograder specification defines it:
                {"score", "output", "tests": [{"name", "score", "max_score", "status",
                "output", "visibility"}]}
  prairielearn  results.json for PrairieLearn's external grader:
                {"gradable", "score" in [0, 1], "message", "tests": [{"name", "points",
                "max_points", "message"}]}

A report may also be drawn for people (``Rendered``: HTML or Markdown with a picture of the
network, made by schemas/picture.py); each format then carries it where its platform shows it:

  native        items' "feedback" in the chosen format, and "rendered": the whole report
  gradescope    "output_format" "html" or "md" at the top and on every test: "output" is the
                summary with the picture, each test's "output" its feedback
  prairielearn  "images": [{"label", "url"}], the picture as a data: URI, which PrairieLearn's
                <pl-external-grader-results> draws (its "message" and "output" are shown as
                text, HTML escaped, so they stay text)
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

ReportFormat = Literal["native", "gradescope", "prairielearn"]
Status = Literal["passed", "failed", "missing"]
Drawing = Literal["html", "markdown"]


@dataclass(frozen=True)
class GradedItem:
    """One graded quantity, say "layer 2 deltas".

    details holds what the native format shows beyond the common fields (largest errors, the
    worst entry, the mistake diagnosed, ...); it must be JSON-serialisable.
    """

    name: str
    status: Status
    score: float
    max_score: float
    feedback: str
    details: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Rendered:
    """A report drawn for people, in HTML or Markdown (schemas/picture.py makes one).

    report : everything: the summary, the picture, the warnings and every item's feedback
    overview : the summary, the picture and the warnings (Gradescope's top-level output)
    items : each item's feedback, in the order of the report's items
    picture_uri, picture_label : the picture as a data: URI and in words (PrairieLearn's
        image); None when there is nothing to draw (an answer that could not be read)
    """

    format: Drawing
    report: str
    overview: str
    items: list[str]
    picture_uri: str | None = None
    picture_label: str = ""


def report(
    items: list[GradedItem],
    report_format: ReportFormat,
    warnings: Sequence[str] = (),
    rendered: Rendered | None = None,
) -> dict[str, Any]:
    """The items as one report in the named format; warnings say what was not graded (keys of
    the answer that are not items, layers beyond the network) and come before the items.
    rendered, when given, is the report drawn for people, placed as the format wants it."""
    made = _FORMATS[report_format](items)
    if rendered is not None:
        _place(made, report_format, rendered)
    if warnings:
        if report_format == "native":
            made["warnings"] = list(warnings)
        elif report_format == "prairielearn" or rendered is None:
            key = "output" if report_format == "gradescope" else "message"
            made[key] = "\n".join([made[key], *(f"Note: {w}" for w in warnings)])
    return made


def _place(made: dict[str, Any], report_format: ReportFormat, rendered: Rendered) -> None:
    """The drawn report where each format shows it (the module's docstring has where)."""
    if report_format == "native":
        for item, feedback in zip(made["items"], rendered.items, strict=True):
            item["feedback"] = feedback
        made["rendered"] = rendered.report
    elif report_format == "gradescope":
        output_format = "html" if rendered.format == "html" else "md"
        made["output"] = rendered.overview  # the warnings are in it
        made["output_format"] = output_format
        for test, feedback in zip(made["tests"], rendered.items, strict=True):
            test["output"] = feedback
            test["output_format"] = output_format
    elif rendered.picture_uri is not None:
        made["images"] = [{"label": rendered.picture_label, "url": rendered.picture_uri}]


def unreadable(
    message: str, report_format: ReportFormat, max_score: float, rendered: Rendered | None = None
) -> dict[str, Any]:
    """A report for an answer that could not be read at all (not JSON, a string for a number).

    PrairieLearn marks it "not gradable", which costs the student no attempt; Gradescope and
    the native format give it 0 points with the message (drawn as rendered says, if given).
    """
    if report_format == "prairielearn":
        return {"gradable": False, "message": message, "format_errors": [message], "tests": []}
    if report_format == "gradescope":
        made: dict[str, Any] = {"score": 0.0, "output": message, "tests": []}
    else:
        made = {"score": 0.0, "max_score": max_score, "summary": message, "items": []}
    if rendered is not None:
        _place(made, report_format, rendered)
    return made


def total(items: list[GradedItem]) -> tuple[float, float]:
    """(score, max_score) summed over the items."""
    return sum(item.score for item in items), sum(item.max_score for item in items)


def summary(items: list[GradedItem]) -> str:
    """One line for the whole submission: "7 of 9 items correct, score 7.5 / 9"."""
    score, max_score = total(items)
    passed = sum(item.status == "passed" for item in items)
    return f"{passed} of {len(items)} items correct, score {score:g} / {max_score:g}"


def _native(items: list[GradedItem]) -> dict[str, Any]:
    score, max_score = total(items)
    return {
        "score": score,
        "max_score": max_score,
        "summary": summary(items),
        "items": [
            {
                "name": item.name,
                "status": item.status,
                "score": item.score,
                "max_score": item.max_score,
                "feedback": item.feedback,
                **item.details,
            }
            for item in items
        ],
    }


def _gradescope(items: list[GradedItem]) -> dict[str, Any]:
    score, _ = total(items)
    return {
        "score": score,
        "output": summary(items),
        "tests": [
            {
                "name": item.name,
                "score": item.score,
                "max_score": item.max_score,
                "status": "passed" if item.status == "passed" else "failed",
                "output": item.feedback,
                "visibility": "visible",
            }
            for item in items
        ],
    }


def _prairielearn(items: list[GradedItem]) -> dict[str, Any]:
    score, max_score = total(items)
    return {
        "gradable": True,
        "score": score / max_score if max_score > 0 else 0.0,
        "message": summary(items),
        "tests": [
            {
                "name": item.name,
                "points": item.score,
                "max_points": item.max_score,
                "message": item.feedback,
            }
            for item in items
        ],
    }


_FORMATS = {"native": _native, "gradescope": _gradescope, "prairielearn": _prairielearn}
