"""`concert serve` as a user runs it: real processes, a real port, background loops on."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
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
        "PYTHONPATH": os.pathsep.join(p for p in sys.path if p),
    }
    for command in (["db", "upgrade"], ["seed", "--concerts", "1", "--dates", "1"]):
        subprocess.run([*CONCERT, *command], env=env, check=True, capture_output=True)
    return env


@pytest.fixture
def server(environment: dict[str, str]) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    port = free_port()
    process = subprocess.Popen(
        [*CONCERT, "serve", "--port", str(port), "--workers", "2"],
        env=environment,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        wait_until_up(base, process)
        yield base, process
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def test_two_worker_processes_serve_and_their_loops_admit_fans_up_to_the_cap(
    server: tuple[str, subprocess.Popen[bytes]],
) -> None:
    base, _ = server
    tokens = []
    for _ in range(3):
        reply = httpx.post(
            f"{base}/api/v1/queue/tokens", json={"user_id": str(uuid.uuid4()), "concert_id": 1}
        )
        assert reply.status_code == 201
        tokens.append(reply.json()["token"])
    deadline = time.monotonic() + 10
    statuses: list[str] = []
    while time.monotonic() < deadline:
        statuses = [
            httpx.get(
                f"{base}/api/v1/queue/status", headers={"Authorization": f"Bearer {t}"}
            ).json()["status"]
            for t in tokens
        ]
        if statuses[:2] == ["ACTIVE", "ACTIVE"]:
            break
        time.sleep(0.2)
    # No operator ran an admission: the servers' own loops did, in FIFO order, to the cap.
    assert statuses == ["ACTIVE", "ACTIVE", "WAITING"]
    assert httpx.get(f"{base}/schema/openapi.json").status_code == 200


def test_sigterm_stops_the_server_cleanly(server: tuple[str, subprocess.Popen[bytes]]) -> None:
    _, process = server
    process.send_signal(signal.SIGTERM)
    assert process.wait(timeout=20) == 0
    output = process.stdout.read().decode() if process.stdout else ""
    assert "Traceback" not in output
