"""The offline commands: grade (a file or a folder), problem, problems, autograder, backprop and
derivative grade, without a server.

They go through the same validation and the same service functions (app/services.py) as POST
/v1/grade, /v1/problems and /v1/backprop, and print the same JSON (indented). A bad PROBLEM,
REQUEST, option, roster or configuration prints what is wrong and where (the problems a 422
would list, or the file and line) and exits with status 2, never with a traceback. An ANSWER
that cannot be read at all (not JSON) is the student's doing: grade then writes a report (and a
gradebook row) that says so, with no points (PrairieLearn: not gradable), and exits with 0, so
that an autograder shows the student what went wrong. Per-student problems live in
app/course.py, the autograders' harnesses in app/autograders.py; both are imported by the
commands that use them.
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import sys
import time
from pathlib import Path
from typing import Any, NoReturn, TypeVar

import orjson
from pydantic import BaseModel, ValidationError

from app import services
from app.described import describe
from engine import EngineError
from schemas import DEFAULT_LIMITS, BackpropRequest
from schemas.errors import LONE_SURROGATES
from schemas.grading import GradeRequest, unreadable_report
from schemas.intake import decode_text
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
        # services.dumps: a lone surrogate a student typed becomes U+FFFD, which the
        # expression's parser then points at, instead of orjson refusing the whole body
        return model.model_validate_json(services.dumps(body), context={"limits": DEFAULT_LIMITS})
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
    _write_bytes(data, output)


def _write_text(text: str, output: str | None) -> None:
    _write_bytes(text.encode(), output)


def _write_bytes(data: bytes, output: str | None) -> None:
    if output is None:
        sys.stdout.buffer.write(data)
        sys.stdout.flush()
        return
    try:
        Path(output).write_bytes(data)
    except OSError as exc:
        raise BadInputError(f"{output}: cannot be written ({exc.strerror})") from exc


def _fail(message: str) -> NoReturn:
    print(f"backprop-service: {message}", file=sys.stderr)
    raise SystemExit(EXIT_BAD_INPUT)


def grade(args: argparse.Namespace) -> int:
    """Grade ANSWER (a file, or every *.json of a folder) against PROBLEM, as POST /v1/grade.

    Answers are read as POST /v1/grade reads a submission, forgivingly: only a file that cannot
    be read, or is not JSON at all, gets a report (and a gradebook row) that says so. A folder
    is graded in this one process with one ``Grading``: the reference and the mistakes are
    computed once for the class.
    """
    try:
        options = _validate(
            GradeRequest, {**_grading_options(args), "submission": {}}, args.problem
        )
        grading = services.Grading(options)
        folder = Path(args.submission)
        if folder.is_dir():
            return _grade_folder(grading, folder, args)
        if args.output_dir is not None:
            raise BadInputError(f"--output-dir is for a folder of answers; {folder} is a file")
        graded = _grade_file(grading, folder)
        if args.format == "csv":
            _write_text(gradebook([(folder.name, graded)], grading), args.output)
        else:
            _write(graded.report, args.output)
    except BadInputError as exc:
        _fail(str(exc))
    except EngineError as exc:
        _fail(_problems(exc, args.problem))
    return 0


def _grade_file(grading: services.Grading, path: Path, *, report: bool = True) -> services.Graded:
    """One answer file graded; one that cannot be read gets the report that says why."""
    try:
        answer = path.read_bytes()
    except OSError as exc:
        reason = f"{path.name} cannot be read ({exc.strerror or exc})"
        made = unreadable_report(grading.grader, grading.options, reason) if report else {}
        return services.Graded(made, None, reason)
    return grading.grade(answer, report=report)


def _grade_folder(grading: services.Grading, folder: Path, args: argparse.Namespace) -> int:
    """Every *.json of the folder, in name order: a gradebook row each, and with a report
    format, one results file each in --output-dir (the same name as the answer's)."""
    files = sorted(path for path in folder.glob("*.json"))
    if not files:
        raise BadInputError(f"{folder} holds no *.json answer files")
    as_csv = args.format == "csv" or (args.format is None and args.output_dir is None)
    reports = None
    if not as_csv:
        if args.output_dir is None:
            raise BadInputError(
                f"grading a folder as {args.format} writes one results file per answer: "
                "name the folder for them with --output-dir (or use --format csv for a gradebook)"
            )
        reports = _folder(args.output_dir)
        if reports.resolve() == folder.resolve():
            raise BadInputError("--output-dir must not be the folder of answers")
    rows: list[tuple[str, services.Graded]] = []
    with Progress(len(files)) as progress:
        for path in files:
            graded = _grade_file(grading, path, report=reports is not None)
            rows.append((path.name, graded))
            if reports is not None:
                _write(graded.report, str(reports / path.name))
            progress.advance()
    if as_csv or args.output is not None:
        _write_text(gradebook(rows, grading), args.output)
    unreadable = sum(graded.grades is None for _, graded in rows)
    where = "" if reports is None else f"; results in {reports}/"
    print(
        f"backprop-service: graded {len(rows)} answers in {folder} "
        f"({unreadable} unreadable){where}",
        file=sys.stderr,
    )
    return 0


def _folder(name: str) -> Path:
    """An output folder, made if need be."""
    path = Path(name)
    if path.exists() and not path.is_dir():
        raise BadInputError(f"{path} is a file, not a folder to write into")
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise BadInputError(f"{path}: cannot be created ({exc.strerror})") from exc
    return path


def gradebook(rows: list[tuple[str, services.Graded]], grading: services.Grading) -> str:
    """CSV, one row per answer file: file, score, max_score, each item's score (its id as the
    column), the mistakes named (ids, ";" between), what was not graded (warnings), and the
    reason an unreadable file was not graded."""
    items = [key.id for key in grading.grader.items]
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["file", "score", "max_score", *items, "mistakes", "warnings", "unreadable"])
    for name, graded in rows:
        scores = {g.key.id: g.score for g in graded.grades or ()}
        writer.writerow(
            spreadsheet_safe(
                [
                    name,
                    _number(graded.score),
                    _number(grading.max_score),
                    *(_number(scores[item]) if item in scores else "" for item in items),
                    ";".join(graded.mistakes),
                    len(graded.warnings),
                    graded.unreadable or "",
                ]
            )
        )
    return out.getvalue()


def _number(value: float) -> str:
    return f"{value:.6g}"


FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
"""What makes a spreadsheet read a cell as a formula (OWASP, "CSV Injection")."""


def spreadsheet_safe(row: list[Any]) -> list[Any]:
    """The row with each text cell that a spreadsheet would run as a formula (a file named
    "=1+2.json", a roster name "@SUM(A1)") prefixed with ', as OWASP advises; numbers, and text
    that is a number ("-0.5"), are left as they are. A character that is not UTF-8 (a file
    name's undecodable byte, a lone surrogate) is written as U+FFFD."""
    return [_safe_cell(cell.translate(LONE_SURROGATES)) if isinstance(cell, str) else cell
            for cell in row]  # fmt: skip


def _safe_cell(text: str) -> str:
    if not text.startswith(FORMULA_STARTS):
        return text
    try:
        float(text)
    except ValueError:
        return "'" + text
    return text


class Progress:
    """A progress bar on stderr, drawn only when stderr is a terminal (never into a log)."""

    WIDTH = 30

    def __init__(self, total: int) -> None:
        self.total, self.done = total, 0
        self.shown = sys.stderr.isatty()
        self.next_draw = 0.0

    def __enter__(self) -> Progress:
        return self

    def advance(self) -> None:
        self.done += 1
        now = time.monotonic()
        if self.shown and (now >= self.next_draw or self.done == self.total):
            self.next_draw = now + 0.1
            filled = self.WIDTH * self.done // self.total
            bar = "#" * filled + "." * (self.WIDTH - filled)
            sys.stderr.write(f"\rgrading [{bar}] {self.done}/{self.total}")
            sys.stderr.flush()

    def __exit__(self, *exc: object) -> None:
        if self.shown:
            sys.stderr.write("\n")


def _grading_options(args: argparse.Namespace) -> dict[str, Any]:
    """PROBLEM as the options of a /v1/grade request: a /v1/backprop request on its own, or
    {"problem": ..., "quantities": ..., ...}; what ``problem`` and ``problems`` write works as
    it is. The flags override the file."""
    loaded = _read_json(args.problem)
    if not isinstance(loaded, dict):
        raise BadInputError(f"{args.problem} must hold a JSON object")
    options = dict(loaded) if "problem" in loaded else {"problem": loaded}
    for written_by_problems in ("solution", "student", "problem_id"):
        options.pop(written_by_problems, None)
    return apply_flags(options, args)


def apply_flags(options: dict[str, Any], args: argparse.Namespace) -> dict[str, Any]:
    """The grading options with the command line's flags applied over them."""
    options = dict(options)
    if args.format is not None:
        options["format"] = "native" if args.format == "csv" else args.format
    flags = {
        "partial_credit": args.partial_credit,
        "show_expected": args.show_expected,
        "worked_formulas": args.worked_formulas,
        "significant_figures": args.significant_figures,
        "follow_through": args.follow_through,
        "quantities": args.quantities,
        "feedback_format": args.feedback_format,
    }
    options |= {name: value for name, value in flags.items() if value is not None}
    tolerance = dict(options.get("tolerance") or {})
    for name in ("rtol", "atol"):
        if getattr(args, name) is not None:
            tolerance[name] = getattr(args, name)
    if tolerance:
        options["tolerance"] = tolerance
    if args.points is not None or args.points_for:
        points = dict(options.get("points") or {})
        if args.points is not None:
            points["default"] = args.points
        quantities = dict(points.get("quantities") or {})
        for setting in args.points_for or ():
            quantity, _, value = setting.partition("=")
            try:
                quantities[quantity.strip()] = float(value)
            except ValueError:
                raise BadInputError(
                    f'--points-for "{setting}" must be QUANTITY=POINTS, e.g. deltas=2'
                ) from None
        if quantities:
            points["quantities"] = quantities
        options["points"] = points
    return options


def derivative_grade(args: argparse.Namespace) -> int:
    """Grade the derivative in ANSWER against PROBLEM, as POST /v1/derivatives/grade would.

    An answer that cannot be read or parsed is the student's doing, reported as grade reports
    an unreadable submission (0 points, or PrairieLearn's not gradable; exit 0).
    """
    # SymPy's side, imported here only: grading a backprop answer starts without it
    from engine import calculus  # noqa: PLC0415
    from schemas.derivatives import GradeRequest as DerivativeGradeRequest  # noqa: PLC0415
    from schemas.gradebook import unreadable  # noqa: PLC0415

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
        text = decode_text(Path(path).read_bytes())
    except OSError as exc:
        raise BadInputError(f"{path}: cannot be read ({exc.strerror})") from exc
    except ValueError as exc:
        raise BadInputError(f"{path}: {exc}") from exc
    try:
        loaded = json.loads(text)  # not orjson: a lone surrogate is the parser's to point at
    except (json.JSONDecodeError, RecursionError):
        return text.strip()
    if isinstance(loaded, dict):
        answer = loaded.get("answer")
        if not isinstance(answer, str):
            raise BadInputError(f'{path} must hold {{"answer": "the derivative, as text"}}')
        return answer
    return loaded if isinstance(loaded, str) else text.strip()  # 2 is an answer, not JSON


def _problem_flags(args: argparse.Namespace) -> dict[str, Any]:
    """The problem's parameters given as flags (problem's and problems'), those left out left
    out; one --activation is sent as a name, several as a list."""
    flags = {
        "layer_sizes": args.layers,
        "activations": args.activation[0] if len(args.activation or []) == 1 else args.activation,
        "loss": args.loss,
        "batch_size": args.batch_size,
        "decimals": args.decimals,
        "weight_range": args.weight_range,
        "learning_rate": args.learning_rate,
    }
    return {name: value for name, value in flags.items() if value is not None}


def problem(args: argparse.Namespace) -> int:
    """A seeded problem, as POST /v1/problems would give it."""
    body: dict[str, Any] = {"seed": args.seed, "solution": args.solution, "explain": args.explain}
    body |= _problem_flags(args)
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


def problems(args: argparse.Namespace) -> int:
    """Every student of the roster's own problem (JSON) and handout (Markdown, HTML), seeded
    from the course secret and their sid or email (app/course.py), and an index.csv."""
    from app import course  # noqa: PLC0415 (only this command and the autograders need it)

    try:
        per_student, grading = _per_student(args, course)
        secret = course.read_secret(args.secret_file or per_student.secret_file)
        students = course.read_roster(Path(args.roster), per_student.key)
        out = _folder(args.output_dir)
        index = io.StringIO()
        writer = csv.writer(index, lineterminator="\n")
        writer.writerow(["sid", "email", "name", "problem_id", "problem", *args.handout])
        stems: set[str] = set()
        for student in students:
            value = student.value(per_student.key)
            problem = course.problem_for(per_student, secret, value)
            pid = course.problem_id(problem)
            stem = course.file_stem(value)
            if stem in stems:  # two values that differ only in characters a file name drops
                stem = f"{stem}-line{student.line}"
            stems.add(stem)
            record = {
                "problem": problem,
                "problem_id": pid,
                "student": {"sid": student.sid, "email": student.email, "name": student.name},
            }
            _write(record, str(out / f"{stem}.json"))
            handout = course.Handout(
                args.title, student, problem, pid, course.quantities_of(grading)
            )
            files = []
            for kind in args.handout:
                name = f"{stem}.{'md' if kind == 'markdown' else 'html'}"
                text = handout.markdown() if kind == "markdown" else handout.html()
                _write_text(text, str(out / name))
                files.append(name)
            writer.writerow(
                spreadsheet_safe(
                    [student.sid, student.email, student.name, pid, f"{stem}.json", *files]
                )
            )
        _write_text(index.getvalue(), str(out / "index.csv"))
    except course.CourseError as exc:
        _fail(str(exc))
    except BadInputError as exc:
        _fail(str(exc))
    except ValidationError as exc:
        _fail(_problems(exc, "the problem parameters"))
    print(
        f"backprop-service: wrote {len(students)} problems (keyed by {per_student.key}) "
        f"to {out}/, listed in {out / 'index.csv'}",
        file=sys.stderr,
    )
    return 0


def _per_student(args: argparse.Namespace, course: Any) -> tuple[Any, dict[str, Any]]:
    """The per-student settings and grading options: the configuration's (--config), with the
    flags over them."""
    settings: dict[str, Any] = {}
    grading: dict[str, Any] = {}
    if args.config is not None:
        config = course.read_config(Path(args.config))
        if config.problems is None:
            raise BadInputError(
                f'{args.config} has one "problem" for the class, not "problems" per student'
            )
        settings = config.problems.model_dump(exclude_none=True)
        grading = config.grading
        base = Path(args.config).parent
        if "secret_file" in settings:
            settings["secret_file"] = str(base / settings["secret_file"])
    parameters = dict(settings.get("parameters") or {})
    parameters |= _problem_flags(args)
    settings["parameters"] = parameters
    if args.key is not None:
        settings["key"] = args.key
    if args.assignment is not None:
        settings["assignment"] = args.assignment
    if args.quantities is not None:
        grading = {**grading, "quantities": args.quantities}
    try:
        per_student = course.PerStudent.model_validate(settings)
        per_student.check("problems." if args.config is None else f"{args.config}: problems.")
        return per_student, grading
    except ValidationError as exc:
        lines = [
            f"{'.'.join(str(p) for p in e['loc']) or 'problems'}: "
            + str(e["msg"]).removeprefix("Value error, ")
            for e in exc.errors(include_url=False, include_input=False)
        ]
        raise BadInputError("\n".join(lines)) from exc


def autograder(args: argparse.Namespace) -> int:
    """The Gradescope or PrairieLearn harness (app/autograders.py): results.json written."""
    from app import autograders  # noqa: PLC0415 (only this command needs it)

    root = None if args.root is None else Path(args.root)
    config = None if args.config is None else Path(args.config)
    try:
        autograders.run(args.platform, root, config)
    except OSError as exc:
        _fail(f"{exc.filename}: cannot be written ({exc.strerror})")
    return 0
