"""A bad setting is one line naming it and what it accepts, never a traceback; lists are typed
as people type them (comma-separated) or as JSON."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from app import cli
from app.config import ENV_PREFIX, Settings, SettingsError, accepted, get_settings, load_settings

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def environ(monkeypatch: pytest.MonkeyPatch) -> Iterator[pytest.MonkeyPatch]:
    """The environment without BACKPROP_* variables; get_settings reads it afresh."""
    for name in list(os.environ):
        if name.upper().startswith(ENV_PREFIX):
            monkeypatch.delenv(name)
    get_settings.cache_clear()
    yield monkeypatch
    get_settings.cache_clear()


@pytest.mark.parametrize(
    ("value", "origins"),
    [
        ("https://a.example", ["https://a.example"]),
        ("https://a.example,https://b.example", ["https://a.example", "https://b.example"]),
        (" https://a.example , https://b.example, ", ["https://a.example", "https://b.example"]),
        ('["https://a.example", "https://b.example"]', ["https://a.example", "https://b.example"]),
        ("", []),
        ("[]", []),
    ],
)
def test_cors_origins_are_read_comma_separated_or_as_json(
    environ: pytest.MonkeyPatch, value: str, origins: list[str]
) -> None:
    environ.setenv("BACKPROP_CORS_ORIGINS", value)
    assert load_settings().cors_origins == origins


@pytest.mark.parametrize(
    ("variable", "value", "expected"),
    [
        ("BACKPROP_MAX_BODY_BYTES", "32MB", "expected a whole number greater than 0"),
        ("BACKPROP_MAX_BODY_BYTES", "0", "expected a whole number greater than 0"),
        ("BACKPROP_COMPUTE_WAIT_SECONDS", "-1", "expected a number greater than 0"),
        ("BACKPROP_DOCS_ENABLED", "perhaps", "expected true or false"),
        ("BACKPROP_CORS_ORIGINS", '["https://a.example",', "or a JSON list"),
        ("BACKPROP_CORS_ORIGINS", "[1, 2]", "or a JSON list"),
    ],
)
def test_serve_says_what_is_wrong_with_a_setting_in_one_line(
    environ: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    variable: str,
    value: str,
    expected: str,
) -> None:
    environ.setenv(variable, value)
    environ.setattr("uvicorn.run", lambda *a, **k: pytest.fail("served with a bad setting"))
    assert cli.main(["serve"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1, err
    assert err.startswith(f"backprop-service: {variable}={value!r} is not valid: ")
    assert expected in err


def test_a_variable_that_is_no_setting_is_refused_with_the_nearest_name(
    environ: pytest.MonkeyPatch,
) -> None:
    environ.setenv("BACKPROP_CORS_ORIGIN", "https://a.example")
    with pytest.raises(SettingsError) as refused:
        load_settings()
    assert str(refused.value) == (
        "BACKPROP_CORS_ORIGIN is not a setting (did you mean BACKPROP_CORS_ORIGINS?): "
        "docs/deployment.md lists them"
    )


def test_every_bad_setting_has_its_line(environ: pytest.MonkeyPatch) -> None:
    environ.setenv("BACKPROP_MAX_WIDTH", "wide")
    environ.setenv("BACKPROP_MAX_LAYERS", "-3")
    with pytest.raises(SettingsError) as refused:
        load_settings()
    lines = str(refused.value).splitlines()
    assert [line.split("=")[0] for line in lines] == ["BACKPROP_MAX_LAYERS", "BACKPROP_MAX_WIDTH"]


@pytest.mark.parametrize("name", sorted(Settings.model_fields))
def test_every_setting_says_what_it_accepts_in_words(name: str) -> None:
    words = accepted(Settings.model_fields[name])
    assert "<" not in words, words
    assert "[" not in words.split(" or ")[0], words


@pytest.mark.parametrize(
    ("argv", "env", "named"),
    [
        (["serve", "--port", "http"], {}, "--port: the port is 'http'"),
        (["serve"], {"PORT": "80a"}, "--port: the port is '80a' (the flag, or PORT)"),
        (["--workers", "0"], {}, "--workers: the number of workers is '0'"),
        (["serve"], {"WEB_CONCURRENCY": "two"}, "WEB_CONCURRENCY): expected a whole number"),
    ],
)
def test_a_bad_flag_or_server_variable_is_one_line(
    environ: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    argv: list[str],
    env: dict[str, str],
    named: str,
) -> None:
    for name in ("HOST", "PORT", "WEB_CONCURRENCY"):
        environ.delenv(name, raising=False)
    for name, value in env.items():
        environ.setenv(name, value)
    with pytest.raises(SystemExit) as exited:
        cli.main(argv)
    assert exited.value.code == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1, err
    assert named in err


def test_web_concurrency_0_means_the_default(environ: pytest.MonkeyPatch) -> None:
    environ.setenv("WEB_CONCURRENCY", "0")
    args = cli.build_parser().parse_args(["serve"])
    assert args.workers == cli.available_cpus()


@pytest.mark.parametrize(
    "command",
    [
        [str(Path(sys.executable).parent / "backprop-service"), "serve", "--port", "1"],
        [sys.executable, "-c", "import app.main"],  # as uvicorn app.main:app imports it
    ],
    ids=["serve", "import app.main"],
)
def test_no_traceback_from_a_bad_setting(command: list[str]) -> None:
    env = {**os.environ, "BACKPROP_MAX_IN_FLIGHT": "many"}
    done = subprocess.run(
        command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode != 0
    assert done.stderr == (
        "backprop-service: BACKPROP_MAX_IN_FLIGHT='many' is not valid: "
        "expected a whole number greater than 0\n"
    )
