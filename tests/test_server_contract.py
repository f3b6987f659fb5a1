"""app/server.py subclasses uvicorn's HttpToolsProtocol and replaces some of its methods, so it
is only right for the uvicorn it was written against: this test fails loudly on any other.

When it fails after an upgrade: read what changed in the methods named below (uvicorn's
protocols/http/httptools_impl.py), carry the change into app/server.py, run the server tests,
then record the new digests and widen the range in pyproject.toml.
"""

from __future__ import annotations

import asyncio
import hashlib
import inspect
import re
from importlib.metadata import version
from pathlib import Path
from typing import Any

import pytest
import tomllib
from packaging.requirements import Requirement
from uvicorn.config import Config
from uvicorn.protocols.http import flow_control, httptools_impl
from uvicorn.server import ServerState

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


def test_app_server_relies_on_the_cycle_reading_send_and_transport_when_used() -> None:
    """The guards for an early answer are put on the cycle's ``send`` and ``transport`` and taken
    off once the body has arrived: that works only while uvicorn looks both up when it uses them
    (the app gets ``self.send`` when its task starts; send writes through ``self.transport``)."""
    cycle = httptools_impl.RequestResponseCycle
    assert "self.scope, self.receive, self.send" in inspect.getsource(cycle.run_asgi)
    assert "self.transport.write(" in inspect.getsource(cycle.send)


class _Transport:
    """Enough of an asyncio transport for the protocol to take a request and start it."""

    def __init__(self) -> None:
        self.written: list[bytes] = []

    def get_extra_info(self, name: str) -> Any:
        return {"sockname": ("127.0.0.1", 8000), "peername": ("127.0.0.1", 50000)}.get(name)

    def is_closing(self) -> bool:
        return False

    def write(self, data: bytes) -> None:
        self.written.append(data)

    def pause_reading(self) -> None:
        pass

    def resume_reading(self) -> None:
        pass

    def set_write_buffer_limits(self, *args: Any, **kwargs: Any) -> None:
        pass

    def close(self) -> None:
        pass


async def _app(scope: Any, receive: Any, send: Any) -> None:
    pass


@pytest.mark.parametrize(
    ("sent", "guarded"),
    [
        (b'{"a": 1}', False),  # the whole body with the head, as a tiny request comes
        (b'{"a"', True),  # half of it: an answer could still start before the rest
    ],
    ids=["body complete", "body still arriving"],
)
def test_the_early_answer_guards_stay_only_while_the_body_is_arriving(
    sent: bytes, guarded: bool
) -> None:
    async def started() -> tuple[Any, _Transport]:
        config = Config(app=_app, http=GuardedHttpToolsProtocol, lifespan="off", log_level="error")
        protocol = GuardedHttpToolsProtocol(config, ServerState(), {})
        transport = _Transport()
        protocol.connection_made(transport)  # type: ignore[arg-type]
        protocol.data_received(
            b"POST /v1/backprop HTTP/1.1\r\nHost: test\r\nContent-Type: application/json\r\n"
            b"Content-Length: 8\r\n\r\n" + sent
        )
        cycle = protocol.cycle
        protocol.connection_lost(None)
        return cycle, transport

    cycle, transport = asyncio.run(started())
    assert (cycle.transport is not transport) is guarded
    assert ("send" in vars(cycle)) is guarded  # the wrapper shadows the class's send
