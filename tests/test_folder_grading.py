"""backprop-service grade: every GradingOptions option as a flag, and a folder of answers graded
in one process into a gradebook (csv) or one results file per answer."""

from __future__ import annotations

import csv
import io
import json
import os
from pathlib import Path

import orjson
import pytest

from app.cli import main
from schemas import SPEC_EXAMPLE
from tests.commands import run, write
from tests.grading_oracle import Student, solve
from tests.test_grading_api import PRAIRIELEARN

RIGHT = solve(SPEC_EXAMPLE, Student())
SIGN = solve(SPEC_EXAMPLE, Student(mistakes={"loss_gradient_sign"}))


@pytest.fixture
def problem(tmp_path: Path) -> Path:
    return write(tmp_path / "problem.json", SPEC_EXAMPLE)


@pytest.fixture
def answers(tmp_path: Path) -> Path:
    """Four answers and a stray file: right, sign flipped, not JSON, a folder named .json."""
    folder = tmp_path / "answers"
    folder.mkdir()
    write(folder / "ada.json", RIGHT)
    write(folder / "bob.json", SIGN)
    write(folder / "cy.json", b"{this is not json")
    (folder / "dee.json").mkdir()  # cannot be read as a file
    write(folder / "notes.txt", b"not an answer: left alone")
    return folder


def rows(text: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(text)))


def test_a_folder_with_unreadable_files_gets_a_row_for_every_answer(
    problem: Path, answers: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = run(["grade", str(problem), str(answers), "--format", "csv"], capsys)
    assert code == 0
    book = rows(out)
    assert [row["file"] for row in book] == ["ada.json", "bob.json", "cy.json", "dee.json"]
    ada, bob, cy, dee = book
    assert (ada["score"], ada["max_score"], ada["mistakes"], ada["unreadable"]) == (
        "16", "16", "", "",
    )  # fmt: skip
    assert float(bob["score"]) == 6  # the forward pass: loss, outputs, z and a of both layers
    assert bob["layers[1].deltas"] == "0"
    assert bob["mistakes"] == "loss_gradient_sign"
    assert cy["score"] == "0"
    assert cy["unreadable"].startswith("it is not JSON")
    assert cy["layers[0].deltas"] == ""  # not graded, not 0 points earned
    assert dee["unreadable"] == "dee.json cannot be read (Is a directory)"
    assert "graded 4 answers" in err
    assert "(2 unreadable)" in err


def test_gradebook_columns_are_the_items_of_the_problem_and_its_options(
    tmp_path: Path, answers: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    options = {"problem": SPEC_EXAMPLE, "quantities": ["loss", "deltas"]}
    problem = write(tmp_path / "options.json", options)
    book_file = tmp_path / "book.csv"
    code, out, _ = run(
        ["grade", str(problem), str(answers), "--format", "csv", "-o", str(book_file),
         "--points-for", "deltas=2"],
        capsys,
    )  # fmt: skip
    assert (code, out) == (0, "")
    text = book_file.read_text()
    assert text.splitlines()[0] == (
        "file,score,max_score,loss,layers[0].deltas,layers[1].deltas,mistakes,warnings,unreadable"
    )
    assert rows(text)[0]["score"] == rows(text)[0]["max_score"] == "5"


def test_a_folder_in_a_report_format_writes_one_results_file_per_answer(
    problem: Path, answers: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out_dir = tmp_path / "results"
    book_file = tmp_path / "book.csv"
    code, _, _ = run(
        ["grade", str(problem), str(answers), "--format", "prairielearn",
         "--output-dir", str(out_dir), "--output", str(book_file)],
        capsys,
    )  # fmt: skip
    assert code == 0
    assert sorted(p.name for p in out_dir.iterdir()) == [
        "ada.json", "bob.json", "cy.json", "dee.json",
    ]  # fmt: skip
    reports = {p.stem: json.loads(p.read_text()) for p in out_dir.iterdir()}
    for report in reports.values():
        PRAIRIELEARN.validate(report)
    assert reports["ada"]["score"] == 1.0
    assert reports["cy"]["gradable"] is False
    assert reports["dee"]["gradable"] is False
    assert len(rows(book_file.read_text())) == 4

    code, _, err = run(["grade", str(problem), str(answers), "--format", "gradescope"], capsys)
    assert code == 2
    assert "--output-dir" in err


def test_every_grading_option_has_a_flag(
    problem: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    answer = write(tmp_path / "answer.json", SIGN)
    base = ["grade", str(problem), str(answer)]
    _, out, _ = run([*base, "--quantities", "loss", "deltas", "--points", "3"], capsys)
    report = json.loads(out)
    assert [item["id"] for item in report["items"]] == [
        "loss", "layers[0].deltas", "layers[1].deltas",
    ]  # fmt: skip
    assert report["max_score"] == 9

    _, out, _ = run([*base, "--quantities", "deltas", "--partial-credit"], capsys)
    assert json.loads(out)["score"] == 0  # every entry is wrong: no share to credit

    _, shown, _ = run([*base, "--quantities", "deltas"], capsys)
    _, hidden, _ = run([*base, "--quantities", "deltas", "--hide-expected"], capsys)
    _, hidden_too, _ = run([*base, "--quantities", "deltas", "--no-show-expected"], capsys)
    assert "expected 0.0640465" in shown
    assert "worst_entry" in shown
    assert hidden == hidden_too
    assert "0.064" not in hidden
    assert "worst_entry" not in hidden
    assert "the sign of the loss derivative is flipped" in hidden

    _, out, _ = run([*base, "--quantities", "deltas", "--no-worked-formulas"], capsys)
    assert "Worked formula" not in out


def test_significant_figures_and_follow_through_flags(
    problem: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    answer = write(tmp_path / "answer.json", {"loss": 0.4})  # 1 significant figure: 7% off
    base = ["grade", str(problem), str(answer), "--quantities", "loss"]
    _, out, _ = run(base, capsys)
    assert json.loads(out)["score"] == 0
    _, out, _ = run([*base, "--significant-figures", "1"], capsys)
    assert json.loads(out)["score"] == 1

    # updates made from a wrong gradient: right given the student's own gradient
    own = json.loads(json.dumps(RIGHT))
    for layer in own["layers"]:
        layer["weight_gradients"] = [[2 * g for g in row] for row in layer["weight_gradients"]]
    weights = [layer["weights"] for layer in SPEC_EXAMPLE["network"]["layers"]]
    for layer, W in zip(own["layers"], weights, strict=True):
        layer["updated_weights"] = [
            [w - 0.5 * g for w, g in zip(w_row, g_row, strict=True)]
            for w_row, g_row in zip(W, layer["weight_gradients"], strict=True)
        ]
    answer = write(tmp_path / "own.json", own)
    base = ["grade", str(problem), str(answer), "--quantities", "weight_gradients",
            "updated_weights"]  # fmt: skip
    _, out, _ = run(base, capsys)
    assert json.loads(out)["score"] == 0
    _, out, _ = run([*base, "--follow-through"], capsys)
    report = json.loads(out)
    assert report["score"] == 2  # both updates, by follow-through; the gradients stay wrong
    assert {item.get("follow_through") for item in report["items"]} >= {
        "layers[0].weight_gradients"
    }


def test_bad_flags_are_refused_with_the_place(
    problem: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    answer = write(tmp_path / "answer.json", RIGHT)
    code, _, err = run(["grade", str(problem), str(answer), "--quantities", "delta"], capsys)
    assert code == 2
    assert "quantities[0]" in err
    code, _, err = run(["grade", str(problem), str(answer), "--points-for", "deltas"], capsys)
    assert code == 2
    assert '--points-for "deltas" must be QUANTITY=POINTS' in err
    code, _, err = run(["grade", str(problem), str(answer), "--significant-figures", "0"], capsys)
    assert code == 2
    assert "significant_figures" in err
    (tmp_path / "empty").mkdir()
    code, _, err = run(["grade", str(problem), str(tmp_path / "empty")], capsys)
    assert code == 2
    assert "holds no *.json answer files" in err


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_the_progress_bar_is_drawn_only_on_a_terminal(
    problem: Path,
    answers: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    terminal = Terminal()
    monkeypatch.setattr("sys.stderr", terminal)
    assert main(["grade", str(problem), str(answers), "--format", "csv"]) == 0
    drawn = terminal.getvalue()
    assert "\rgrading [##############################] 4/4\n" in drawn
    monkeypatch.undo()
    capsys.readouterr()
    _, _, err = run(["grade", str(problem), str(answers), "--format", "csv"], capsys)
    assert "grading [" not in err  # not a terminal: only the summary line
    assert err.startswith("backprop-service: graded 4 answers")


def test_hostile_files_get_their_rows_and_never_stop_the_others(
    problem: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A file nested 1,100 levels deep, one with a lone surrogate, one that is a list, one
    saved as UTF-16 (Notepad's "Unicode"), and files named like spreadsheet formulas: every one
    gets its row and its report, in both the csv and a report format, and no cell of the
    gradebook starts a formula."""
    folder = tmp_path / "hostile"
    folder.mkdir()
    write(folder / "a-deep.json", "[" * 1100 + "]" * 1100)
    write(folder / "b-surrogate.json", '{"loss": "\\ud800", "\\udc00": 1}')
    write(folder / "c-list.json", "[1, 2]")
    write(folder / "d-utf16.json", ("\ufeff" + json.dumps(RIGHT)).encode("utf-16-le"))
    write(folder / "=1+2.json", RIGHT)
    write(folder / "@SUM(A1).json", RIGHT)
    book_file = tmp_path / "book.csv"
    out_dir = tmp_path / "reports"
    code, _, err = run(
        ["grade", str(problem), str(folder), "--format", "gradescope",
         "--output-dir", str(out_dir), "--output", str(book_file)],
        capsys,
    )  # fmt: skip
    assert code == 0, err
    book = {row["file"]: row for row in rows(book_file.read_text())}
    assert sorted(book) == sorted(["'=1+2.json", "'@SUM(A1).json", "a-deep.json",
                                   "b-surrogate.json", "c-list.json", "d-utf16.json"])  # fmt: skip
    assert "nested too deeply" in book["a-deep.json"]["unreadable"]
    assert book["b-surrogate.json"]["unreadable"] == ""  # read: its loss is no number
    assert book["b-surrogate.json"]["warnings"] == "1"
    assert "not an object" in book["c-list.json"]["unreadable"]
    assert book["d-utf16.json"]["score"] == "16"
    assert book["'=1+2.json"]["score"] == book["'@SUM(A1).json"]["score"] == "16"
    assert len(list(out_dir.iterdir())) == 6
    surrogate = json.loads((out_dir / "b-surrogate.json").read_text())
    assert "\ufffd" in surrogate["output"]
    assert "(2 unreadable)" in err


def test_a_negative_number_is_no_formula() -> None:
    from app.offline import spreadsheet_safe

    assert spreadsheet_safe(["-0.5", "-x", "+1", "=A1", "a=b", 3, ""]) == [
        "-0.5", "'-x", "+1", "'=A1", "a=b", 3, "",
    ]  # fmt: skip


def test_a_file_name_that_is_not_utf8_gets_its_row(
    problem: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A byte that is not UTF-8 in a file name (Python reads it as a lone surrogate) is written
    as U+FFFD in the gradebook, which is still written."""
    folder = tmp_path / "names"
    folder.mkdir()
    write(folder / "ada.json", RIGHT)
    (Path(os.fsdecode(bytes(folder) + b"/zz_bad\xffname.json"))).write_bytes(orjson.dumps(RIGHT))
    book_file = tmp_path / "book.csv"
    code, _, err = run(["grade", str(problem), str(folder), "-o", str(book_file)], capsys)
    assert code == 0, err
    book = rows(book_file.read_text(encoding="utf-8"))
    assert [(row["file"], row["score"]) for row in book] == [
        ("ada.json", "16"), ("zz_bad\ufffdname.json", "16"),
    ]  # fmt: skip
