"""The embedded shape (SQLite) under 20,000 connections that never finish a request
(docs/contract.md §9)."""

from __future__ import annotations

import signal
import subprocess
from collections.abc import Iterator

import httpx
import pytest

from integration.conftest import CONCERT, free_port, wait_until_up
from integration.staying_up import CONNECTIONS, Outcome, fan_under_attack

HEADER_TIMEOUT = 5.0
"""CONCERT_HEADER_TIMEOUT_SECONDS's default."""
PER_ADDRESS = 256
"""CONCERT_MAX_CONNECTIONS_PER_ADDRESS's default."""


@pytest.fixture
def serving(environment: dict[str, str]) -> Iterator[tuple[str, int]]:
    port = free_port()
    process = subprocess.Popen(
        [*CONCERT, "serve", "--port", str(port), "--no-access-log"],
        env=environment,
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


def assert_fan_served_and_slow_clients_bounded(outcome: Outcome) -> None:
    # The fan, on another address, was answered every time, each within a second.
    assert len(outcome.fan_replies) >= 10
    assert all(status in (200, 201) for _, status, _ in outcome.fan_replies), outcome.fan_replies
    slowest = max(seconds for _, _, seconds in outcome.fan_replies)
    assert slowest < 1.0, sorted(outcome.fan_replies, key=lambda r: r[2])[-5:]
    # The flood happened: nearly every connection was made (the rest still connecting).
    assert outcome.total("opened") >= CONNECTIONS * 0.9, outcome.total("opened")
    # One address never held more than its bound: the rest were closed as they came.
    assert outcome.most_held_at_once() <= PER_ADDRESS
    lifetimes = outcome.lifetimes()
    assert sum(1 for t in lifetimes if t < 1) > CONNECTIONS / 2
    # Those it kept were closed for their unfinished heads, within the timeout.
    kept = [t for t in lifetimes if t >= 1]
    assert kept, "no connection was kept until its head deadline"
    assert all(HEADER_TIMEOUT - 0.5 <= t <= HEADER_TIMEOUT + 1.5 for t in kept), max(kept)
    assert outcome.still_open_older_than(HEADER_TIMEOUT + 1.5) == 0


def test_a_fan_is_served_within_a_second_while_20000_connections_never_finish_a_request(
    serving: tuple[str, int],
) -> None:
    base, port = serving
    outcome = fan_under_attack(f"{base}/api/v1", port)
    assert_fan_served_and_slow_clients_bounded(outcome)
    assert httpx.get(f"{base}/health", timeout=2).status_code == 200
