from __future__ import annotations

import math

from attrs import frozen

from concert_core.domain import ConcertId, Phase
from concert_core.policy import Policy
from concert_core.ports import Clock, QueueStore, UnitOfWorkFactory
from concert_core.use_cases._concerts import concerts_named
from concert_core.use_cases._sales import LineOpenings, SaleBook

END_WAITING_BATCH = 5_000
"""WAITING tokens of a sold-out or closed sale ended per pass and concert."""


@frozen
class Admission:
    concert_id: ConcertId
    admitted: int
    ended: int = 0
    """WAITING tokens ended because the sale sold out or closed."""


class AdmitWaiting:
    """One admission pass over one concert, or all of them.

    Rules:
    - only an OPEN sale admits (not one scheduled, pre-queued, paused, sold out or
      closed); its line is opened first (the pre-queue shuffle), once;
    - free places (the sale's capacity minus live ACTIVE tokens) are filled with the
      earliest live WAITING tokens, in line order; lowering the capacity ends nobody's
      turn;
    - with an admission rate of N a minute, no 60 seconds admit more than N (every
      instance's passes counted), spread over the minute's passes;
    - idle WAITING tokens are never admitted;
    - the ACTIVE count never exceeds the capacity, even with passes running at once
      in many processes: each pass is one atomic queue-store operation;
    - a sold-out or closed sale ends its WAITING tokens.
    """

    def __init__(
        self,
        queue: QueueStore,
        sales: SaleBook,
        openings: LineOpenings,
        uow_factory: UnitOfWorkFactory,
        clock: Clock,
        policy: Policy,
    ) -> None:
        self._queue = queue
        self._sales = sales
        self._openings = openings
        self._uow_factory = uow_factory
        self._clock = clock
        self._policy = policy

    async def __call__(self, concert_id: ConcertId | int | None = None) -> list[Admission]:
        report = []
        for cid in await concerts_named(self._uow_factory, concert_id):
            now = await self._clock.now()
            # As stored now, not as kept for an interval: a concert sold out a moment
            # ago (or closed) must not admit the next fan to a turn with nothing left.
            sale = await self._sales.state(cid, now, fresh=True)
            phase = sale.phase_at(now)
            if phase.ended:
                ended = await self._queue.end_waiting(cid, now, END_WAITING_BATCH)
                report.append(Admission(cid, 0, ended))
                continue
            if phase is not Phase.OPEN:
                report.append(Admission(cid, 0))
                continue
            await self._openings.ensure_open(cid, now)
            rate = sale.concert.sale.admission_per_minute
            per_pass = None
            if rate is not None:
                interval = self._policy.admission_interval.total_seconds()
                per_pass = max(1, math.ceil(rate * interval / 60))
            admitted = await self._queue.admit(
                cid, now, capacity=sale.capacity(self._policy), per_minute=rate, per_pass=per_pass
            )
            report.append(Admission(cid, len(admitted)))
        return report
