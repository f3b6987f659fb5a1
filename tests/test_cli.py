"""The backprop-service command: serve is the default, HOST, PORT and WEB_CONCURRENCY are read."""

from __future__ import annotations

import argparse
import os
from pathlib import Path
from typing import Any

import pytest

from app import cli


@pytest.fixture
def served(monkeypatch: pytest.MonkeyPatch) -> list[argparse.Namespace]:
    calls: list[argparse.Namespace] = []

    def fake_serve(args: argparse.Namespace) -> int:
        calls.append(args)
        return 0

    monkeypatch.setattr(cli, "serve", fake_serve)
    return calls


def run(argv: list[str], monkeypatch: pytest.MonkeyPatch, **env: str) -> Any:
    for name in ("HOST", "PORT", "WEB_CONCURRENCY"):
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    return cli.main(argv)


def test_serve_is_the_default_command(
    served: list[argparse.Namespace], monkeypatch: pytest.MonkeyPatch
) -> None:
    assert run([], monkeypatch) == 0
    assert (served[0].host, served[0].port) == ("127.0.0.1", 8000)
    assert served[0].workers == cli.available_cpus()


def test_options_without_a_command_go_to_serve(
    served: list[argparse.Namespace], monkeypatch: pytest.MonkeyPatch
) -> None:
    run(["--port", "9001", "--workers", "2"], monkeypatch)
    assert (served[0].port, served[0].workers) == (9001, 2)


def test_environment_sets_the_defaults(
    served: list[argparse.Namespace], monkeypatch: pytest.MonkeyPatch
) -> None:
    run(["serve"], monkeypatch, HOST="0.0.0.0", PORT="9100", WEB_CONCURRENCY="3")
    assert (served[0].host, served[0].port, served[0].workers) == ("0.0.0.0", 9100, 3)


def test_a_flag_beats_the_environment(
    served: list[argparse.Namespace], monkeypatch: pytest.MonkeyPatch
) -> None:
    run(["serve", "--port", "9200"], monkeypatch, PORT="9100")
    assert served[0].port == 9200


def test_help_lists_the_commands(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        cli.main(["--help"])
    assert exit_info.value.code == 0
    assert "serve" in capsys.readouterr().out


def cgroup(tmp_path: Path, v2: str | None = None, v1: tuple[str, str] | None = None) -> Any:
    """CGROUP_CPU_LIMITS pointing at files under tmp_path that hold these limits."""
    cpu_max, quota_us, period_us = (tmp_path / n for n in ("cpu.max", "quota_us", "period_us"))
    if v2 is not None:
        cpu_max.write_text(v2)
    if v1 is not None:
        quota_us.write_text(v1[0])
        period_us.write_text(v1[1])
    return [(cpu_max, None), (quota_us, period_us)]


@pytest.mark.parametrize(
    ("v2", "v1", "quota"),
    [
        ("max 100000\n", None, None),  # cgroup v2 without a limit
        ("150000 100000\n", None, 1.5),  # docker run --cpus 1.5
        (None, ("-1\n", "100000\n"), None),  # cgroup v1 without a limit
        (None, ("50000\n", "100000\n"), 0.5),
        ("garbage", ("200000\n", "100000\n"), 2.0),  # an unreadable v2 file: v1 is read
        (None, None, None),  # no cgroup files at all
    ],
)
def test_the_cpu_quota_is_read_from_cgroup_v2_or_v1(
    tmp_path: Path, v2: str | None, v1: tuple[str, str] | None, quota: float | None
) -> None:
    assert cli.cgroup_cpu_quota(cgroup(tmp_path, v2, v1)) == quota


def test_the_default_workers_are_the_cpus_a_quota_leaves_rounded_up(tmp_path: Path) -> None:
    cpus = len(os.sched_getaffinity(0))
    assert cli.available_cpus(cgroup(tmp_path, v2="max 100000")) == cpus
    assert cli.available_cpus(cgroup(tmp_path, v2="50000 100000")) == 1
    assert cli.available_cpus(cgroup(tmp_path, v2=f"{cpus * 100000 - 1} 100000")) == cpus
