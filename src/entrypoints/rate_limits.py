"""Rate limits per client address and per fan (docs/contract.md §9).

A transport concern, not a rule of the core: the HTTP app asks before a join (and,
when the all-routes limit is on, before any request) and refuses with 429
``RATE_LIMITED`` and ``Retry-After``. The logs live in the storage the settings name
(:class:`RateLimiter`, one adapter per family: Redis, the SQL database, the process),
shared by every instance that shares it, and are judged by the service's clock.
"""

from __future__ import annotations

import datetime as dt
import functools
import ipaddress
import math
from collections.abc import Sequence
from typing import Protocol
from uuid import UUID

from concert_core.ports import Clock

WINDOW = dt.timedelta(seconds=60)
"""Every limit is a number of hits in any 60 seconds (a moving window)."""


class RateLimiter(Protocol):
    """Moving-window logs of accepted hits, one per key (the adapters keep the rule of
    ``adapters.rate_window``)."""

    async def hit(
        self, limits: Sequence[tuple[str, int]], window: dt.timedelta, now: dt.datetime
    ) -> dt.timedelta | None:
        """One hit against every ``(key, limit)``, atomically: when every key has had
        fewer than its limit of accepted hits in the window ending ``now``, log it under
        every key and return None; else log nothing and return how long until every key
        has room again (more than 0)."""
        ...

    async def sweep(self, window: dt.timedelta, now: dt.datetime) -> int:
        """Forget the keys with no hit in the window (tidying: no rule waits for it)."""
        ...


class RateLimitedError(Exception):
    """Over a rate limit: the request is refused (429) and nothing was counted."""

    def __init__(self, retry_after: dt.timedelta) -> None:
        super().__init__("too many requests from this client; try again later")
        self.retry_after_seconds = max(1, math.ceil(retry_after / dt.timedelta(seconds=1)))
        """Whole seconds until a slot frees (at least 1): the ``Retry-After`` header."""


@functools.lru_cache(maxsize=65_536)
def address_key(address: str) -> str:
    """The unit an address limit counts by: the address itself for IPv4, the /64 for
    IPv6 (one subscriber's usual allocation, which it can draw addresses from at will)."""
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return address[:100]
    if isinstance(ip, ipaddress.IPv6Address):
        return str(ipaddress.ip_network((ip, 64), strict=False))
    return str(ip)


class ClientLimits:
    """The limits in force: joins per address and per fan, requests per address.

    A limit of 0 is off. Each check is one call of the limiter (one Redis script, one
    SQL statement or transaction); a check with no limit on costs nothing.
    """

    def __init__(
        self,
        limiter: RateLimiter,
        clock: Clock,
        *,
        joins_per_minute: int,
        joins_per_fan_per_minute: int,
        requests_per_minute: int,
    ) -> None:
        self._limiter = limiter
        self._clock = clock
        self.joins_per_minute = joins_per_minute
        self.joins_per_fan_per_minute = joins_per_fan_per_minute
        self.requests_per_minute = requests_per_minute

    @property
    def joins_limited(self) -> bool:
        """Whether any join limit is on (else a join asks nothing of the limiter)."""
        return bool(self.joins_per_minute or self.joins_per_fan_per_minute)

    async def hit_join(self, address: str, user_id: UUID | None = None) -> None:
        """Count one join from ``address`` (and, given ``user_id``, by that fan: only
        when the fan is verified, else anyone could use up a fan's joins). Raises
        :class:`RateLimitedError`, counting nothing, when either is over its limit."""
        limits = []
        if self.joins_per_minute:
            limits.append((f"join:ip:{address_key(address)}", self.joins_per_minute))
        if user_id is not None and self.joins_per_fan_per_minute:
            limits.append((f"join:fan:{user_id}", self.joins_per_fan_per_minute))
        await self._hit(limits)

    async def hit_request(self, address: str) -> None:
        """Count one request from ``address`` against the all-routes limit."""
        if self.requests_per_minute:
            await self._hit([(f"any:ip:{address_key(address)}", self.requests_per_minute)])

    async def sweep(self) -> int:
        return await self._limiter.sweep(WINDOW, await self._clock.now())

    async def _hit(self, limits: Sequence[tuple[str, int]]) -> None:
        if not limits:
            return
        wait = await self._limiter.hit(limits, WINDOW, await self._clock.now())
        if wait is not None:
            # Never past the window: hits logged by other instances a moment after
            # this request's now (their calls reached storage first) are, from this
            # request's instant, a little more than a window away.
            raise RateLimitedError(min(wait, WINDOW))
