"""Per-student problems: a roster read forgivingly but never wrongly, seeds from a course secret,
and `backprop-service problems` writing every student's problem and handout."""

from __future__ import annotations

import csv
import hashlib
import hmac
import io
import json
from pathlib import Path

import pytest

from app import course
from tests.commands import run
from tests.grading_oracle import Student, solve

SECRET = b"0123456789abcdef0123456789abcdef"
OTHER_SECRET = b"fedcba9876543210fedcba9876543210"
PER_STUDENT = course.PerStudent(parameters={"layer_sizes": [2, 3, 2]}, assignment="hw3")


def roster(tmp_path: Path, text: str | bytes) -> Path:
    path = tmp_path / "roster.csv"
    path.write_bytes(text if isinstance(text, bytes) else text.encode())
    return path


# The seed ------------------------------------------------------------------------------------


def test_the_same_student_always_gets_the_same_problem() -> None:
    first = course.problem_for(PER_STUDENT, SECRET, "ada@uni.edu")
    assert course.problem_for(PER_STUDENT, SECRET, "ada@uni.edu") == first
    # Gradescope and the roster need not agree on case or spaces
    assert course.problem_for(PER_STUDENT, SECRET, " Ada@Uni.EDU ") == first


def test_the_seed_is_pinned_so_a_later_version_gives_the_same_problems() -> None:
    """Changing how seeds are made would give every student of a running course new numbers."""
    assert course.seed(SECRET, "hw3", "email", "ada@uni.edu") == 4473352458321795911
    assert course.seed(SECRET, "", "sid", "12345") == 7141908615408027344


def test_the_seed_is_the_hmac_the_docs_describe() -> None:
    message = b"backprop-service seed v1\x1fhw3\x1femail\x1fada@uni.edu"
    digest = hmac.new(SECRET, message, hashlib.sha256).digest()
    assert course.seed(SECRET, "hw3", "email", "Ada@Uni.edu") == int.from_bytes(digest[:8], "big")


def test_a_different_secret_student_assignment_or_key_gives_a_different_problem() -> None:
    ada = course.problem_for(PER_STUDENT, SECRET, "ada@uni.edu")
    assert course.problem_for(PER_STUDENT, OTHER_SECRET, "ada@uni.edu") != ada
    assert course.problem_for(PER_STUDENT, SECRET, "bob@uni.edu") != ada
    hw4 = PER_STUDENT.model_copy(update={"assignment": "hw4"})
    assert course.problem_for(hw4, SECRET, "ada@uni.edu") != ada
    seeds = {course.seed(SECRET, "", "sid", "12345"), course.seed(SECRET, "", "email", "12345")}
    assert len(seeds) == 2


def test_seeds_of_a_class_are_all_different() -> None:
    seeds = {course.seed(SECRET, "hw3", "sid", str(sid)) for sid in range(1000)}
    assert len(seeds) == 1000


def test_a_short_or_missing_secret_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    short = tmp_path / "secret.txt"
    short.write_text("hunter2\n")
    with pytest.raises(course.CourseError, match="7 bytes long: use at least 16"):
        course.read_secret(short)
    monkeypatch.delenv(course.SECRET_ENV, raising=False)
    with pytest.raises(course.CourseError, match="no course secret"):
        course.read_secret(None)
    monkeypatch.setenv(course.SECRET_ENV, SECRET.decode())
    assert course.read_secret(None) == SECRET
    good = tmp_path / "good.txt"
    good.write_bytes(SECRET + b"\n")  # the newline an editor adds is not part of it
    assert course.read_secret(good) == SECRET


# The roster ----------------------------------------------------------------------------------


def test_a_roster_with_a_bom_blank_lines_and_headers_in_any_case_is_read(tmp_path: Path) -> None:
    text = (
        "\ufeffName, SID ,E-mail\r\n\r\n"
        'Ada Lovelace,12345, Ada@Uni.edu\r\n  \r\n"Bob, Jr.",67890,bob@uni.edu\r\n\r\n'
    )
    students = course.read_roster(roster(tmp_path, text.encode("utf-8")), "email")
    assert [(s.sid, s.email, s.name, s.line) for s in students] == [
        ("12345", "Ada@Uni.edu", "Ada Lovelace", 3),
        ("67890", "bob@uni.edu", "Bob, Jr.", 5),
    ]
    assert students[0].value("email") == "ada@uni.edu"
    assert students[0].value("sid") == "12345"


@pytest.mark.parametrize(
    ("text", "key", "message"),
    [
        (
            "sid,email\n1,a@x.org\n2,b@x.org,extra\n",
            "email",
            "line 3: has 3 fields, the header has 2",
        ),
        ("sid,email\n1,a@x.org\n2,\n", "email", "line 3: has no email"),
        ("sid,email\n1,a@x.org\n\n2,not-an-email\n", "email", "line 4: 'not-an-email' is not an"),
        ("sid,email\n1,a@x.org\n2,A@x.org\n", "email", "line 3: email 'a@x.org' is also on line 2"),
        ("sid,name\n1,Ada\n", "email", "the header has no email column"),
        ("name,email\nAda,a@x.org\n", "sid", "the header has no sid column"),
        ("", "email", "is empty"),
        ("sid,email\n\n", "email", "has a header but no students"),
        ("email,e-mail\na@x.org,b@x.org\n", "email", "more than one column reads as email"),
        (b"sid,email\n1,\xff@x.org\n", "email", "is not text (UTF-8)"),
    ],
)
def test_a_bad_roster_row_is_refused_naming_its_line(
    tmp_path: Path, text: str | bytes, key: course.Key, message: str
) -> None:
    with pytest.raises(course.CourseError, match=r"roster\.csv") as error:
        course.read_roster(roster(tmp_path, text), key)
    assert message in str(error.value)


# The command ---------------------------------------------------------------------------------


@pytest.fixture
def class_files(tmp_path: Path) -> tuple[Path, Path]:
    secret = tmp_path / "course-secret.txt"
    secret.write_bytes(SECRET)
    names = "sid,email,name\n12345,ada@uni.edu,Ada Lovelace\n67890,Bob@Uni.edu,Bob <b>\n"
    return roster(tmp_path, names), secret


def test_problems_writes_each_students_problem_handouts_and_an_index(
    class_files: tuple[Path, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    names, secret = class_files
    out = tmp_path / "out"
    code, stdout, err = run(
        ["problems", "--roster", str(names), "--secret-file", str(secret), "--output-dir",
         str(out), "--layers", "2", "3", "2", "--assignment", "hw3",
         "--quantities", "loss", "deltas"],
        capsys,
    )  # fmt: skip
    assert code == 0
    assert SECRET.decode() not in stdout + err
    for written in out.iterdir():
        assert SECRET.decode() not in written.read_text()
    assert sorted(p.name for p in out.iterdir()) == [
        "ada@uni.edu.html", "ada@uni.edu.json", "ada@uni.edu.md",
        "bob@uni.edu.html", "bob@uni.edu.json", "bob@uni.edu.md", "index.csv",
    ]  # fmt: skip
    record = json.loads((out / "ada@uni.edu.json").read_text())
    assert record["problem"] == course.problem_for(PER_STUDENT, SECRET, "ada@uni.edu")
    assert record["student"] == {"sid": "12345", "email": "ada@uni.edu", "name": "Ada Lovelace"}
    index = list(csv.DictReader(io.StringIO((out / "index.csv").read_text())))
    assert [row["problem_id"] for row in index] == [
        course.problem_id(json.loads((out / f"{who}.json").read_text())["problem"])
        for who in ("ada@uni.edu", "bob@uni.edu")
    ]
    markdown = (out / "ada@uni.edu.md").read_text()
    W1 = record["problem"]["network"]["layers"][0]["weights"]
    assert "| 1 | " + " | ".join(f"{w:g}" for w in W1[0]) + " |" in markdown
    assert "1. the loss L\n2. every layer's deltas" in markdown
    assert record["problem_id"] in markdown
    html = (out / "bob@uni.edu.html").read_text()
    assert "Bob &lt;b&gt;" in html  # the roster's text is escaped
    assert "<b>" not in html

    # the problem file grades as it is: the student's right answer gets every point
    answer = tmp_path / "answer.json"
    answer.write_text(json.dumps(solve(record["problem"], Student())))
    code, stdout, _ = run(["grade", str(out / "ada@uni.edu.json"), str(answer)], capsys)
    assert code == 0
    report = json.loads(stdout)
    assert report["score"] == report["max_score"] == 16


def test_problems_with_a_bad_roster_or_secret_says_what_and_where(
    class_files: tuple[Path, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    names, secret = class_files
    bad = roster(tmp_path, "sid,email,name\n1,a@x.org,A\n2,b@x.org\n")
    base = ["problems", "--output-dir", str(tmp_path / "out")]
    code, _, err = run([*base, "--roster", str(bad), "--secret-file", str(secret)], capsys)
    assert code == 2
    assert err == f"backprop-service: {bad}, line 3: has 2 fields, the header has 3\n"
    monkeypatch.delenv(course.SECRET_ENV, raising=False)
    code, _, err = run([*base, "--roster", str(names)], capsys)
    assert code == 2
    assert "no course secret" in err
    code, _, err = run(
        [*base, "--roster", str(names), "--secret-file", str(secret), "--layers", "2", "99"],
        capsys,
    )
    assert code == 2
    assert "problems.parameters.layer_sizes[1]: Input should be less than or equal to 8" in err
    assert "Traceback" not in err
