"""The Gradescope autograder and the PrairieLearn external grader, end to end in simulated
layouts (/autograder, /grade under a temporary folder), through their own scripts."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from app import autograders, course
from app.cli import main
from tests.grading_oracle import Student, solve
from tests.test_grading_api import GRADESCOPE, PRAIRIELEARN

ROOT = Path(__file__).resolve().parent.parent
GRADESCOPE_DIR = ROOT / "docs" / "gradescope-autograder"
PRAIRIELEARN_DIR = ROOT / "docs" / "prairielearn-grader"
QUESTION = PRAIRIELEARN_DIR / "questions" / "backpropWorkedExample"
CLI = str(Path(sys.executable).parent / "backprop-service")
SECRET = "0123456789abcdef0123456789abcdef"
PARAMETERS = {"layer_sizes": [2, 3, 2]}


def write(path: Path, content: Any) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(content if isinstance(content, bytes) else json.dumps(content).encode())
    return path


def run_gradescope(root: Path, *, script: bool = False) -> dict[str, Any]:
    """run_autograder, as Gradescope runs it for a submission; or, quicker, what it runs
    (backprop-service autograder gradescope) in this process."""
    if script:
        env = {**os.environ, "AUTOGRADER_ROOT": str(root), "BACKPROP_SERVICE": CLI}
        subprocess.run([str(GRADESCOPE_DIR / "run_autograder")], env=env, check=True, timeout=60)
    else:
        assert main(["autograder", "gradescope", "--root", str(root)]) == 0
    results: dict[str, Any] = json.loads((root / "results" / "results.json").read_text())
    GRADESCOPE.validate(results)
    return results


def run_prairielearn(root: Path, *, script: bool = False) -> dict[str, Any]:
    """The question's entrypoint, as PrairieLearn runs it in the grading container; or what it
    runs, in this process."""
    if script:
        entrypoint = PRAIRIELEARN_DIR / "serverFilesCourse" / "backprop" / "grade.sh"
        env = {**os.environ, "GRADE_ROOT": str(root), "BACKPROP_SERVICE": CLI}
        subprocess.run([str(entrypoint)], env=env, check=True, timeout=60)
    else:
        assert main(["autograder", "prairielearn", "--root", str(root)]) == 0
    results: dict[str, Any] = json.loads((root / "results" / "results.json").read_text())
    PRAIRIELEARN.validate(results)
    return results


def metadata(*users: dict[str, Any]) -> dict[str, Any]:
    """submission_metadata.json as Gradescope documents it (users: email, id, name)."""
    return {"id": 123456, "assignment": {"title": "HW 3"}, "users": list(users)}


ADA = {"email": "Ada@Uni.edu", "id": 1234, "name": "Ada Lovelace", "sid": "12345"}
BOB = {"email": "bob@uni.edu", "id": 1235, "name": "Bob Babbage", "sid": "67890"}


# Gradescope: one problem for the class -------------------------------------------------------


def test_the_gradescope_example_grades_its_sample_answer_as_the_readme_says(
    tmp_path: Path,
) -> None:
    root = tmp_path / "autograder"
    shutil.copy(GRADESCOPE_DIR / "autograder.json", write(root / "source" / "x", b"").parent)
    shutil.copy(GRADESCOPE_DIR / "answer.json", write(root / "submission" / "x", b"").parent)
    results = run_gradescope(root, script=True)
    readme = (GRADESCOPE_DIR / "README.md").read_text()
    shown = re.search(r"The sample answer scores ([\d.]+) / (\d+)", readme)
    assert shown is not None
    assert results["score"] == float(shown.group(1))
    assert sum(t["max_score"] for t in results["tests"]) == float(shown.group(2))
    deltas = next(t for t in results["tests"] if t["name"] == "layer 2 deltas")
    assert "the sign of the loss derivative is flipped" in deltas["output"]
    # graded work: no expected value, no worked formula, anywhere
    text = json.dumps(results)
    assert "0.0640465" not in text
    assert "expected" not in text.replace("expected shape", "")
    assert "Worked formula" not in text


def test_gradescope_says_what_is_missing_or_unreadable(tmp_path: Path) -> None:
    root = tmp_path / "autograder"
    shutil.copy(GRADESCOPE_DIR / "autograder.json", write(root / "source" / "x", b"").parent)
    (root / "submission").mkdir()
    results = run_gradescope(root)
    assert results["score"] == 0
    assert "No answer.json was found" in results["output"]

    write(root / "submission" / "answer.json", b"\xef\xbb\xbf{not json")
    results = run_gradescope(root)
    assert results["score"] == 0
    assert "could not be read" in results["output"]

    # a zip of a folder: the file is found inside it
    (root / "submission" / "answer.json").unlink()
    right = solve(
        json.loads((GRADESCOPE_DIR / "autograder.json").read_text())["problem"], Student()
    )
    write(root / "submission" / "hw3" / "answer.json", right)
    assert run_gradescope(root)["score"] == 11


def test_a_broken_configuration_is_said_to_the_student_and_on_stderr(tmp_path: Path) -> None:
    root = tmp_path / "autograder"
    write(root / "source" / "autograder.json", {"problem": {"inputs": [[1]]}, "grading": {}})
    write(root / "submission" / "answer.json", {"loss": 1})
    env = {**os.environ, "AUTOGRADER_ROOT": str(root), "BACKPROP_SERVICE": CLI}
    done = subprocess.run(
        [str(GRADESCOPE_DIR / "run_autograder")], env=env, capture_output=True, text=True,
        check=True, timeout=60,
    )  # fmt: skip
    results = json.loads((root / "results" / "results.json").read_text())
    assert "your answer is not at fault" in results["output"]
    assert "problem.network: Field required" in results["output"]
    assert "problem.network: Field required" in done.stderr
    assert "Traceback" not in done.stderr


# Gradescope: one problem per student ---------------------------------------------------------


def per_student_root(tmp_path: Path, *users: dict[str, Any], **problems: Any) -> Path:
    root = tmp_path / "autograder"
    config = {
        "problems": {"parameters": PARAMETERS, "assignment": "hw3",
                     "secret_file": "course-secret.txt", **problems},
        "grading": {"quantities": ["loss", "deltas"], "points": {"quantities": {"deltas": 2}},
                    "partial_credit": True},
    }  # fmt: skip
    write(root / "source" / "autograder.json", config)
    write(root / "source" / "course-secret.txt", SECRET.encode() + b"\n")
    write(root / "source" / "roster.csv", b"SID,Email,Name\n12345,ada@uni.edu,Ada Lovelace\n")
    write(root / "submission_metadata.json", metadata(*users))
    return root


def problem_of(value: str, key: course.Key = "email") -> dict[str, Any]:
    settings = course.PerStudent(parameters=PARAMETERS, assignment="hw3", key=key)
    return course.problem_for(settings, SECRET.encode(), value)


def test_each_student_is_graded_against_the_problem_handed_out_to_them(tmp_path: Path) -> None:
    root = per_student_root(tmp_path, ADA)
    ada = problem_of("ada@uni.edu")
    assert problem_of("bob@uni.edu") != ada
    write(root / "submission" / "answer.json", solve(ada, Student()))
    results = run_gradescope(root)
    assert results["score"] == 5  # loss 1, deltas 2 + 2: the configured points kept
    assert "Graded against the problem of Ada Lovelace (Ada@Uni.edu) (problem " in results["output"]
    assert course.problem_id(ada) in results["output"]

    # the same answer from Bob, whose numbers differ, does not pass
    write(root / "submission_metadata.json", metadata(BOB))
    results = run_gradescope(root)
    assert results["score"] < 5
    assert "Bob Babbage" in results["output"]


def test_a_student_is_found_on_the_roster_by_sid_when_problems_are_keyed_by_sid(
    tmp_path: Path,
) -> None:
    root = per_student_root(tmp_path, {**ADA, "email": "ada.l@other.org"}, key="sid",
                            roster="roster.csv")  # fmt: skip
    write(root / "submission" / "answer.json", solve(problem_of("12345", "sid"), Student()))
    assert run_gradescope(root)["score"] == 5


def test_a_student_not_on_the_roster_is_not_graded_against_someone_elses_problem(
    tmp_path: Path,
) -> None:
    root = per_student_root(tmp_path, BOB, roster="roster.csv")
    write(root / "submission" / "answer.json", solve(problem_of("ada@uni.edu"), Student()))
    results = run_gradescope(root)
    assert results["score"] == 0
    assert results["tests"] == []
    assert "Bob Babbage (bob@uni.edu) is not on the roster" in results["output"]


def test_a_group_is_graded_against_the_member_problem_its_answer_fits_and_says_so(
    tmp_path: Path,
) -> None:
    root = per_student_root(tmp_path, ADA, BOB)
    bob = problem_of("bob@uni.edu")
    write(root / "submission" / "answer.json", solve(bob, Student()))
    results = run_gradescope(root)
    assert results["score"] == 5
    output = results["output"]
    bob_id = course.problem_id(bob)
    assert output.startswith(
        f"Graded against the problem of Bob Babbage (bob@uni.edu) (problem {bob_id})."
    )
    assert "This group's members have different problems" in output
    assert "Ada Lovelace (Ada@Uni.edu)'s problem" in output

    # an answer that fits neither: the first member by email, and the output says so
    write(root / "submission" / "answer.json", {"loss": 123.0})
    results = run_gradescope(root)
    assert results["score"] == 0
    assert results["output"].startswith("Graded against the problem of Ada Lovelace")


def test_a_group_member_not_on_the_roster_is_named_and_the_others_problem_used(
    tmp_path: Path,
) -> None:
    root = per_student_root(tmp_path, BOB, ADA, roster="roster.csv")
    write(root / "submission" / "answer.json", solve(problem_of("ada@uni.edu"), Student()))
    results = run_gradescope(root)
    assert results["score"] == 5
    assert results["output"].startswith("Graded against the problem of Ada Lovelace")
    assert "Bob Babbage (bob@uni.edu) is not on the roster" in results["output"]


def test_per_student_problems_without_metadata_or_secret_say_so(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = per_student_root(tmp_path, ADA)
    write(root / "submission" / "answer.json", {"loss": 1.0})
    (root / "submission_metadata.json").unlink()
    assert "submission_metadata.json cannot be read" in run_gradescope(root)["output"]
    write(root / "submission_metadata.json", metadata(ADA))
    (root / "source" / "course-secret.txt").unlink()
    results = run_gradescope(root)
    assert "course-secret.txt: cannot be read" in results["output"]
    assert SECRET not in json.dumps(results)


# PrairieLearn --------------------------------------------------------------------------------


def grade_root(tmp_path: Path) -> Path:
    """/grade as PrairieLearn lays it out: the question's tests/, the student's files, data."""
    root = tmp_path / "grade"
    shutil.copytree(QUESTION / "tests", root / "tests")
    shutil.copytree(PRAIRIELEARN_DIR / "serverFilesCourse", root / "serverFilesCourse")
    write(root / "data" / "data.json", {"params": {}, "submitted_answers": {}, "variant_seed": 1})
    (root / "student").mkdir()
    return root


def test_the_prairielearn_question_grades_its_sample_answer(tmp_path: Path) -> None:
    root = grade_root(tmp_path)
    shutil.copy(PRAIRIELEARN_DIR / "answer.json", root / "student")
    results = run_prairielearn(root, script=True)
    assert results["gradable"] is True
    assert results["score"] == pytest.approx(1 / 11)
    assert "0.0640465" not in json.dumps(results)
    deltas = next(t for t in results["tests"] if t["name"] == "layer 2 deltas")
    assert (deltas["points"], deltas["max_points"]) == (0, 2)

    problem = json.loads((root / "tests" / "autograder.json").read_text())["problem"]
    write(root / "student" / "answer.json", solve(problem, Student()))
    assert run_prairielearn(root)["score"] == 1.0


def test_prairielearn_marks_a_missing_or_unreadable_answer_not_gradable(tmp_path: Path) -> None:
    root = grade_root(tmp_path)
    results = run_prairielearn(root)
    assert results["gradable"] is False
    assert "No answer.json was submitted" in results["format_errors"][0]
    write(root / "student" / "answer.json", b"{oops")
    results = run_prairielearn(root)
    assert results["gradable"] is False
    assert "it is not JSON" in results["message"]


def test_a_variants_problem_in_data_json_is_the_one_graded(tmp_path: Path) -> None:
    root = grade_root(tmp_path)
    variant = problem_of("variant-7")
    write(root / "data" / "data.json", {"params": {"problem": variant}})
    write(root / "student" / "answer.json", solve(variant, Student()))
    assert run_prairielearn(root)["score"] == 1.0


def test_prairielearn_grader_that_cannot_run_still_leaves_results(tmp_path: Path) -> None:
    root = grade_root(tmp_path)
    entrypoint = root / "serverFilesCourse" / "backprop" / "grade.sh"
    env = {**os.environ, "GRADE_ROOT": str(root), "BACKPROP_SERVICE": "/nowhere/backprop"}
    subprocess.run([str(entrypoint)], env=env, check=True, timeout=60, capture_output=True)
    results = json.loads((root / "results" / "results.json").read_text())
    PRAIRIELEARN.validate(results)
    assert results["gradable"] is False


def test_prairielearn_refuses_a_roster_configuration_clearly(tmp_path: Path) -> None:
    root = grade_root(tmp_path)
    write(root / "tests" / "autograder.json", {"problems": {"parameters": PARAMETERS}})
    write(root / "student" / "answer.json", {"loss": 1.0})
    results = run_prairielearn(root)
    assert results["gradable"] is False
    assert '"problems" (one per student of a roster) is for Gradescope' in results["message"]


def test_the_question_shows_the_numbers_it_is_graded_against() -> None:
    problem = json.loads((QUESTION / "tests" / "autograder.json").read_text())["problem"]
    html = (QUESTION / "question.html").read_text()
    cells = [float(c) for c in re.findall(r"<td>([-\d.]+)</td>", html)]
    expected = [
        value
        for layer in problem["network"]["layers"]
        for value in [*(w for row in layer["weights"] for w in row), *layer["biases"]]
    ]
    assert cells == expected
    for x in problem["inputs"][0]:
        assert f"{x}" in html
    info = json.loads((QUESTION / "info.json").read_text())
    options = info["externalGradingOptions"]
    assert info["gradingMethod"] == "External"
    assert options["entrypoint"] == "/grade/serverFilesCourse/backprop/grade.sh"
    assert (PRAIRIELEARN_DIR / "serverFilesCourse" / options["serverFilesCourse"][0]).is_dir()
    assert 'file-names="answer.json"' in html


def test_the_harness_uses_the_course_defaults_where_the_configuration_is_silent(
    tmp_path: Path,
) -> None:
    root = tmp_path / "grade"
    problem = json.loads((QUESTION / "tests" / "autograder.json").read_text())["problem"]
    write(root / "tests" / "autograder.json", {"problem": problem})
    answer = solve(problem, Student(mistakes={"loss_gradient_sign"}))
    write(root / "student" / "answer.json", answer)
    results = autograders.prairielearn(root)
    assert autograders.COURSE_DEFAULTS == {"show_expected": False, "partial_credit": True}
    assert "0.0640465" not in json.dumps(results)  # show_expected false
    assert 0 < results["score"] < 1
