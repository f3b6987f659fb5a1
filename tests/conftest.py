"""Shared fixtures: an in-process client for the app (httpx over ASGI, lifespan included)."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator

import httpx
import pytest
from hypothesis import HealthCheck, settings

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


def app_client(settings: Settings, *, raise_app_exceptions: bool = True) -> _AppClient:
    return _AppClient(settings, raise_app_exceptions)


class _AppClient:
    """``async with app_client(settings) as client``: the app with these settings, running.

    With raise_app_exceptions=False the client sees what a real server would send for a bug
    (the 500 answer) instead of the exception.
    """

    def __init__(self, settings: Settings, raise_app_exceptions: bool) -> None:
        self.app = create_app(settings)
        self.raise_app_exceptions = raise_app_exceptions

    async def __aenter__(self) -> httpx.AsyncClient:
        self._lifespan = self.app.router.lifespan_context(self.app)
        await self._lifespan.__aenter__()
        transport = httpx.ASGITransport(
            app=self.app, raise_app_exceptions=self.raise_app_exceptions
        )
        self._client = httpx.AsyncClient(transport=transport, base_url="http://testserver")
        return self._client

    async def __aexit__(self, *exc: object) -> None:
        await self._client.aclose()
        await self._lifespan.__aexit__(None, None, None)


# Hypothesis: reproducible in `make test` (derandomized, a fixed number of examples); the `fuzz`
# profile (make fuzz) draws many more, at random.
settings.register_profile(
    "default",
    max_examples=25,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)
settings.register_profile(
    "fuzz",
    max_examples=300,
    deadline=None,
    derandomize=False,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "default"))
