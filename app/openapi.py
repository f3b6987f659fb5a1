"""OpenAPI for endpoints that read their own body (see pipeline.py).

FastAPI documents a request body only when it parses the body itself. The network endpoints
validate the raw bytes with Pydantic instead, so they declare their body here: ``json_body`` in
the route's openapi_extra, and ``install_openapi`` to put the models in components/schemas.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi
from pydantic import BaseModel

from schemas import ErrorResponse

_REF = "#/components/schemas/{model}"

COMMON_ERRORS: dict[int | str, dict[str, Any]] = {
    503: {
        "model": ErrorResponse,
        "description": "too many requests in flight: retry after the Retry-After header's seconds",
    },
}
"""Errors any endpoint may answer."""


ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    400: {"model": ErrorResponse, "description": "the body is not JSON"},
    408: {"model": ErrorResponse, "description": "the body did not arrive in time"},
    413: {"model": ErrorResponse, "description": "the body is over a size limit"},
    415: {"model": ErrorResponse, "description": "the body is not sent as application/json"},
    422: {
        "model": ErrorResponse,
        "description": "the request is not valid, or its result would "
        "not be finite: the message says what and where",
    },
}


def json_body(model: type[BaseModel], example: dict[str, Any]) -> dict[str, Any]:
    """openapi_extra declaring ``model`` as the JSON request body, with an example."""
    return {
        "requestBody": {
            "required": True,
            "content": {
                "application/json": {
                    "schema": {"$ref": _REF.format(model=model.__name__)},
                    "example": example,
                }
            },
        }
    }


def install_openapi(app: FastAPI, request_models: list[type[BaseModel]]) -> None:
    """Make app.openapi() include the request models that routes declare with json_body."""

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = get_openapi(
                title=app.title,
                version=app.version,
                description=app.description,
                routes=app.routes,
            )
            components = schema.setdefault("components", {}).setdefault("schemas", {})
            for model in request_models:
                model_schema = model.model_json_schema(ref_template=_REF, mode="validation")
                components.update(model_schema.pop("$defs", {}))
                components[model.__name__] = model_schema
            app.openapi_schema = schema
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
