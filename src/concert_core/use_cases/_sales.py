"""Concerts' sales as the use cases judge them: the settings and whether every seat is
sold, read at most once per admission interval per process (docs/contract.md §8)."""

from __future__ import annotations

import asyncio
import datetime as dt
import secrets
from functools import partial

from attrs import frozen

from concert_core.domain import Concert, ConcertId, NotFoundError, Phase
from concert_core.policy import Policy
from concert_core.ports import QueueStore, UnitOfWorkFactory


@frozen
class SaleState:
    """A concert with its sale settings, and whether it was sold out when read."""

    concert: Concert
    sold_out: bool
    read_at: dt.datetime

    def phase_at(self, now: dt.datetime) -> Phase:
        return self.concert.sale.phase_at(now, sold_out=self.sold_out)

    def entry_at(self, now: dt.datetime) -> Phase:
        """The phase as joining sees it: a paused sale still takes joins."""
        return self.concert.sale.entry_at(now, sold_out=self.sold_out)

    def capacity(self, policy: Policy) -> int:
        return self.concert.sale.capacity or policy.active_capacity


class SaleBook:
    """Each concert's ``SaleState``, kept for one admission interval: a change an
    operator makes reaches every instance within that interval. A sold-out concert
    stays sold out (a sold seat is never sold again), so that is kept for good."""

    def __init__(self, uow_factory: UnitOfWorkFactory, policy: Policy) -> None:
        self._uow_factory = uow_factory
        self._policy = policy
        self._kept: dict[ConcertId, SaleState] = {}
        self._reading: dict[ConcertId, asyncio.Future[SaleState]] = {}
        """The read of each concert under way: a stampede of requests finding the kept
        sale stale shares one read, and its outcome, a failure included (so that a
        database refusing every read answers them all at once, not one after another)."""

    async def state(
        self, concert_id: ConcertId, now: dt.datetime, *, fresh: bool = False
    ) -> SaleState:
        """The concert's sale (read from storage if ``fresh``, or if the one kept is
        older than an admission interval); NotFoundError if the concert does not exist.

        Requests finding it stale while another reads it wait for that read rather than
        take the stale one: a change must reach them within the interval."""
        kept = self._kept.get(concert_id)
        if fresh:
            return await self._read(concert_id, kept, now)
        if kept is not None and self._recent(kept, now):
            return kept
        reading = self._reading.get(concert_id)
        if reading is None:
            reading = asyncio.ensure_future(self._read(concert_id, kept, now))
            self._reading[concert_id] = reading
            reading.add_done_callback(partial(self._done, concert_id))
        # Shielded: a request given up on does not cancel the read the others await.
        return await asyncio.shield(reading)

    def _done(self, concert_id: ConcertId, reading: asyncio.Future[SaleState]) -> None:
        if self._reading.get(concert_id) is reading:
            del self._reading[concert_id]
        if not reading.cancelled():
            reading.exception()  # retrieved here, so never reported as unretrieved

    async def _read(
        self, concert_id: ConcertId, kept: SaleState | None, now: dt.datetime
    ) -> SaleState:
        async with self._uow_factory() as uow:
            concert = await uow.catalogue.get_concert(concert_id)
            if concert is None:
                raise NotFoundError(f"concert {concert_id} does not exist")
            sold_out = kept is not None and kept.sold_out
            if not sold_out:
                sold_out = await uow.seats.sold_out(concert_id)
        state = SaleState(concert, sold_out, now)
        self._kept[concert_id] = state
        return state

    def _recent(self, kept: SaleState, now: dt.datetime) -> bool:
        return dt.timedelta(0) <= now - kept.read_at < self._policy.admission_interval

    def forget(self, concert_id: ConcertId) -> None:
        """Read the concert afresh next time (after this process changed it)."""
        self._kept.pop(concert_id, None)


class LineOpenings:
    """Opens a concert's line (the pre-queue shuffle) the first time this process
    finds the sale open; the queue store makes the opening happen once for all."""

    def __init__(self, queue: QueueStore) -> None:
        self._queue = queue
        self._opened: dict[ConcertId, int] = {}
        self._opening = asyncio.Lock()

    async def ensure_open(self, concert_id: ConcertId, now: dt.datetime) -> int:
        """The seed the concert's line was shuffled with at its opening."""
        seed = self._opened.get(concert_id)
        if seed is not None:
            return seed
        async with self._opening:  # the requests of one process ask storage once
            seed = self._opened.get(concert_id)
            if seed is None:
                seed = await self._queue.open(concert_id, secrets.randbits(62), now)
                self._opened[concert_id] = seed
        return seed
