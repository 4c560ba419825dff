"""Rate limit logs in the SQL database, shared by every instance that shares it.

One row per key (``rate_limits``): the hits it accepted in the window, and its last.
The rule is ``adapters.rate_window``'s.

- PostgreSQL, one key (the per-address limit, the common case): one statement. An
  ``INSERT ... ON CONFLICT DO UPDATE ... WHERE`` locks the key's row and judges the
  latest committed version of it, so concurrent hits from any instance queue on the
  row and are counted exactly; a refused hit updates nothing.
- Several keys (an address and a fan), and SQLite: one transaction that locks the
  keys' rows in key order (``FOR UPDATE``; SQLite's ``BEGIN IMMEDIATE`` takes its one
  write lock), judges every key and writes only when all have room. Two first hits of
  a new key both insert: one fails on the key and runs again, then finds the row.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

from sqlalchemy import bindparam, delete, func, select, text, update
from sqlalchemy.ext.asyncio import AsyncEngine

from adapters.rate_window import in_window, wait_for_room
from adapters.sql import tables as t
from adapters.sql.transactions import retrying_insert_races, transaction

_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
_MICROSECOND = dt.timedelta(microseconds=1)
_r = t.rate_limits.c

HIT_ONE_KEY = text(
    """
WITH relaxed AS (
    SELECT set_config('synchronous_commit', 'off', true)
), hit AS (
    INSERT INTO rate_limits AS r (key, hits, last_hit)
    VALUES (:key, ARRAY[CAST(:now AS bigint)], :now)
    ON CONFLICT (key) DO UPDATE
    SET hits = array_append(
            ARRAY(SELECT h FROM unnest(r.hits) AS h WHERE h > :since ORDER BY h),
            CAST(:now AS bigint)),
        last_hit = greatest(r.last_hit, :now)
    WHERE (SELECT count(*) FROM unnest(r.hits) AS h WHERE h > :since) < :limit
    RETURNING 1
)
SELECT (SELECT count(*) FROM hit) AS accepted,
       (SELECT hits FROM rate_limits WHERE key = :key) AS hits,
       (SELECT count(*) FROM relaxed) AS relaxed
"""
).bindparams(bindparam("key"), bindparam("now"), bindparam("since"), bindparam("limit"))
"""PostgreSQL: one hit against one key. ``accepted`` is 1 when it was logged; when it
was refused, ``hits`` is the row as the statement's snapshot saw it (for the wait,
which is only a hint: a concurrent hit may have moved it on). ``relaxed`` commits this
transaction without waiting for the disk (see ``RELAXED_COMMIT``)."""

RELAXED_COMMIT = select(func.set_config("synchronous_commit", "off", True))
"""PostgreSQL: this transaction commits without waiting for its WAL to reach the disk.
A crash may forget the last fraction of a second of hits, which lets a few joins more
through once; every hit saves a disk flush, the cost of a write transaction on a busy
server. Atomicity and visibility to other sessions are unchanged."""


def _us(instant: dt.datetime) -> int:
    return (instant - _EPOCH) // _MICROSECOND


class SqlRateLimiter:
    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine
        self._postgres = engine.dialect.name == "postgresql"

    async def hit(
        self, limits: Sequence[tuple[str, int]], window: dt.timedelta, now: dt.datetime
    ) -> dt.timedelta | None:
        if not limits:
            return None
        now_us, window_us = _us(now), window // _MICROSECOND
        if self._postgres and len(limits) == 1:
            wait = await self._hit_one(*limits[0], now_us, window_us)
        else:
            wait = await retrying_insert_races(lambda: self._hit_all(limits, now_us, window_us))
        return dt.timedelta(microseconds=wait) if wait else None

    async def _hit_one(self, key: str, limit: int, now_us: int, window_us: int) -> int:
        async with transaction(self._engine) as c:
            row = (
                await c.execute(
                    HIT_ONE_KEY,
                    {"key": key, "now": now_us, "since": now_us - window_us, "limit": limit},
                )
            ).one()
        if row.accepted:
            return 0
        live = in_window(row.hits or (), now_us, window_us)
        return wait_for_room(live, limit, now_us, window_us) if len(live) >= limit else 1

    async def _hit_all(self, limits: Sequence[tuple[str, int]], now_us: int, window_us: int) -> int:
        ordered = sorted(dict(limits).items())
        async with transaction(self._engine) as c:
            if self._postgres:
                await c.execute(RELAXED_COMMIT)
            rows = (
                await c.execute(
                    select(_r.key, _r.hits)
                    .where(_r.key.in_([key for key, _ in ordered]))
                    .order_by(_r.key)
                    .with_for_update()
                )
            ).all()
            stored = {row.key: list(row.hits) for row in rows}
            live = {key: in_window(stored.get(key, ()), now_us, window_us) for key, _ in ordered}
            wait = max(wait_for_room(live[key], limit, now_us, window_us) for key, limit in ordered)
            if wait:
                return wait
            for key, _ in ordered:
                values = {"hits": [*live[key], now_us], "last_hit": now_us}
                if key in stored:
                    await c.execute(update(t.rate_limits).where(_r.key == key).values(**values))
                else:
                    await c.execute(t.rate_limits.insert().values(key=key, **values))
            return 0

    async def sweep(self, window: dt.timedelta, now: dt.datetime) -> int:
        """Delete the keys with no hit left in the window; how many were deleted."""
        async with transaction(self._engine) as c:
            result = await c.execute(delete(t.rate_limits).where(_r.last_hit <= _us(now - window)))
        return int(result.rowcount)
