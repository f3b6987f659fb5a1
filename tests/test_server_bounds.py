"""What app/server.py bounds, against a real server: clients that do not read their answers,
pipelined requests and refusals in order, floods of idle connections, heads over the limit in
one read, and what is not HTTP, every refusal in the service's JSON error shape."""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from schemas import SPEC_EXAMPLE
from tests.test_server import free_port, wait_until_ready

ROOT = Path(__file__).resolve().parent.parent
pytestmark = pytest.mark.server

MAX_CONNECTIONS = 6
WRITE_TIMEOUT = 1.0


@pytest.fixture(scope="module")
def url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    port = free_port()
    env = {
        **os.environ,
        "BACKPROP_MAX_CONNECTIONS": str(MAX_CONNECTIONS),
        "BACKPROP_WRITE_TIMEOUT_SECONDS": str(WRITE_TIMEOUT),
        "BACKPROP_HEAD_TIMEOUT_SECONDS": "2",
        "BACKPROP_MAX_IN_FLIGHT": "2",
    }
    log = tmp_path_factory.mktemp("bounds") / "server.log"
    command = [sys.executable, "-m", "app.cli", "serve", "--port", str(port), "--workers", "1"]
    with log.open("wb") as output:
        process = subprocess.Popen(command, env=env, cwd=ROOT, stdout=output, stderr=output)
    address = f"http://127.0.0.1:{port}"
    wait_until_ready(address, process, log)
    yield address
    process.terminate()
    process.wait(timeout=15)
    assert "Traceback" not in log.read_text()


def connect(url: str, *, receive_buffer: int | None = None) -> socket.socket:
    host, port = url.removeprefix("http://").split(":")
    sock = socket.socket()
    if receive_buffer is not None:  # set before connecting: the window the server sees
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, receive_buffer)
    sock.settimeout(10)
    sock.connect((host, int(port)))
    return sock


def post(path: str, body: dict[str, object], *, extra_header: bytes = b"") -> bytes:
    data = json.dumps(body).encode()
    return (
        f"POST {path} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(data)}\r\n".encode()
        + extra_header
        + b"\r\n"
        + data
    )


def read_all(sock: socket.socket) -> bytes:
    answer = b""
    try:
        while chunk := sock.recv(1 << 16):
            answer += chunk
    except (ConnectionResetError, TimeoutError):
        pass
    return answer


def statuses(answer: bytes) -> list[int]:
    """The status of each answer, in order (an answer's body runs straight into the next)."""
    return [int(status) for status in re.findall(rb"HTTP/1\.1 (\d{3}) ", answer)]


LARGE_ANSWER = {  # a 5.4 MB answer from a 20 KB body
    "network": {"layers": [{"weights": [[0.5] * 300], "biases": [0.0] * 300,
                            "activation": "relu"}]},
    "inputs": [[1.0]] * 1000,
}  # fmt: skip


def test_a_client_that_reads_no_answer_holds_nothing_for_long(url: str) -> None:
    """Two clients each pipeline two requests with large answers and never read them: neither
    second request is started (it would wait for the client, holding one of the 2 in-flight
    slots), each connection is dropped once its answer has made no progress for
    write_timeout_seconds, and meanwhile others are served."""
    stuck = [connect(url, receive_buffer=4096) for _ in range(2)]
    for sock in stuck:
        sock.sendall(post("/v1/forward", LARGE_ANSWER) * 2)
    time.sleep(1.0)  # their first answers computed and stuck in the buffers
    started = time.monotonic()
    for _ in range(3):
        assert httpx.post(f"{url}/v1/backprop", json=SPEC_EXAMPLE).status_code == 200
    assert time.monotonic() - started < 2, "the in-flight slots are not held by the non-readers"
    time.sleep(WRITE_TIMEOUT * 3)
    for sock in stuck:
        received = read_all(sock)  # what fitted in the buffers, then the connection's end
        sock.close()
        assert statuses(received) == [200], "the second answer was never computed"


def test_a_refusal_waits_for_the_answer_before_it(url: str) -> None:
    """A good request and then one whose head is over the limit, pipelined: the 200 comes first,
    then the 431 in the service's shape."""
    sock = connect(url)
    oversized = post(
        "/v1/backprop", SPEC_EXAMPLE, extra_header=b"X-Big: " + b"a" * 70_000 + b"\r\n"
    )
    sock.sendall(post("/v1/backprop", SPEC_EXAMPLE) + oversized)
    answer = read_all(sock)
    sock.close()
    assert statuses(answer) == [200, 431]
    refusal = answer.split(b"HTTP/1.1 431")[1].split(b"\r\n\r\n", 1)[1]
    assert json.loads(refusal)["detail"][0]["type"] == "head_too_large"


def test_a_head_over_the_limit_in_one_read_with_its_body_is_refused(url: str) -> None:
    sock = connect(url)
    sock.sendall(
        post("/v1/backprop", SPEC_EXAMPLE, extra_header=b"X-Big: " + b"a" * 66_000 + b"\r\n")
    )
    answer = read_all(sock)
    sock.close()
    assert statuses(answer) == [431]


def test_what_is_not_http_gets_a_json_400(url: str) -> None:
    sock = connect(url)
    sock.sendall(b"HELLO THERE\r\n\r\n")
    answer = read_all(sock)
    sock.close()
    assert statuses(answer) == [400]
    body = answer.split(b"\r\n\r\n", 1)[1]
    assert json.loads(body)["detail"][0]["type"] == "bad_request"


def test_an_idle_flood_gives_way_to_real_requests(url: str) -> None:
    idle = [connect(url) for _ in range(MAX_CONNECTIONS + 4)]
    try:
        for _ in range(3):
            response = httpx.post(f"{url}/v1/backprop", json=SPEC_EXAMPLE, timeout=5)
            assert response.status_code == 200
    finally:
        for sock in idle:
            sock.close()


def test_past_the_connection_limit_a_busy_one_gets_a_json_503(url: str) -> None:
    """Connections that have each begun a request are not displaced: the next is refused."""
    talking = [connect(url) for _ in range(MAX_CONNECTIONS)]
    for sock in talking:
        sock.sendall(b"GET /healthz HTTP/1.1\r\nHost:")  # begun, not finished
    time.sleep(0.2)
    try:
        extra = connect(url)
        extra.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        answer = read_all(extra)
        extra.close()
    finally:
        for sock in talking:
            sock.close()
    assert statuses(answer) == [503]
    head, body = answer.split(b"\r\n\r\n", 1)
    assert b"retry-after: 1" in head.lower()
    assert json.loads(body)["detail"][0]["type"] == "busy"


@pytest.mark.parametrize("in_pieces", [False, True], ids=["one read", "in pieces"])
def test_the_head_limit_is_exact(url: str, in_pieces: bool) -> None:
    """A head of max_head_bytes (request line, header lines and the blank line, as sent) is
    read; one byte more is a 431, however its bytes arrive."""
    head = len(post("/v1/backprop", SPEC_EXAMPLE)) - len(json.dumps(SPEC_EXAMPLE))
    filler = 64 * 1024 - head - len(b"X-Fill: \r\n")

    def answer_to(extra: int) -> list[int]:
        fill = b"X-Fill: " + b"a" * (filler + extra) + b"\r\n"
        request = post("/v1/backprop", SPEC_EXAMPLE, extra_header=fill)
        sock = connect(url)
        if in_pieces:
            for i in range(0, len(request), 1000):
                sock.sendall(request[i : i + 1000])
        else:
            sock.sendall(request)
        sock.shutdown(socket.SHUT_WR)
        answer = read_all(sock)
        sock.close()
        return statuses(answer)

    assert answer_to(0) == [200]
    assert answer_to(1) == [431]


def test_an_answer_before_the_body_says_close_and_closes_once_the_body_is_read(
    url: str,
) -> None:
    """A 413 sent when the head says the body is too large goes out before the body: it says
    Connection: close (a client must not send its next request on this connection, which the
    server closes), and the connection closes cleanly, without a reset, once the client has
    sent the rest: the answer is never lost to a reset, and no next request to a close."""
    size = 40 * 1024 * 1024
    with connect(url) as sock:
        sock.sendall(b"POST /v1/backprop HTTP/1.1\r\nHost: x\r\nContent-Type: application/json"
                     b"\r\nContent-Length: %d\r\n\r\n" % size)  # fmt: skip
        sock.sendall(b" " * (1 << 20))
        head = sock.recv(65536)
        assert head.startswith(b"HTTP/1.1 413"), head[:100]
        assert b"\r\nconnection: close\r\n" in head.lower()
        sock.sendall(b" " * (size - (1 << 20)))
        started = time.monotonic()
        rest = b""
        while chunk := sock.recv(65536):  # ends in a clean close (b""), not ConnectionResetError
            rest += chunk
        assert time.monotonic() - started < 2  # closed when the body ended, not after 3 s
    # a well-formed request that reads its body keeps its connection open
    with connect(url) as sock:
        body = json.dumps(SPEC_EXAMPLE).encode()
        request = (b"POST /v1/backprop HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                   b"Content-Length: %d\r\n\r\n%s" % (len(body), body))  # fmt: skip
        sock.sendall(request + request)
        answers = b""
        while answers.count(b"HTTP/1.1 200") < 2:
            answers += sock.recv(65536)
        assert b"connection: close" not in answers.lower()
