"""The server the Docker image would start: its CMD, ENV and HEALTHCHECK, run here for real.

No Docker engine runs on the development machine, so the image itself is not built in the tests;
what it runs is: the Dockerfile's CMD with its ENV (on a free port), then its HEALTHCHECK command.
"""

from __future__ import annotations

import http.client
import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from schemas import SPEC_EXAMPLE
from schemas.examples import SPEC_EXAMPLE_LOSS

ROOT = Path(__file__).resolve().parent.parent
DOCKERFILE = (ROOT / "Dockerfile").read_text()
pytestmark = pytest.mark.server


Server = tuple[str, dict[str, str], "subprocess.Popen[bytes]", Path]


def instruction(name: str) -> list[str]:
    """The exec-form (JSON array) arguments of the last `name` instruction of the Dockerfile."""
    joined = DOCKERFILE.replace("\\\n", " ")
    matches = re.findall(rf"^{name}\s+(?:--\S+\s+)*(?:CMD\s+)?(\[.*\])\s*$", joined, re.MULTILINE)
    assert matches, f"no exec-form {name} in the Dockerfile"
    return list(json.loads(matches[-1]))


def image_env() -> dict[str, str]:
    final_stage = DOCKERFILE.replace("\\\n", " ").split("\nFROM ")[-1]
    env: dict[str, str] = {}
    for line in re.findall(r"^ENV\s+(.*)$", final_stage, re.MULTILINE):
        env.update(dict(re.findall(r"(\w+)=(\S+)", line)))
    return env


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_until_ready(url: str, process: subprocess.Popen[bytes], log: Path) -> None:
    """Until GET /readyz answers 200: a failure with the server's log if it exits first, or
    when 30 s pass."""
    deadline = time.monotonic() + 30
    while True:
        try:
            if httpx.get(f"{url}/readyz").status_code == 200:
                break
        except httpx.TransportError:
            pass
        assert process.poll() is None, log.read_text()
        assert time.monotonic() < deadline, "the server did not become ready in 30 s"
        time.sleep(0.1)


@pytest.fixture(scope="module")
def server(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Server]:
    env = {**os.environ, **image_env(), "PORT": str(free_port()),
           "BACKPROP_HEAD_TIMEOUT_SECONDS": "1", "BACKPROP_BODY_TIMEOUT_SECONDS": "1"}  # fmt: skip
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"
    log = tmp_path_factory.mktemp("server") / "server.log"
    with log.open("wb") as output:
        process = subprocess.Popen(instruction("CMD"), env=env, cwd=ROOT, stdout=output,
                                   stderr=subprocess.STDOUT)  # fmt: skip
    url = f"http://127.0.0.1:{env['PORT']}"
    wait_until_ready(url, process, log)
    yield url, env, process, log
    if process.poll() is None:
        process.terminate()
        process.wait(timeout=10)


def test_the_images_command_serves_the_api(
    server: Server,
) -> None:
    url, *_ = server
    response = httpx.post(f"{url}/v1/backprop", json=SPEC_EXAMPLE)
    assert response.status_code == 200
    assert response.json()["loss"] == pytest.approx(SPEC_EXAMPLE_LOSS, rel=1e-12)


def test_the_images_healthcheck_passes(
    server: Server,
) -> None:
    _, env, *_ = server
    command = instruction("HEALTHCHECK")
    assert command[0] == "python"
    assert "/readyz'" in command[-1]  # readiness: a SymPy worker answers, not only the process
    result = subprocess.run([sys.executable, *command[1:]], env=env, timeout=10, check=False)
    assert result.returncode == 0


def raw_exchange(url: str, data: bytes, pause: float = 0.0) -> bytes:
    host, port = url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=5) as connection:
        connection.sendall(data)
        time.sleep(pause)
        answer = b""
        while chunk := connection.recv(65536):
            answer += chunk
        return answer


def test_an_endless_header_is_cut_off_with_a_431(server: Server) -> None:
    url, *_ = server
    answer = raw_exchange(url, b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 200_000)
    head, _, body = answer.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 431")
    assert b"max_head_bytes = 65,536 bytes" in body


def test_a_header_that_trickles_in_is_a_408(server: Server) -> None:
    url, *_ = server
    started = time.monotonic()
    answer = raw_exchange(url, b"GET /healthz HTTP/1.1\r\nHost:")
    assert answer.startswith(b"HTTP/1.1 408")
    assert b"head_timeout_seconds = 1 s" in answer
    assert time.monotonic() - started < 5


def test_a_body_that_trickles_in_is_a_408(server: Server) -> None:
    url, *_, log = server
    started = time.monotonic()
    head = b"POST /v1/backprop HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
    answer = raw_exchange(url, head + b'Content-Length: 100\r\n\r\n{"network":')
    assert answer.startswith(b"HTTP/1.1 408")
    assert b"body_timeout_seconds = 1 s" in answer
    assert time.monotonic() - started < 5
    time.sleep(0.2)
    assert "Traceback" not in log.read_text(), "a client that went away is not an error"


def test_the_server_still_answers_after_timeouts(server: Server) -> None:
    url, *_ = server
    response = httpx.post(f"{url}/v1/backprop", json=SPEC_EXAMPLE)
    assert response.json()["loss"] == pytest.approx(SPEC_EXAMPLE_LOSS, rel=1e-12)


def test_keep_alive_requests_are_not_timed_out(server: Server) -> None:
    url, *_ = server
    host, port = url.removeprefix("http://").split(":")
    connection = http.client.HTTPConnection(host, int(port), timeout=5)
    try:
        for i in range(3):
            connection.request("GET", "/healthz")
            assert connection.getresponse().read() == b'{"status":"ok"}'
            if i == 0:
                first_socket = connection.sock
            assert connection.sock is first_socket, "the same connection, kept alive"
            time.sleep(0.6)  # under the keep-alive timeout; 1.8 s in all, over the head timeout
    finally:
        connection.close()


def test_the_server_stops_cleanly_on_sigterm(
    server: Server,
) -> None:
    *_, process, log = server
    process.send_signal(signal.SIGTERM)
    # uvicorn finishes its shutdown, then re-raises the signal so the exit status reports it
    assert process.wait(timeout=10) in (0, -signal.SIGTERM)
    assert "Application shutdown complete" in log.read_text()


def test_the_image_installs_what_make_installs() -> None:
    """One pinned list, installed the same way by the image, `make` and CI."""
    makefile = (ROOT / "Makefile").read_text()
    for step in ("pip install", "-r requirements/runtime.txt"):
        assert step in makefile
        assert step in DOCKERFILE
    assert "--no-deps" in makefile
    assert "--no-deps" in DOCKERFILE
    assert re.search(r"^USER\s+(?!root|0\b)\S+", DOCKERFILE, re.MULTILINE), "runs as non-root"
