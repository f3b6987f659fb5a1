"""The Gradescope and PrairieLearn harnesses: a submission in their layout in, results.json out.

    backprop-service autograder gradescope   [--root /autograder] [--config FILE]
    backprop-service autograder prairielearn [--root /grade]      [--config FILE]

Gradescope (https://gradescope-autograders.readthedocs.io):
    ROOT/source/autograder.json       the configuration (app/course.py's CourseConfig)
    ROOT/submission/answer.json       the student's file (found in a subfolder too)
    ROOT/submission_metadata.json     "users": [{"email", "id", "name", ...}, ...] (a group
                                      lists every member); read for per-student problems
    ROOT/results/results.json         written: Gradescope's results

PrairieLearn (externalGrading: /grade is the job's root):
    ROOT/tests/autograder.json        the configuration: the question's tests/ folder
    ROOT/data/data.json               the question's data: params.problem, when present, is this
                                      variant's problem (a /v1/backprop request)
    ROOT/student/answer.json          the student's file
    ROOT/results/results.json         written: {"gradable", "score" in [0, 1], "message",
                                      "tests": [...]}

A configuration's "grading" options are POST /v1/grade's; what it leaves out has the course
defaults below (not the API's), which suit graded work with resubmissions. Whatever goes wrong
with the student's file is said in results.json; a broken configuration too (the student is
told to ask the instructor), and on stderr, which the instructors see.

Per-student problems (Gradescope): each user is found on the roster (by sid when the metadata
has one, else by email) or, without a roster, taken as they are; their problem is seeded from
their key value as `backprop-service problems` seeds it. A group whose members have different
problems is graded against each member's problem and keeps the one its answer scores best on
(ties: the member whose key value sorts first); the output says which problem was used, whose
it is, and the score against each of the others. It is never graded silently against a
problem that is not one of its members'.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import orjson
from pydantic import ValidationError

from app import course, services
from app.described import describe
from schemas import DEFAULT_LIMITS
from schemas.grading import GradeRequest, unreadable_report

COURSE_DEFAULTS: dict[str, Any] = {"show_expected": False, "partial_credit": True}
"""Where an autograder's "grading" is silent, unlike POST /v1/grade: no expected value or worked
formula in feedback (students may resubmit until their numbers match it), and partial credit
(a slip in one entry costs that entry's share). Everything else has the API's default
(follow_through false: the instructor opts in to error carried forward)."""

GRADESCOPE_ROOT = Path("/autograder")
PRAIRIELEARN_ROOT = Path("/grade")


@dataclass(frozen=True)
class Candidate:
    """One member's problem."""

    member: str  # the member in words, for the output
    order: str  # the key value, which breaks ties
    problem: dict[str, Any]
    problem_id: str
    unknown: str = ""  # members of the submission whose problem is unknown, in words


# Gradescope ----------------------------------------------------------------------------------


def gradescope(root: Path = GRADESCOPE_ROOT, config_file: Path | None = None) -> dict[str, Any]:
    """The results.json of the submission under root (written by ``run``)."""
    config_file = config_file or root / "source" / "autograder.json"
    try:
        config = course.read_config(config_file)
        candidates = _gradescope_problems(root, config, config_file.parent)
    except course.CourseError as exc:
        return _misconfigured(str(exc), "gradescope")
    except _StudentError as exc:
        return {"score": 0.0, "output": str(exc), "tests": []}
    answer = _find(root / "submission", config.answer_file)
    if answer is None:
        return {
            "score": 0.0,
            "output": f"No {config.answer_file} was found in your submission: upload your "
            f"answer as a file named {config.answer_file}.",
            "tests": [],
        }
    try:
        report, note = _grade_best(config, candidates, answer, "gradescope")
    except course.CourseError as exc:
        return _misconfigured(str(exc), "gradescope")
    if note:
        report["output"] = f"{note}\n{report['output']}"
    return report


class _StudentError(Exception):
    """The submission cannot be matched to a problem: the student (or the roster) is told."""


def _gradescope_problems(root: Path, config: course.CourseConfig, base: Path) -> list[Candidate]:
    if config.problems is None:
        assert config.problem is not None
        return [Candidate("", "", config.problem, course.problem_id(config.problem))]
    per_student = config.problems
    per_student.check(f"{base / 'autograder.json'}: problems.")
    secret = course.read_secret(
        None if per_student.secret_file is None else base / per_student.secret_file
    )
    roster = (
        None
        if per_student.roster is None
        else course.read_roster(base / per_student.roster, per_student.key)
    )
    users = _users(root / "submission_metadata.json")
    candidates: dict[str, Candidate] = {}
    unknown: list[str] = []
    for user in users:
        try:
            label, value = _member(user, roster, per_student.key)
        except _StudentError as exc:
            unknown.append(str(exc))
            continue
        problem = course.problem_for(per_student, secret, value)
        candidates.setdefault(value, Candidate(label, value, problem, course.problem_id(problem)))
    if not candidates:  # nobody's problem is known: never grade against someone else's
        raise _StudentError(
            " ".join(unknown) + " Your submission was not graded: tell your instructor."
        )
    found = sorted(candidates.values(), key=lambda c: c.order)
    if unknown:  # the others of a group: said, and graded against the known members' problems
        found[0] = replace(found[0], unknown=" ".join(unknown))
    return found


def _users(path: Path) -> list[dict[str, Any]]:
    try:
        metadata = orjson.loads(path.read_bytes())
    except (OSError, orjson.JSONDecodeError) as exc:
        raise course.CourseError(
            f"{path} cannot be read ({exc}): per-student problems need Gradescope's "
            "submission metadata"
        ) from exc
    users = metadata.get("users") if isinstance(metadata, dict) else None
    if not isinstance(users, list) or not users or not all(isinstance(u, dict) for u in users):
        raise course.CourseError(f'{path} lists no "users": whose problem it is is unknown')
    return users


def _member(
    user: dict[str, Any], roster: list[course.Student] | None, key: course.Key
) -> tuple[str, str]:
    """(the member in words, their key value) of a submission_metadata.json user."""
    sid = str(user.get("sid") or "").strip()
    email = str(user.get("email") or "").strip()
    name = str(user.get("name") or "").strip()
    who = f"{name} ({email or sid})" if name else (email or sid or "a member of this submission")
    if roster is None:
        value = course.normalized(key, sid if key == "sid" else email)
        if not value:
            raise _StudentError(
                f"Gradescope gives no {key} for {who}, and this assignment's problems are "
                "made from it."
            )
        return who, value
    for student in roster:
        if (sid and student.sid == sid) or (
            email and student.email and course.normalized("email", student.email) == email.lower()
        ):
            return student.label, student.value(key)
    raise _StudentError(f"{who} is not on the roster this assignment's problems were made from.")


# PrairieLearn --------------------------------------------------------------------------------


def prairielearn(root: Path = PRAIRIELEARN_ROOT, config_file: Path | None = None) -> dict[str, Any]:
    """The results.json of the submission under root (written by ``run``)."""
    config_file = config_file or root / "tests" / "autograder.json"
    try:
        config = course.read_config(config_file)
        if config.problems is not None:
            raise course.CourseError(
                f'{config_file}: "problems" (one per student of a roster) is for Gradescope; '
                'PrairieLearn makes variants: give "problem", or put each variant\'s problem '
                "in data.json's params.problem (a question's server.py)"
            )
        problem = _variant_problem(root / "data" / "data.json") or config.problem
        assert problem is not None
    except course.CourseError as exc:
        return _misconfigured(str(exc), "prairielearn")
    answer = _find(root / "student", config.answer_file)
    if answer is None:
        message = f"No {config.answer_file} was submitted: upload your answer as that file."
        return {"gradable": False, "message": message, "format_errors": [message], "tests": []}
    candidate = Candidate("", "", problem, course.problem_id(problem))
    try:
        report, _ = _grade_best(config, [candidate], answer, "prairielearn")
    except course.CourseError as exc:
        return _misconfigured(str(exc), "prairielearn")
    return report


def _variant_problem(path: Path) -> dict[str, Any] | None:
    if not path.exists():
        return None
    try:
        data = orjson.loads(path.read_bytes())
    except (OSError, orjson.JSONDecodeError) as exc:
        raise course.CourseError(f"{path} cannot be read: {exc}") from exc
    params = data.get("params") if isinstance(data, dict) else None
    problem = params.get("problem") if isinstance(params, dict) else None
    if problem is not None and not isinstance(problem, dict):
        raise course.CourseError(f"{path}: params.problem must be a /v1/backprop request")
    return problem


# Shared --------------------------------------------------------------------------------------


def _find(folder: Path, name: str) -> Path | None:
    """The student's file: at the top of the folder, or else the first one in a subfolder (an
    uploaded zip of a folder)."""
    top = folder / name
    if top.is_file():
        return top
    found = sorted(p for p in folder.rglob(name) if p.is_file()) if folder.is_dir() else []
    return found[0] if found else None


def _grading(config: course.CourseConfig, problem: dict[str, Any], fmt: str) -> services.Grading:
    body = {**COURSE_DEFAULTS, **config.grading, "problem": problem, "format": fmt}
    try:
        options = GradeRequest.model_validate_json(
            orjson.dumps({**body, "submission": {}}), context={"limits": DEFAULT_LIMITS}
        )
    except ValidationError as exc:
        described = describe(exc)
        assert described is not None
        raise course.CourseError(
            "\n".join(f"the configuration's grading or problem: {p['msg']}" for p in described[1])
        ) from exc
    return services.Grading(options)


def _grade_best(
    config: course.CourseConfig, candidates: list[Candidate], answer: Path, fmt: str
) -> tuple[dict[str, Any], str]:
    """The report against the candidate the answer scores best on, and a note saying which."""
    try:
        data = answer.read_bytes()
    except OSError as exc:
        grading = _grading(config, candidates[0].problem, fmt)
        reason = f"{answer.name} cannot be read ({exc.strerror})"
        return unreadable_report(grading.grader, grading.options, reason), ""
    distinct = list({c.problem_id: c for c in candidates}.values())
    graded = []
    for candidate in distinct:
        grading = _grading(config, candidate.problem, fmt)
        graded.append((candidate, grading.grade(data), grading.max_score))
    best = max(graded, key=lambda g: g[1].score)  # the first (sorted) of equal ones
    chosen, result, max_score = best
    if not chosen.member:
        return result.report, ""
    owners = [c.member for c in candidates if c.problem_id == chosen.problem_id]
    note = f"Graded against the problem of {' and '.join(owners)} (problem {chosen.problem_id})."
    if candidates[0].unknown:
        note += f" {candidates[0].unknown}"
    if len(distinct) > 1:
        others = "; ".join(
            f"{c.member}'s problem ({c.problem_id}): {r.score:g} / {m:g}"
            for c, r, m in graded
            if c is not chosen
        )
        note += (
            " This group's members have different problems: the answer was graded against "
            f"each and scored best on this one ({result.score:g} / {max_score:g}); {others}."
        )
    return result.report, note


def _misconfigured(reason: str, fmt: str) -> dict[str, Any]:
    print(f"backprop-service autograder: {reason}", file=sys.stderr)
    message = (
        "The autograder could not grade this submission: its configuration has a problem "
        f"(your answer is not at fault). Tell your instructor.\n{reason}"
    )
    if fmt == "prairielearn":
        return {"gradable": False, "message": message, "format_errors": [message], "tests": []}
    return {"score": 0.0, "output": message, "tests": []}


def run(kind: str, root: Path | None, config_file: Path | None) -> Path:
    """Grade the submission under root and write ROOT/results/results.json; its path."""
    if kind == "gradescope":
        root = root or GRADESCOPE_ROOT
        results = gradescope(root, config_file)
    else:
        root = root or PRAIRIELEARN_ROOT
        results = prairielearn(root, config_file)
    path = root / "results" / "results.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(orjson.dumps(results, option=orjson.OPT_INDENT_2) + b"\n")
    return path
