"""/playground serves the page and its files, and nothing of theirs comes from another host.

The page itself is tested in Chromium by tests/test_playground_browser.py (make browser-test).
"""

from __future__ import annotations

import re
from importlib.resources import files

import httpx
import pytest

from schemas import SPEC_EXAMPLE

pytestmark = pytest.mark.anyio

FOLDER = files("app").joinpath("static", "playground")
SVG_NAMESPACE = "http://www.w3.org/2000/svg"  # a name, never fetched


async def test_the_page_is_served_with_a_policy_that_allows_this_origin_only(
    client: httpx.AsyncClient,
) -> None:
    response = await client.get("/playground")
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/html; charset=utf-8"
    policy = response.headers["content-security-policy"]
    assert "default-src 'none'" in policy
    assert "connect-src 'self'" in policy
    assert "script-src 'self';" in policy  # no inline script, no eval
    assert '<script type="module" src="playground/main.js">' in response.text


async def test_every_file_the_page_loads_is_served(client: httpx.AsyncClient) -> None:
    page = (await client.get("/playground")).text
    wanted = set(re.findall(r'(?:src|href)="playground/([\w.-]+)"', page))
    assert {"main.js", "playground.css", "icon.svg"} <= wanted
    seen: set[str] = set()
    while wanted - seen:
        name = (wanted - seen).pop()
        seen.add(name)
        response = await client.get(f"/playground/{name}")
        assert response.status_code == 200, name
        if name.endswith(".js"):
            assert response.headers["content-type"] == "text/javascript; charset=utf-8"
            wanted |= set(re.findall(r'from "\./([\w.-]+)"', response.text))
    assert {"api.js", "diagram.js", "grading.js", "network.js", "plot.js"} <= seen


def test_no_file_of_the_page_names_another_host() -> None:
    for entry in FOLDER.iterdir():
        text = entry.read_text().replace(SVG_NAMESPACE, "")
        assert not re.search(r"https?:|//[\w-]+\.[\w.-]+/", text), entry.name


async def test_the_example_is_the_contracts_worked_example(client: httpx.AsyncClient) -> None:
    response = await client.get("/playground/example.json")
    assert response.json() == SPEC_EXAMPLE


@pytest.mark.parametrize("name", ["missing.js", "..%2Fplayground.py", "%2E%2E", "index.htm"])
async def test_only_the_pages_own_files_are_served(client: httpx.AsyncClient, name: str) -> None:
    response = await client.get(f"/playground/{name}")
    assert response.status_code == 404
