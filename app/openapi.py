"""The OpenAPI document: common error answers, and the models of bodies routes read themselves.

FastAPI documents a request body from a route's parameters when it parses the body itself. The
network and grading endpoints validate the raw bytes with Pydantic instead (app/pipeline.py),
so each declares its body in its openapi_extra (``openapi_body``), as FastAPI's guide to custom
request bodies shows, and ``install_openapi`` adds those models to components/schemas by
FastAPI's documented way of extending the schema (replacing ``app.openapi``).
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi
from pydantic import BaseModel

from schemas import ErrorResponse

_REF = "#/components/schemas/{model}"

_BODY_MODELS: dict[str, type[BaseModel]] = {}
"""The models openapi_body has declared, by name."""

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


def openapi_body(model: type[BaseModel], example: dict[str, Any]) -> dict[str, Any]:
    """openapi_extra declaring ``model`` as a route's JSON request body, with an example."""
    _BODY_MODELS[model.__name__] = model
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


def install_openapi(app: FastAPI) -> None:
    """Make app.openapi() include the request models that routes declare in openapi_extra."""

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = get_openapi(
                title=app.title,
                version=app.version,
                description=app.description,
                routes=app.routes,
            )
            components = schema.setdefault("components", {}).setdefault("schemas", {})
            for model in _declared_bodies(schema):
                model_schema = model.model_json_schema(ref_template=_REF, mode="validation")
                components.update(model_schema.pop("$defs", {}))
                components[model.__name__] = model_schema
            app.openapi_schema = schema
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]


def _declared_bodies(schema: dict[str, Any]) -> list[type[BaseModel]]:
    """The request models referred to by the operations' openapi_extra bodies."""
    names = {
        body["schema"]["$ref"].rsplit("/", 1)[-1]
        for path in schema.get("paths", {}).values()
        for operation in path.values()
        for body in operation.get("requestBody", {}).get("content", {}).values()
        if "$ref" in body.get("schema", {})
    }
    return [_BODY_MODELS[name] for name in sorted(names) if name in _BODY_MODELS]
