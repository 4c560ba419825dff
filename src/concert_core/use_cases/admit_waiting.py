from __future__ import annotations

from attrs import frozen

from concert_core.domain import ConcertId, NotFoundError, values
from concert_core.ports import Clock, QueueStore, UnitOfWorkFactory


@frozen
class Admission:
    concert_id: ConcertId
    admitted: int


class AdmitWaiting:
    """One admission pass over one concert, or all of them.

    Rules:
    - free places (capacity minus live ACTIVE tokens) are filled with the earliest
      live WAITING tokens, in issue-sequence order;
    - idle WAITING tokens are never admitted;
    - the ACTIVE count never exceeds the capacity, even with passes running at once
      in many processes: each pass is one atomic queue-store operation.
    """

    def __init__(self, queue: QueueStore, uow: UnitOfWorkFactory, clock: Clock) -> None:
        self._queue = queue
        self._uow = uow
        self._clock = clock

    async def __call__(self, concert_id: ConcertId | int | None = None) -> list[Admission]:
        async with self._uow() as uow:
            if concert_id is None:
                concert_ids = [c.concert_id for c in await uow.catalogue.list_concerts()]
            elif await uow.catalogue.get_concert(cid := values.concert_id(concert_id)) is None:
                raise NotFoundError(f"concert {cid} does not exist")
            else:
                concert_ids = [cid]
        report = []
        for cid in concert_ids:
            admitted = await self._queue.admit(cid, await self._clock.now())
            report.append(Admission(cid, len(admitted)))
        return report
