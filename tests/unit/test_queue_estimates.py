"""The pure functions behind a status reply: the estimated wait and the polling hint."""

from __future__ import annotations

import datetime as dt
import math

import pytest

from concert_core.domain import TokenStatus
from concert_core.domain.queue import estimated_wait_seconds, poll_after_seconds

TTL = dt.timedelta(seconds=600)
IDLE = dt.timedelta(seconds=300)


@pytest.mark.parametrize(
    ("position", "capacity", "expected"),
    [(1, 100, 6), (3, 100, 18), (1, 2, 300), (2, 1, 1200), (7, 3, 1400), (50_000, 100, 300_000)],
)
def test_with_no_admissions_observed_the_wait_is_position_times_ttl_over_capacity(
    position: int, capacity: int, expected: int
) -> None:
    assert estimated_wait_seconds(position, 0.0, active_ttl=TTL, capacity=capacity) == expected


def test_the_fallback_wait_rounds_up_to_a_whole_second() -> None:
    assert estimated_wait_seconds(1, 0.0, active_ttl=dt.timedelta(seconds=10), capacity=3) == 4


@pytest.mark.parametrize(
    ("position", "rate", "expected"),
    [(1, 0.5, 2), (10, 2.0, 5), (3, 0.05, 60), (1, 3.0, 1), (7, 2.0, 4)],
)
def test_with_admissions_observed_the_wait_follows_the_rate(
    position: int, rate: float, expected: int
) -> None:
    assert estimated_wait_seconds(position, rate, active_ttl=TTL, capacity=100) == expected


def test_the_observed_rate_takes_precedence_over_the_fallback() -> None:
    observed = estimated_wait_seconds(100, 10.0, active_ttl=TTL, capacity=1)
    assert observed == 10
    assert observed != estimated_wait_seconds(100, 0.0, active_ttl=TTL, capacity=1)


def test_the_estimated_wait_grows_with_the_position() -> None:
    for rate in (0.0, 0.7):
        waits = [
            estimated_wait_seconds(p, rate, active_ttl=TTL, capacity=100)
            for p in (1, 10, 100, 1_000)
        ]
        assert waits == sorted(waits)
        assert waits[0] < waits[-1]


def test_the_polling_hint_grows_with_the_position() -> None:
    hints = [
        poll_after_seconds(TokenStatus.WAITING, p, None, idle_timeout=IDLE)
        for p in (1, 100, 10_000, 50_000)
    ]
    assert hints == sorted(hints)
    assert hints[0] == 1
    assert hints[-1] > hints[0]
    assert hints[2:] == [10, 23]


def test_the_polling_hint_is_never_longer_than_the_expected_wait() -> None:
    assert poll_after_seconds(TokenStatus.WAITING, 50_000, 5, idle_timeout=IDLE) == 5
    assert poll_after_seconds(TokenStatus.WAITING, 50_000, 0, idle_timeout=IDLE) == 1


@pytest.mark.parametrize("idle_seconds", [1, 9, 30, 300])
@pytest.mark.parametrize("status", list(TokenStatus))
@pytest.mark.parametrize("position", [1, 50_000, 10**9])
def test_the_polling_hint_never_exceeds_a_third_of_the_idle_timeout(
    idle_seconds: int, status: TokenStatus, position: int
) -> None:
    idle = dt.timedelta(seconds=idle_seconds)
    hint = poll_after_seconds(
        status, position if status is TokenStatus.WAITING else None, None, idle_timeout=idle
    )
    assert hint >= 1
    assert hint <= max(1, idle_seconds // 3)


def test_an_active_or_expired_token_gets_a_slow_hint() -> None:
    for status in (TokenStatus.ACTIVE, TokenStatus.EXPIRED):
        assert poll_after_seconds(status, None, 0, idle_timeout=IDLE) == 30
        assert poll_after_seconds(status, None, None, idle_timeout=dt.timedelta(seconds=30)) == 10


def _hint_at(position: int, rate: float) -> int:
    wait = estimated_wait_seconds(position, rate, active_ttl=TTL, capacity=100)
    return poll_after_seconds(
        TokenStatus.WAITING, position, wait, idle_timeout=IDLE, admissions_per_second=rate
    )


@pytest.mark.parametrize("rate", [0.5, 10.0, 100.0])
def test_beyond_the_front_the_hint_follows_a_third_of_the_observed_wait(rate: float) -> None:
    for position in (1_001, 5_000, 20_000, 10**6):
        wait = math.ceil(position / rate)
        expected = min(
            max(math.ceil(math.sqrt(position) / 10), math.ceil(position / rate / 3)),
            wait,
            IDLE.total_seconds() // 3,
        )
        assert _hint_at(position, rate) == expected


@pytest.mark.parametrize("rate", [0.0, 0.01, 1.0, 100.0])
def test_the_front_of_the_line_keeps_the_square_root_curve_whatever_the_rate(
    rate: float,
) -> None:
    assert {_hint_at(p, rate) for p in range(1, 101)} == {1}
    assert max(_hint_at(p, rate) for p in range(1, 1_001)) <= 4


@pytest.mark.parametrize("rate", [0.0, 0.3, 7.0, 100.0])
def test_the_followed_hint_never_falls_as_the_position_grows(rate: float) -> None:
    hints = [_hint_at(p, rate) for p in range(1, 200_000, 97)]
    assert hints == sorted(hints)
    assert max(hints) <= IDLE.total_seconds() // 3


def test_a_slow_line_asks_far_fewer_polls_than_the_position_alone_would() -> None:
    # 50,000th at 10 admissions a second: an 83-minute wait. The position alone says
    # every 23 s; the wait says every 100 s (the idle timeout's third).
    assert _hint_at(50_000, 10.0) == 100
    assert poll_after_seconds(TokenStatus.WAITING, 50_000, None, idle_timeout=IDLE) == 23
