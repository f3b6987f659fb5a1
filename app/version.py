"""The service's version, as installed: GET /v1/version, ``backprop-service --version`` and the
OpenAPI document's info.version all say it, from the package's metadata (pyproject.toml)."""

from __future__ import annotations

from functools import cache
from importlib.metadata import PackageNotFoundError, version

DISTRIBUTION = "backprop-service"


@cache
def service_version() -> str:
    """The installed version of backprop-service ("0+unknown" from a tree not installed)."""
    try:
        return version(DISTRIBUTION)
    except PackageNotFoundError:
        return "0+unknown"
