"""The backprop-service command: serve is the default, HOST, PORT and WEB_CONCURRENCY are read."""

from __future__ import annotations

import argparse
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
    assert (served[0].host, served[0].port, served[0].workers) == ("127.0.0.1", 8000, 1)


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
