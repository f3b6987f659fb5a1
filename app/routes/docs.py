"""GET /docs (Swagger UI) and /redoc (ReDoc): the API's documentation pages.

Made with FastAPI's own page helpers, as its "Custom Docs UI" guide shows, and included after
the API's routers so that the router tries the API's routes first.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html
from starlette.responses import HTMLResponse

router = APIRouter(include_in_schema=False)


@router.get("/docs")
async def swagger_ui(request: Request) -> HTMLResponse:
    return get_swagger_ui_html(openapi_url=_openapi_url(request), title=request.app.title)


@router.get("/redoc")
async def redoc(request: Request) -> HTMLResponse:
    return get_redoc_html(openapi_url=_openapi_url(request), title=request.app.title)


def _openapi_url(request: Request) -> str:
    root_path: str = request.scope.get("root_path", "")
    return root_path + str(request.app.openapi_url)
