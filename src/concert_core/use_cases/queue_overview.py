from __future__ import annotations

from concert_core.domain import ConcertId, NotFoundError, QueueStats, values
from concert_core.ports import Clock, QueueStore, UnitOfWorkFactory


class QueueOverview:
    """How many fans wait and how many are active, per concert (operators, metrics).

    Rules:
    - counts are of live tokens at this instant: idle or lapsed ones are not counted,
      whether or not a sweeper has run;
    - an unknown concert is NOT_FOUND.
    """

    def __init__(self, queue: QueueStore, uow: UnitOfWorkFactory, clock: Clock) -> None:
        self._queue = queue
        self._uow = uow
        self._clock = clock

    async def __call__(self, concert_id: ConcertId | int | None = None) -> list[QueueStats]:
        async with self._uow() as uow:
            if concert_id is None:
                concert_ids = [c.concert_id for c in await uow.catalogue.list_concerts()]
            elif await uow.catalogue.get_concert(cid := values.concert_id(concert_id)) is None:
                raise NotFoundError(f"concert {cid} does not exist")
            else:
                concert_ids = [cid]
        now = await self._clock.now()
        return [await self._queue.stats(cid, now) for cid in concert_ids]
