"""The offline grader on other Pythons: `pip install .` into a fresh venv, then grade for real.

    python scripts/py_compat.py --python /path/to/python3.10 [--python ...]   (make py310-test)
    python scripts/py_compat.py --gradescope --python ... [--python ...]     (make gradescope-test)

Plain mode: a fresh venv per Python, `pip install .` (the newest releases pyproject.toml allows
there; on 3.10 without the server's packages), then every offline command the autograders use,
each checked against this process (Python 3.11, the project's pins):

- the Gradescope example's sample answer scores what its README says, in the README's own
  harness layout; the PrairieLearn question's too;
- `grade` gives every item the status and score this process gives it, for a right answer, a
  sign error and a rounded answer with a stray key;
- a folder with an unreadable file: a gradebook row for every file;
- `problems` hands every student of a roster the very numbers this process hands them;
- on 3.10, FastAPI is not installed and `serve` says why, with exit status 3.

--gradescope: the autograder's own setup.sh, run as Gradescope runs it but in a simulated
/autograder (the zip's layout, with this working tree as backprop-service/), installs with the
given Python; run_autograder then grades the example and a per-student submission.

Every check is an assertion; the script stops at the first that fails, saying which.
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from app import course, services  # noqa: E402
from schemas import SPEC_EXAMPLE  # noqa: E402
from schemas.grading import GradeRequest  # noqa: E402
from tests.grading_oracle import Student, solve  # noqa: E402

COMPAT = ROOT / ".venv" / "compat"
GRADESCOPE = ROOT / "docs" / "gradescope-autograder"
PRAIRIELEARN = ROOT / "docs" / "prairielearn-grader"
SECRET = "0123456789abcdef0123456789abcdef"


def sh(*command: str | Path, env: dict[str, str] | None = None, cwd: Path | None = None) -> str:
    done = subprocess.run(
        [str(c) for c in command],
        env={**os.environ, **(env or {})},
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )
    if done.returncode != 0:
        raise SystemExit(
            f"FAILED: {' '.join(str(c) for c in command)} exited {done.returncode}\n"
            f"{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
        )
    return done.stdout


def check(condition: bool, what: str) -> None:
    if not condition:
        raise SystemExit(f"FAILED: {what}")
    print(f"  ok  {what}")


def version_of(python: str) -> str:
    return sh(python, "-c", "import sys; print('%d.%d' % sys.version_info[:2])").strip()


def source_tree(destination: Path) -> Path:
    """This working tree's files (tracked and new, not ignored) copied to destination."""
    listed = sh("git", "ls-files", "--cached", "--others", "--exclude-standard", "-z", cwd=ROOT)
    for name in filter(None, listed.split("\0")):
        source = ROOT / name
        if source.is_file():
            target = destination / name
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target)
    return destination


def readme_score() -> float:
    text = (GRADESCOPE / "README.md").read_text()
    marker = "The sample answer scores "
    return float(text[text.index(marker) + len(marker) :].split(" / ")[0])


# Plain mode ----------------------------------------------------------------------------------


def plain(python: str) -> None:
    version = version_of(python)
    print(f"Python {version}: a fresh venv, pip install .")
    venv = COMPAT / f"py{version.replace('.', '')}"
    shutil.rmtree(venv, ignore_errors=True)
    sh(python, "-m", "venv", venv)
    started = time.monotonic()
    with tempfile.TemporaryDirectory() as build:
        # from a copy, so that building leaves nothing in the working tree
        sh(venv / "bin" / "pip", "install", "--quiet", source_tree(Path(build) / "src"),
           env={"PIP_CACHE_DIR": str(COMPAT / "pip-cache")})  # fmt: skip
    print(f"  ok  pip install . ({time.monotonic() - started:.0f} s)")
    cli = venv / "bin" / "backprop-service"
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        harnesses(cli, work)
        grades_as_here(cli, work)
        folder(cli, work)
        problems(cli, work)
        derivative(cli, work)
    has_fastapi = "import importlib.util as u; print(u.find_spec('fastapi') is not None)"
    server = sh(venv / "bin" / "python", "-c", has_fastapi)
    if version == "3.10":
        check(server.strip() == "False", "3.10: the server's packages are not installed")
        done = subprocess.run([cli, "serve"], capture_output=True, text=True, check=False)
        check(
            done.returncode == 3 and "needs the server's packages" in done.stderr,
            "3.10: serve exits 3 and says it needs Python 3.11",
        )
    else:
        check(server.strip() == "True", f"{version}: the server's packages are installed")


def harnesses(cli: Path, work: Path) -> None:
    root = work / "autograder"
    (root / "source").mkdir(parents=True)
    (root / "submission").mkdir()
    shutil.copy(GRADESCOPE / "autograder.json", root / "source")
    shutil.copy(GRADESCOPE / "answer.json", root / "submission")
    sh(
        GRADESCOPE / "run_autograder",
        env={"AUTOGRADER_ROOT": str(root), "BACKPROP_SERVICE": str(cli)},
    )
    results = json.loads((root / "results" / "results.json").read_text())
    check(
        results["score"] == readme_score(),
        f"the Gradescope example scores {results['score']:g}, as its README says",
    )
    grade = work / "grade"
    question = PRAIRIELEARN / "questions" / "backpropWorkedExample"
    shutil.copytree(question / "tests", grade / "tests")
    (grade / "student").mkdir()
    shutil.copy(PRAIRIELEARN / "answer.json", grade / "student")
    entrypoint = PRAIRIELEARN / "serverFilesCourse" / "backprop" / "grade.sh"
    sh(entrypoint, env={"GRADE_ROOT": str(grade), "BACKPROP_SERVICE": str(cli)})
    results = json.loads((grade / "results" / "results.json").read_text())
    check(
        results["gradable"] and abs(results["score"] - readme_score() / 11) < 1e-12,
        "the PrairieLearn question grades its sample answer alike",
    )


def grades_as_here(cli: Path, work: Path) -> None:
    problem = work / "problem.json"
    problem.write_text(json.dumps(SPEC_EXAMPLE))
    rounded = json.loads(json.dumps(solve(SPEC_EXAMPLE, Student()), default=float))
    rounded = _rounded(rounded, 4) | {"student": "Ada", "layers_typo": []}
    answers = {
        "right": solve(SPEC_EXAMPLE, Student()),
        "sign": solve(SPEC_EXAMPLE, Student(mistakes={"loss_gradient_sign"})),
        "rounded": rounded,
    }
    here = services.Grading(
        GradeRequest.model_validate({"problem": SPEC_EXAMPLE, "submission": {}})
    )
    for name, answer in answers.items():
        path = work / f"{name}.json"
        path.write_text(json.dumps(answer))
        there = json.loads(sh(cli, "grade", problem, path))
        expected = here.report(json.dumps(answer))
        same = [(i["id"], i["status"], i["score"]) for i in there["items"]] == [
            (i["id"], i["status"], i["score"]) for i in expected["items"]
        ]
        named = [i.get("mistakes") for i in there["items"]] == [
            i.get("mistakes") for i in expected["items"]
        ]
        check(
            same and named and there["score"] == expected["score"],
            f"grade: the {name} answer scores {there['score']:g} / {there['max_score']:g}, "
            "item by item and mistake by mistake as on 3.11",
        )
    check(json.loads(sh(cli, "grade", problem, work / "right.json"))["score"] == 16, "right: 16/16")


def _rounded(value: Any, digits: int) -> Any:
    if isinstance(value, list):
        return [_rounded(v, digits) for v in value]
    if isinstance(value, dict):
        return {k: _rounded(v, digits) for k, v in value.items()}
    return float(f"{value:.{digits}g}") if isinstance(value, float) else value


def folder(cli: Path, work: Path) -> None:
    answers = work / "answers"
    answers.mkdir()
    shutil.copy(work / "right.json", answers / "a.json")
    shutil.copy(work / "sign.json", answers / "b.json")
    (answers / "c.json").write_bytes(b"\xef\xbb\xbf{not json")
    book = work / "book.csv"
    sh(cli, "grade", work / "problem.json", answers, "--format", "csv", "--output", book)
    rows = list(csv.DictReader(io.StringIO(book.read_text())))
    check(
        [(r["file"], r["score"], bool(r["unreadable"])) for r in rows]
        == [("a.json", "16", False), ("b.json", "6", False), ("c.json", "0", True)],
        "folder mode: a gradebook row for every file, the unreadable one with its reason",
    )


def problems(cli: Path, work: Path) -> None:
    roster = work / "roster.csv"
    roster.write_bytes(b"\xef\xbb\xbfSID,Email,Name\n1,ada@uni.edu,Ada\n\n2,bob@uni.edu,Bob\n")
    secret = work / "secret.txt"
    secret.write_text(SECRET)
    out = work / "handouts"
    sh(cli, "problems", "--roster", roster, "--secret-file", secret, "--output-dir", out,
       "--layers", "3", "4", "2", "--assignment", "hw")  # fmt: skip
    settings = course.PerStudent(parameters={"layer_sizes": [3, 4, 2]}, assignment="hw")
    same = all(
        json.loads((out / f"{who}.json").read_text())["problem"]
        == course.problem_for(settings, SECRET.encode(), who)
        for who in ("ada@uni.edu", "bob@uni.edu")
    )
    check(same, "problems: every student gets the very numbers 3.11 gives them")


def derivative(cli: Path, work: Path) -> None:
    problem = work / "derivative.json"
    problem.write_text(json.dumps({"function": "x^2*sin(x)"}))
    right, wrong = work / "right.txt", work / "wrong.txt"
    right.write_text("2*x*sin(x) + x^2*cos(x)")
    wrong.write_text("2*x*cos(x)")
    scores = [
        json.loads(sh(cli, "derivative", "grade", problem, a))["score"] for a in (right, wrong)
    ]
    check(scores == [1.0, 0.0], "derivative grade: right 1, wrong 0 (SymPy's side)")


# Gradescope's setup.sh -----------------------------------------------------------------------


def gradescope(python: str) -> None:
    version = version_of(python)
    print(f"Gradescope's setup.sh with Python {version}, in a simulated /autograder")
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "autograder"
        source = root / "source"
        source_tree(source / "backprop-service")
        for name in ("setup.sh", "run_autograder", "autograder.json"):
            shutil.copy2(GRADESCOPE / name, source)
        venv = Path(tmp) / "opt" / "backprop-service"
        started = time.monotonic()
        installed = sh("bash", source / "setup.sh", env={
            "AUTOGRADER_ROOT": str(root), "BACKPROP_VENV": str(venv), "PYTHON": python,
            "PIP_CACHE_DIR": str(COMPAT / "pip-cache")})  # fmt: skip
        check(
            f"with Python {version}" in installed,
            f"setup.sh installs with Python {version} ({time.monotonic() - started:.0f} s)",
        )
        env = {
            "AUTOGRADER_ROOT": str(root),
            "BACKPROP_SERVICE": str(venv / "bin" / "backprop-service"),
        }
        (root / "submission").mkdir()
        shutil.copy(GRADESCOPE / "answer.json", root / "submission")
        sh(source / "run_autograder", env=env)
        results = json.loads((root / "results" / "results.json").read_text())
        check(
            results["score"] == readme_score(),
            "run_autograder grades the example as the README says",
        )

        # one problem per student, the student found in submission_metadata.json
        config = {
            "problems": {"parameters": {"layer_sizes": [2, 3, 2]}, "assignment": "hw3",
                         "secret_file": "course-secret.txt"},
            "grading": {"quantities": ["loss", "deltas"]},
        }  # fmt: skip
        (source / "autograder.json").write_text(json.dumps(config))
        (source / "course-secret.txt").write_text(SECRET)
        users = [{"email": "ada@uni.edu", "id": 1, "name": "Ada"}]
        (root / "submission_metadata.json").write_text(json.dumps({"users": users}))
        settings = course.PerStudent(parameters={"layer_sizes": [2, 3, 2]}, assignment="hw3")
        ada = course.problem_for(settings, SECRET.encode(), "ada@uni.edu")
        (root / "submission" / "answer.json").write_text(json.dumps(solve(ada, Student())))
        sh(source / "run_autograder", env=env)
        results = json.loads((root / "results" / "results.json").read_text())
        check(
            results["score"] == 3 and "Graded against the problem of Ada" in results["output"],
            "run_autograder grades a student against their own problem: 3 / 3",
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--python", action="append", required=True, help="a Python to test")
    parser.add_argument("--gradescope", action="store_true", help="run setup.sh instead")
    args = parser.parse_args()
    COMPAT.mkdir(parents=True, exist_ok=True)
    for python in args.python:
        (gradescope if args.gradescope else plain)(python)
    print("all checks passed")


if __name__ == "__main__":
    main()
