from __future__ import annotations

from concert_core.domain import Payment, UserId, values
from concert_core.ports import UnitOfWorkFactory


class PaymentHistory:
    """A user's payments, newest first."""

    def __init__(self, uow_factory: UnitOfWorkFactory) -> None:
        self._uow_factory = uow_factory

    async def __call__(self, user_id: UserId | str) -> list[Payment]:
        user = values.user_id(user_id)
        async with self._uow_factory() as uow:
            return await uow.payments.history(user)
