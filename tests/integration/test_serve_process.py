"""`concert serve` as a user runs it: real processes, a real port, background loops on."""

from __future__ import annotations

import signal
import subprocess
import time
import uuid
from collections.abc import Iterator

import httpx
import pytest

from integration.conftest import CONCERT, free_port, wait_until_up


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
