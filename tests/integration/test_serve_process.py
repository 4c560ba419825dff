"""`concert serve` as a user runs it: real processes, a real port, background loops on."""

from __future__ import annotations

import signal
import subprocess
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from integration.conftest import CONCERT, free_port, wait_until_up


@pytest.fixture
def scratch(tmp_path: Path) -> Path:
    """The server's temporary directory (``TMPDIR``), where its workers' metrics live."""
    (tmp_path / "scratch").mkdir()
    return tmp_path / "scratch"


@pytest.fixture
def server(
    environment: dict[str, str], scratch: Path
) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    port = free_port()
    process = subprocess.Popen(
        [*CONCERT, "serve", "--port", str(port), "--workers", "2"],
        env={**environment, "TMPDIR": str(scratch)},
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


def test_sigterm_stops_the_server_cleanly(
    server: tuple[str, subprocess.Popen[bytes]], scratch: Path
) -> None:
    _, process = server
    [metrics_dir] = scratch.glob("concert-metrics-*")  # the workers' counts, while it runs
    assert list(metrics_dir.glob("counter_*.db"))
    process.send_signal(signal.SIGTERM)
    assert process.wait(timeout=20) == 0
    output = process.stdout.read().decode() if process.stdout else ""
    assert "Traceback" not in output
    assert "/admin" in output  # serve prints the operators' dashboard's address
    assert not metrics_dir.exists()  # removed with the server


def test_every_scrape_counts_the_requests_and_the_sale_of_every_worker(
    server: tuple[str, subprocess.Popen[bytes]],
) -> None:
    base, _ = server
    for _ in range(6):  # a connection each: the two workers share them out
        assert httpx.get(f"{base}/api/v1/concerts").status_code == 200
    tokens = [
        httpx.post(
            f"{base}/api/v1/queue/tokens", json={"user_id": str(uuid.uuid4()), "concert_id": 1}
        ).json()["token"]
        for _ in range(3)
    ]
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and active_count(base, tokens) < 2:
        time.sleep(0.2)

    listings = (("method", "GET"), ("route", "/api/v1/concerts"), ("status", "200"))
    concert = (("concert_id", "1"),)
    for _ in range(4):  # consecutive scrapes, answered by either worker
        samples = scrape(base)
        assert samples["concert_http_requests_total", listings] == 6
        assert samples["concert_sale_joins_total", concert] == 3
        assert samples["concert_sale_admissions_total", concert] == 2
        assert samples["concert_queue_active", concert] == 2
        assert samples["concert_sale_phase", (*concert, ("phase", "OPEN"))] == 1


def active_count(base: str, tokens: list[str]) -> int:
    return sum(
        httpx.get(f"{base}/api/v1/queue/status", headers={"Authorization": f"Bearer {t}"}).json()[
            "status"
        ]
        == "ACTIVE"
        for t in tokens
    )


def scrape(base: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    reply = httpx.get(f"{base}/metrics")
    assert reply.status_code == 200
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(reply.text)
        for sample in family.samples
    }
