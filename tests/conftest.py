"""Shared fixtures: an in-process client for the app (httpx over ASGI, lifespan included)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest

from app.config import Settings
from app.main import create_app


@pytest.fixture(scope="session")
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
async def client() -> AsyncIterator[httpx.AsyncClient]:
    """A client of a fresh app with default settings, started and stopped like a server."""
    async with app_client(Settings()) as c:
        yield c


def app_client(settings: Settings) -> _AppClient:
    return _AppClient(settings)


class _AppClient:
    """``async with app_client(settings) as client``: the app with these settings, running."""

    def __init__(self, settings: Settings) -> None:
        self.app = create_app(settings)

    async def __aenter__(self) -> httpx.AsyncClient:
        self._lifespan = self.app.router.lifespan_context(self.app)
        await self._lifespan.__aenter__()
        transport = httpx.ASGITransport(app=self.app)
        self._client = httpx.AsyncClient(transport=transport, base_url="http://testserver")
        return self._client

    async def __aexit__(self, *exc: object) -> None:
        await self._client.aclose()
        await self._lifespan.__aexit__(None, None, None)
