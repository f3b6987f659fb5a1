"""A real ``backprop-service serve`` on a free port of 127.0.0.1, for tests that need one."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from tests.test_server import free_port, wait_until_ready

ROOT = Path(__file__).resolve().parent.parent


@contextmanager
def serving(
    log: Path, settings: dict[str, str] | None = None, options: tuple[str, ...] = ()
) -> Iterator[str]:
    """The server's base URL once /readyz answers 200; the server is stopped on exit.

    settings: BACKPROP_* environment variables for it; options: more of serve's flags; its
    output goes to ``log``.
    """
    port = free_port()
    command = [str(Path(sys.executable).parent / "backprop-service"), "serve",
               "--host", "127.0.0.1", "--port", str(port), "--workers", "1", *options]  # fmt: skip
    env = {**os.environ, **(settings or {})}
    with log.open("wb") as output:
        process = subprocess.Popen(
            command, cwd=ROOT, env=env, stdout=output, stderr=subprocess.STDOUT
        )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until_ready(url, process, log)
        yield url
    finally:
        process.terminate()
        process.wait(timeout=10)
