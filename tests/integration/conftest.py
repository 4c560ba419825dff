"""Real processes: the `concert` CLI and servers on free loopback ports."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import sqlite3
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


def _environment(database: Path) -> dict[str, str]:
    return {
        **os.environ,
        "CONCERT_DATABASE_URL": f"sqlite+aiosqlite:///{database}",
        "CONCERT_ACTIVE_CAPACITY": "2",
        "CONCERT_ADMISSION_INTERVAL_SECONDS": "0.2",
        "CONCERT_RATE_LIMIT_JOINS_PER_MINUTE": "0",  # tests of the limits set their own
        "PYTHONPATH": os.pathsep.join(p for p in sys.path if p),
    }


@pytest.fixture(scope="session")
def seeded_sqlite(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An SQLite file as ``concert db upgrade`` and ``concert seed`` leave it (one
    concert, one date), made once by the CLI: each test serves a copy of it."""
    database = tmp_path_factory.mktemp("seeded") / "serve.db"
    env = _environment(database)
    for command in (["db", "upgrade"], ["seed", "--concerts", "1", "--dates", "1"]):
        subprocess.run([*CONCERT, *command], env=env, check=True, capture_output=True)
    return database


@pytest.fixture
def environment(tmp_path: Path, seeded_sqlite: Path) -> dict[str, str]:
    """A server's environment on a freshly seeded SQLite file of the test's own."""
    database = tmp_path / "serve.db"
    with (
        contextlib.closing(sqlite3.connect(seeded_sqlite)) as source,
        contextlib.closing(sqlite3.connect(database)) as target,
    ):
        source.backup(target)
    return _environment(database)


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
