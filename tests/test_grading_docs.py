"""The grading guide, the autograders' READMEs and the README's grading section stay true: every
option with the code's default, every flag, every mistake, and every example that can be run,
run."""

from __future__ import annotations

import json
import re
import shlex
from pathlib import Path
from typing import Any

import pytest

from app import autograders, course, services
from app.cli import build_parser, main
from engine.grading import MISTAKE_IDS, QUANTITIES
from schemas.grading import GradeRequest, GradingOptions
from tests.grading_oracle import Student, solve

ROOT = Path(__file__).resolve().parent.parent
GUIDE = (ROOT / "docs" / "grading.md").read_text()
GRADESCOPE = (ROOT / "docs" / "gradescope-autograder" / "README.md").read_text()
PRAIRIELEARN = (ROOT / "docs" / "prairielearn-grader" / "README.md").read_text()
README = (ROOT / "README.md").read_text()


def section(text: str, title: str) -> str:
    """The text under a heading, up to the next heading of the same or a higher level."""
    found = re.search(rf"^(#+) {re.escape(title)}$", text, re.M)
    assert found is not None, title
    rest = text[found.end() :]
    end = re.search(rf"^#{{1,{len(found.group(1))}}} ", rest, re.M)
    return rest if end is None else rest[: end.start()]


def table(text: str) -> dict[str, list[str]]:
    """A Markdown table's rows by their first cell (backquotes dropped)."""
    rows = {}
    for line in text.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split(" | ")]
        if line.startswith("| `"):
            rows[cells[0].strip("`")] = [c.strip() for c in cells[1:]]
    return rows


def blocks(text: str, language: str) -> list[str]:
    return re.findall(rf"```{language}\n(.*?)```", text, re.S)


def as_written(value: Any) -> Any:
    """A default as the tables write it: JSON, models as their non-empty fields."""
    if hasattr(value, "model_dump"):
        return {k: v for k, v in value.model_dump().items() if v not in ({}, None, [])}
    return value


# docs/grading.md -----------------------------------------------------------------------------


def test_every_grading_option_is_in_the_guide_with_the_codes_default() -> None:
    rows = table(section(GUIDE, "The options"))
    fields = GradingOptions.model_fields
    assert set(rows) == set(fields) - {"problem"}
    for name, (written, _) in rows.items():
        default = fields[name].get_default(call_default_factory=True)
        if name == "quantities":
            assert written == "all nine"
            assert default == list(QUANTITIES)
            assert len(QUANTITIES) == 9
            continue
        expected = as_written(default)
        shown = written.strip("`") if isinstance(expected, str) else json.loads(written.strip("`"))
        if isinstance(expected, dict):
            expected = {k: v for k, v in expected.items() if not (k == "default" and v == 1)}
            shown = {k: v for k, v in shown.items() if not (k == "default" and v == 1)}
        assert shown == expected, name


def test_the_guide_names_every_mistake_the_grader_knows() -> None:
    rows = table(section(GUIDE, "The mistakes the grader names"))
    assert list(rows) == list(MISTAKE_IDS)


def test_the_guides_example_gets_the_answer_and_feedback_shown() -> None:
    (request,) = [b for b in blocks(section(GUIDE, "POST /v1/grade"), "json") if "submission" in b]
    body = json.loads(request)
    report = services.grade(GradeRequest.model_validate(body))
    text = section(GUIDE, "POST /v1/grade")
    summary = re.search(r"The answer: `(.*?)`", text)
    assert summary is not None
    assert report["summary"] == summary.group(1)
    assert 'the answer has a key\n"student", which is not graded: ignored' in text
    assert report["warnings"] == ['the answer has a key "student", which is not graded: ignored']
    shown, hidden = blocks(section(GUIDE, "The feedback, with and without expected values"), "text")
    deltas = next(i for i in report["items"] if i["id"] == "layers[1].deltas")
    assert deltas["feedback"] == shown.strip()
    body["show_expected"] = False
    report = services.grade(GradeRequest.model_validate(body))
    deltas = next(i for i in report["items"] if i["id"] == "layers[1].deltas")
    assert deltas["feedback"] == hidden.strip()
    assert not {"worst_entry", "max_abs_error", "worked_formula"} & set(deltas)


def test_the_rounding_note_is_the_one_shown() -> None:
    (note,) = blocks(section(GUIDE, "Tolerances, updates and rounding"), "text")
    (request,) = [b for b in blocks(section(GUIDE, "POST /v1/grade"), "json") if "submission" in b]
    body = json.loads(request) | {"quantities": ["deltas"]}
    body["submission"] = {"layers": [{}, {"deltas": [[-0.008, 0.06]]}]}  # 0.06 for 0.0640465
    report = services.grade(GradeRequest.model_validate(body))
    assert note.strip() in report["items"][1]["feedback"]
    accepted = services.grade(GradeRequest.model_validate(body | {"significant_figures": 1}))
    assert accepted["items"][1]["status"] == "passed"


def options_of(command: str) -> set[str]:
    parser = build_parser()
    sub = parser._subparsers._group_actions[0].choices[command]  # type: ignore[union-attr]
    return {o for action in sub._actions for o in action.option_strings} - {"-h", "--help", "-o"}


@pytest.mark.parametrize("command", ["grade", "problem", "problems", "autograder"])
def test_every_flag_is_in_the_guides_command_line(command: str) -> None:
    usage = blocks(section(GUIDE, "Command line"), "text")[0]
    lines = [line for line in usage.split("backprop-service ") if line.startswith(command + " ")]
    assert lines, command
    missing = {flag for flag in options_of(command) if flag not in lines[0]}
    assert not missing, f"backprop-service {command}: {sorted(missing)} not in docs/grading.md"


def run_lines(block: str, cwd: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Every backprop-service command of a shell block, in cwd; each must exit with 0."""
    monkeypatch.chdir(cwd)
    for line in block.replace("\\\n", " ").splitlines():
        words = shlex.split(line, comments=True)
        if words[:1] == ["backprop-service"]:
            assert main(words[1:]) == 0, line


@pytest.fixture
def course_folder(tmp_path: Path) -> Path:
    """What the examples name: an answer, a folder of answers, a roster and a secret."""
    (tmp_path / "course-secret.txt").write_text("0123456789abcdef0123456789abcdef\n")
    (tmp_path / "roster.csv").write_text("sid,email,name\n1,ada@uni.edu,Ada\n2,bob@uni.edu,Bob\n")
    return tmp_path


def test_the_readmes_grading_commands_run(
    course_folder: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    (block,) = blocks(section(README, "Grading homework"), "sh")
    monkeypatch.chdir(course_folder)
    assert main(["problem", "--seed", "42", "--layers", "2", "3", "2", "-o", "problem.json"]) == 0
    problem = json.loads((course_folder / "problem.json").read_text())["problem"]
    right = json.dumps(solve(problem, Student()))
    (course_folder / "answer.json").write_text(right)
    (course_folder / "answers").mkdir()
    (course_folder / "answers" / "ada.json").write_text(right)
    (course_folder / "answers" / "bob.json").write_text("{not json")
    run_lines(block, course_folder, monkeypatch)
    results = json.loads((course_folder / "results.json").read_text())
    assert results["score"] == 16
    assert len((course_folder / "gradebook.csv").read_text().splitlines()) == 3
    assert (course_folder / "handouts" / "ada@uni.edu.md").exists()
    capsys.readouterr()


def test_the_guides_commands_run(
    course_folder: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    (per_student,) = blocks(section(GUIDE, "One problem per student"), "sh")
    run_lines(per_student, course_folder, monkeypatch)
    handout = json.loads((course_folder / "handouts" / "ada@uni.edu.json").read_text())
    settings = course.PerStudent(parameters={"layer_sizes": [2, 3, 2]}, assignment="hw3")
    secret = b"0123456789abcdef0123456789abcdef"
    assert handout["problem"] == course.problem_for(settings, secret, "ada@uni.edu")

    (folder,) = blocks(section(GUIDE, "Command line"), "sh")
    (course_folder / "problem.json").write_text(json.dumps(handout))
    (course_folder / "answers").mkdir()
    (course_folder / "answers" / "ada.json").write_text(json.dumps(solve(handout["problem"],
                                                                         Student())))  # fmt: skip
    run_lines(folder, course_folder, monkeypatch)
    assert "ada.json,16,16" in (course_folder / "gradebook.csv").read_text()
    assert json.loads((course_folder / "results" / "ada.json").read_text())["score"] == 16
    capsys.readouterr()


# The autograders' READMEs --------------------------------------------------------------------


def test_the_gradescope_readme_describes_every_key_with_the_codes_default() -> None:
    config = table(section(GRADESCOPE, "autograder.json"))
    assert {"problem", "problems", "grading", "answer_file"} <= set(config)
    assert (
        config["answer_file"][1] == f"`{course.CourseConfig.model_fields['answer_file'].default}`"
    )
    defaults = table(section(GRADESCOPE, "autograder.json").split("| option |")[1])
    for option, value in autograders.COURSE_DEFAULTS.items():
        assert defaults[option][0] == f"`{json.dumps(value)}`", option
        api = GradingOptions.model_fields[option].default
        assert defaults[option][1] == f"`{json.dumps(api)}`", option
    keys = table(section(GRADESCOPE, "One problem per student").split("| `problems` key |")[1])
    assert set(keys) == set(course.PerStudent.model_fields)
    assert keys["key"][1] == f"`{course.PerStudent.model_fields['key'].default}`"
    assert keys["assignment"][1] == '`""`'
    assert course.SECRET_ENV in keys["secret_file"][0]


def test_the_gradescope_readmes_per_student_configuration_works(
    course_folder: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    (config,) = [b for b in blocks(GRADESCOPE, "json") if '"problems"' in b]
    config_file = course_folder / "autograder.json"
    config_file.write_text(config)
    parsed = course.read_config(config_file)
    assert parsed.problems is not None
    (command,) = [b for b in blocks(GRADESCOPE, "sh") if "problems --config" in b]
    run_lines(command, course_folder, monkeypatch)
    handout = json.loads((course_folder / "handouts" / "bob@uni.edu.json").read_text())
    assert len(handout["problem"]["network"]["layers"]) == 2
    capsys.readouterr()


def test_the_prairielearn_readme_tells_the_sample_score() -> None:
    shown = re.search(r"The sample answer scores (\d+) / (\d+)", PRAIRIELEARN)
    assert shown is not None
    assert "show_expected" in PRAIRIELEARN
    same = re.search(r"The sample answer scores (\d+) / (\d+)", GRADESCOPE)
    assert same is not None
    assert shown.groups() == same.groups()  # the same problem, answer and grading
