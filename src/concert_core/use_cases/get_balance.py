from __future__ import annotations

from concert_core.domain import UserId, values
from concert_core.ports import UnitOfWorkFactory
from concert_core.use_cases.charge_wallet import Balance


class GetBalance:
    """A user's balance; a user never seen has a wallet of 0."""

    def __init__(self, uow_factory: UnitOfWorkFactory) -> None:
        self._uow_factory = uow_factory

    async def __call__(self, user_id: UserId | str) -> Balance:
        user = values.user_id(user_id)
        async with self._uow_factory() as uow:
            wallet = await uow.wallets.get(user)
        return Balance(wallet.user_id, wallet.balance)
