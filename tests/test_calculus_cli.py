"""backprop-service derivative grade: POST /v1/derivatives/grade offline, for autograders."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from tests.commands import run, write
from tests.test_grading_api import GRADESCOPE, PRAIRIELEARN

PROBLEM = {"function": "x^2*sin(x)", "name": "1a", "max_score": 4}


@pytest.mark.anyio
async def test_the_native_report_is_what_the_endpoint_answers(
    client: httpx.AsyncClient, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    problem = write(tmp_path / "problem.json", PROBLEM)
    for answer in ("2*x*sin(x) + x^2*cos(x)", "2*x*cos(x)"):
        code, out, _ = run(
            ["derivative", "grade", str(problem), str(write(tmp_path / "a", answer))], capsys
        )
        endpoint = await client.post("/v1/derivatives/grade", json={**PROBLEM, "answer": answer})
        assert code == 0
        assert json.loads(out) == endpoint.json()


@pytest.mark.parametrize(
    "content",
    [
        "2*x*sin(x) + x^2*cos(x)\n",
        '"2*x*sin(x) + x^2*cos(x)"',
        '{"answer": "x*(2*sin(x) + x*cos(x))"}',
    ],
)
def test_gradescope_results_from_each_way_of_writing_the_answer(
    content: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    problem = write(tmp_path / "problem.json", PROBLEM)
    answer = write(tmp_path / "answer", content)
    results = tmp_path / "results.json"
    argv = ["derivative", "grade", str(problem), str(answer), "--format", "gradescope"]
    code, _, _ = run([*argv, "--output", str(results)], capsys)
    assert code == 0
    report = json.loads(results.read_text())
    GRADESCOPE.validate(report)
    assert report["score"] == 4.0
    assert report["tests"][0]["output"].startswith("Correct")


def test_a_wrong_answer_gets_no_points_and_the_expected_steps(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    problem = write(tmp_path / "problem.json", {**PROBLEM, "format": "prairielearn"})
    code, out, _ = run(
        ["derivative", "grade", str(problem), str(write(tmp_path / "a", "2*x*cos(x)"))], capsys
    )
    assert code == 0
    report = json.loads(out)
    PRAIRIELEARN.validate(report)
    assert (report["gradable"], report["score"]) == (True, 0.0)
    assert "Expected, rule by rule:\nproduct rule" in report["tests"][0]["message"]


def test_an_answer_that_cannot_be_parsed_is_reported_to_the_student(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    problem = write(tmp_path / "problem.json", PROBLEM)
    answer = write(tmp_path / "answer.txt", "2x*sin(x)")
    code, out, _ = run(
        ["derivative", "grade", str(problem), str(answer), "--format", "prairielearn"], capsys
    )
    assert code == 0
    report = json.loads(out)
    PRAIRIELEARN.validate(report)
    assert report["gradable"] is False
    assert "answer: column 2: missing operator between '2' and 'x'" in report["message"]
    code, out, _ = run(
        [
            "derivative",
            "grade",
            str(problem),
            str(tmp_path / "nowhere.txt"),
            "--format",
            "gradescope",
        ],
        capsys,
    )
    assert code == 0
    report = json.loads(out)
    GRADESCOPE.validate(report)
    assert report["score"] == 0.0
    assert "nowhere.txt: cannot be read" in report["output"]


def test_a_bad_problem_exits_2_and_names_the_place(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    answer = write(tmp_path / "answer.txt", "1")
    problem = write(tmp_path / "problem.json", {"function": "sinx"})
    code, out, err = run(["derivative", "grade", str(problem), str(answer)], capsys)
    assert (code, out) == (2, "")
    assert "problem.json: function: column 1: unknown name 'sinx': did you mean sin(x)?" in err
    problem = write(tmp_path / "problem.json", {"function": "sqrt(x)", "domain": {"x": [-3, -1]}})
    code, out, err = run(["derivative", "grade", str(problem), str(answer)], capsys)
    assert (code, out) == (2, "")
    assert "the expected derivative is defined at only 0 of 512" in err
    code, _, err = run(["derivative", "grade", str(tmp_path / "nowhere.json"), str(answer)], capsys)
    assert code == 2
    assert "nowhere.json: cannot be read" in err


def test_the_installed_command_grades(tmp_path: Path) -> None:
    """The console script an autograder runs, in a fresh process (SymPy's workers warmed)."""
    problem = write(tmp_path / "problem.json", {"function": "tanh(x)", "max_score": 2})
    answer = write(tmp_path / "answer.txt", "sech(x)^2")
    cli = Path(sys.executable).parent / "backprop-service"
    argv = [str(cli), "derivative", "grade", str(problem), str(answer), "--format", "gradescope"]
    done = subprocess.run(argv, capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    GRADESCOPE.validate(report)
    assert report["score"] == 2.0
    assert "proved by SymPy" in report["tests"][0]["output"]


ANSWER_FILES: dict[str, tuple[bytes, str | None]] = {
    "UTF-8 with a byte-order mark": (b"\xef\xbb\xbf2*x*sin(x) + x^2*cos(x)", None),
    "UTF-16 (Notepad's Unicode)": ("\ufeff2*x*sin(x) + x^2*cos(x)".encode("utf-16-le"), None),
    "a zero-width space pasted in": ("2*x*sin(x) +\u200b x^2*cos(x)".encode(), None),
    "not UTF-8": (b"2*x*sin(x) + x^2\xff", "byte 17 (line 1) is 0xff: save the file as UTF-8"),
    "a lone surrogate in JSON": (
        b'{"answer": "2*x*sin(x) + x^2*cos(x)\\ud800"}',
        "column 24: unexpected character",
    ),
}


@pytest.mark.parametrize(("content", "reason"), ANSWER_FILES.values(), ids=ANSWER_FILES.keys())
def test_answer_files_as_editors_save_them(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], content: bytes, reason: str | None
) -> None:
    """Graded when they hold the right answer in any of the ways an editor saves text;
    otherwise the report says what and where, and the command never crashes."""
    problem = write(tmp_path / "problem.json", PROBLEM)
    answer = write(tmp_path / "answer.txt", content)
    code, out, err = run(["derivative", "grade", str(problem), str(answer)], capsys)
    assert code == 0, err
    report = json.loads(out)
    if reason is None:
        assert report["score"] == 4, report["summary"]
    else:
        assert report["score"] == 0
        assert "could not be read" in report["summary"]
        assert reason in report["summary"]
