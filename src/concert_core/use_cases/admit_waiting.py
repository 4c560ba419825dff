from __future__ import annotations

from attrs import frozen

from concert_core.domain import ConcertId
from concert_core.ports import Clock, QueueStore, UnitOfWorkFactory
from concert_core.use_cases._concerts import concerts_named


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

    def __init__(self, queue: QueueStore, uow_factory: UnitOfWorkFactory, clock: Clock) -> None:
        self._queue = queue
        self._uow_factory = uow_factory
        self._clock = clock

    async def __call__(self, concert_id: ConcertId | int | None = None) -> list[Admission]:
        report = []
        for cid in await concerts_named(self._uow_factory, concert_id):
            admitted = await self._queue.admit(cid, await self._clock.now())
            report.append(Admission(cid, len(admitted)))
        return report
