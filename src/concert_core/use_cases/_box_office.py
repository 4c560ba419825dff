"""The box office through units of work: for a store with no quicker way of its own."""

from __future__ import annotations

import datetime as dt

from concert_core.domain import TokenId
from concert_core.ports import (
    HoldOutcome,
    HoldRequest,
    PaymentOutcome,
    PaymentRequest,
    UnitOfWorkFactory,
)


class UnitOfWorkBoxOffice:
    """``BoxOffice`` as a unit of work per call: the call, then its commit."""

    def __init__(self, uow_factory: UnitOfWorkFactory) -> None:
        self._uow_factory = uow_factory

    async def hold(self, request: HoldRequest) -> HoldOutcome:
        async with self._uow_factory() as uow:
            outcome = await uow.seats.hold(request)
            await uow.commit()
        return outcome

    async def pay(self, request: PaymentRequest) -> PaymentOutcome:
        async with self._uow_factory() as uow:
            outcome = await uow.payments.pay(request)
            await uow.commit()
        return outcome

    async def release_holds_of_token(self, token_id: TokenId, now: dt.datetime) -> int:
        async with self._uow_factory() as uow:
            released = await uow.reservations.release_holds_of_token(token_id, now)
            await uow.commit()
        return released
