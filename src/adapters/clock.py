"""Clocks: the system's, a shared store's, and one a test or a simulation moves by hand."""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import math
import time
from collections.abc import Awaitable, Callable

from concert_core.domain import ServiceUnavailableError

_log = logging.getLogger(__name__)


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


class SharedClock:
    """Time as a shared store tells it, so that every instance judges the rules by one
    clock (docs/contract.md §7), without a round trip per reading.

    ``source`` reads the shared clock (the database's ``clock_timestamp()``, Redis's
    ``TIME``). It is read again when the last reading is ``resync_every`` old; in
    between, this process's monotonic clock measures the time elapsed since then. A
    reading is taken as the midpoint of its round trip, so two instances disagree by
    at most half a round trip plus their monotonic clocks' drift over ``resync_every``
    (microseconds), never by their wall clocks' error. A reading whose round trip took
    longer than ``max_round_trip`` is not trusted while an earlier one can count on.
    Readings never go backwards.

    If the source cannot be read within ``read_timeout``, the last reading goes on
    counting (the error is logged) and the source is not asked again for
    ``resync_every``: a hung store costs one request at most ``read_timeout`` a
    second, not every request. With no reading yet, ``now`` raises the source's error
    (or ServiceUnavailableError on a timeout), without asking again within
    ``resync_every`` either.
    """

    def __init__(
        self,
        source: Callable[[], Awaitable[dt.datetime]],
        *,
        resync_every: float = 1.0,
        read_timeout: float = 0.5,
        max_round_trip: float = 0.1,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._source = source
        self._resync_every = resync_every
        self._read_timeout = read_timeout
        self._max_round_trip = max_round_trip
        self._monotonic = monotonic
        self._base: dt.datetime | None = None
        self._base_at = 0.0
        self._next_read = -math.inf
        self._failure: Exception | None = None
        self._last: dt.datetime | None = None
        self._reading = asyncio.Lock()

    async def now(self) -> dt.datetime:
        if self._base is None or self._monotonic() >= self._next_read:
            await self._read()
        if self._base is None:
            assert self._failure is not None
            raise self._failure
        elapsed = dt.timedelta(seconds=self._monotonic() - self._base_at)
        reading = self._base + elapsed
        if self._last is not None and reading < self._last:
            reading = self._last
        self._last = reading
        return reading

    async def _read(self) -> None:
        """Read the source, unless another task did meanwhile. While a reading exists,
        other tasks count on from it instead of waiting for this one; before the
        first, they wait for it (and share its failure until the next is due)."""
        async with self._reading:
            sent = self._monotonic()
            if sent < self._next_read:
                return  # read (or failed to, with no reading yet) while this one waited
            self._next_read = sent + self._resync_every
            try:
                async with asyncio.timeout(self._read_timeout):
                    shared = await self._source()
            except Exception as error:
                if isinstance(error, TimeoutError):
                    error = ServiceUnavailableError("the shared clock did not answer in time")
                self._failure = error
                if self._base is not None:
                    _log.warning("the shared clock cannot be read (%r); counting on", error)
                return
            received = self._monotonic()
            if shared.tzinfo is None:
                raise ValueError("a shared clock's time is timezone-aware")
            if self._base is not None and received - sent > self._max_round_trip:
                return  # too slow to place well; the last reading is better
            self._base, self._base_at = shared, (sent + received) / 2
