"""Rate limit logs in Redis, shared by every instance: the hits of one event-loop turn
in one script call.

Each key is a sorted set of the hits it accepted (member: a random id, score: the
instant in microseconds), named ``<namespace>:{rate}:<key>``. Every limiter key shares
the hash tag ``{rate}``, so a hit that checks two keys (an address and a fan) is one
script on one Cluster slot, and so are the hits of many requests together. The script
takes the hits in turn; for each it drops the hits that left the window, judges every
key, and logs the hit under every key only when all have room
(``scripts/rate_hit.lua``; the rule is ``adapters.rate_window``). Hits made in one
turn of the event loop share that one call (``Coalescer``, decision 21): a round trip
was most of a limited join's extra cost. Instants come from the caller's clock, never
Redis ``TIME``; a key's TTL (the window plus a margin, from its last hit) only collects
garbage.
"""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Sequence

import redis.asyncio as aioredis

from adapters.redis.coalescer import Coalescer
from adapters.redis.packing import microseconds, microseconds_in, milliseconds_rounded_up
from adapters.redis.scripts import check_client, register_scripts, run_script

_TTL_MARGIN = dt.timedelta(seconds=5)

_Hit = tuple[Sequence[tuple[str, int]], dt.datetime, bytes]
"""One hit: its ``(key name, limit)`` pairs, its instant and its id."""


class RedisRateLimiter:
    def __init__(self, client: aioredis.Redis, *, namespace: str = "concert") -> None:
        check_client(client)
        self._namespace = namespace
        self._hit = register_scripts(client, ("rate_hit",))["rate_hit"]
        self._hits: Coalescer[dt.timedelta, _Hit, int] = Coalescer(self._hit_many)

    def key_name(self, key: str) -> str:
        return f"{self._namespace}:{{rate}}:{key}"

    async def hit(
        self, limits: Sequence[tuple[str, int]], window: dt.timedelta, now: dt.datetime
    ) -> dt.timedelta | None:
        if not limits:
            return None
        if any(limit < 1 for _, limit in limits):  # the reference rule's refusal, its own
            raise ValueError("a limit is at least 1 (0 means no limit: no key)")
        named = [(self.key_name(key), limit) for key, limit in limits]
        wait = await self._hits.submit(window, (named, now, os.urandom(16)))
        return dt.timedelta(microseconds=wait) if wait > 0 else None

    async def _hit_many(self, window: dt.timedelta, hits: list[_Hit]) -> list[int]:
        """The hits of one loop turn (one window), in one script call: one wait each."""
        keys: list[str] = []
        args: list[int | bytes] = [
            microseconds_in(window),
            milliseconds_rounded_up(window + _TTL_MARGIN),
        ]
        for limits, now, hit_id in hits:
            keys.extend(name for name, _ in limits)
            args.extend((len(limits), microseconds(now), hit_id))
            args.extend(limit for _, limit in limits)
        return [int(wait) for wait in await run_script(self._hit, keys, args)]

    async def sweep(self, window: dt.timedelta, now: dt.datetime) -> int:
        """Nothing to do: each key expires a little after its last hit leaves the window."""
        return 0
