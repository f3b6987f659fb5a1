"""make scale-test: a replica set of the image behind nginx loses one replica and rolls another.

    python scripts/scale_test.py [--image backprop-service:test] [--clients 4] [--seconds 5]
                                 [--rounds 3] [--max-requests 3000] [--min-speedup 1.2]
                                 [--own-cgroups]

Three containers of the image (one worker each, as the Kubernetes manifests run them) listen on
loopback ports; Debian's nginx, run unprivileged from a temporary configuration (no system
service), balances across them and retries a request that fails on one replica on the next:

    proxy_next_upstream error timeout http_502 http_503 non_idempotent;

(non_idempotent: every request of this service is a pure computation, so a POST may be sent
twice). Closed-loop clients send the same /v1/gradcheck request (a 4-16-16-3 network: about
45 ms of CPU, 1 kB in and out), each answer compared byte for byte with the one a replica gave
directly. Every phase is bounded in time and in requests (--max-requests):

1. throughput: --rounds rounds of one replica behind nginx, then two, each --seconds long (the
   first second is not counted), interleaved so that the machine's other load falls on both;
2. failover: all three behind nginx; 4 s in, one is killed (SIGKILL, requests in flight and
   all); 4 s later another is rolled (docker stop, a new container on its port, wait until
   /readyz answers); the load goes on 4 s more.

Passes when no client request failed in any phase (every answer 200 and identical to the
reference), nginx did retry requests on another replica (so the kill did hit), the rolled
replica served requests after its return, and two replicas gave at least --min-speedup times the
median throughput of one. Prints the figures and "scale-test: N passed, M failed"; exits 1 on
any failure. Containers and nginx are removed at the end, whatever happened.
"""

from __future__ import annotations

import argparse
import itertools
import os
import pwd
import random
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from containers import Container, exit_on_sigterm, free_port, get, own_cgroup, started

ONE_WORKER = {"WEB_CONCURRENCY": "1"}

MIN_CORES = 1.5
"""Below this much CPU for two replicas, the machine is too busy to compare 2 replicas with 1."""

LOG_LINE = re.compile(r'^(\S+) (\d+) "([^"]*)" "([^"]*)" \S+$')

NGINX_CONF = """\
worker_processes 1;
daemon off;
pid {tmp}/nginx.pid;
error_log {tmp}/error.log warn;
events {{ worker_connections 1024; }}
http {{
    log_format upstreams '$msec $status "$upstream_addr" "$upstream_status" $request_time';
    access_log {tmp}/access.log upstreams;
    client_body_temp_path {tmp}/client_body;
    proxy_temp_path {tmp}/proxy;
    fastcgi_temp_path {tmp}/fastcgi;
    uwsgi_temp_path {tmp}/uwsgi;
    scgi_temp_path {tmp}/scgi;
    upstream backprop {{
{servers}
        keepalive 16;
    }}
    server {{
        listen 127.0.0.1:{port};
        client_max_body_size 32m;
        location / {{
            proxy_pass http://backprop;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            # A replica that refuses the connection, resets it, or answers 502/503 (busy, or
            # stopping) gets the request sent to the next one: every request is a pure
            # computation, so a POST may be retried (non_idempotent).
            proxy_next_upstream error timeout http_502 http_503 non_idempotent;
            proxy_next_upstream_tries 3;
            proxy_next_upstream_timeout 15s;
            proxy_connect_timeout 2s;
            proxy_read_timeout 60s;
        }}
    }}
}}
"""


def gradcheck_request() -> dict[str, Any]:
    """A 4-16-16-3 tanh network with softmax + cross-entropy, 4 samples: ~45 ms of gradcheck."""
    rng = random.Random(13)
    sizes = [4, 16, 16, 3]
    layers = [
        {
            "weights": [[round(rng.uniform(-1, 1), 2) for _ in range(b)] for _ in range(a)],
            "biases": [round(rng.uniform(-1, 1), 2) for _ in range(b)],
            "activation": "tanh" if i < len(sizes) - 2 else "softmax",
        }
        for i, (a, b) in enumerate(itertools.pairwise(sizes))
    ]
    inputs = [[round(rng.uniform(-1, 1), 2) for _ in range(sizes[0])] for _ in range(4)]
    return {
        "network": {"layers": layers},
        "inputs": inputs,
        "targets": [0, 1, 2, 1],
        "loss": "cross_entropy",
    }


# nginx -----------------------------------------------------------------------------------------


@dataclass
class Balancer:
    url: str
    log: Path

    def entries(self) -> list[tuple[float, str, list[str], list[str]]]:
        """The access log, per request: its time, its status, and the upstream addresses tried
        with the status each gave ("-" for none: refused or reset), in order."""
        rows = []
        for line in self.log.read_text().splitlines():
            found = LOG_LINE.match(line)
            assert found is not None, f"an access log line of another format: {line}"
            when, status, addresses, statuses = found.groups()
            rows.append((float(when), status, addresses.split(", "), statuses.split(", ")))
        return rows


def nginx_binary() -> str:
    found = shutil.which("nginx", path=os.environ.get("PATH", "") + ":/usr/sbin")
    if found is None:
        raise SystemExit("nginx is not installed: apt-get install nginx (make scale-test does)")
    return found


@contextmanager
def nginx(ports: list[int]) -> Iterator[Balancer]:
    """nginx in the foreground on a free loopback port, balancing across ``ports``.

    Run as the user nobody when this script runs as root (as CI does), so that no part of it is
    privileged; its configuration, logs and buffers live in a temporary directory removed after.
    """
    tmp = Path(tempfile.mkdtemp(prefix="scale-test-nginx-"))
    port = free_port()
    servers = "\n".join(f"        server 127.0.0.1:{p} max_fails=1 fail_timeout=2s;" for p in ports)
    (tmp / "nginx.conf").write_text(NGINX_CONF.format(tmp=tmp, servers=servers, port=port))
    command = [nginx_binary(), "-p", str(tmp), "-e", str(tmp / "error.log"), "-c", "nginx.conf"]
    if os.geteuid() == 0:
        nobody = pwd.getpwnam("nobody")
        os.chown(tmp, nobody.pw_uid, nobody.pw_gid)
        for path in tmp.iterdir():
            os.chown(path, nobody.pw_uid, nobody.pw_gid)
        command = ["setpriv", f"--reuid={nobody.pw_uid}", f"--regid={nobody.pw_gid}",
                   "--clear-groups", "--", *command]  # fmt: skip
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        url = f"http://127.0.0.1:{port}"
        for _ in range(100):
            if get(url + "/healthz", timeout=1)[0] == 200:
                break
            if process.poll() is not None:
                error = process.stderr.read().decode() if process.stderr else ""
                raise RuntimeError(f"nginx exited: {error}")
            time.sleep(0.05)
        else:
            raise RuntimeError("nginx did not answer within 5 s")
        yield Balancer(url, tmp / "access.log")
    finally:
        process.send_signal(signal.SIGQUIT)  # graceful: finish what it serves, then exit
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        shutil.rmtree(tmp, ignore_errors=True)


# The load --------------------------------------------------------------------------------------


@dataclass
class Load:
    """Closed-loop clients, each sending the next request when its answer is in."""

    url: str
    body: dict[str, Any]
    expected: bytes
    clients: int
    max_requests: int
    answered: list[float] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _stop: threading.Event = field(default_factory=threading.Event)
    _threads: list[threading.Thread] = field(default_factory=list)
    started: float = 0.0
    ended: float = 0.0

    def start(self, deadline: float) -> None:
        self.started = time.monotonic()
        self._threads = [
            threading.Thread(target=self._client, args=(self.started + deadline,), daemon=True)
            for _ in range(self.clients)
        ]
        for thread in self._threads:
            thread.start()

    def stop(self) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(90)
        self.ended = time.monotonic()

    def _take(self, deadline: float) -> bool:
        with self._lock:
            return (
                not self._stop.is_set()
                and time.monotonic() < deadline
                and len(self.answered) + len(self.failures) < self.max_requests
            )

    def _client(self, deadline: float) -> None:
        with httpx.Client(base_url=self.url, timeout=60) as client:
            while self._take(deadline):
                try:
                    response = client.post("/v1/gradcheck", json=self.body)
                    if response.status_code != 200:
                        failure = f"{response.status_code}: {response.text[:200]}"
                    elif response.content != self.expected:
                        failure = f"a different answer: {response.text[:200]}"
                    else:
                        failure = ""
                except httpx.HTTPError as exc:
                    failure = f"{type(exc).__name__}: {exc}"
                with self._lock:
                    if failure:
                        self.failures.append(failure)
                    else:
                        self.answered.append(time.monotonic())

    def throughput(self, warmup: float = 1.0) -> float:
        """Answers per second, after the first ``warmup`` seconds."""
        counted = [t for t in self.answered if t >= self.started + warmup]
        return len(counted) / max(self.ended - self.started - warmup, 1e-9)


@dataclass
class Checks:
    passed: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)

    def record(self, name: str, ok: bool, detail: str) -> None:
        (self.passed if ok else self.failed).append(name)
        print(f"{'PASS' if ok else 'FAIL'} {name}: {detail}", flush=True)


def steady(balancer: Balancer, args: argparse.Namespace, ref: bytes, seconds: float) -> Load:
    load = Load(balancer.url, gradcheck_request(), ref, args.clients, args.max_requests)
    load.start(seconds)
    time.sleep(seconds)
    load.stop()
    return load


@dataclass
class Round:
    replicas: int
    rate: float
    """Answers per second."""
    cores: float | None
    """CPU the replicas used, in cores (None where their processes are not visible)."""
    shares: list[float]
    """The share of the answers each replica gave."""


def throughput_rounds(
    checks: Checks, replicas: list[Container], args: argparse.Namespace, ref: bytes
) -> list[Round]:
    """Rounds of one replica, then two, interleaved so that a change in the machine's other load
    falls on both alike."""
    rounds: list[Round] = []
    failures: list[str] = []
    answered = 0
    for round_ in range(args.rounds):
        for n in (1, 2):
            used = replicas[:n]
            with nginx([r.port for r in used]) as balancer:
                cpu_before = [r.cpu_seconds() for r in used]
                load = steady(balancer, args, ref, args.seconds)
                cpu_after = [r.cpu_seconds() for r in used]
                last = [e[2][-1] for e in balancer.entries()]
            cores = None
            if None not in cpu_before + cpu_after:
                spent = sum(
                    b - a
                    for a, b in zip(cpu_before, cpu_after, strict=True)
                    if a is not None and b is not None
                )
                cores = spent / (load.ended - load.started)
            shares = [sum(a.endswith(f":{r.port}") for a in last) / len(last) for r in used]
            rounds.append(Round(n, load.throughput(), cores, shares))
            failures += load.failures
            answered += len(load.answered)
            rate = rounds[-1].rate
            used_cpu = ""
            if cores is not None:
                per_cpu = rate / max(cores, 1e-9)
                used_cpu = f", the replicas used {cores:.2f} cores ({per_cpu:.1f} per CPU-second)"
            print(f"  round {round_ + 1}, {n} replica{'s' if n > 1 else ''}: {rate:.1f} requests/s"
                  f"{used_cpu}", flush=True)  # fmt: skip
    checks.record(
        "1 and 2 replicas: no failed request",
        not failures,
        f"{answered} answered, {len(failures)} failed {failures[:3] if failures else ''}",
    )
    least = min(min(r.shares) for r in rounds if r.replicas == 2)
    checks.record(
        "nginx shares the load between 2 replicas",
        least >= 0.3,
        f"the smaller share of answers in a round is {least:.0%} (at least 30%)",
    )
    return rounds


def check_speedup(checks: Checks, rounds: list[Round], args: argparse.Namespace) -> None:
    """2 replicas against 1, by the medians of the rounds, where the machine let them use its
    cores: on a machine busy with other work, two replicas cannot get two cores' worth."""
    one = statistics.median(r.rate for r in rounds if r.replicas == 1)
    two = statistics.median(r.rate for r in rounds if r.replicas == 2)
    cores = [r.cores for r in rounds if r.replicas == 2]
    got = None if None in cores else statistics.median(c for c in cores if c is not None)
    detail = (
        f"median {two:.1f} / {one:.1f} requests/s = {two / max(one, 1e-9):.2f}x (at least "
        f"{args.min_speedup:g}x; {args.rounds} rounds of {args.seconds:g} s, {args.clients} "
        f"clients; 2 cores shared with nginx and the clients; "
    )
    if got is not None and got < MIN_CORES:
        print(f"SKIP 2 replicas are faster than 1: {detail}the 2 replicas got {got:.2f} cores, "
              f"under {MIN_CORES:g}: the machine is busy with other work)", flush=True)  # fmt: skip
        checks.skipped.append("speedup")
        return
    cores_said = "" if got is None else f"the 2 replicas used {got:.2f} cores)"
    checks.record(
        "2 replicas are faster than 1", two >= args.min_speedup * one, detail + cores_said
    )


def failover_phase(
    checks: Checks,
    replicas: list[Container],
    args: argparse.Namespace,
    ref: bytes,
    stack: ExitStack,
    *,
    rolled_options: list[str],
) -> None:
    killed, rolled, _ = replicas
    with nginx([r.port for r in replicas]) as balancer:
        load = Load(balancer.url, gradcheck_request(), ref, args.clients, args.max_requests)
        seconds = 90  # a bound: the phase ends when the steps below are done, in about 15 s
        load.start(seconds)
        time.sleep(4)
        killed.kill()
        killed_at = time.monotonic()
        print(f"  {load_figures(load)}: killed {killed.name} (SIGKILL)", flush=True)
        time.sleep(4)
        stop_took = rolled.stop()
        rolled.remove()
        print(f"  {load_figures(load)}: stopped {rolled.name} in {stop_took:.1f} s", flush=True)
        new = stack.enter_context(
            started(args.image, "backprop-scale-rolled", rolled.port, ONE_WORKER, rolled_options)
        )
        ready = new.wait_ready(60)
        back_at = time.time()
        print(
            f"  {load_figures(load)}: {new.name} ready {ready:.1f} s after docker run", flush=True
        )
        time.sleep(4)
        load.stop()
        entries = balancer.entries()
    retried = [e for e in entries if len(e[2]) > 1]
    served_by_new = [e for e in entries if e[0] > back_at and e[2][-1].endswith(f":{new.port}")]
    during = [t for t in load.answered if t >= killed_at]
    checks.record(
        "kill one replica, roll another: no failed request",
        not load.failures and len(load.answered) > 0,
        f"{len(load.answered)} answered ({len(during)} after the kill), {len(load.failures)} "
        f"failed {load.failures[:3] if load.failures else ''}; "
        f"{load.throughput():.1f} requests/s over the phase",
    )
    how = sorted({", ".join(e[3]) for e in retried})
    checks.record(
        "nginx sent requests that failed on a replica to another",
        len(retried) > 0,
        f"{len(retried)} retried, upstream statuses {how}",
    )
    checks.record(
        "the rolled replica serves again",
        len(served_by_new) > 0,
        f"{len(served_by_new)} requests answered by it after its return",
    )


def load_figures(load: Load) -> str:
    return f"t+{time.monotonic() - load.started:4.1f} s, {len(load.answered)} answered"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--image", default="backprop-service:test")
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument("--seconds", type=float, default=5.0, help="length of a throughput round")
    parser.add_argument("--rounds", type=int, default=3, help="rounds of 1 and of 2 replicas")
    parser.add_argument("--max-requests", type=int, default=3000, help="per phase")
    parser.add_argument("--min-speedup", type=float, default=1.2)
    parser.add_argument(
        "--own-cgroups",
        action="store_true",
        help="each replica in a CPU cgroup of its own, as on machines of their own, rather than "
        "all in Docker's one (which, on a busy machine, gets one process's share in all)",
    )
    args = parser.parse_args()
    exit_on_sigterm()
    nginx_binary()

    checks = Checks()
    with ExitStack() as stack:
        options: list[list[str]] = [[], [], []]
        if args.own_cgroups:
            options = [
                stack.enter_context(own_cgroup(f"backprop-scale-{i}-{os.getpid()}"))
                for i in (1, 2, 3)
            ]
        replicas = [
            stack.enter_context(
                started(args.image, f"backprop-scale-{i}", env=ONE_WORKER, more=options[i - 1])
            )
            for i in (1, 2, 3)
        ]
        for replica in replicas:
            replica.wait_ready(60)
        ports = [r.port for r in replicas]
        where = ", each in a CPU cgroup of its own" if args.own_cgroups else ""
        print(
            f"3 replicas (one worker each{where}) on 127.0.0.1 ports {', '.join(map(str, ports))}"
        )
        direct = httpx.post(replicas[0].url + "/v1/gradcheck", json=gradcheck_request(), timeout=30)
        direct.raise_for_status()
        reference = direct.content
        print(f"the request: /v1/gradcheck 4-16-16-3, verdict {direct.json()['verdict']}")

        rounds = throughput_rounds(checks, replicas, args, reference)
        check_speedup(checks, rounds, args)
        failover_phase(checks, replicas, args, reference, stack, rolled_options=options[1])
    skipped = f", {len(checks.skipped)} skipped" if checks.skipped else ""
    print(f"scale-test: {len(checks.passed)} passed, {len(checks.failed)} failed{skipped}")
    return 1 if checks.failed else 0


if __name__ == "__main__":
    sys.exit(main())
