"""The offline commands: grade, problem and backprop, and the Gradescope autograder example."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from schemas import SPEC_EXAMPLE
from tests.commands import run, write
from tests.grading_oracle import Student, solve
from tests.test_grading_api import GRADESCOPE, PRAIRIELEARN

ROOT = Path(__file__).parent.parent
EXAMPLE = ROOT / "docs" / "gradescope-autograder"


def test_grade_writes_gradescope_results(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    problem = write(tmp_path / "problem.json", SPEC_EXAMPLE)
    answer = write(tmp_path / "answer.json", solve(SPEC_EXAMPLE, Student()))
    results = tmp_path / "results.json"
    code, _, _ = run(
        ["grade", str(problem), str(answer), "--format", "gradescope", "--output", str(results)],
        capsys,
    )
    assert code == 0
    report = json.loads(results.read_text())
    GRADESCOPE.validate(report)
    assert report["score"] == 16.0


def test_grade_takes_grading_options_and_flags(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    options = {"problem": SPEC_EXAMPLE, "quantities": ["deltas"], "points": {"default": 5}}
    problem = write(tmp_path / "problem.json", options)
    answer = write(tmp_path / "answer.json", {"layers": [{"deltas": [[0.0105, 0.0102, 0.0083]]}]})
    code, out, _ = run(["grade", str(problem), str(answer), "--rtol", "0.05"], capsys)
    report = json.loads(out)
    assert code == 0
    assert [item["max_score"] for item in report["items"]] == [5, 5]
    assert report["items"][0]["status"] == "passed"  # within 5%, not within 1%
    assert report["items"][1]["status"] == "missing"


def test_an_answer_with_text_for_a_number_is_graded_the_rest_kept(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    problem = write(tmp_path / "problem.json", SPEC_EXAMPLE)
    answer = write(tmp_path / "answer.json", '{"loss": 0.4322, "layers": [{"deltas": [["0.01"]]}]}')
    code, out, _ = run(["grade", str(problem), str(answer), "--format", "prairielearn"], capsys)
    assert code == 0
    report = json.loads(out)
    PRAIRIELEARN.validate(report)
    assert report["gradable"] is True
    assert report["score"] == 1 / 16  # the loss is right
    deltas = next(t for t in report["tests"] if t["name"] == "layer 1 deltas")
    assert 'layers[0].deltas[0][0] is the text "0.01", not a number' in deltas["message"]


def test_an_answer_that_is_not_json_is_reported_not_crashed_on(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    problem = write(tmp_path / "problem.json", SPEC_EXAMPLE)
    answer = write(tmp_path / "answer.json", "{oops")
    code, out, _ = run(["grade", str(problem), str(answer), "--format", "gradescope"], capsys)
    report = json.loads(out)
    GRADESCOPE.validate(report)
    assert code == 0
    assert report["score"] == 0.0
    assert "could not be read" in report["output"]
    assert "it is not JSON" in report["output"]
    code, out, _ = run(["grade", str(problem), str(answer), "--format", "prairielearn"], capsys)
    report = json.loads(out)
    PRAIRIELEARN.validate(report)
    assert report["gradable"] is False


def test_a_bad_problem_exits_2_and_names_the_place(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = {**SPEC_EXAMPLE, "learning_rate": "fast"}
    problem = write(tmp_path / "problem.json", bad)
    answer = write(tmp_path / "answer.json", {})
    code, out, err = run(["grade", str(problem), str(answer)], capsys)
    assert code == 2
    assert out == ""
    assert "problem.learning_rate: Input should be a valid number" in err
    code, _, err = run(["grade", str(tmp_path / "nowhere.json"), str(answer)], capsys)
    assert code == 2
    assert "nowhere.json: cannot be read" in err


@pytest.mark.anyio
async def test_problem_and_backprop_print_what_the_endpoints_answer(
    client: httpx.AsyncClient, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = run(["problem", "--seed", "42", "--layers", "2", "3", "2", "--solution"], capsys)
    assert code == 0
    endpoint = await client.post(
        "/v1/problems", json={"seed": 42, "layer_sizes": [2, 3, 2], "solution": True}
    )
    assert json.loads(out) == endpoint.json()

    request = write(tmp_path / "request.json", SPEC_EXAMPLE)
    code, out, _ = run(["backprop", str(request), "--explain"], capsys)
    endpoint = await client.post("/v1/backprop", json={**SPEC_EXAMPLE, "explain": True})
    assert code == 0
    assert json.loads(out) == endpoint.json()


def test_grading_offline_loads_no_web_stack_and_no_sympy(tmp_path: Path) -> None:
    """The single-file command starts fast, and works where the server is not installed."""
    problem = write(tmp_path / "problem.json", SPEC_EXAMPLE)
    answer = write(tmp_path / "answer.json", solve(SPEC_EXAMPLE, Student()))
    script = (
        "import sys\n"
        "from app.cli import main\n"
        f"main(['grade', {str(problem)!r}, {str(answer)!r}, '-o', {str(tmp_path / 'r.json')!r}])\n"
        "print(sorted({m.split('.')[0] for m in sys.modules} & "
        "{'fastapi', 'starlette', 'uvicorn', 'uvloop', 'httptools', 'sympy', 'pydantic_settings'}))"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True, cwd=ROOT
    )
    assert done.stdout.strip() == "[]"
    assert json.loads((tmp_path / "r.json").read_text())["score"] == 16.0
