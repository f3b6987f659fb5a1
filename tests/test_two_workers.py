"""A real server with two worker processes, as the image runs on two CPUs: /metrics adds up
every worker's requests, a killed worker's live values go, serve removes the directory it made
for them, and the JSON logs of both workers carry each request's id."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from schemas import SPEC_EXAMPLE
from tests.test_compression import BOMB
from tests.test_metrics import parse, requests_by, value
from tests.test_server import free_port

pytestmark = pytest.mark.server

ROOT = Path(__file__).resolve().parent.parent


@dataclass
class Server:
    url: str
    process: subprocess.Popen[bytes]
    tmp: Path
    log: Path

    def workers(self) -> list[int]:
        """The pids of uvicorn's worker processes (the children it spawned to serve)."""
        children = Path(f"/proc/{self.process.pid}/task/{self.process.pid}/children")
        return [int(p) for p in children.read_text().split() if b"spawn_main" in _cmdline(p)]

    def metrics_directory(self) -> Path:
        (directory,) = self.tmp.glob("backprop-metrics-*")  # serve made it in TMPDIR
        return directory


def _cmdline(pid: str) -> bytes:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return b""


def _ready(url: str) -> bool:
    try:  # each worker answers /readyz once it has done its start-up
        return all(httpx.get(f"{url}/readyz").status_code == 200 for _ in range(4))
    except httpx.TransportError:
        return False


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """``serve --workers 2 --access-log`` with JSON logs, its temporary files in a folder of
    the test's own."""
    tmp = tmp_path_factory.mktemp("two-workers")
    port = free_port()
    command = [str(Path(sys.executable).parent / "backprop-service"), "serve",
               "--port", str(port), "--workers", "2", "--access-log"]  # fmt: skip
    env = {k: v for k, v in os.environ.items() if k != "PROMETHEUS_MULTIPROC_DIR"}
    env.update(TMPDIR=str(tmp), BACKPROP_LOG_FORMAT="json")
    log = tmp / "server.log"
    with log.open("wb") as output:
        process = subprocess.Popen(
            command, cwd=ROOT, env=env, stdout=output, stderr=subprocess.STDOUT
        )
    found = Server(f"http://127.0.0.1:{port}", process, tmp, log)
    try:
        deadline = time.monotonic() + 60
        while len(found.workers()) < 2 or not _ready(found.url):
            assert process.poll() is None, log.read_text()
            assert time.monotonic() < deadline, "the server did not become ready"
            time.sleep(0.2)
        yield found
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            process.wait(timeout=30)


MADE = 40


def test_metrics_add_up_every_workers_requests(server: Server) -> None:
    for i in range(MADE):  # a connection each: the kernel shares them between the workers
        with httpx.Client() as client:
            answer = client.post(f"{server.url}/v1/backprop", json=SPEC_EXAMPLE,
                                 headers={"x-request-id": f"two-{i}"})  # fmt: skip
            assert answer.status_code == 200
    served_by = {f.stem.rsplit("_", 1)[1] for f in server.metrics_directory().glob("counter_*")}
    assert len(served_by) == 2, "both workers answered some"
    samples = parse(httpx.get(f"{server.url}/metrics").text)
    assert requests_by(samples)["/v1/backprop", "POST", "200"] == MADE
    assert value(samples, "backprop_http_requests_in_flight") == 1  # the scrape


def test_both_workers_log_json_lines_with_the_request_id(server: Server) -> None:
    lines = [json.loads(line) for line in server.log.read_text().splitlines()]  # all JSON
    assert all({"time", "level", "logger", "message", "request_id"} <= set(e) for e in lines)
    access = {e["request_id"]: e for e in lines if e["logger"] == "backprop_service.access"}
    for i in range(MADE):
        line = access[f"two-{i}"]
        assert (line["route"], line["method"], line["status"]) == ("/v1/backprop", "POST", 200)
        assert 0 < line["duration_ms"] < 10_000
    started = [e for e in lines if e["message"] == "Application startup complete."]
    assert len(started) == 2
    assert all(e["request_id"] == "-" for e in started)


@pytest.mark.parametrize("path", ["/healthz", "/readyz"])
def test_head_on_the_health_probes_is_200_without_a_body(server: Server, path: str) -> None:
    with httpx.Client() as client:
        head = client.head(f"{server.url}{path}", headers={"x-request-id": "probe-1"})
    assert head.status_code == 200
    assert head.content == b""
    assert head.headers["x-request-id"] == "probe-1"


def peak_rss_mib(pid: int) -> float:
    """The most resident memory a process has had (VmHWM), in MiB."""
    status = Path(f"/proc/{pid}/status").read_text()
    (kib,) = (line.split()[1] for line in status.splitlines() if line.startswith("VmHWM:"))
    return int(kib) / 1024


def test_a_1_gib_gzip_bomb_is_refused_within_the_body_limit(server: Server) -> None:
    workers = server.workers()
    before = {pid: peak_rss_mib(pid) for pid in workers}
    with httpx.Client(timeout=60) as client:
        answer = client.post(f"{server.url}/v1/backprop", content=BOMB, headers={
            "content-type": "application/json", "content-encoding": "gzip"})  # fmt: skip
    assert answer.status_code == 413
    assert "max_body_bytes = 33,554,432 bytes" in answer.json()["detail"][0]["msg"]
    growth = max(peak_rss_mib(pid) - before[pid] for pid in workers)
    assert growth < 32 + 32, f"a worker's peak memory grew by {growth:.0f} MiB"


def live_gauge_pids(directory: Path) -> set[int]:
    return {int(f.stem.rsplit("_", 1)[1]) for f in directory.glob("gauge_live*_*.db")}


def test_a_killed_workers_live_values_go_and_serve_cleans_up(server: Server) -> None:
    """uvicorn replaces a killed worker; the new one marks the dead one's live values dead
    (requests in flight), while the counts stay. Then serve stops and removes the directory."""
    directory = server.metrics_directory()
    victim = server.workers()[0]
    assert victim in live_gauge_pids(directory)
    os.kill(victim, signal.SIGKILL)
    deadline = time.monotonic() + 60
    while victim in live_gauge_pids(directory) or len(server.workers()) < 2:
        assert time.monotonic() < deadline, "the dead worker's live values stayed"
        time.sleep(0.2)
    while not _ready(server.url):
        time.sleep(0.2)
    samples = parse(httpx.get(f"{server.url}/metrics").text)
    assert requests_by(samples)["/v1/backprop", "POST", "200"] == MADE, "counts are kept"
    assert value(samples, "backprop_http_requests_in_flight") == 1

    server.process.send_signal(signal.SIGTERM)
    assert server.process.wait(timeout=30) == 0
    assert not directory.exists(), "serve removes the directory it made"
