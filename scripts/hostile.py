"""``make hostile``: the hardening issue's attack classes against the real server entry point.

    python scripts/hostile.py [--slow-readers 70]

Starts ``backprop-service serve --workers 1`` with its default settings on a free loopback port
(as an operator would run it) and attacks it, one class after another. Each attack states what
must hold, measures it, and prints one line: PASS or FAIL, and the figures. Exits 1 if any
attack fails or the server is no longer ready after them. docs/deployment.md records the
figures ("Hostile clients").

  slow readers     70 connections each pipeline two /v1/forward requests with ~5.8 MB answers
                   and never read: a normal request is still answered 200 (within 40 s), the
                   worker grows by less than 1.5 GB, and the stuck connections are dropped
  heavy answer     /v1/forward bodies of 22 KB with 59 MB answers, four in turn, while another
                   process probes /healthz every 5 ms: no probe waits 100 ms or more
  descent          a 20-variable, 1,000-step /v1/derivatives/descent (304 characters): refused
                   at once, or answered within 3 s
  echoes           a 2 MB made-up key, a 200 KB key on /v1/derivatives, a 60 KB Content-Type:
                   4xx answers of less than 2 KB
  idle flood       1,500 connections opened at once that never send a byte: a request made
                   meanwhile gets 200, or a 503 in the service's JSON shape
  exact head       a head of exactly max_head_bytes is read; one byte more is a 431, sent in one
                   read or byte by byte
  pipelined order  a good request and a refused one pipelined: 200 then 431, in that order
"""

from __future__ import annotations

import argparse
import json
import resource
import socket
import subprocess
import sys
import textwrap
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from app.config import Settings  # noqa: E402
from bench.servers import Server, running, status_kib  # noqa: E402
from schemas import SPEC_EXAMPLE  # noqa: E402

DEFAULTS = Settings()
JSON = {"content-type": "application/json"}


@dataclass(frozen=True)
class Outcome:
    name: str
    passed: bool
    figures: str


def forward_body(width: int, samples: int) -> bytes:
    """A one-layer ReLU network 1 -> width with ``samples`` inputs of 7 digits: a small body
    whose /v1/forward answer (z and a, samples x width each) is large."""
    network = {"layers": [{"weights": [[1] * width], "biases": [0] * width, "activation": "relu"}]}
    body = {"network": network, "inputs": [[0.1234567]] * samples}
    return json.dumps(body, separators=(",", ":")).encode()


def post(path: str, body: bytes, extra: bytes = b"") -> bytes:
    return (
        f"POST {path} HTTP/1.1\r\nHost: hostile\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\n".encode()
        + extra
        + b"\r\n"
        + body
    )


def connect(port: int, *, receive_buffer: int | None = None) -> socket.socket:
    sock = socket.socket()
    if receive_buffer is not None:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, receive_buffer)
    sock.connect(("127.0.0.1", port))
    return sock


def read_all(sock: socket.socket, seconds: float = 10.0) -> bytes:
    sock.settimeout(seconds)
    chunks = []
    try:
        while chunk := sock.recv(1 << 16):
            chunks.append(chunk)
    except (TimeoutError, ConnectionResetError):
        pass
    return b"".join(chunks)


def statuses(answer: bytes) -> list[int]:
    """The status of each answer on a connection, in order."""
    return [int(part[:3]) for part in answer.split(b"HTTP/1.1 ")[1:] if part[:3].isdigit()]


def worker_kib(server: Server, field: str) -> int:
    return status_kib(server.pid, field)


# The attacks ----------------------------------------------------------------------------------


def slow_readers(server: Server, count: int) -> Outcome:
    body = forward_body(width=2048, samples=80)
    stuck = []
    before = worker_kib(server, "VmRSS")
    for _ in range(count):
        sock = connect(server.port, receive_buffer=4096)
        sock.sendall(post("/v1/forward", body) * 2)
        stuck.append(sock)
    time.sleep(2.0)  # their first answers computed and stuck in the buffers
    started = time.monotonic()
    status, tries = 0, 0
    while time.monotonic() - started < 40 and status != 200:
        tries += 1
        status = httpx.post(f"http://127.0.0.1:{server.port}/v1/backprop", json=SPEC_EXAMPLE,
                            timeout=40).status_code  # fmt: skip
        if status != 200:
            time.sleep(0.5)
    served_after = time.monotonic() - started
    grown_mb = (worker_kib(server, "VmHWM") - before) / 1024
    dropped = 0
    deadline = time.monotonic() + DEFAULTS.write_timeout_seconds + 10
    for sock in stuck:
        sock.settimeout(max(0.1, deadline - time.monotonic()))
        try:
            while sock.recv(1 << 12):
                pass  # reading nothing more than the kernel's buffers hold; then the end
            dropped += 1
        except (TimeoutError, ConnectionResetError):
            dropped += 1 if time.monotonic() < deadline else 0
        sock.close()
    passed = status == 200 and grown_mb < 1536 and dropped == count
    return Outcome(
        f"slow readers ({count})",
        passed,
        f"normal request {status} after {served_after:.1f} s ({tries} tries); worker peak "
        f"+{grown_mb:.0f} MB; {dropped} of {count} stuck connections dropped",
    )


PROBE = textwrap.dedent("""
    import http.client, sys, time
    port, seconds = int(sys.argv[1]), float(sys.argv[2])
    connection, waits = http.client.HTTPConnection("127.0.0.1", port), []
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        start = time.perf_counter()
        connection.request("GET", "/healthz")
        connection.getresponse().read()
        waits.append(time.perf_counter() - start)
        time.sleep(0.005)
    print(len(waits), max(waits), sorted(waits)[len(waits) // 2])
""")


def heavy_answer(server: Server) -> Outcome:
    body = forward_body(width=4096, samples=480)
    probe = subprocess.Popen([sys.executable, "-c", PROBE, str(server.port), "6"],
                             stdout=subprocess.PIPE, text=True)  # fmt: skip
    time.sleep(0.3)
    sizes = []
    with httpx.Client(base_url=f"http://127.0.0.1:{server.port}", timeout=60) as client:
        end = time.monotonic() + 5
        while time.monotonic() < end:
            response = client.post("/v1/forward", content=body, headers=JSON)
            sizes.append((response.status_code, len(response.content)))
    out, _ = probe.communicate(timeout=30)
    count, longest, median = out.split()
    passed = all(status == 200 for status, _ in sizes) and float(longest) < 0.1
    return Outcome(
        "heavy answer",
        passed,
        f"{len(sizes)} answers of {sizes[0][1] / 1e6:.0f} MB from {len(body) / 1e3:.0f} KB "
        f"bodies; /healthz probed {count} times: median {float(median) * 1e3:.1f} ms, longest "
        f"{float(longest) * 1e3:.1f} ms",
    )


def descent(server: Server) -> Outcome:
    names = [f"x{i}" for i in range(20)]
    request = {"expression": " + ".join(f"{n}^2" for n in names),
               "start": dict.fromkeys(names, 1.0), "learning_rate": 0.1, "steps": 1000}  # fmt: skip
    start = time.monotonic()
    response = httpx.post(f"http://127.0.0.1:{server.port}/v1/derivatives/descent",
                          json=request, timeout=60)  # fmt: skip
    seconds = time.monotonic() - start
    passed = (400 <= response.status_code < 500 or response.status_code == 200) and seconds < 3
    return Outcome(
        "descent",
        passed,
        f"{len(json.dumps(request))} characters: {response.status_code} in {seconds:.2f} s",
    )


def echoes(server: Server) -> Outcome:
    url = f"http://127.0.0.1:{server.port}"
    long_type = {"content-type": "text/" + "x" * 60_000}
    cases = {
        "2 MB key": ("/v1/backprop", {**SPEC_EXAMPLE, "k" * 2_000_000: 1}, JSON),
        "200 KB key on /v1/derivatives": (
            "/v1/derivatives",
            {"expression": "x", "k" * 200_000: 1},
            JSON,
        ),
        "60 KB Content-Type": ("/v1/backprop", SPEC_EXAMPLE, long_type),
    }
    figures, passed = [], True
    for name, (path, body, headers) in cases.items():
        response = httpx.post(
            url + path, content=json.dumps(body).encode(), headers=headers, timeout=30
        )
        ok = 400 <= response.status_code < 500 and len(response.content) < 2000
        passed &= ok
        figures.append(f"{name}: {response.status_code}, {len(response.content)} bytes")
    return Outcome("echoes", passed, "; ".join(figures))


def idle_flood(server: Server, count: int = 1500) -> Outcome:
    idle: list[socket.socket] = []
    try:
        idle.extend(connect(server.port) for _ in range(count))
        answers = []
        for _ in range(5):
            response = httpx.post(f"http://127.0.0.1:{server.port}/v1/backprop",
                                  json=SPEC_EXAMPLE, timeout=30)  # fmt: skip
            shaped = response.status_code == 200 or (
                response.status_code == 503 and response.json()["detail"][0]["type"] == "busy"
            )
            answers.append((response.status_code, shaped))
    finally:
        for sock in idle:
            sock.close()
    passed = all(shaped for _, shaped in answers)
    return Outcome(
        f"idle flood ({count})",
        passed,
        "requests during the flood: " + ", ".join(str(status) for status, _ in answers),
    )


def exact_head(server: Server) -> Outcome:
    body = json.dumps(SPEC_EXAMPLE).encode()
    head = len(post("/v1/backprop", body)) - len(body)  # request line, headers, blank line
    filler = DEFAULTS.max_head_bytes - head - len(b"X-Fill: \r\n")

    def head_of(extra: int, *, byte_by_byte: bool) -> list[int]:
        request = post("/v1/backprop", body, b"X-Fill: " + b"a" * (filler + extra) + b"\r\n")
        sock = connect(server.port)
        if byte_by_byte:
            head, rest = request.split(b"\r\n\r\n", 1)
            for i in range(0, len(head), 4096):
                sock.sendall(head[i : i + 4096])
            sock.sendall(b"\r\n\r\n" + rest)
        else:
            sock.sendall(request)
        sock.shutdown(socket.SHUT_WR)
        answer = read_all(sock)
        sock.close()
        return statuses(answer)

    results = {
        "at the limit": head_of(0, byte_by_byte=False),
        "one byte over, one read": head_of(1, byte_by_byte=False),
        "one byte over, in pieces": head_of(1, byte_by_byte=True),
    }
    passed = results["at the limit"] == [200] and all(
        r == [431] for name, r in results.items() if "over" in name
    )
    return Outcome("exact head", passed, "; ".join(f"{k}: {v}" for k, v in results.items()))


def pipelined_order(server: Server) -> Outcome:
    body = json.dumps(SPEC_EXAMPLE).encode()
    sock = connect(server.port)
    sock.sendall(
        post("/v1/backprop", body)
        + post("/v1/backprop", body, b"X-Big: " + b"a" * 70_000 + b"\r\n")
    )
    answer = read_all(sock)
    sock.close()
    order = statuses(answer)
    return Outcome("pipelined order", order == [200, 431], f"answers in order: {order}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--slow-readers", type=int, default=70)
    args = parser.parse_args()
    attacks: list[Callable[[Server], Outcome]] = [
        lambda server: slow_readers(server, args.slow_readers),
        heavy_answer,
        descent,
        echoes,
        idle_flood,
        exact_head,
        pipelined_order,
    ]
    # the idle flood needs 1,500 sockets here and in the server, which inherits this limit
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    wanted = 4096 if hard == resource.RLIM_INFINITY else min(hard, 4096)
    resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, wanted), hard))
    outcomes = []
    with running("service") as server:
        print(f"backprop-service serve --workers 1 on port {server.port}, default settings")
        for attack in attacks:
            outcome = attack(server)
            outcomes.append(outcome)
            print(f"{'PASS' if outcome.passed else 'FAIL'}  {outcome.name}: {outcome.figures}",
                  flush=True)  # fmt: skip
        alive = httpx.get(f"http://127.0.0.1:{server.port}/readyz", timeout=10).status_code
    if alive != 200:
        outcomes.append(Outcome("still ready", False, f"/readyz {alive} after the attacks"))
    failed = [o.name for o in outcomes if not o.passed]
    print("hostile: all attacks held" if not failed else f"hostile: FAILED {', '.join(failed)}")
    raise SystemExit(1 if failed else 0)


if __name__ == "__main__":
    main()
