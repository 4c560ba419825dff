from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Mapping

from attrs import field, frozen

from concert_core.domain import (
    Money,
    PaymentId,
    ReservationId,
    ValidationError,
)
from concert_core.ports import (
    BoxOffice,
    JsonValue,
    PaymentRequest,
    QueueStore,
    UnitOfWorkFactory,
)
from concert_core.use_cases._gate import TokenGate
from concert_core.use_cases._idempotency import KeyedRequest, key_text

MAX_RESERVATIONS_PER_PAYMENT = 50


def _reservation_ids(value: object) -> tuple[ReservationId, ...]:
    if isinstance(value, str | bytes) or not hasattr(value, "__iter__"):
        raise ValidationError("reservation_ids must be a list of reservation ids")
    ids: list[ReservationId] = []
    for item in value:
        if isinstance(item, uuid.UUID):
            ids.append(ReservationId(item))
            continue
        try:
            ids.append(ReservationId(uuid.UUID(item)))
        except (TypeError, ValueError, AttributeError):
            raise ValidationError("every reservation id must be a UUID") from None
    if not 1 <= len(ids) <= MAX_RESERVATIONS_PER_PAYMENT:
        raise ValidationError(f"a payment covers 1 to {MAX_RESERVATIONS_PER_PAYMENT} reservations")
    if len(set(ids)) != len(ids):
        raise ValidationError("reservation_ids must not repeat")
    return tuple(ids)


@frozen
class PayCommand:
    token: str
    reservation_ids: tuple[ReservationId, ...] = field(converter=_reservation_ids)
    idempotency_key: str | None = field(default=None, converter=key_text)


@frozen
class PaymentReceipt:
    payment_id: PaymentId
    reservation_ids: tuple[ReservationId, ...]
    amount: Money
    balance: Money
    """The wallet's balance right after this payment."""
    paid_at: dt.datetime

    def to_record(self) -> dict[str, JsonValue]:
        return {
            "payment_id": str(self.payment_id),
            "reservation_ids": [str(r) for r in self.reservation_ids],
            "amount": self.amount,
            "balance": self.balance,
            "paid_at": self.paid_at.isoformat(),
        }

    @classmethod
    def from_record(cls, record: Mapping[str, JsonValue]) -> PaymentReceipt:
        ids, amount, balance = record["reservation_ids"], record["amount"], record["balance"]
        if not (isinstance(ids, list) and isinstance(amount, int) and isinstance(balance, int)):
            raise ValidationError("stored payment receipt is malformed")
        return cls(
            payment_id=PaymentId(uuid.UUID(str(record["payment_id"]))),
            reservation_ids=tuple(ReservationId(uuid.UUID(str(r))) for r in ids),
            amount=Money(amount),
            balance=Money(balance),
            paid_at=dt.datetime.fromisoformat(str(record["paid_at"])),
        )


class Pay:
    """Pay for one or more held seats from the wallet (run through ``Idempotent``).

    Rules:
    - needs an ACTIVE token; every reservation must be of the token's concert
      (TOKEN_NOT_ACTIVE), exist (NOT_FOUND), be the caller's (NOT_OWNER) and be a live
      hold (HOLD_EXPIRED);
    - the balance must cover the sum of the seats' prices (INSUFFICIENT_BALANCE);
    - a turn pays once: of two payments sent at once with one token, one succeeds and
      the other is TOKEN_NOT_ACTIVE (storage records one payment per token);
    - all or nothing: the debit, its ledger entry, the payment record, the
      reservations CONFIRMED and the seats SOLD commit together or not at all;
    - the checks, the sale and the release of the turn's other holds are one storage
      operation (``PaymentRepository.pay``);
    - afterwards the token is EXPIRED and any hold made under it meanwhile is released
      (after the receipt is kept: a failure there never loses the receipt).
    """

    def __init__(
        self,
        gate: TokenGate,
        queue: QueueStore,
        uow_factory: UnitOfWorkFactory,
        box_office: BoxOffice,
    ) -> None:
        self._gate = gate
        self._queue = queue
        self._uow_factory = uow_factory
        self._box_office = box_office

    def request(self, command: PayCommand) -> KeyedRequest:
        user = self._gate.claims(command.token).user_id
        ids: list[JsonValue] = [str(r) for r in sorted(command.reservation_ids)]
        return KeyedRequest.of(user, "pay", command.idempotency_key, {"reservation_ids": ids})

    async def run(
        self, command: PayCommand, request_id: uuid.UUID, now: dt.datetime
    ) -> PaymentReceipt:
        payment_id = PaymentId(request_id)
        claims = self._gate.claims(command.token)
        user = claims.user_id
        token = await self._gate.require_active(command.token, claims.concert_id, now)
        request = PaymentRequest(
            payment_id, user, token.concert_id, token.token_id, command.reservation_ids, now
        )
        outcome = await self._box_office.pay(request)
        return PaymentReceipt(
            payment_id, command.reservation_ids, outcome.payment.amount, outcome.balance, now
        )

    async def earlier(self, command: PayCommand, request_id: uuid.UUID) -> PaymentReceipt | None:
        """The payment stored under the key-derived id, if a first run committed it."""
        user = self._gate.claims(command.token).user_id
        async with self._uow_factory() as uow:
            earlier = await uow.payments.get(PaymentId(request_id))
            if earlier is None or earlier.user_id != user:
                return None
            wallet = await uow.wallets.get(user)
        return PaymentReceipt(
            earlier.payment_id,
            earlier.reservation_ids,
            earlier.amount,
            wallet.balance,
            earlier.paid_at,
        )

    async def after(self, command: PayCommand, receipt: PaymentReceipt, now: dt.datetime) -> None:
        """The fan's turn is over: the token ends and the holds made under it go. Kept
        apart from the payment's transaction (the queue may live elsewhere); if this
        fails, the token lapses at its active time and the holds at theirs."""
        claims = self._gate.claims(command.token)
        await self._queue.expire(claims.concert_id, claims.token_id, now)
        await self._box_office.release_holds_of_token(claims.token_id, now)

    dump = staticmethod(PaymentReceipt.to_record)
    load = staticmethod(PaymentReceipt.from_record)
