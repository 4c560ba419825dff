from __future__ import annotations

from concert_core.domain import ConcertId, QueueStats
from concert_core.ports import Clock, QueueStore, UnitOfWorkFactory
from concert_core.use_cases._concerts import concerts_named


class QueueOverview:
    """How many fans wait and how many are active, per concert (operators, metrics).

    Rules:
    - counts are of live tokens at this instant: idle or lapsed ones are not counted,
      whether or not a sweeper has run;
    - an unknown concert is NOT_FOUND.
    """

    def __init__(self, queue: QueueStore, uow_factory: UnitOfWorkFactory, clock: Clock) -> None:
        self._queue = queue
        self._uow_factory = uow_factory
        self._clock = clock

    async def __call__(self, concert_id: ConcertId | int | None = None) -> list[QueueStats]:
        concert_ids = await concerts_named(self._uow_factory, concert_id)
        now = await self._clock.now()
        return [await self._queue.stats(cid, now) for cid in concert_ids]
