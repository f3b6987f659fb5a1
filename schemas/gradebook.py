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
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

ReportFormat = Literal["native", "gradescope", "prairielearn"]
Status = Literal["passed", "failed", "missing"]


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


def report(
    items: list[GradedItem], report_format: ReportFormat, warnings: Sequence[str] = ()
) -> dict[str, Any]:
    """The items as one report in the named format; warnings say what was not graded (keys of
    the answer that are not items, layers beyond the network) and come before the items."""
    made = _FORMATS[report_format](items)
    if warnings:
        if report_format == "native":
            made["warnings"] = list(warnings)
        else:
            key = "output" if report_format == "gradescope" else "message"
            made[key] = "\n".join([made[key], *(f"Note: {w}" for w in warnings)])
    return made


def unreadable(message: str, report_format: ReportFormat, max_score: float) -> dict[str, Any]:
    """A report for an answer that could not be read at all (not JSON, a string for a number).

    PrairieLearn marks it "not gradable", which costs the student no attempt; Gradescope and
    the native format give it 0 points with the message.
    """
    if report_format == "prairielearn":
        return {"gradable": False, "message": message, "format_errors": [message], "tests": []}
    if report_format == "gradescope":
        return {"score": 0.0, "output": message, "tests": []}
    return {"score": 0.0, "max_score": max_score, "summary": message, "items": []}


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
