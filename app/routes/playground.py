"""GET /playground: the interactive network page, and its files (app/static/playground/).

The page is plain HTML, CSS and JavaScript modules, served as they are committed: no build
step, and nothing fetched from another host (its Content-Security-Policy allows this origin
only). It calls the API as any client does: /v1/backprop with "explain", /v1/problems,
/v1/grade, /v1/activations and /v1/losses. The files are read once, at import; only the names
found in the folder are served, so no path from a request ever reaches the file system.
"""

from __future__ import annotations

from importlib.resources import files

from fastapi import APIRouter
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException
from starlette.responses import Response

from schemas import SPEC_EXAMPLE

router = APIRouter(prefix="/playground", tags=["playground"], include_in_schema=False)

_MEDIA_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".svg": "image/svg+xml",
}

_HEADERS = {
    "cache-control": "no-cache",
    "x-content-type-options": "nosniff",
    "content-security-policy": (
        "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; "
        "img-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
    ),
}


def _read_assets() -> dict[str, tuple[bytes, str]]:
    """Every file of app/static/playground/ by name: (its bytes, its media type)."""
    folder = files("app").joinpath("static", "playground")
    assets: dict[str, tuple[bytes, str]] = {}
    for entry in folder.iterdir():
        suffix = "." + entry.name.rpartition(".")[2]
        if entry.is_file() and suffix in _MEDIA_TYPES:
            assets[entry.name] = (entry.read_bytes(), _MEDIA_TYPES[suffix])
    return assets


_ASSETS = _read_assets()


def _asset(name: str) -> Response:
    found = _ASSETS.get(name)
    if found is None:
        raise HTTPException(404, f"the playground has no file named {name[:80]!r}")
    content, media_type = found
    return Response(content, media_type=media_type, headers=_HEADERS)


@router.get("")
def page() -> Response:
    """The page itself (index.html)."""
    return _asset("index.html")


@router.get("/example.json")
def example() -> JSONResponse:
    """The contract's worked example (docs/api.md), which the page computes on load."""
    return JSONResponse(SPEC_EXAMPLE, headers=_HEADERS)


@router.get("/{name}")
def asset(name: str) -> Response:
    """A script or style sheet of the page."""
    return _asset(name)
