"""The README's example stays true: its curl request, posted, gets exactly the answer it shows."""

from __future__ import annotations

import json
import re
from pathlib import Path

import httpx
import pytest

pytestmark = pytest.mark.anyio

README = (Path(__file__).resolve().parent.parent / "README.md").read_text()


def test_readme_opens_with_the_run_and_test_commands() -> None:
    first_block = re.search(r"```sh\n(.*?)```", README, re.DOTALL)
    assert first_block is not None
    commands = [line.split("#")[0].strip() for line in first_block.group(1).splitlines()]
    assert commands == ["make run", "make test"]


async def test_readme_curl_example_gets_the_answer_shown(client: httpx.AsyncClient) -> None:
    curl = re.search(r"curl -s (\S+) -H 'Content-Type: application/json' -d '(.*?)'\n", README,
                     re.DOTALL)  # fmt: skip
    shown = re.search(r"```json\n(\{\n  \"loss\".*?\n\})\n```", README, re.DOTALL)
    assert curl is not None
    assert shown is not None
    url, body = curl.groups()
    response = await client.post(httpx.URL(url).path, json=json.loads(body))
    assert response.json() == json.loads(shown.group(1))
