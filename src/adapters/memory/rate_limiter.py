"""Rate limit logs in the process (``memory://``): one process, one set of logs."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

from adapters.rate_window import in_window, wait_for_room

_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
_MICROSECOND = dt.timedelta(microseconds=1)


class MemoryRateLimiter:
    """Each key's accepted hits, judged and logged without awaiting, so one call is
    atomic for the coroutines of the process."""

    def __init__(self) -> None:
        self._logs: dict[str, list[int]] = {}

    async def hit(
        self, limits: Sequence[tuple[str, int]], window: dt.timedelta, now: dt.datetime
    ) -> dt.timedelta | None:
        now_us, window_us = (now - _EPOCH) // _MICROSECOND, window // _MICROSECOND
        live = {key: in_window(self._logs.get(key, ()), now_us, window_us) for key, _ in limits}
        wait = max(
            (wait_for_room(live[key], limit, now_us, window_us) for key, limit in limits),
            default=0,
        )
        if wait:
            return dt.timedelta(microseconds=wait)
        for key, _ in limits:
            self._logs[key] = [*live[key], now_us]
        return None

    async def sweep(self, window: dt.timedelta, now: dt.datetime) -> int:
        """Forget the keys with no hit left in the window; how many were forgotten."""
        since = (now - window - _EPOCH) // _MICROSECOND
        quiet = [key for key, log in self._logs.items() if not log or max(log) <= since]
        for key in quiet:
            del self._logs[key]
        return len(quiet)
