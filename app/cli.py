"""The ``backprop-service`` command.

    backprop-service [serve] [--host H] [--port P] [--workers N] [--access-log]
    backprop-service grade PROBLEM.json SUBMISSION.json [--format F] [--output FILE]
    backprop-service problem --seed N [--layers 2 3 2] [--solution] [--output FILE]
    backprop-service backprop REQUEST.json [--explain] [--output FILE]

``serve`` is the default command. HOST, PORT and WEB_CONCURRENCY in the environment set the
defaults of --host, --port and --workers; the service's own settings are BACKPROP_* variables
(see app/config.py). Each command is a subparser.

grade, problem and backprop work offline, through the same validation and the same functions
as POST /v1/grade, /v1/problems and /v1/backprop, and print the same JSON (indented). A bad
PROBLEM or REQUEST prints the same problems a 422 would list and exits with status 2. A
SUBMISSION that cannot be read at all (not JSON, a string where a number belongs) is the
student's doing: grade then writes a report that says so, with no points (PrairieLearn: not
gradable), and exits with 0, so that an autograder shows the student what went wrong.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, NoReturn, TypeVar

import orjson
import uvicorn
from pydantic import BaseModel, ValidationError

from app.config import get_settings
from app.errors import describe
from app.routes.grading import compute_problem
from app.routes.network import compute_backprop
from engine import EngineError
from schemas import DEFAULT_LIMITS, BackpropRequest
from schemas.gradebook import unreadable
from schemas.grading import GradeRequest, grade_payload
from schemas.problems import ProblemRequest

Command = Callable[[argparse.Namespace], int]
M = TypeVar("M", bound=BaseModel)

EXIT_BAD_INPUT = 2


def serve(args: argparse.Namespace) -> int:
    settings = get_settings()
    uvicorn.run(
        "app.main:app",
        host=args.host,
        port=args.port,
        workers=args.workers,
        loop="uvloop",
        http="app.server:GuardedHttpToolsProtocol",
        access_log=args.access_log,
        server_header=False,
        log_level=args.log_level,
        timeout_keep_alive=settings.keep_alive_seconds,
        limit_concurrency=settings.max_connections,
        timeout_graceful_shutdown=settings.graceful_shutdown_seconds,
    )
    return 0


def _add_serve(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = commands.add_parser("serve", help="serve the HTTP API (the default command)")
    parser.add_argument(
        "--host",
        default=os.environ.get("HOST", "127.0.0.1"),
        help="interface to bind (env HOST; default 127.0.0.1)",
    )
    parser.add_argument(
        "--port",
        type=int,
        default=int(os.environ.get("PORT", "8000")),
        help="port to listen on (env PORT; default 8000)",
    )
    parser.add_argument(
        "--workers",
        type=int,
        default=int(os.environ.get("WEB_CONCURRENCY", "1")),
        help="worker processes (env WEB_CONCURRENCY; default 1)",
    )
    parser.add_argument("--access-log", action="store_true", help="log every request")
    parser.add_argument(
        "--log-level", default="info", choices=["critical", "error", "warning", "info", "debug"]
    )
    parser.set_defaults(run=serve)


# Offline commands --------------------------------------------------------------------------------


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
    """Grade SUBMISSION against PROBLEM, as POST /v1/grade would."""
    try:
        options = _grading_options(args)
        empty = _validate(GradeRequest, {**options, "submission": {}}, args.problem)
        try:
            submission = _read_json(args.submission)
            request = _validate(GradeRequest, {**options, "submission": submission}, None)
        except BadInputError as exc:
            grader = empty.grader()
            max_score = sum(grader.points.of(key) for key in grader.items)
            message = f"The answer could not be read, so it was not graded.\n{exc}"
            _write(unreadable(message, empty.format, max_score), args.output)
            return 0
        _write(grade_payload(request), args.output)
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
    tolerance = dict(options.get("tolerance") or {})
    for name in ("rtol", "atol"):
        if getattr(args, name) is not None:
            tolerance[name] = getattr(args, name)
    if tolerance:
        options["tolerance"] = tolerance
    return options


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
        _write(compute_problem(_validate(ProblemRequest, body, "problem")), args.output)
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
        _write(compute_backprop(_validate(BackpropRequest, body, args.request)), args.output)
    except BadInputError as exc:
        _fail(str(exc))
    except EngineError as exc:
        _fail(_problems(exc, args.request))
    return 0


def _add_output(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--output", "-o", metavar="FILE", help="write here instead of stdout")


def _add_grade(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = commands.add_parser(
        "grade",
        help="grade a student's answer offline, as POST /v1/grade",
        description="PROBLEM is a /v1/backprop request, or a /v1/grade request without its "
        'submission ({"problem": ..., "quantities": ..., "points": ...}); SUBMISSION is '
        "the student's answer, any part of a /v1/backprop answer.",
    )
    parser.add_argument("problem", metavar="PROBLEM.json")
    parser.add_argument("submission", metavar="SUBMISSION.json")
    parser.add_argument(
        "--format", choices=["native", "gradescope", "prairielearn"], help="default: native"
    )
    parser.add_argument("--rtol", type=float, help="relative tolerance (default 0.01)")
    parser.add_argument("--atol", type=float, help="absolute tolerance (default 0.0001)")
    parser.add_argument(
        "--partial-credit", action="store_true", help="credit the share of correct entries"
    )
    _add_output(parser)
    parser.set_defaults(run=grade)


def _add_problem(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = commands.add_parser(
        "problem", help="a seeded problem for one student, as POST /v1/problems"
    )
    parser.add_argument("--seed", type=int, required=True, help="e.g. a student number")
    parser.add_argument("--layers", type=int, nargs="+", metavar="N", help="default: 2 2 2")
    parser.add_argument(
        "--activation", nargs="+", metavar="NAME", help="one for all layers, or one per layer"
    )
    parser.add_argument("--loss", metavar="NAME", help="default: mse")
    parser.add_argument("--batch-size", type=int, help="samples (default 1)")
    parser.add_argument("--decimals", type=int, help="decimal places of the numbers (default 1)")
    parser.add_argument("--weight-range", type=float, help="numbers in [-R, R] (default 1)")
    parser.add_argument("--learning-rate", type=float, help="default: 0.5")
    parser.add_argument("--solution", action="store_true", help="add the /v1/backprop answer")
    parser.add_argument("--explain", action="store_true", help="add worked formulas to it")
    _add_output(parser)
    parser.set_defaults(run=problem)


def _add_backprop(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = commands.add_parser("backprop", help="answer a /v1/backprop request offline")
    parser.add_argument(
        "request", metavar="REQUEST.json", help="a /v1/backprop request, or what problem wrote"
    )
    parser.add_argument("--explain", action="store_true", help="add worked formulas")
    _add_output(parser)
    parser.set_defaults(run=backprop)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="backprop-service",
        description="Backpropagation as a service: forward pass, loss, deltas and gradients.",
    )
    commands = parser.add_subparsers(title="commands", metavar="COMMAND")
    _add_serve(commands)
    _add_grade(commands)
    _add_problem(commands)
    _add_backprop(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args_list = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser()
    if not args_list or (args_list[0].startswith("-") and args_list[0] not in ("-h", "--help")):
        args_list.insert(0, "serve")
    args = parser.parse_args(args_list)
    run: Command = args.run
    return run(args)


if __name__ == "__main__":
    raise SystemExit(main())
