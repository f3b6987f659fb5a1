"""Properties over many generated problems (Hypothesis draws the seeds and the sizes)."""

from __future__ import annotations

from typing import Any

import orjson
from hypothesis import given, settings
from hypothesis import strategies as st

from app import services
from schemas.grading import GradeRequest
from schemas.problems import ProblemRequest
from tests.grading_oracle import Student, solve

problems = st.builds(
    lambda seed, sizes, batch: services.problems(
        ProblemRequest.model_validate(
            {"seed": seed, "layer_sizes": sizes, "batch_size": batch, "decimals": 1}
        )
    )["problem"],
    st.integers(min_value=0, max_value=2**64 - 1),
    st.lists(st.integers(min_value=1, max_value=4), min_size=2, max_size=4),
    st.integers(min_value=1, max_value=3),
)


def graded(problem: dict[str, Any], submission: dict[str, Any]) -> dict[str, Any]:
    body = orjson.dumps({"problem": problem, "submission": submission, "partial_credit": True})
    return services.grade(GradeRequest.model_validate_json(body))


@settings(max_examples=30, deadline=None)
@given(problems)
def test_the_independent_reference_always_gets_full_marks(problem: dict[str, Any]) -> None:
    report = graded(problem, solve(problem, Student()))
    assert report["score"] == report["max_score"]


@settings(max_examples=30, deadline=None)
@given(problems)
def test_a_flipped_sign_is_always_named_where_it_shows(problem: dict[str, Any]) -> None:
    """dL/do written (t - o): every delta and gradient that is not 0 changes sign, so those
    items fail (a grader that accepted anything would fail this), and each failure is named."""
    report = graded(problem, solve(problem, Student(mistakes={"loss_gradient_sign"})))
    failed = [item for item in report["items"] if item["status"] == "failed"]
    output_deltas = f"layers[{len(problem['network']['layers']) - 1}].deltas"
    assert output_deltas in {item["id"] for item in failed} or all(
        abs(d) < 1e-4 for row in solve(problem, Student())["layers"][-1]["deltas"] for d in row
    )
    for item in failed:
        assert [m["id"] for m in item["mistakes"]] == ["loss_gradient_sign"], item["feedback"]
    assert report["score"] == sum(item["score"] for item in report["items"])
    assert report["score"] < report["max_score"] or not failed
    assert 0 <= report["score"] <= report["max_score"]
