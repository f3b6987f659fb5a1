"""The version: GET /v1/version, the OpenAPI document and `backprop-service --version` say the
installed one, which is pyproject.toml's."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
import tomllib

from app import cli

ROOT = Path(__file__).resolve().parent.parent
VERSION = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["version"]


@pytest.mark.anyio
async def test_the_version_endpoint_and_openapi_say_the_installed_version(
    client: httpx.AsyncClient,
) -> None:
    assert (await client.get("/v1/version")).json() == {"version": VERSION}
    openapi = (await client.get("/openapi.json")).json()
    assert openapi["info"]["version"] == VERSION
    assert "/v1/version" in openapi["paths"]


def test_the_command_says_its_version(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        cli.main(["--version"])
    assert exited.value.code == 0
    assert capsys.readouterr().out == f"backprop-service {VERSION}\n"


@pytest.mark.anyio
@pytest.mark.parametrize("path", ["/healthz", "/readyz"])
async def test_the_health_probes_answer_head(client: httpx.AsyncClient, path: str) -> None:
    get, head = await client.get(path), await client.head(path)
    assert (get.status_code, head.status_code) == (200, 200)
    assert head.headers["content-length"] == get.headers["content-length"]
    assert head.headers["content-type"] == get.headers["content-type"]
