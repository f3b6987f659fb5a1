"""/docs and /redoc name only the service's own files, and the service serves every one of them.

The pages in a real browser, offline: tests/test_docs_browser.py (make browser-test).
"""

from __future__ import annotations

import re

import httpx
import pytest

from app.config import Settings
from tests.conftest import app_client

pytestmark = pytest.mark.anyio

ASSETS = {
    "/docs": ["/docs/assets/swagger-ui-bundle.js", "/docs/assets/swagger-ui.css"],
    "/redoc": ["/docs/assets/redoc.offline.js"],
}


def referenced(html: str) -> list[str]:
    """Every URL a page's src= and href= attributes name."""
    return re.findall(r"""(?:src|href)=["']([^"']+)["']""", html)


@pytest.mark.parametrize("page", sorted(ASSETS))
async def test_a_docs_page_names_only_files_the_service_serves(
    client: httpx.AsyncClient, page: str
) -> None:
    response = await client.get(page)
    assert response.status_code == 200
    urls = referenced(response.text)
    assert set(ASSETS[page]) <= set(urls)
    for url in urls:
        assert url.startswith("/"), f"{page} loads {url} from another host"
        asset = await client.get(url)
        assert asset.status_code == 200, url
        assert len(asset.content) > 500, url
    assert "googleapis" not in response.text  # ReDoc's fonts
    if page == "/docs":
        assert '"validatorUrl": null' in response.text  # Swagger UI's online validator


async def test_the_scripts_are_the_bundles_and_cacheable(client: httpx.AsyncClient) -> None:
    swagger = await client.get("/docs/assets/swagger-ui-bundle.js")
    assert "SwaggerUIBundle" in swagger.text[:2000]
    assert swagger.headers["content-type"].startswith(("text/javascript", "application/javascript"))
    etag = swagger.headers["etag"]
    again = await client.get("/docs/assets/swagger-ui-bundle.js", headers={"if-none-match": etag})
    assert again.status_code == 304
    redoc = await client.get("/docs/assets/redoc.offline.js")
    assert "Redoc" in redoc.text[:2000]
    again = await client.get(
        "/docs/assets/redoc.offline.js", headers={"if-none-match": redoc.headers["etag"]}
    )
    assert again.status_code == 304


async def test_redoc_s_script_names_no_other_host_to_load(client: httpx.AsyncClient) -> None:
    """The bundle as the package ships it loads Redocly's logo from its CDN; as served, not."""
    original = (await client.get("/docs/assets/redoc.standalone.js")).content
    served = (await client.get("/docs/assets/redoc.offline.js")).content
    assert b"cdn.redoc.ly" in original
    assert b"cdn.redoc.ly" not in served
    assert len(served) == len(original) - len(b"https://cdn.redoc.ly/redoc/logo-mini.svg") + 6


async def test_no_other_file_is_served_from_the_assets(client: httpx.AsyncClient) -> None:
    for path in ("/docs/assets/../core.py", "/docs/assets/core.py", "/docs/assets/"):
        assert (await client.get(path)).status_code == 404, path


async def test_the_assets_go_when_the_docs_are_turned_off() -> None:
    async with app_client(Settings(docs_enabled=False)) as client:
        assert (await client.get("/redoc")).status_code == 404
        assert (await client.get("/docs/assets/swagger-ui.css")).status_code == 404
