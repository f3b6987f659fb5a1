"""The SymPy workers: ready before the first student's answer, and working where no temporary
directory can be written (a container run --read-only as a non-root user)."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from engine import calculus
from engine.calculus import SympyCheck
from engine.calculus.workers import Workers

ROOT = Path(__file__).resolve().parent.parent

GRADE_WITHOUT_TMP = textwrap.dedent(
    """
    import json, sys, tempfile

    # No usable temporary directory: multiprocessing's fork server (a Unix socket in a
    # temporary directory) cannot start, as in `docker run --read-only --user 10001`.
    tempfile.tempdir = sys.argv[1]

    from app.services import grade_derivative as grade
    from engine import calculus
    from schemas.derivatives import GradeRequest

    if __name__ == "__main__":
        try:
            tempfile.mkdtemp()
            sys.exit("the temporary directory should not be usable here")
        except OSError:
            pass
        ready = calculus.warm_up()
        body = {"function": "tanh(x)", "answer": "sech(x)^2"}
        (item,) = grade(GradeRequest.model_validate(body))["items"]
        print(json.dumps({
            "ready": ready,
            "start_method": calculus.sympy_check().workers.start_method,
            "status": item["status"],
            "symbolic": item["symbolic"],
        }))
    """
)


def test_grading_works_without_a_writable_temporary_directory(tmp_path: Path) -> None:
    """The fork server needs a temporary directory; without one, workers are spawned."""
    blocker = tmp_path / "a-file"
    blocker.write_text("not a directory")
    unusable = blocker / "tmp"  # unwritable for root too: its parent is a file
    script = tmp_path / "grade_without_tmp.py"
    script.write_text(GRADE_WITHOUT_TMP)
    env = {"PYTHONPATH": str(ROOT), "TMPDIR": str(unusable), "PATH": "/usr/bin:/bin"}
    done = subprocess.run(
        [sys.executable, str(script), str(unusable)],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
        cwd=tmp_path,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    outcome = json.loads(done.stdout)
    assert outcome == {
        "ready": True,
        "start_method": "spawn",
        "status": "passed",
        "symbolic": "equal",
    }


@pytest.fixture
def check() -> SympyCheck:
    return SympyCheck(timeout=20.0, processes=2)


def test_warm_up_starts_every_worker_and_proves_it_answers(check: SympyCheck) -> None:
    try:
        assert check.warm_up()
        assert len(check.workers._idle) == 2
        assert all(worker.process.is_alive() for worker in check.workers._idle)
        pids = {worker.process.pid for worker in check.workers._idle}
        assert check.warm_up()  # again: the same workers answer
        assert {worker.process.pid for worker in check.workers._idle} == pids
    finally:
        check.close()


def test_warm_up_says_no_when_a_worker_cannot_answer(check: SympyCheck) -> None:
    """A worker that dies on start (its module cannot be imported) makes warm_up False."""
    check.workers = Workers("engine.calculus.no_such_module:compare", processes=1)
    try:
        assert check.warm_up(timeout=20.0) is False
    finally:
        check.close()


def test_warm_up_says_no_when_no_process_can_start(
    check: SympyCheck, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Neither the fork server nor spawn can start a process: warm_up is False, never raises,
    and a grade falls back to the numbers instead of failing."""

    def cannot_start(*_args: object) -> None:
        raise OSError(30, "Read-only file system")

    monkeypatch.setattr(check.workers, "_start_with", cannot_start)
    try:
        assert check.warm_up(timeout=5.0) is False
        assert check(calculus.parse("x"), calculus.parse("x"), 1.0) == "unavailable"
        verdict = calculus.check_equivalence(
            calculus.parse("2*x"), calculus.parse("x + x"), domain={}, symbolic=check
        )
        assert verdict.equivalent
        assert verdict.symbolic == "unavailable"
    finally:
        check.close()


def test_a_worker_killed_at_its_deadline_is_replaced_at_once() -> None:
    """Its successor is started when it is killed, not when the next call comes."""
    workers: Workers[float, None] = Workers("time:sleep", processes=1)
    try:
        assert workers.run(0.0, 20.0).status == "done"
        (first,) = workers._idle
        assert workers.run(600.0, 0.5).status == "timed_out"
        (successor,) = workers._idle
        assert successor.process.pid != first.process.pid
        assert successor.process.is_alive()
        assert not first.process.is_alive()
    finally:
        workers.close()


def test_the_process_wide_warm_up_is_the_one_grading_uses() -> None:
    assert calculus.warm_up()
    assert calculus.sympy_check().workers._idle


def test_a_workers_start_is_not_counted_in_the_deadline() -> None:
    """A worker that takes 1 s to get ready still answers a call whose deadline is 0.3 s:
    a verdict must not depend on whether the worker had just started."""
    workers: Workers[float, None] = Workers("time:sleep", processes=1, warm=1.0)
    try:
        first = workers.run(0.0, 0.3)
        assert first.status == "done"
        assert first.seconds >= 1.0  # it waited for the start, then had its 0.3 s
        assert workers.run(600.0, 0.3).status == "timed_out"  # the work itself is still bounded
    finally:
        workers.close()


def test_a_worker_that_never_gets_ready_fails_the_call() -> None:
    workers: Workers[float, None] = Workers(
        "time:sleep", processes=1, warm=600.0, start_timeout=1.0
    )
    try:
        assert workers.run(0.0, 5.0).status == "failed"
    finally:
        workers.close()


def test_a_busy_server_stays_ready(check: SympyCheck) -> None:
    """While both workers are busy the whole time, warm_up cannot ask them: the last proof
    stands, so a readiness probe does not turn a loaded server away."""
    try:
        assert check.warm_up()
        hard = calculus.parse("(x + 1)^300*(x - 1)^300 - (x^2 - 1)^300 + sin(x)^2")
        check.timeout = 1.5
        with ThreadPoolExecutor(2) as pool:
            busy = [pool.submit(check, hard, calculus.parse("sin(x)^2"), 1.0) for _ in range(2)]
            time.sleep(0.5)
            assert check.warm_up(timeout=0.2) is True
            assert [job.result() for job in busy] == ["timed_out", "timed_out"]
        assert check.warm_up()  # the successors answer
    finally:
        check.close()
