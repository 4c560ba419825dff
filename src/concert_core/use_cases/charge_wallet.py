from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Mapping

from attrs import field, frozen

from concert_core.domain import Money, UserId, ValidationError, values
from concert_core.ports import JsonValue, UnitOfWorkFactory
from concert_core.use_cases._idempotency import KeyedRequest, key_text


@frozen
class ChargeCommand:
    user_id: UserId = field(converter=values.user_id)
    amount: Money = field(converter=values.charge_amount)
    idempotency_key: str | None = field(default=None, converter=key_text)


@frozen
class Balance:
    user_id: UserId
    balance: Money

    def to_record(self) -> dict[str, JsonValue]:
        return {"user_id": str(self.user_id), "balance": self.balance}

    @classmethod
    def from_record(cls, record: Mapping[str, JsonValue]) -> Balance:
        balance = record["balance"]
        if not isinstance(balance, int):
            raise ValidationError("stored balance is not an integer")
        return cls(values.user_id(record["user_id"]), Money(balance))


class ChargeWallet:
    """Top up a wallet (run through ``Idempotent``).

    Rules:
    - the amount is an integer from 1 to 10,000,000 won (VALIDATION_ERROR);
    - the balance never exceeds 10^12 won (VALIDATION_ERROR, nothing changed);
    - every charge is a ledger entry; balance = sum of the ledger; the entry's id is the
      request's, so a replayed charge is applied once.
    """

    def __init__(self, uow_factory: UnitOfWorkFactory) -> None:
        self._uow_factory = uow_factory

    def request(self, command: ChargeCommand) -> KeyedRequest:
        return KeyedRequest.of(
            command.user_id, "charge", command.idempotency_key, {"amount": command.amount}
        )

    async def run(self, command: ChargeCommand, request_id: uuid.UUID, now: dt.datetime) -> Balance:
        async with self._uow_factory() as uow:
            wallet = await uow.wallets.charge(command.user_id, command.amount, request_id, now)
            await uow.commit()
        return Balance(wallet.user_id, wallet.balance)

    async def earlier(self, command: ChargeCommand, request_id: uuid.UUID) -> Balance | None:
        return None  # a replayed entry id is applied once by the wallet itself

    async def after(self, command: ChargeCommand, result: Balance, now: dt.datetime) -> None:
        return None

    dump = staticmethod(Balance.to_record)
    load = staticmethod(Balance.from_record)
