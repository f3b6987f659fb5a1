"""The offline grader as a TA runs it: a folder of answers in one process, and one answer.

    .venv/bin/python -m bench.offline [--quick]

Folder mode: `backprop-service grade problem.json answers/` on a class of answers to the
seeded 4-8-8-3 problem of bench/grade_batch.py (right answers, sign errors and slips, in turn),
once as a csv gradebook and once as one Gradescope results file per answer. The rate is
answers per second of the whole command, its start-up included: what the TA waits for.
Target: at least 300 answers a second.

The single-file command: `backprop-service grade problem.json answer.json --output
results.json`, from start to exit (the median of several runs), which is mostly imports:
target at most 0.4 s.

Both run this venv's console script as a subprocess, one process on one core, and are judged
by its CPU time (user + system): on an idle machine that is its wall time, and unlike the wall
time it holds still when other work loads the machine (as bench/tiny.py judges the server).
The wall times are shown beside.
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from bench.grade_batch import PROBLEM, answers
from bench.servers import BIN
from bench.table import Row

FOLDER_TARGET = 300.0
"""Answers graded per second in folder mode, start-up included."""

SINGLE_TARGET = 0.4
"""Seconds for the single-file command, start to exit."""

CLI = str(BIN / "backprop-service")


def write_class(folder: Path, count: int) -> Path:
    """problem.json and answers/ of ``count`` answers under folder; the problem's path."""
    # imported here: NumPy loads after the runner has pinned its threads
    from app import services
    from schemas.problems import ProblemRequest

    generated = services.problems(ProblemRequest.model_validate({**PROBLEM, "solution": True}))
    solution = json.loads(services.dumps(generated["solution"]))
    problem = folder / "problem.json"
    problem.write_text(json.dumps(generated["problem"]))
    (folder / "answers").mkdir()
    for i, answer in enumerate(answers(solution, count)):
        (folder / "answers" / f"s{i:04d}.json").write_text(json.dumps(answer))
    return problem


@dataclass(frozen=True)
class Timed:
    wall: float
    cpu: float


def timed(*command: str | Path) -> Timed:
    """The command's wall time, and its CPU time (user + system), children included."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    subprocess.run([str(c) for c in command], check=True, capture_output=True, timeout=600)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return Timed(wall, cpu)


def measure(*, quick: bool) -> dict[str, float]:
    count = 300 if quick else 600
    rounds = 1 if quick else 3
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        problem = write_class(folder, count)
        answers_dir = folder / "answers"
        as_csv: list[str | Path] = [
            CLI,
            "grade",
            problem,
            answers_dir,
            "--format",
            "csv",
            "-o",
            folder / "b.csv",
        ]
        csv_runs = [timed(*as_csv) for _ in range(rounds)]
        reports: list[str | Path] = [CLI, "grade", problem, answers_dir, "--format",
                                     "gradescope", "--output-dir", folder / "results"]  # fmt: skip
        report_runs = [timed(*reports) for _ in range(rounds)]
        one: list[str | Path] = [
            CLI,
            "grade",
            problem,
            answers_dir / "s0001.json",
            "-o",
            folder / "r.json",
        ]
        single = [timed(*one) for _ in range(5 if quick else 15)]
    return {
        "answers": count,
        "folder_csv_cpu": min(r.cpu for r in csv_runs),
        "folder_csv_wall": min(r.wall for r in csv_runs),
        "folder_reports_cpu": min(r.cpu for r in report_runs),
        "folder_reports_wall": min(r.wall for r in report_runs),
        "single_cpu": statistics.median(r.cpu for r in single),
        "single_wall": statistics.median(r.wall for r in single),
    }


def rows(quick: bool) -> list[Row]:
    """The offline grader's rows of `make bench`'s table."""
    m = measure(quick=quick)
    count = int(m["answers"])
    rows = []
    for what, kind in (("csv gradebook", "csv"), ("a Gradescope results.json each", "reports")):
        cpu, wall = m[f"folder_{kind}_cpu"], m[f"folder_{kind}_wall"]
        rate = count / cpu
        rows.append(
            Row(
                f"offline folder mode: {count} answers to a 4-8-8-3 problem in one process, "
                f"{what}, start-up included (CPU time; wall {wall:.2f} s)",
                f"{rate:.0f} answers/s",
                f"target {FOLDER_TARGET:.0f}/s",
                rate / FOLDER_TARGET,
                ">= 1.0x",
                rate >= FOLDER_TARGET,
            )
        )
    single = m["single_cpu"]
    rows.append(
        Row(
            "offline single answer: grade problem.json answer.json, start to exit, median "
            f"(CPU time; wall {m['single_wall'] * 1e3:.0f} ms)",
            f"{single * 1e3:.0f} ms",
            f"target {SINGLE_TARGET * 1e3:.0f} ms",
            single / SINGLE_TARGET,
            "<= 1.0x",
            single <= SINGLE_TARGET,
        )
    )
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    from bench.table import render

    print(render(rows(args.quick), "the offline grader"))


if __name__ == "__main__":
    main()
