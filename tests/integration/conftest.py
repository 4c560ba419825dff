"""Real processes: the `concert` CLI and servers on free loopback ports."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

CONCERT = [sys.executable, "-c", "from entrypoints.cli import main; main()"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_until_up(base: str, process: subprocess.Popen[bytes], seconds: float = 30) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"server exited with {process.returncode}")
        try:
            if httpx.get(f"{base}/health", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise AssertionError("server did not come up")


@pytest.fixture
def environment(tmp_path: Path) -> dict[str, str]:
    env = {
        **os.environ,
        "CONCERT_DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path}/serve.db",
        "CONCERT_ACTIVE_CAPACITY": "2",
        "CONCERT_ADMISSION_INTERVAL_SECONDS": "0.2",
        "CONCERT_RATE_LIMIT_JOINS_PER_MINUTE": "0",  # tests of the limits set their own
        "PYTHONPATH": os.pathsep.join(p for p in sys.path if p),
    }
    for command in (["db", "upgrade"], ["seed", "--concerts", "1", "--dates", "1"]):
        subprocess.run([*CONCERT, *command], env=env, check=True, capture_output=True)
    return env


@contextmanager
def serving(env: dict[str, str]) -> Iterator[tuple[str, int]]:
    """A ``concert serve`` on a free port with ``env``: its base URL and port. On leaving,
    it is stopped, and must not have printed a traceback."""
    port = free_port()
    process = subprocess.Popen(
        [*CONCERT, "serve", "--port", str(port), "--no-access-log"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        wait_until_up(base, process)
        yield base, port
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            out, _ = process.communicate(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            out, _ = process.communicate()
        assert b"Traceback" not in out, out.decode(errors="replace")[-3000:]
