"""app/server.py subclasses uvicorn's HttpToolsProtocol and replaces some of its methods, so it
is only right for the uvicorn it was written against: this test fails loudly on any other.

When it fails after an upgrade: read what changed in the methods named below (uvicorn's
protocols/http/httptools_impl.py), carry the change into app/server.py, run the server tests,
then record the new digests and widen the range in pyproject.toml.
"""

from __future__ import annotations

import hashlib
import inspect
import re
from importlib.metadata import version
from pathlib import Path

import pytest
import tomllib
from packaging.requirements import Requirement
from uvicorn.protocols.http import flow_control, httptools_impl

from app.server import GuardedHttpToolsProtocol

ROOT = Path(__file__).resolve().parent.parent

REPLACED = {
    "data_received": "010a7ae59a5d",
    "on_response_complete": "64e254f28e38",
}
"""uvicorn's methods that app/server.py rewrites instead of extending: their source's digest."""

EXTENDED = {
    "connection_made": "6efb565ff3d3",
    "connection_lost": "c91a4c9bf2e2",
    "on_message_begin": "96d377fdc7c2",
    "on_headers_complete": "1ea8589acfad",
    "on_message_complete": "1fbad42dc31f",
    "pause_writing": "17a8fd215d96",
    "resume_writing": "7844bbaa8cce",
}
"""Methods app/server.py calls through super() and around whose behaviour it works."""


def digest(method: str) -> str:
    source = inspect.getsource(getattr(httptools_impl.HttpToolsProtocol, method))
    return hashlib.sha256(source.encode()).hexdigest()[:12]


def test_the_installed_uvicorn_is_in_the_pinned_range() -> None:
    dependencies = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    (pin,) = [Requirement(d) for d in dependencies if re.match(r"uvicorn\b", d)]
    assert version("uvicorn") in pin.specifier


@pytest.mark.parametrize("method", sorted({**REPLACED, **EXTENDED}))
def test_uvicorns_methods_are_the_ones_app_server_was_written_against(method: str) -> None:
    expected = {**REPLACED, **EXTENDED}[method]
    assert digest(method) == expected, (
        f"uvicorn's HttpToolsProtocol.{method} changed: review app/server.py against it"
    )


def test_what_app_server_relies_on_is_still_there() -> None:
    protocol = httptools_impl.HttpToolsProtocol
    for name in ("_start_asgi_task", "_unsupported_upgrade_warning", "shutdown"):
        assert callable(getattr(protocol, name))
    cycle = inspect.signature(httptools_impl.RequestResponseCycle.__init__).parameters
    assert {"scope", "transport", "flow", "message_event", "on_response"} <= set(cycle)
    flow = flow_control.FlowControl
    for name in ("pause_reading", "resume_reading", "pause_writing", "resume_writing", "drain"):
        assert callable(getattr(flow, name))
    source = inspect.getsource(httptools_impl.RequestResponseCycle)
    for attribute in ("more_body", "response_complete", "response_started", "disconnected"):
        assert f"self.{attribute} =" in source
    assert issubclass(GuardedHttpToolsProtocol, protocol)
