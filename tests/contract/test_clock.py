"""Clock: the instant every rule is judged by; timezone-aware, never going backwards."""

from __future__ import annotations

import datetime as dt

import pytest

from adapters.clock import ManualClock, SystemClock
from concert_core.ports import Clock
from contract.helpers import T0

# Later clocks (a storage's shared clock) add a param here.
CLOCKS = ["manual", "system"]


@pytest.fixture(params=CLOCKS, ids=CLOCKS)
def clock(request: pytest.FixtureRequest) -> Clock:
    if request.param == "manual":
        return ManualClock(T0)
    if request.param == "system":
        return SystemClock()
    raise ValueError(f"no clock called {request.param!r}")  # pragma: no cover


async def test_now_is_timezone_aware(clock: Clock) -> None:
    now = await clock.now()
    assert now.tzinfo is not None
    assert now.utcoffset() is not None


async def test_now_never_goes_backwards(clock: Clock) -> None:
    readings = [await clock.now() for _ in range(50)]
    assert readings == sorted(readings)


async def test_the_system_clock_tells_the_current_utc_time() -> None:
    before = dt.datetime.now(dt.UTC)
    now = await SystemClock().now()
    after = dt.datetime.now(dt.UTC)
    assert before <= now <= after
    assert now.utcoffset() == dt.timedelta(0)


async def test_a_manual_clock_stands_still_until_moved() -> None:
    clock = ManualClock(T0)
    assert await clock.now() == T0
    assert await clock.now() == T0
    default = await ManualClock().now()
    assert default.tzinfo is not None
    assert default == await ManualClock().now()


async def test_advancing_moves_forward_by_a_timedelta_or_seconds() -> None:
    clock = ManualClock(T0)
    assert clock.advance(dt.timedelta(minutes=2)) == T0 + dt.timedelta(minutes=2)
    assert clock.advance(1.5) == T0 + dt.timedelta(seconds=121.5)
    assert clock.advance(0) == T0 + dt.timedelta(seconds=121.5)
    assert await clock.now() == T0 + dt.timedelta(seconds=121.5)


@pytest.mark.parametrize("step", [-1, -0.001, dt.timedelta(microseconds=-1)])
async def test_advancing_backwards_is_refused_and_leaves_the_time_alone(
    step: float | dt.timedelta,
) -> None:
    clock = ManualClock(T0)
    with pytest.raises(ValueError, match="backwards"):
        clock.advance(step)
    assert await clock.now() == T0


def test_a_manual_clock_refuses_a_naive_start() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        ManualClock(dt.datetime(2026, 1, 1, 12))  # deliberately naive
