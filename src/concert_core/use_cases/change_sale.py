from __future__ import annotations

from collections.abc import Mapping

from attrs import field, frozen

from concert_core.domain import Concert, ConcertId, NotFoundError, ValidationError, values
from concert_core.ports import Clock, QueueStore, UnitOfWorkFactory
from concert_core.use_cases._sales import SaleBook
from concert_core.use_cases.add_concert import sale_settings


def _changes(value: object) -> Mapping[str, object]:
    if not isinstance(value, Mapping) or not all(isinstance(k, str) for k in value):
        raise ValidationError("the changes must be an object of sale settings")
    return dict(value)


OPENING_SETTINGS = frozenset({"opens_at", "prequeue_opens_at"})


@frozen
class ChangeSaleCommand:
    concert_id: ConcertId = field(converter=values.concert_id)
    changes: Mapping[str, object] = field(converter=_changes)
    """Any subset of the sale settings; a setting left out keeps its value."""


class ChangeSale:
    """An operator changes a concert's sale: open now, pause, resume, capacity, rate,
    challenge, message, close.

    Rules:
    - unknown settings and bad values are VALIDATION_ERROR and change nothing;
    - once the line has opened (the pre-queue was shuffled), the opening and the
      pre-queue cannot move;
    - a change reaches every instance within one admission interval.
    """

    def __init__(
        self, uow_factory: UnitOfWorkFactory, queue: QueueStore, sales: SaleBook, clock: Clock
    ) -> None:
        self._uow_factory = uow_factory
        self._queue = queue
        self._sales = sales
        self._clock = clock

    async def __call__(self, command: ChangeSaleCommand) -> Concert:
        now = await self._clock.now()
        opened = False
        if OPENING_SETTINGS & set(command.changes):
            # Asked before the transaction: the queue may share the database (SQLite's
            # one writer), and a transaction must not wait on another of its own.
            opened = (await self._queue.stats(command.concert_id, now)).shuffle_seed is not None
        async with self._uow_factory() as uow:
            concert = await uow.catalogue.get_concert(command.concert_id)
            if concert is None:
                raise NotFoundError(f"concert {command.concert_id} does not exist")
            changed = sale_settings(concert.sale, command.changes)
            moves_opening = (changed.opens_at, changed.prequeue_opens_at) != (
                concert.sale.opens_at,
                concert.sale.prequeue_opens_at,
            )
            if moves_opening and opened:
                raise ValidationError("the sale has opened: its opening and pre-queue cannot move")
            await uow.catalogue.change_sale(command.concert_id, changed)
            await uow.commit()
        self._sales.forget(command.concert_id)
        return Concert(concert.concert_id, concert.title, concert.venue, changed)
