"""Used join-challenge solutions, in the SQL database."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import delete, select, tuple_
from sqlalchemy.ext.asyncio import AsyncEngine

from adapters.challenge import SPENT_MARGIN
from adapters.sql import tables as t
from adapters.sql.dialect import insert_ignoring_conflicts
from adapters.sql.transactions import transaction
from concert_core.domain import ConcertId

PURGE_EVERY = dt.timedelta(minutes=1)
"""How often each store deletes the rows past their time, at most."""
PURGE_BATCH = 10_000
"""The most rows one purge deletes (a purge must not hold a spend up for long)."""

_s = t.spent_proofs.c


class SqlSpentProofs:
    """The SpentProofs of ``adapters.challenge``: a row per solution, its key unique, so
    of two spends of one solution, on any instances, the database lets one insert.

    Rows past their expiry (and the margin) are deleted before a spend, at most once
    per ``PURGE_EVERY`` per process, in a transaction of their own.
    """

    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine
        self._purged_at: dt.datetime | None = None

    async def spend(
        self, concert_id: ConcertId, challenge: str, expires_at: dt.datetime, now: dt.datetime
    ) -> bool:
        if self._purged_at is None or now - self._purged_at >= PURGE_EVERY:
            self._purged_at = now
            await self.purge(now)  # first: if it fails, nothing is spent
        async with transaction(self._engine) as c:
            inserted = await c.execute(
                insert_ignoring_conflicts(c, t.spent_proofs).values(
                    concert_id=concert_id, challenge=challenge, expires_at=expires_at
                )
            )
            return bool(inserted.rowcount == 1)

    async def purge(self, now: dt.datetime) -> int:
        """Delete (up to ``PURGE_BATCH``) rows that may be forgotten at ``now``."""
        old = (
            select(_s.concert_id, _s.challenge)
            .where(_s.expires_at < now - SPENT_MARGIN)
            .limit(PURGE_BATCH)
        )
        key = tuple_(_s.concert_id, _s.challenge)
        async with transaction(self._engine) as c:
            result = await c.execute(delete(t.spent_proofs).where(key.in_(old)))
        return int(result.rowcount)
