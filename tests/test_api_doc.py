"""docs/api.md, the contract, stays true: its worked example, its endpoints, its defaults."""

from __future__ import annotations

import json
import re
from pathlib import Path

import httpx
import pytest

from app.main import create_app
from schemas.problems import ProblemRequest

pytestmark = pytest.mark.anyio

ROOT = Path(__file__).resolve().parent.parent
API = (ROOT / "docs" / "api.md").read_text()


def section(title: str) -> str:
    """The text of the section whose heading starts with ``title``, up to the next heading."""
    found = re.search(rf"^##+ {re.escape(title)}.*?\n(.*?)(?=^## )", API, re.DOTALL | re.MULTILINE)
    assert found is not None, f"docs/api.md has no section {title!r}"
    return found.group(1)


async def test_the_worked_example_gets_the_answer_shown(client: httpx.AsyncClient) -> None:
    request, answer = re.findall(r"```json\n(.*?)\n```", section("The worked example"), re.DOTALL)
    response = await client.post("/v1/backprop", json=json.loads(request))
    assert response.json() == json.loads(answer)


def test_every_endpoint_is_in_the_contract() -> None:
    paths = set(create_app().openapi()["paths"])
    for path in paths:
        assert f"`{path}" in API or f"{path}`" in API, f"docs/api.md does not mention {path}"
    documented = set(re.findall(r"`(?:POST|GET) (/[\w/]+)`", API))
    unknown = documented - paths
    assert not unknown, f"docs/api.md names endpoints the service lacks: {unknown}"


def test_the_problems_defaults_are_the_code_s() -> None:
    rows = dict(re.findall(r"^\| `(\w+)` \| `([^`]+)` \|", section("POST /v1/problems"), re.M))
    fields = ProblemRequest.model_fields
    assert set(rows) == set(fields) - {"seed"}
    for name, written in rows.items():
        assert json.loads(written) == fields[name].get_default(call_default_factory=True), name


def test_the_grading_guide_shows_the_problems_defaults() -> None:
    """docs/grading.md: "Every parameter but the seed has the default shown"."""
    guide = (ROOT / "docs" / "grading.md").read_text()
    found = re.search(r"## POST /v1/problems\n\n```json\n(.*?)\n```", guide, re.DOTALL)
    assert found is not None
    shown = json.loads(found.group(1))
    defaults = ProblemRequest.model_fields
    for name, value in shown.items():
        if name != "seed":
            assert value == defaults[name].get_default(call_default_factory=True), name
    assert set(shown) == set(defaults)


def test_nothing_points_at_the_old_spec_file() -> None:
    """The contract is docs/api.md: no doc, code comment or test names the old spec file."""
    folders = ("docs", "app", "schemas", "engine", "backprop_client", "tests", "scripts", "bench")
    files = [ROOT / "README.md", *(f for d in folders for f in sorted((ROOT / d).rglob("*")))]
    old = "SPEC" + ".md"  # spelt so that this file does not name it
    for path in files:
        if path.suffix in (".md", ".py", ".js", ".html", ".yaml", ".txt"):
            assert old not in path.read_text(), f"{path.relative_to(ROOT)} refers to {old}"
