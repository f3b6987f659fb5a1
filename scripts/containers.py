"""Containers of the service's image for make image-test and make scale-test, by the docker CLI.

Every container runs as the deployment guide says (read-only root filesystem, user 10001), with
host networking and HOST=127.0.0.1, so that it listens on one loopback port of this machine and
nowhere else. ``started`` removes its container on the way out, whatever happened.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

LABEL = "backprop-service.test"
"""Every container started here carries this label, with the id of the run that started it."""


def exit_on_sigterm() -> None:
    """Make SIGTERM (a CI timeout, say) unwind like Ctrl-C, so that every container and nginx
    started here is removed on the way out."""

    def stop(signum: int, frame: object) -> None:
        raise SystemExit(128 + signum)

    signal.signal(signal.SIGTERM, stop)


def free_port() -> int:
    """A loopback port nothing listens on now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def docker(*args: str, timeout: float = 120) -> str:
    """Run the docker CLI; its stdout, or CalledProcessError with its stderr."""
    done = subprocess.run(
        ["docker", *args], capture_output=True, text=True, timeout=timeout, check=False
    )
    if done.returncode != 0:
        raise subprocess.CalledProcessError(done.returncode, done.args, done.stdout, done.stderr)
    return done.stdout.strip()


def get(url: str, timeout: float = 2) -> tuple[int, bytes]:
    """GET url: the status and body, (0, b"") when nothing answers."""
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()
    except (OSError, TimeoutError):
        return 0, b""


@dataclass
class Container:
    id: str
    name: str
    port: int
    started: float
    """time.monotonic() just before `docker run`."""

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def inspect(self) -> dict[str, Any]:
        result: list[dict[str, Any]] = json.loads(docker("inspect", self.id))
        return result[0]

    def health(self) -> str:
        """Docker's health status: starting, healthy or unhealthy."""
        return str(self.inspect()["State"].get("Health", {}).get("Status", "none"))

    def wait_ready(self, within: float) -> float:
        """Seconds from `docker run` until GET /readyz answers 200; TimeoutError past ``within``."""
        while time.monotonic() - self.started < within:
            if get(self.url + "/readyz", timeout=1)[0] == 200:
                return time.monotonic() - self.started
            if not self.inspect()["State"]["Running"]:
                raise RuntimeError(f"{self.name} exited: {self.logs()[-2000:]}")
            time.sleep(0.1)
        raise TimeoutError(f"{self.name} was not ready within {within:g} s")

    def stop(self, timeout: int = 10) -> float:
        """`docker stop` (SIGTERM, then SIGKILL after ``timeout`` s); the seconds it took."""
        begin = time.monotonic()
        docker("stop", "--time", str(timeout), self.id, timeout=timeout + 30)
        return time.monotonic() - begin

    def kill(self) -> None:
        """SIGKILL: the container dies at once, requests in flight and all."""
        docker("kill", self.id)

    def cpu_seconds(self) -> float | None:
        """CPU time (user + system) of the container's main process so far: with one worker, the
        server itself. None where its process is not visible here (a Docker VM, say)."""
        try:
            pid = self.inspect()["State"]["Pid"]
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            return None
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def logs(self) -> str:
        done = subprocess.run(
            ["docker", "logs", self.id], capture_output=True, text=True, check=False
        )
        return done.stdout + done.stderr

    def remove(self) -> None:
        subprocess.run(["docker", "rm", "--force", self.id], capture_output=True, check=False)


def run(
    image: str,
    name: str,
    port: int,
    env: dict[str, str] | None = None,
    more: list[str] | None = None,
) -> Container:
    """Start a container of ``image`` on 127.0.0.1:``port``, as docs/deployment.md runs it;
    ``more``: more options of `docker run`."""
    options = ["--read-only", "--user", "10001", "--network", "host", *(more or [])]
    options += ["--label", f"{LABEL}={os.getpid()}", "--name", name]
    for key, value in {"HOST": "127.0.0.1", "PORT": str(port), **(env or {})}.items():
        options += ["--env", f"{key}={value}"]
    began = time.monotonic()
    container_id = docker("run", "--detach", *options, image)
    return Container(container_id, name, port, began)


@contextmanager
def started(
    image: str,
    name: str,
    port: int | None = None,
    env: dict[str, str] | None = None,
    more: list[str] | None = None,
) -> Iterator[Container]:
    """A running container, removed (forcibly, if need be) when the block ends."""
    container = run(image, f"{name}-{os.getpid()}", port or free_port(), env, more)
    try:
        yield container
    finally:
        container.remove()


def image_size(image: str) -> int:
    """The image's size in bytes, as `docker images` counts it (all its layers)."""
    return int(docker("image", "inspect", "--format", "{{.Size}}", image))


def base_image(dockerfile: str = "Dockerfile") -> str:
    """The image the Dockerfile's last stage starts from."""
    with open(dockerfile) as f:
        froms = [line.split()[1] for line in f if line.upper().startswith("FROM ")]
    return froms[-1]


@contextmanager
def own_cgroup(name: str) -> Iterator[list[str]]:
    """`docker run` options that put a container in a CPU cgroup of its own, ``name``, beside
    Docker's (which holds every other container), removed at the end when Docker leaves it.

    Under cgroup v1 the one cgroup of all containers weighs as much as one busy process outside
    it: on a machine busy with other work, containers in it share one process's worth of CPU
    however many they are. A cgroup each gives each replica its own share, as separate machines
    or pods would have.
    """
    systemd = docker("info", "--format", "{{.CgroupDriver}}") == "systemd"
    yield ["--cgroup-parent", f"{name}.slice" if systemd else f"/{name}"]
    if not systemd:
        for directory in Path("/sys/fs/cgroup").glob(f"*/{name}"):
            with contextlib.suppress(OSError):
                directory.rmdir()
        with contextlib.suppress(OSError):
            (Path("/sys/fs/cgroup") / name).rmdir()
