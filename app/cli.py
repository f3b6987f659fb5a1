"""The ``backprop-service`` command.

    backprop-service --version
    backprop-service [serve] [--host H] [--port P] [--workers N] [--access-log]
    backprop-service grade PROBLEM.json ANSWER.json|FOLDER [--format F] [--output FILE]
                     [--output-dir DIR] [a flag for every grading option]
    backprop-service problem --seed N [--layers 2 3 2] [--solution] [--output FILE]
    backprop-service problems --roster CSV --output-dir DIR [--secret-file F] [--config F]
    backprop-service autograder gradescope|prairielearn [--root DIR] [--config FILE]
    backprop-service backprop REQUEST.json [--explain] [--output FILE]
    backprop-service derivative grade PROBLEM.json ANSWER [--format F] [--output FILE]

``serve`` is the default command. HOST, PORT and WEB_CONCURRENCY in the environment set the
defaults of --host, --port and --workers; the service's own settings are BACKPROP_* variables
(see app/config.py). Each command is a subparser; every command but serve works offline
(app/offline.py), docs/grading.md describes them.

This module imports nothing that loads NumPy: ``serve`` must set the BLAS thread count before
NumPy's BLAS starts, so the service and the offline commands are imported when they run. Nor
does it import the web stack (uvicorn, FastAPI), which only ``serve`` needs: the offline grader
starts without it, and works where it is not installed (Python 3.10, pyproject.toml).
"""

from __future__ import annotations

import argparse
import math
import os
import shutil
import sys
import tempfile
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any, NoReturn

Command = Callable[[argparse.Namespace], int]

EXIT_NO_SERVER = 3
"""serve where the server's packages are not installed (Python 3.10: see pyproject.toml)."""

BLAS_THREAD_VARIABLES = ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS")
"""Each worker runs NumPy's BLAS on one thread unless these say otherwise (see serve)."""


def serve(args: argparse.Namespace) -> int:
    # One BLAS thread per worker process. Requests are the unit of parallelism (workers, and the
    # event loop beside the worker thread); a BLAS pool on top oversubscribes the cores, and its
    # spinning threads made a 784-256-128-10 backprop 2.5 ms on one thread and 96 ms on two on
    # a busy 2-core machine (docs/performance.md). Set before anything imports NumPy.
    for variable in BLAS_THREAD_VARIABLES:
        os.environ.setdefault(variable, "1")
    try:
        import uvicorn  # noqa: PLC0415 (the offline commands never load the web stack)
    except ImportError:
        print(
            "backprop-service: serve needs the server's packages (FastAPI, uvicorn), which are "
            f"installed with Python 3.11 and later; this is Python {sys.version.split()[0]}. "
            "The offline commands (grade, problem, problems, backprop, autograder) work here.",
            file=sys.stderr,
        )
        return EXIT_NO_SERVER
    from app.config import SettingsError  # noqa: PLC0415 (after the BLAS threads are set)

    try:  # the settings, checked here: a bad one is a line, not a traceback from each worker
        options = uvicorn_options(args)
        with metrics_directory(args.workers):
            uvicorn.run("app.main:app", **options)
    except (SettingsError, MetricsDirectoryError) as exc:
        for line in str(exc).splitlines():
            print(f"backprop-service: {line}", file=sys.stderr)
        return 2
    return 0


MULTIPROC_DIR = "PROMETHEUS_MULTIPROC_DIR"


class MetricsDirectoryError(OSError):
    """No directory for the metrics of several workers."""


@contextmanager
def metrics_directory(workers: int) -> Iterator[None]:
    """Where several worker processes keep their metrics, for /metrics to add them up
    (prometheus-client's multiprocess mode, app/metrics.py): PROMETHEUS_MULTIPROC_DIR when it is
    set, emptied of an earlier run's files first, as prometheus-client asks; otherwise, with
    more than one worker, a temporary directory made here (in /dev/shm when there is no
    writable temporary directory, as in a read-only container) and removed at the end."""
    given = os.environ.get(MULTIPROC_DIR)
    if given:
        if not Path(given).is_dir():
            raise MetricsDirectoryError(f"{MULTIPROC_DIR}={given!r} is not a directory")
        for stale in Path(given).glob("*.db"):
            stale.unlink()
        yield
        return
    if workers == 1:  # one process keeps its metrics in memory
        yield
        return
    path = _temporary_directory("backprop-metrics-")
    os.environ[MULTIPROC_DIR] = path  # the workers inherit it
    try:
        yield
    finally:
        del os.environ[MULTIPROC_DIR]
        shutil.rmtree(path, ignore_errors=True)


def _temporary_directory(prefix: str) -> str:
    for where in (None, "/dev/shm"):  # noqa: S108 (mkdtemp makes a new directory, mode 700)
        with suppress(OSError):
            return tempfile.mkdtemp(prefix=prefix, dir=where)
    raise MetricsDirectoryError(
        "several workers need a writable directory for their metrics: set "
        f"{MULTIPROC_DIR}, or give the server a writable /tmp (or /dev/shm)"
    )


def uvicorn_options(args: argparse.Namespace) -> dict[str, Any]:
    """uvicorn's settings for ``serve``; the benchmark serves its bare ASGI app with the same."""
    from app import logs  # noqa: PLC0415 (after serve has set the BLAS threads)
    from app.config import get_settings  # noqa: PLC0415

    settings = get_settings()
    return {
        "host": args.host,
        "port": args.port,
        "workers": args.workers,
        "loop": "uvloop",
        "http": "app.server:GuardedHttpToolsProtocol",
        "access_log": False,  # the service's own, with the request's id and route (app/logs.py)
        "log_config": logs.config(settings.log_format, access_log=args.access_log),
        "server_header": False,
        "log_level": args.log_level,
        "timeout_keep_alive": settings.keep_alive_seconds,  # kept by app/server.py's clock
        "limit_concurrency": None,  # max_connections is app/server.py's, with a JSON 503
        "timeout_graceful_shutdown": settings.graceful_shutdown_seconds,
    }


CGROUP_CPU_LIMITS = (
    (Path("/sys/fs/cgroup/cpu.max"), None),  # cgroup v2: "QUOTA PERIOD", or "max PERIOD"
    (Path("/sys/fs/cgroup/cpu/cpu.cfs_quota_us"), Path("/sys/fs/cgroup/cpu/cpu.cfs_period_us")),
)
"""Where a container's CPU limit (docker --cpus, a Kubernetes CPU limit) can be read."""


def available_cpus(limits: Sequence[tuple[Path, Path | None]] = CGROUP_CPU_LIMITS) -> int:
    """The CPUs this process may use: those it may run on, fewer if a CPU quota says so.

    os.cpu_count() counts the machine's CPUs, also inside a container that may use one; a
    quota of 1.5 CPUs counts as 2. The service's work is CPU-bound, one request per worker at a
    time, so this is its default number of workers.
    """
    cpus = len(os.sched_getaffinity(0))
    quota = cgroup_cpu_quota(limits)
    return max(1, cpus if quota is None else min(cpus, math.ceil(quota)))


def cgroup_cpu_quota(limits: Sequence[tuple[Path, Path | None]]) -> float | None:
    """The CPU quota of this process's cgroup, in CPUs, or None where there is none."""
    for quota_file, period_file in limits:
        try:
            text = quota_file.read_text().split()
            if period_file is not None:  # cgroup v1: quota and period in two files
                text.extend(period_file.read_text().split())
            quota, period = text
            return None if quota in ("max", "-1") else int(quota) / int(period)
        except (OSError, ValueError, ZeroDivisionError):  # noqa: PERF203 (not there, or not what it should be)
            continue
    return None


class _Version(argparse.Action):
    """--version: the installed version, looked up only when asked for."""

    def __init__(self, option_strings: Sequence[str], dest: str, **kwargs: Any) -> None:
        super().__init__(option_strings, dest, nargs=0, **kwargs)

    def __call__(self, parser: argparse.ArgumentParser, *args: Any, **kwargs: Any) -> None:
        from app.version import service_version  # noqa: PLC0415 (only when asked)

        print(f"{parser.prog} {service_version()}")
        parser.exit()


class _Parser(argparse.ArgumentParser):
    """argparse's parser, saying what is wrong in one line (not the usage, then the error)."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: {message} (see {self.prog} --help)\n")


def _whole_number(what: str, variable: str, least: int, most: int | None = None) -> Any:
    """An argparse type: a whole number in [least, most], from the flag or its variable."""
    bounds = f"from {least} to {most}" if most is not None else f"of at least {least}"

    def parse(text: str) -> int:
        try:
            number = int(text)
        except ValueError:
            number = least - 1
        if number < least or (most is not None and number > most):
            raise argparse.ArgumentTypeError(
                f"{what} is {text!r} (the flag, or {variable}): expected a whole number {bounds}"
            )
        return number

    return parse


def _unless_zero(text: str | None) -> str | None:
    """An environment variable's value, None when unset, empty or 0 (which mean the default)."""
    return None if text is None or text.strip() in ("", "0") else text


def _add_serve(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = commands.add_parser("serve", help="serve the HTTP API (the default command)")
    parser.add_argument(
        "--host",
        default=os.environ.get("HOST", "127.0.0.1"),
        help="interface to bind (env HOST; default 127.0.0.1)",
    )
    parser.add_argument(  # a string default is parsed by the type, when serve runs
        "--port",
        type=_whole_number("the port", "PORT", 1, 65535),
        default=os.environ.get("PORT", "8000"),
        help="port to listen on (env PORT; default 8000)",
    )
    parser.add_argument(
        "--workers",
        type=_whole_number("the number of workers", "WEB_CONCURRENCY", 1),
        default=_unless_zero(os.environ.get("WEB_CONCURRENCY")) or available_cpus(),
        help="worker processes (env WEB_CONCURRENCY; default: the CPUs this process may use)",
    )
    parser.add_argument(
        "--access-log",
        action="store_true",
        help="log every request: route, method, path, status, duration and request id",
    )
    parser.add_argument(
        "--log-level", default="info", choices=["critical", "error", "warning", "info", "debug"]
    )
    parser.set_defaults(run=serve)


def _offline(name: str) -> Command:
    """The offline command ``name`` of app/offline.py, imported when it runs."""

    def run(args: argparse.Namespace) -> int:
        from app import offline  # noqa: PLC0415 (loads NumPy: see the module's docstring)

        command: Command = getattr(offline, name)
        return command(args)

    return run


def _add_output(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--output", "-o", metavar="FILE", help="write here instead of stdout")


def add_grading_flags(parser: argparse.ArgumentParser) -> None:
    """The flags of every GradingOptions option; each overrides PROBLEM.json's setting, and
    what neither sets has the default of POST /v1/grade (docs/grading.md)."""
    flags = parser.add_argument_group("grading options (override PROBLEM.json)")
    flags.add_argument(
        "--quantities",
        nargs="+",
        metavar="Q",
        help="what the exercise asks for: loss outputs pre_activations activations deltas "
        "weight_gradients bias_gradients updated_weights updated_biases (default: all nine)",
    )
    flags.add_argument("--rtol", type=float, help="relative tolerance (default 0.01)")
    flags.add_argument("--atol", type=float, help="absolute tolerance (default 0.0001)")
    flags.add_argument("--points", type=float, metavar="N", help="points of each item (default 1)")
    flags.add_argument(
        "--points-for",
        nargs="+",
        metavar="Q=N",
        help="points of each item of a quantity, e.g. deltas=2 weight_gradients=2",
    )
    flags.add_argument(
        "--partial-credit",
        action=argparse.BooleanOptionalAction,
        help="a failed item earns the share of its entries within tolerance (default: no)",
    )
    flags.add_argument(
        "--show-expected",
        action=argparse.BooleanOptionalAction,
        help="feedback shows expected values and worked formulas (default: yes); "
        "--no-show-expected for graded work with resubmissions",
    )
    flags.add_argument(
        "--hide-expected",
        dest="show_expected",
        action="store_false",
        default=None,
        help="the same as --no-show-expected",
    )
    flags.add_argument(
        "--significant-figures",
        type=int,
        metavar="N",
        help="also accept entries rounded to the digits written, when at least N (default: off)",
    )
    flags.add_argument(
        "--follow-through",
        action=argparse.BooleanOptionalAction,
        help="credit an item right given the student's own earlier answer (default: no)",
    )
    flags.add_argument(
        "--worked-formulas",
        action=argparse.BooleanOptionalAction,
        help="feedback shows the worst entry's worked formula (default: yes, with --show-expected)",
    )
    flags.add_argument(
        "--feedback-format",
        choices=["text", "html", "markdown"],
        help="text (default), or the report drawn on the network in HTML or Markdown",
    )


def _add_grade(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = commands.add_parser(
        "grade",
        help="grade a student's answer, or a folder of answers, offline, as POST /v1/grade",
        description="PROBLEM is a /v1/backprop request, or a /v1/grade request without its "
        'submission ({"problem": ..., "quantities": ..., "points": ...}), or what problem and '
        "problems write; ANSWER is the student's answer (any part of a /v1/backprop answer), "
        "or a folder whose *.json answers are all graded in this one process. The exit status "
        "is 0 whenever the answers could be graded, unreadable ones included (their report "
        "says why), 2 for a bad PROBLEM or option.",
    )
    parser.add_argument("problem", metavar="PROBLEM.json")
    parser.add_argument("submission", metavar="ANSWER", help="ANSWER.json, or a FOLDER of them")
    parser.add_argument(
        "--format",
        choices=["native", "gradescope", "prairielearn", "csv"],
        help="a report (default native), or csv: a gradebook, one row per answer",
    )
    parser.add_argument(
        "--output",
        "-o",
        metavar="FILE",
        help="write the report (or the csv gradebook) here instead of stdout; for a folder "
        "graded in a report format, the csv gradebook",
    )
    parser.add_argument(
        "--output-dir",
        metavar="DIR",
        help="for a folder: one results file per answer, named as the answer",
    )
    add_grading_flags(parser)
    parser.set_defaults(run=_offline("grade"))


def _add_problem(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = commands.add_parser(
        "problem", help="a seeded problem for one student, as POST /v1/problems"
    )
    parser.add_argument("--seed", type=int, required=True, help="e.g. a student number")
    _add_problem_parameters(parser)
    parser.add_argument("--solution", action="store_true", help="add the /v1/backprop answer")
    parser.add_argument("--explain", action="store_true", help="add worked formulas to it")
    _add_output(parser)
    parser.set_defaults(run=_offline("problem"))


def _add_problem_parameters(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--layers", type=int, nargs="+", metavar="N", help="default: 2 2 2")
    parser.add_argument(
        "--activation", nargs="+", metavar="NAME", help="one for all layers, or one per layer"
    )
    parser.add_argument("--loss", metavar="NAME", help="default: mse")
    parser.add_argument("--batch-size", type=int, help="samples (default 1)")
    parser.add_argument("--decimals", type=int, help="decimal places of the numbers (default 1)")
    parser.add_argument("--weight-range", type=float, help="numbers in [-R, R] (default 1)")
    parser.add_argument("--learning-rate", type=float, help="default: 0.5")


def _add_problems(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = commands.add_parser(
        "problems",
        help="a seeded problem and a printable handout for every student of a roster",
        description="Each student's problem is seeded from their email (or sid, --key sid) and "
        "the course secret (HMAC-SHA256; --secret-file, or $BACKPROP_COURSE_SECRET), so that "
        "the autograders give them the same numbers (docs/grading.md). Writes, in "
        "--output-dir, KEY.json (the problem, for `grade`), KEY.md and KEY.html (the handout) "
        "per student, and index.csv. The secret is never printed.",
    )
    parser.add_argument(
        "--roster", required=True, metavar="CSV", help="columns sid, email, name (any case)"
    )
    parser.add_argument("--output-dir", required=True, metavar="DIR")
    parser.add_argument("--secret-file", metavar="FILE", help="default: $BACKPROP_COURSE_SECRET")
    parser.add_argument(
        "--config",
        metavar="autograder.json",
        help="take the parameters, key, assignment, secret file and quantities from the "
        'autograder\'s configuration (its "problems" and "grading"); the flags override it',
    )
    parser.add_argument("--key", choices=["email", "sid"], help="seed from (default: email)")
    parser.add_argument(
        "--assignment", metavar="NAME", help="a new name gives everyone a new problem (default '')"
    )
    parser.add_argument("--title", default="Backpropagation exercise", help="the handout's title")
    parser.add_argument(
        "--handout",
        nargs="*",
        choices=["markdown", "html"],
        default=["markdown", "html"],
        help="which handouts to write (default: both; none with --handout alone)",
    )
    parser.add_argument(
        "--quantities", nargs="+", metavar="Q", help="what the handout asks for (default: all)"
    )
    _add_problem_parameters(parser)
    parser.set_defaults(run=_offline("problems"))


def _add_autograder(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = commands.add_parser(
        "autograder",
        help="grade a submission in Gradescope's or PrairieLearn's layout (results.json)",
        description="Reads the configuration (autograder.json), the student's file and, for "
        "per-student problems, Gradescope's submission_metadata.json; writes "
        "ROOT/results/results.json. Problems with the student's file are said there; so is a "
        "broken configuration (and on stderr). See docs/gradescope-autograder/ and "
        "docs/prairielearn-grader/.",
    )
    parser.add_argument("platform", choices=["gradescope", "prairielearn"])
    parser.add_argument(
        "--root",
        metavar="DIR",
        help="the job's root folder (default /autograder for Gradescope, /grade for PrairieLearn)",
    )
    parser.add_argument(
        "--config",
        metavar="FILE",
        help="default ROOT/source/autograder.json (Gradescope), ROOT/tests/autograder.json "
        "(PrairieLearn)",
    )
    parser.set_defaults(run=_offline("autograder"))


def _add_backprop(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = commands.add_parser("backprop", help="answer a /v1/backprop request offline")
    parser.add_argument(
        "request", metavar="REQUEST.json", help="a /v1/backprop request, or what problem wrote"
    )
    parser.add_argument("--explain", action="store_true", help="add worked formulas")
    _add_output(parser)
    parser.set_defaults(run=_offline("backprop"))


def _add_derivative(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = commands.add_parser("derivative", help="derivatives offline (grade)")
    derivative = parser.add_subparsers(title="commands", metavar="COMMAND", required=True)
    grade = derivative.add_parser(
        "grade",
        help="grade a student's derivative offline, as POST /v1/derivatives/grade",
        description="PROBLEM is a /v1/derivatives/grade request without its answer "
        '({"function": "x^2*sin(x)", "domain": ..., "max_score": ...}); ANSWER is a file '
        'holding the student\'s derivative: its text, a JSON string, or {"answer": "..."}.',
    )
    grade.add_argument("problem", metavar="PROBLEM.json")
    grade.add_argument("answer", metavar="ANSWER")
    grade.add_argument(
        "--format", choices=["native", "gradescope", "prairielearn"], help="default: native"
    )
    _add_output(grade)
    grade.set_defaults(run=_offline("derivative_grade"))


def build_parser() -> argparse.ArgumentParser:
    parser: argparse.ArgumentParser = _Parser(
        prog="backprop-service",
        description="Backpropagation as a service: forward pass, loss, deltas and gradients.",
    )
    parser.add_argument("--version", action=_Version, help="print the version and exit")
    commands = parser.add_subparsers(title="commands", metavar="COMMAND")
    _add_serve(commands)
    _add_grade(commands)
    _add_problem(commands)
    _add_problems(commands)
    _add_autograder(commands)
    _add_backprop(commands)
    _add_derivative(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args_list = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser()
    if not args_list or (
        args_list[0].startswith("-") and args_list[0] not in ("-h", "--help", "--version")
    ):
        args_list.insert(0, "serve")
    args = parser.parse_args(args_list)
    run: Command = args.run
    return run(args)


if __name__ == "__main__":
    raise SystemExit(main())
