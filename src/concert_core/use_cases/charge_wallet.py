from __future__ import annotations

from collections.abc import Mapping

from attrs import field, frozen

from concert_core.domain import Money, UserId, ValidationError, values
from concert_core.ports import Clock, IdempotencyStore, JsonValue, UnitOfWorkFactory
from concert_core.use_cases._idempotency import KeyedRequest, key_text, run_once


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
    """Top up a wallet.

    Rules:
    - the amount is an integer from 1 to 10,000,000 won (VALIDATION_ERROR);
    - the balance never exceeds 10^12 won (VALIDATION_ERROR, nothing changed);
    - every charge is a ledger entry; balance = sum of the ledger;
    - with an idempotency key, a retry returns the first result and changes nothing;
      a retry while the first runs is IDEMPOTENCY_IN_PROGRESS; the same key with
      another amount is IDEMPOTENCY_KEY_REUSED.
    """

    def __init__(self, uow: UnitOfWorkFactory, idempotency: IdempotencyStore, clock: Clock) -> None:
        self._uow = uow
        self._idempotency = idempotency
        self._clock = clock

    async def __call__(self, command: ChargeCommand) -> Balance:
        now = await self._clock.now()
        request = KeyedRequest.of(
            command.user_id, "charge", command.idempotency_key, {"amount": command.amount}
        )

        async def charge() -> Balance:
            async with self._uow() as uow:
                wallet = await uow.wallets.charge(
                    command.user_id, command.amount, request.derived_id(), now
                )
                await uow.commit()
            return Balance(wallet.user_id, wallet.balance)

        return await run_once(
            self._idempotency,
            request,
            now,
            charge,
            Balance.to_record,
            Balance.from_record,
        )
