from __future__ import annotations

from attrs import frozen

from concert_core.domain import (
    Concert,
    ConcertId,
    DateSeats,
    Money,
    Phase,
    QueueStats,
    values,
)
from concert_core.policy import Policy
from concert_core.ports import Clock, QueueStore, UnitOfWorkFactory
from concert_core.use_cases._concerts import concerts_named
from concert_core.use_cases._sales import SaleBook


@frozen
class ConcertReport:
    """An on-sale as its operator watches it."""

    concert: Concert
    phase: Phase
    capacity: int
    dates: tuple[DateSeats, ...]
    queue: QueueStats
    revenue: Money


class ReportConcerts:
    """The operator's view of one concert, or all of them: the sale and its phase, the
    seats per date, the line, admissions over the last minute and the revenue."""

    def __init__(
        self,
        uow_factory: UnitOfWorkFactory,
        queue: QueueStore,
        sales: SaleBook,
        clock: Clock,
        policy: Policy,
    ) -> None:
        self._uow_factory = uow_factory
        self._queue = queue
        self._sales = sales
        self._clock = clock
        self._policy = policy

    async def __call__(self, concert_id: ConcertId | int | None = None) -> list[ConcertReport]:
        cid = None if concert_id is None else values.concert_id(concert_id)
        reports = []
        for each in await concerts_named(self._uow_factory, cid):
            now = await self._clock.now()
            sale = await self._sales.state(each, now, fresh=True)  # as stored now
            async with self._uow_factory() as uow:
                dates = await uow.seats.seat_counts(each, now)
                revenue = await uow.payments.revenue(each)
            reports.append(
                ConcertReport(
                    concert=sale.concert,
                    phase=sale.phase_at(now),
                    capacity=sale.capacity(self._policy),
                    dates=tuple(dates),
                    queue=await self._queue.stats(each, now),
                    revenue=revenue,
                )
            )
        return reports
