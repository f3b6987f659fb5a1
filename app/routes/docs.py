"""GET /docs (Swagger UI) and /redoc (ReDoc): the API's documentation pages, working offline.

Made with FastAPI's own page helpers, as its "Custom Docs UI Static Assets" guide shows, and
included after the API's routers so that the router tries the API's routes first. Their scripts,
style sheet and icon are served by the service itself under /docs/assets (``assets()``, mounted
by create_app), from the pinned fastapi-offline package, which ships Swagger UI's dist bundle
(Apache-2.0) and ReDoc's standalone bundle (MIT): a page loads nothing from another host, so the
docs work in a lab with no internet. What the pages would otherwise ask of other hosts is turned
off: Swagger UI's online validator, ReDoc's Google fonts, and Redocly's logo in ReDoc's menu
(``redoc_script``); /redoc's Content-Security-Policy allows this origin only.
"""

from __future__ import annotations

import hashlib
from functools import cache
from importlib.resources import files

from fastapi import APIRouter, Request
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html
from starlette.responses import HTMLResponse, Response
from starlette.staticfiles import StaticFiles

ASSETS_PATH = "/docs/assets"
"""Where create_app mounts the pages' files (``assets()``)."""

ASSETS_PACKAGE = ("fastapi_offline", "static")
"""The package folder holding swagger-ui-bundle.js, swagger-ui.css, redoc.standalone.js and
favicon.png."""

router = APIRouter(include_in_schema=False)


def assets() -> StaticFiles:
    """The pages' files, as Starlette serves static files (ETag, Last-Modified, HEAD)."""
    return StaticFiles(packages=[ASSETS_PACKAGE])


@router.get("/docs")
async def swagger_ui(request: Request) -> HTMLResponse:
    root = _root(request)
    return get_swagger_ui_html(
        openapi_url=root + str(request.app.openapi_url),
        title=request.app.title,
        swagger_js_url=f"{root}{ASSETS_PATH}/swagger-ui-bundle.js",
        swagger_css_url=f"{root}{ASSETS_PATH}/swagger-ui.css",
        swagger_favicon_url=f"{root}{ASSETS_PATH}/favicon.png",
        swagger_ui_parameters={"validatorUrl": None},  # never sends the spec elsewhere
    )


REDOC_POLICY = (
    "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; font-src 'self' data:; connect-src 'self'; worker-src 'self' blob:; "
    "base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
)
"""The Content-Security-Policy of /redoc: this origin only. ReDoc always shows Redocly's logo
from cdn.redoc.ly in its menu (it hides the image when it does not load); the policy keeps the
browser from asking for it. ReDoc writes its styles inline and searches in a blob: worker."""


@router.get("/redoc")
async def redoc(request: Request) -> HTMLResponse:
    root = _root(request)
    page = get_redoc_html(
        openapi_url=root + str(request.app.openapi_url),
        title=request.app.title,
        redoc_js_url=f"{root}{REDOC_SCRIPT}",
        redoc_favicon_url=f"{root}{ASSETS_PATH}/favicon.png",
        with_google_fonts=False,
    )
    page.headers["content-security-policy"] = REDOC_POLICY
    return page


REDOC_SCRIPT = ASSETS_PATH + "/redoc.offline.js"

REDOCLY_LOGO = b"https://cdn.redoc.ly/redoc/logo-mini.svg"
"""The one URL of another host in ReDoc's bundle: the logo of the "API docs by Redocly" link
that ReDoc always draws in its menu, and hides when the image does not load."""

NO_IMAGE = b"data:,"
"""An empty inline image in its place: it does not load, so ReDoc hides it, asking no host."""


@cache
def redoc_script() -> tuple[bytes, str]:
    """ReDoc's standalone bundle with Redocly's logo URL replaced by NO_IMAGE, and its ETag."""
    bundle = files(ASSETS_PACKAGE[0]).joinpath(ASSETS_PACKAGE[1], "redoc.standalone.js")
    original = bundle.read_bytes()
    if original.count(REDOCLY_LOGO) != 1:  # a new ReDoc: look at what it loads, then adapt
        raise RuntimeError("ReDoc's bundle no longer holds Redocly's logo URL once")
    script = original.replace(REDOCLY_LOGO, NO_IMAGE)
    return script, '"' + hashlib.sha256(script).hexdigest()[:32] + '"'


@router.get(REDOC_SCRIPT)
def redoc_offline(request: Request) -> Response:
    script, etag = redoc_script()
    headers = {"etag": etag, "cache-control": "no-cache"}  # kept, and revalidated by its ETag
    if request.headers.get("if-none-match") == etag:
        return Response(status_code=304, headers=headers)
    return Response(script, media_type="text/javascript; charset=utf-8", headers=headers)


def _root(request: Request) -> str:
    root_path: str = request.scope.get("root_path", "")
    return root_path
