"""The layers depend one way: app -> schemas -> engine. The engine can be used with no web stack,
and backprop_client with none of the service."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def imported_packages(package: str) -> set[str]:
    found: set[str] = set()
    for path in (ROOT / package).rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                found.update(alias.name.split(".")[0] for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                found.add(node.module.split(".")[0])
    return found


@pytest.mark.parametrize(
    ("package", "forbidden"),
    [("engine", {"app", "schemas", "fastapi", "starlette", "pydantic", "orjson", "json"}),
     ("schemas", {"app", "fastapi", "starlette"}),
     # the client runs on machines without the server: httpx and NumPy, nothing of the service
     ("backprop_client", {"app", "schemas", "engine", "fastapi", "starlette", "pydantic",
                          "uvicorn"})],
)  # fmt: skip
def test_lower_layers_do_not_import_higher_ones(package: str, forbidden: set[str]) -> None:
    assert imported_packages(package) & forbidden == set()


def test_nothing_evaluates_client_text() -> None:
    for package in ("app", "schemas", "engine", "backprop_client"):
        for path in (ROOT / package).rglob("*.py"):
            calls = {
                node.func.id
                for node in ast.walk(ast.parse(path.read_text()))
                if isinstance(node, ast.Call) and isinstance(node.func, ast.Name)
            }
            assert not calls & {"eval", "exec", "compile", "__import__"}, path


OFFLINE_MODULES = ("cli", "offline", "services", "described", "course", "autograders")
"""app/ modules the offline commands import: the grader must start without the web stack, and
install without it on Python 3.10 (pyproject.toml)."""


@pytest.mark.parametrize("module", OFFLINE_MODULES)
def test_the_offline_commands_import_no_web_stack_at_module_level(module: str) -> None:
    tree = ast.parse((ROOT / "app" / f"{module}.py").read_text())
    top: set[str] = set()
    for node in tree.body:  # module level only: a function may import what it alone needs
        if isinstance(node, ast.Import):
            top.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            top.update({node.module.split(".")[0], node.module})  # fastapi, app.errors
            top.update(f"{node.module}.{alias.name}" for alias in node.names)  # app.errors
    web = {"fastapi", "starlette", "uvicorn", "uvloop", "httptools", "pydantic_settings", "sympy"}
    assert top & web == set()
    assert not top & {"app.errors", "app.main", "app.config", "app.routes", "app.server"}


FRAMEWORK_MACHINERY = frozenset(
    {"FastAPI", "Starlette", "APIRouter", "Router", "APIRoute", "Route", "BaseRoute", "Mount"}
)
"""FastAPI's and Starlette's application and routing classes: subclassing one to answer some
requests another way is how a bypass starts."""

OVERRIDES = frozenset({"build_middleware_stack", "middleware_stack", "get_route_handler",
                       "route_class"})  # fmt: skip
"""The hooks a bypass replaces: the middleware stack, the route's request handler."""


def test_the_http_layer_replaces_none_of_the_frameworks_machinery() -> None:
    """Every request goes through FastAPI's middleware stack, router and handlers (issue 11; the
    behaviour is tests/test_one_way_in.py's): no class of app/ derives from the framework's
    application or routing classes, and nothing defines, passes or assigns the hooks a bypass
    would replace. (Middlewares, responses and uvicorn's protocol may be subclassed.)"""
    for path in (ROOT / "app").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ClassDef):
                bases = {
                    base.attr if isinstance(base, ast.Attribute) else getattr(base, "id", "")
                    for base in node.bases
                }
                assert not bases & FRAMEWORK_MACHINERY, f"{path.name}: class {node.name}"
            elif isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                assert node.name not in OVERRIDES, f"{path.name}: def {node.name}"
            elif isinstance(node, ast.keyword):
                assert node.arg not in OVERRIDES, f"{path.name}: {node.arg}="
            elif isinstance(node, ast.Attribute) and isinstance(node.ctx, ast.Store):
                assert node.attr not in OVERRIDES, f"{path.name}: .{node.attr} ="
