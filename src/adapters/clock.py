"""Clocks: the system's, and one a test or a simulation moves by hand."""

from __future__ import annotations

import datetime as dt


class SystemClock:
    """This process's clock, in UTC. Fine for one process; a scaled deployment judges
    time by its shared storage's clock instead."""

    async def now(self) -> dt.datetime:
        return dt.datetime.now(dt.UTC)


class ManualClock:
    """A clock that stands still until told to move."""

    def __init__(self, start: dt.datetime | None = None) -> None:
        start = start or dt.datetime(2026, 1, 1, 12, 0, tzinfo=dt.UTC)
        if start.tzinfo is None:
            raise ValueError("a clock's time is timezone-aware")
        self._now = start

    async def now(self) -> dt.datetime:
        return self._now

    def advance(self, delta: dt.timedelta | float) -> dt.datetime:
        """Move forward by ``delta`` (a timedelta or seconds); never backwards."""
        step = delta if isinstance(delta, dt.timedelta) else dt.timedelta(seconds=delta)
        if step < dt.timedelta(0):
            raise ValueError("time does not go backwards")
        self._now += step
        return self._now
