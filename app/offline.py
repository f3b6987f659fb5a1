"""The offline commands: grade, problem, backprop and derivative grade, without a server.

They go through the same validation and the same service functions (app/services.py) as POST
/v1/grade, /v1/problems and /v1/backprop, and print the same JSON (indented). A bad PROBLEM or
REQUEST prints the same problems a 422 would list and exits with status 2. A SUBMISSION that
cannot be read at all (not JSON, a string where a number belongs) is the student's doing: grade
then writes a report that says so, with no points (PrairieLearn: not gradable), and exits with
0, so that an autograder shows the student what went wrong.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any, NoReturn, TypeVar

import orjson
from pydantic import BaseModel, ValidationError

from app import services
from app.errors import describe
from engine import EngineError, calculus
from schemas import DEFAULT_LIMITS, BackpropRequest
from schemas.derivatives import GradeRequest as DerivativeGradeRequest
from schemas.gradebook import unreadable
from schemas.grading import GradeRequest, unreadable_report
from schemas.problems import ProblemRequest

M = TypeVar("M", bound=BaseModel)

EXIT_BAD_INPUT = 2


class BadInputError(Exception):
    """What the user gave cannot be used; the message says what and where."""


def _read_json(path: str) -> Any:
    try:
        return orjson.loads(Path(path).read_bytes())
    except OSError as exc:
        raise BadInputError(f"{path}: cannot be read ({exc.strerror})") from exc
    except orjson.JSONDecodeError as exc:
        raise BadInputError(f"{path} is not valid JSON: {exc}") from exc


def _validate(model: type[M], body: Any, source: str | None) -> M:
    try:
        return model.model_validate_json(orjson.dumps(body), context={"limits": DEFAULT_LIMITS})
    except ValidationError as exc:
        raise BadInputError(_problems(exc, source)) from exc


def _problems(exc: Exception, source: str | None) -> str:
    """The problems a 422 would list, one a line, after the file they are in."""
    described = describe(exc)
    if described is None:
        raise exc
    _status, problems = described
    prefix = "" if source is None else f"{source}: "
    return "\n".join(f"{prefix}{problem['msg']}" for problem in problems)


def _write(payload: dict[str, Any], output: str | None) -> None:
    data = orjson.dumps(payload, option=orjson.OPT_INDENT_2 | orjson.OPT_SERIALIZE_NUMPY) + b"\n"
    if output is None:
        sys.stdout.buffer.write(data)
    else:
        Path(output).write_bytes(data)


def _fail(message: str) -> NoReturn:
    print(f"backprop-service: {message}", file=sys.stderr)
    raise SystemExit(EXIT_BAD_INPUT)


def grade(args: argparse.Namespace) -> int:
    """Grade SUBMISSION against PROBLEM, as POST /v1/grade would.

    The answer file is read as POST /v1/grade reads a submission, forgivingly: only a file
    that cannot be read, or is not JSON at all, gets a report that says so.
    """
    try:
        options = _validate(
            GradeRequest, {**_grading_options(args), "submission": {}}, args.problem
        )
        grading = services.Grading(options)
        try:
            answer: bytes | str = Path(args.submission).read_bytes()
        except OSError as exc:
            answer = f"{args.submission}: cannot be read ({exc.strerror})"
            _write(unreadable_report(grading.grader, options, answer), args.output)
            return 0
        _write(grading.report(answer), args.output)
    except BadInputError as exc:
        _fail(str(exc))
    except EngineError as exc:
        _fail(_problems(exc, args.problem))
    return 0


def _grading_options(args: argparse.Namespace) -> dict[str, Any]:
    """PROBLEM as the options of a /v1/grade request: a /v1/backprop request on its own, or
    {"problem": ..., "quantities": ..., ...}; the output of ``problem`` works as it is."""
    loaded = _read_json(args.problem)
    if not isinstance(loaded, dict):
        raise BadInputError(f"{args.problem} must hold a JSON object")
    options = dict(loaded) if "problem" in loaded else {"problem": loaded}
    options.pop("solution", None)
    if args.format is not None:
        options["format"] = args.format
    if args.partial_credit:
        options["partial_credit"] = True
    if args.feedback_format is not None:
        options["feedback_format"] = args.feedback_format
    tolerance = dict(options.get("tolerance") or {})
    for name in ("rtol", "atol"):
        if getattr(args, name) is not None:
            tolerance[name] = getattr(args, name)
    if tolerance:
        options["tolerance"] = tolerance
    return options


def derivative_grade(args: argparse.Namespace) -> int:
    """Grade the derivative in ANSWER against PROBLEM, as POST /v1/derivatives/grade would.

    An answer that cannot be read or parsed is the student's doing, reported as grade reports
    an unreadable submission (0 points, or PrairieLearn's not gradable; exit 0).
    """
    try:
        options = _read_json(args.problem)
        if not isinstance(options, dict):
            raise BadInputError(f"{args.problem} must hold a JSON object")
        options.pop("answer", None)
        if args.format is not None:
            options["format"] = args.format
        empty = _validate(DerivativeGradeRequest, {**options, "answer": "0"}, args.problem)
        try:
            request = _validate(
                DerivativeGradeRequest, {**options, "answer": _read_answer(args.answer)}, None
            )
        except BadInputError as exc:
            message = f"The answer could not be read, so it was not graded.\n{exc}"
            _write(unreadable(message, empty.format, empty.max_score), args.output)
            return 0
        calculus.warm_up()  # SymPy's verdict must not depend on how long this took to start
        _write(services.grade_derivative(request), args.output)
    except BadInputError as exc:
        _fail(str(exc))
    except EngineError as exc:
        _fail(_problems(exc, args.problem))
    return 0


def _read_answer(path: str) -> str:
    """The student's derivative: a file's text, or a JSON string, or {"answer": "..."}."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise BadInputError(f"{path}: cannot be read ({exc.strerror})") from exc
    except UnicodeDecodeError as exc:
        raise BadInputError(f"{path} is not text (UTF-8)") from exc
    try:
        loaded = orjson.loads(text)
    except orjson.JSONDecodeError:
        return text.strip()
    if isinstance(loaded, dict):
        answer = loaded.get("answer")
        if not isinstance(answer, str):
            raise BadInputError(f'{path} must hold {{"answer": "the derivative, as text"}}')
        return answer
    return loaded if isinstance(loaded, str) else text.strip()  # 2 is an answer, not JSON


def problem(args: argparse.Namespace) -> int:
    """A seeded problem, as POST /v1/problems would give it."""
    body: dict[str, Any] = {"seed": args.seed, "solution": args.solution, "explain": args.explain}
    optional = {
        "layer_sizes": args.layers,
        "activations": args.activation[0] if len(args.activation or []) == 1 else args.activation,
        "loss": args.loss,
        "batch_size": args.batch_size,
        "decimals": args.decimals,
        "weight_range": args.weight_range,
        "learning_rate": args.learning_rate,
    }
    body |= {key: value for key, value in optional.items() if value is not None}
    try:
        _write(services.problems(_validate(ProblemRequest, body, "problem")), args.output)
    except BadInputError as exc:
        _fail(str(exc))
    except EngineError as exc:
        _fail(_problems(exc, "problem"))
    return 0


def backprop(args: argparse.Namespace) -> int:
    """REQUEST's forward pass, deltas, gradients and step, as POST /v1/backprop would."""
    try:
        body = _read_json(args.request)
        if isinstance(body, dict) and "problem" in body:  # the output of ``problem``
            body = body["problem"]
        if args.explain and isinstance(body, dict):
            body["explain"] = True
        _write(services.backprop(_validate(BackpropRequest, body, args.request)), args.output)
    except BadInputError as exc:
        _fail(str(exc))
    except EngineError as exc:
        _fail(_problems(exc, args.request))
    return 0
