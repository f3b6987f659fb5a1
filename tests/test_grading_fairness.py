"""A grader a class can trust: it never names a mistake the student did not make, judges updates
as steps, carries errors forward when asked, and keeps the answers hidden when told to.

Every submission here is built by tests/grading_oracle.py, which works the problem out as a
student would and knows nothing of the engine; the problems come from /v1/problems.
"""

from __future__ import annotations

import re
from typing import Any

import httpx
import numpy as np
import orjson
import pytest

from app import services
from schemas import SPEC_EXAMPLE
from schemas.grading import GradeRequest
from schemas.problems import ProblemRequest
from tests.grading_oracle import OUTSIDE, Student, solve

HIDDEN = ("sigmoid", "tanh", "relu")

SWEEP = [
    {
        "seed": seed,
        "layer_sizes": [2 + seed % 3, 2 + (seed // 3) % 3, 2 + seed % 2],
        "activations": HIDDEN[seed % 3] if seed % 4 else "sigmoid",
        "batch_size": 1 + seed % 2,
        "decimals": 1 + seed % 2,
    }
    for seed in range(40)
]
"""40 seeded problems of several sizes, activations, batch sizes and precisions."""


def problem(parameters: dict[str, Any]) -> dict[str, Any]:
    made: dict[str, Any] = services.problems(ProblemRequest.model_validate(parameters))["problem"]
    return made


def graded(the_problem: dict[str, Any], submission: Any, **options: Any) -> dict[str, Any]:
    body = {"problem": the_problem, "submission": submission, **options}
    return services.grade(GradeRequest.model_validate_json(orjson.dumps(body)))


def rounded(value: Any, figures: int) -> Any:
    """Every number of an answer rounded to so many significant figures, as a student might."""
    if isinstance(value, list):
        return [rounded(v, figures) for v in value]
    if isinstance(value, dict):
        return {k: rounded(v, figures) for k, v in value.items()}
    return float(f"{value:.{figures}g}")


def named(report: dict[str, Any]) -> dict[str, list[str]]:
    return {
        item["id"]: [m["id"] for m in item["mistakes"]]
        for item in report["items"]
        if item.get("mistakes")
    }


@pytest.mark.parametrize("figures", [2, 3])
def test_a_correct_answer_rounded_is_never_told_of_a_mistake(figures: int) -> None:
    """The sweep that found "the weights are read the wrong way round" and "the MSE is averaged"
    on 5 to 9 of 40 rounded correct answers: now none, and a rounding note where it fails."""
    for parameters in SWEEP:
        the_problem = problem(parameters)
        report = graded(the_problem, rounded(solve(the_problem, Student()), figures))
        assert named(report) == {}, (parameters, named(report))
        for item in report["items"]:
            assert item["status"] != "missing"
            if item["status"] == "failed" and "steps" not in item["feedback"]:
                assert "significant figure" in item["feedback"], item


def test_the_rounding_note_says_what_was_written_and_what_to_carry() -> None:
    the_problem = problem(SWEEP[0])
    report = graded(the_problem, rounded(solve(the_problem, Student()), 2))
    notes = [item["rounding"] for item in report["items"] if "rounding" in item]
    assert notes
    assert all(n["digits_to_carry"] == 4 for n in notes)
    assert {n["digits_written"] for n in notes} <= {1, 2}


def test_answers_rounded_to_n_figures_pass_when_the_instructor_accepts_n() -> None:
    for parameters in SWEEP[:10]:
        the_problem = problem(parameters)
        two = rounded(solve(the_problem, Student()), 2)
        report = graded(the_problem, two, significant_figures=2)
        failed = [i["id"] for i in report["items"] if i["status"] != "passed"]
        assert failed == [], (parameters, failed)
        assert graded(the_problem, two, significant_figures=3)["score"] < report["max_score"]


@pytest.mark.parametrize("mistake", OUTSIDE)
def test_a_mistake_outside_the_catalogue_is_never_named_as_another(mistake: str) -> None:
    wrong_somewhere = 0
    for parameters in SWEEP:
        the_problem = problem(parameters)
        report = graded(the_problem, solve(the_problem, Student(mistakes={mistake})))
        assert named(report) == {}, (mistake, parameters, named(report))
        wrong_somewhere += report["score"] < report["max_score"]
    assert wrong_somewhere >= 20, "the mistake shows in most problems"


def test_a_correct_answer_to_4_figures_keeps_full_marks_updates_included() -> None:
    for parameters in SWEEP:
        the_problem = problem(parameters)
        report = graded(the_problem, rounded(solve(the_problem, Student()), 4))
        assert report["score"] == report["max_score"], (parameters, report["summary"])


def update_points(report: dict[str, Any]) -> float:
    return sum(i["score"] for i in report["items"] if i["id"].endswith(("_weights", "_biases")))


def test_updates_the_wrong_way_earn_nothing_even_with_partial_credit() -> None:
    """W + eta dL/dW earned 0.9 of the update points under partial credit, judged against 1% of
    |W'|; as steps, none, and the feedback says they go the wrong way."""
    for parameters in SWEEP[:10]:
        the_problem = problem(parameters)
        report = graded(
            the_problem, solve(the_problem, Student(mistakes={"update_sign"})), partial_credit=True
        )
        assert update_points(report) == 0.0, parameters
        updates = [i for i in report["items"] if i["id"].endswith("updated_weights")]
        assert all("the wrong way" in i["feedback"] for i in updates)
        assert all(i["mistakes"][0]["id"] == "update_sign" for i in updates)


def test_updates_built_on_wrong_gradients_earn_points_only_by_follow_through() -> None:
    """a^l for a^(l-1) in dW, then the update from that dW: 3.9 of 4 update points before;
    now none, unless the instructor grades with follow-through, which gives them all."""
    the_problem = problem({"seed": 3, "layer_sizes": [2, 2, 2], "batch_size": 2})
    student = Student(mistakes={"weight_gradient_own_activations"})
    strict = graded(the_problem, solve(the_problem, student), partial_credit=True)
    carried = graded(the_problem, solve(the_problem, student), follow_through=True)
    weights = [f"layers[{i}].updated_weights" for i in range(2)]
    assert all(i["score"] == 0.0 for i in strict["items"] if i["id"] in weights)
    carried_items = {i["id"]: i for i in carried["items"]}
    for key in weights:
        assert carried_items[key]["status"] == "passed"
        assert carried_items[key]["follow_through"] == key.replace("updated", "weight").replace(
            "weights", "gradients"
        )
        assert "follow-through" in carried_items[key]["feedback"]
    assert all(carried_items[f"layers[{i}].weight_gradients"]["status"] == "failed" for i in (0, 1))


def test_a_slip_in_a_delta_is_charged_once_with_follow_through() -> None:
    """One wrong output delta, everything after it worked from it: only that delta fails."""
    the_problem = problem({"seed": 5, "layer_sizes": [2, 3, 2]})
    right = solve(the_problem, Student())
    answer = solve(the_problem, Student())
    slip = 0.05
    answer["layers"][1]["deltas"][0][0] += slip
    delta = [[right["layers"][1]["deltas"][0][0] + slip, right["layers"][1]["deltas"][0][1]]]
    worked_on = solve_from_output_delta(the_problem, delta)
    answer["layers"][0].update(worked_on[0])
    answer["layers"][1].update(worked_on[1])
    report = graded(the_problem, answer, follow_through=True)
    failed = [i["id"] for i in report["items"] if i["status"] != "passed"]
    assert failed == ["layers[1].deltas"]


def solve_from_output_delta(
    the_problem: dict[str, Any], delta_L: list[list[float]]
) -> list[dict[str, Any]]:
    """Everything after delta^L, worked by hand from a given delta^L (a 2-layer network)."""
    import numpy as np

    layers = the_problem["network"]["layers"]
    W1, W2 = (np.array(layer["weights"]) for layer in layers)
    b1, b2 = (np.array(layer["biases"]) for layer in layers)
    x = np.array(the_problem["inputs"])
    a1 = 1 / (1 + np.exp(-(x @ W1 + b1)))
    d2 = np.array(delta_L)
    d1 = (d2 @ W2.T) * a1 * (1 - a1)
    eta = the_problem["learning_rate"]
    out = []
    for W, b, a, d in ((W1, b1, x, d1), (W2, b2, a1, d2)):
        gW, gb = a.T @ d, d.sum(axis=0)
        out.append({"deltas": d.tolist(), "weight_gradients": gW.tolist(),
                    "bias_gradients": gb.tolist(), "updated_weights": (W - eta * gW).tolist(),
                    "updated_biases": (b - eta * gb).tolist()})  # fmt: skip
    return out


NUMBER = re.compile(r"-?\d+\.\d+(?:e-?\d+)?")


def test_with_show_expected_false_no_expected_value_appears_anywhere() -> None:
    for parameters in SWEEP[:10]:
        the_problem = problem(parameters)
        right = solve(the_problem, Student())
        answer = solve(the_problem, Student(mistakes={"loss_gradient_sign"}))
        for report_format in ("native", "gradescope", "prairielearn"):
            report = graded(
                the_problem, answer, show_expected=False, partial_credit=True, format=report_format
            )
            text = orjson.dumps(report).decode()
            assert "expected" not in text.replace("expected_shape", "").replace('"expected ', ""), (
                "no expected value"
            )
            assert "worked_formula" not in text
            assert "Worked formula" not in text
            shown = {float(n) for n in NUMBER.findall(text)}
            for value in right_numbers(right, answer):
                assert all(not _close(value, s) for s in shown), (value, report_format)
        native = graded(the_problem, answer, show_expected=False)
        deltas = next(i for i in native["items"] if i["id"].endswith("1].deltas"))
        assert "sample 1, unit" in deltas["feedback"]
        assert deltas["mistakes"][0]["id"] == "loss_gradient_sign"


def right_numbers(right: dict[str, Any], answer: dict[str, Any]) -> list[float]:
    """The right values of the entries the answer got wrong (at least 1e-6 apart)."""

    def flat(v: Any) -> list[float]:
        return [x for w in v for x in flat(w)] if isinstance(v, list) else [v]

    pairs = [(flat(right["loss"]), flat(answer["loss"]))]
    for r, a in zip(right["layers"], answer["layers"], strict=True):
        pairs += [(flat(r[k]), flat(a[k])) for k in r]
    return [x for rs, as_ in pairs for x, y in zip(rs, as_, strict=True) if abs(x - y) > 1e-6]


def _close(value: float, shown: float) -> bool:
    return abs(value - shown) <= 1e-3 * max(abs(value), 1e-3)


def test_show_expected_is_honoured_by_the_diagnosis_too() -> None:
    """The mistake is named, which is the lesson; its description gives no values of the
    answer."""
    the_problem = problem({"seed": 14, "layer_sizes": [2, 3, 2]})
    report = graded(
        the_problem,
        solve(the_problem, Student(mistakes={"learning_rate_omitted"})),
        show_expected=False,
    )
    items = [i for i in report["items"] if i.get("mistakes")]
    assert items
    assert all(i["mistakes"][0]["id"] == "learning_rate_omitted" for i in items)


@pytest.mark.parametrize("show_expected", [True, False])
def test_the_count_of_wrong_entries_is_every_one_not_the_listed_few(show_expected: bool) -> None:
    """An 8 x 8 weight gradient with every sign flipped: 64 of 64 entries wrong, though the
    report lists only the first 20 of them (it said "20 of 64")."""
    the_problem = problem({"seed": 3, "layer_sizes": [4, 8, 8, 3]})
    answer = solve(the_problem, Student(mistakes={"loss_gradient_sign"}))
    report = graded(the_problem, answer, show_expected=show_expected)
    item = next(i for i in report["items"] if i["id"] == "layers[1].weight_gradients")
    assert item["entries"] == 64
    assert item["entries_within_tolerance"] == 0
    assert len(item["wrong_entries"]) == 20
    assert "64 of 64 entries" in item["feedback"]
    if not show_expected:
        assert "and 59 more" in item["feedback"]  # five named, the rest counted


@pytest.mark.anyio
async def test_updates_right_by_the_students_own_gradients_are_not_named_a_mistake(
    client: httpx.AsyncClient,
) -> None:
    """A TA trial's case: dL/do written 2 (o - t) while the loss keeps its 1/2, so every delta
    and gradient is doubled (a mistake outside the catalogue), and each update applies the right
    rule to those gradients. With eta = 0.5, W - eta 2g = W - g is exactly what leaving eta out
    gives: the updates must not be told "the learning rate is left out", since the student did
    not leave it out. Nothing is named; the updates say where the mistake is."""
    assert SPEC_EXAMPLE["learning_rate"] == 0.5
    right = solve(SPEC_EXAMPLE, Student())
    doubled: dict[str, Any] = {"loss": right["loss"], "layers": []}
    for layer, given in zip(right["layers"], SPEC_EXAMPLE["network"]["layers"], strict=True):
        g_w = 2 * np.array(layer["weight_gradients"])
        g_b = 2 * np.array(layer["bias_gradients"])
        doubled["layers"].append({
            "deltas": (2 * np.array(layer["deltas"])).tolist(),
            "weight_gradients": g_w.tolist(),
            "bias_gradients": g_b.tolist(),
            "updated_weights": (np.array(given["weights"]) - 0.5 * g_w).tolist(),
            "updated_biases": (np.array(given["biases"]) - 0.5 * g_b).tolist(),
        })  # fmt: skip
    response = await client.post("/v1/grade", json={"problem": SPEC_EXAMPLE, "submission": doubled})
    assert response.status_code == 200, response.text
    items = {item["id"]: item for item in response.json()["items"]}
    for i in range(2):
        for quantity in ("deltas", "weight_gradients", "bias_gradients"):
            assert items[f"layers[{i}].{quantity}"]["status"] == "failed"
            assert not items[f"layers[{i}].{quantity}"].get("mistakes")
        for update, source in (("updated_weights", "weight gradients dL/dW"),
                               ("updated_biases", "bias gradients dL/db")):  # fmt: skip
            item = items[f"layers[{i}].{update}"]
            assert item["status"] == "failed"
            assert not item.get("mistakes"), item["feedback"]
            assert "learning rate" not in item["feedback"]
            assert (
                f"follows from your own layer {i + 1} {source} by the right rule"
                in (item["feedback"])
            )
    # the same updates without the student's gradients beside them: now nothing shows the rule
    # was applied right, and leaving eta out is among the mistakes named
    alone = {
        "layers": [{"updated_weights": layer["updated_weights"]} for layer in doubled["layers"]]
    }
    response = await client.post("/v1/grade", json={"problem": SPEC_EXAMPLE, "submission": alone})
    named = {item["id"]: [m["id"] for m in item.get("mistakes", [])]
             for item in response.json()["items"] if item["status"] == "failed"}  # fmt: skip
    assert set(named) == {f"layers[{i}].updated_weights" for i in range(2)}
    assert all("learning_rate_omitted" in mistakes for mistakes in named.values())
