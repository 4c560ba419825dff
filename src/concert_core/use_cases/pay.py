from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Mapping

from attrs import field, frozen

from concert_core.domain import (
    DomainError,
    Money,
    NotFoundError,
    Payment,
    PaymentId,
    ReservationId,
    TokenClaims,
    TokenNotActiveError,
    ValidationError,
)
from concert_core.ports import Clock, IdempotencyStore, JsonValue, QueueStore, UnitOfWorkFactory
from concert_core.use_cases._gate import TokenGate
from concert_core.use_cases._idempotency import KeyedRequest, key_text, run_once

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
    """Pay for one or more held seats from the wallet.

    Rules:
    - with an idempotency key, a retry gets the first receipt back before anything
      else is checked (the token is EXPIRED after paying);
    - needs an ACTIVE token; every reservation must be of the token's concert
      (TOKEN_NOT_ACTIVE), exist (NOT_FOUND), be the caller's (NOT_OWNER) and be a live
      hold (HOLD_EXPIRED);
    - the balance must cover the sum of the seats' prices (INSUFFICIENT_BALANCE);
    - all or nothing: the debit, its ledger entry, the payment record, the
      reservations CONFIRMED and the seats SOLD commit together or not at all;
    - afterwards the token is EXPIRED and the other holds made under it are released
      (after the result is kept: a failure there never loses the receipt).
    """

    def __init__(
        self,
        gate: TokenGate,
        queue: QueueStore,
        uow: UnitOfWorkFactory,
        idempotency: IdempotencyStore,
        clock: Clock,
    ) -> None:
        self._gate = gate
        self._queue = queue
        self._uow = uow
        self._idempotency = idempotency
        self._clock = clock

    async def __call__(self, command: PayCommand) -> PaymentReceipt:
        claims = self._gate.claims(command.token)
        now = await self._clock.now()
        ids: list[JsonValue] = [str(r) for r in sorted(command.reservation_ids)]
        request = KeyedRequest.of(
            claims.user_id, "pay", command.idempotency_key, {"reservation_ids": ids}
        )

        paid_now = False

        async def pay() -> PaymentReceipt:
            nonlocal paid_now
            payment_id = PaymentId(request.derived_id())
            keyed = request.key is not None
            if keyed and (earlier := await self._earlier(payment_id, claims)):
                return earlier
            try:
                receipt = await self._pay(command, claims, payment_id, now)
            except DomainError:
                # A first run that outlived its lease may have paid meanwhile: then this
                # failure (the holds are CONFIRMED) is that payment's, and so is the answer.
                if keyed and (earlier := await self._earlier(payment_id, claims)):
                    return earlier
                raise
            paid_now = True
            return receipt

        async def end_turn(_: PaymentReceipt) -> None:
            # The fan's turn is over: the token ends and the holds made under it go.
            # Only when this run paid: a replay must not end a turn that came later.
            # Kept apart from the payment's transaction (the queue may live elsewhere);
            # if this fails, the token lapses at its active time and the holds at theirs.
            if not paid_now:
                return
            await self._queue.expire(claims.concert_id, claims.token_id, now)
            async with self._uow() as uow:
                await uow.reservations.release_holds_of_token(claims.token_id, now)
                await uow.commit()

        return await run_once(
            self._idempotency,
            request,
            now,
            pay,
            PaymentReceipt.to_record,
            PaymentReceipt.from_record,
            after=end_turn,
        )

    async def _earlier(self, payment_id: PaymentId, claims: TokenClaims) -> PaymentReceipt | None:
        """The payment a keyed request's first run made, if it committed but died before
        its result was stored: the key-derived id finds it."""
        async with self._uow() as uow:
            earlier = await uow.payments.get(payment_id)
            if earlier is None or earlier.user_id != claims.user_id:
                return None
            wallet = await uow.wallets.get(claims.user_id)
        return PaymentReceipt(
            earlier.payment_id,
            earlier.reservation_ids,
            earlier.amount,
            wallet.balance,
            earlier.paid_at,
        )

    async def _pay(
        self, command: PayCommand, claims: TokenClaims, payment_id: PaymentId, now: dt.datetime
    ) -> PaymentReceipt:
        user = claims.user_id
        token = await self._gate.require_active(command.token, claims.concert_id, now)
        async with self._uow() as uow:
            found = {r: await uow.reservations.get(r) for r in command.reservation_ids}
            if missing := [str(r) for r, found_one in found.items() if found_one is None]:
                raise NotFoundError(f"no reservation {', '.join(missing)}")
            reservations = [r for r in found.values() if r is not None]
            for reservation in reservations:
                reservation.check_owner(user)
            for reservation in reservations:
                if reservation.concert_id != token.concert_id:
                    raise TokenNotActiveError(
                        f"reservation {reservation.reservation_id} is for another concert",
                        token_status=token.status,
                        position=None,
                    )
            confirmed = await uow.reservations.confirm(user, command.reservation_ids, now)
            amount = Money(sum(r.price for r in confirmed))
            wallet = await uow.wallets.debit(user, amount, payment_id, payment_id, now)
            await uow.payments.add(
                Payment(payment_id, user, token.concert_id, command.reservation_ids, amount, now)
            )
            await uow.commit()
        return PaymentReceipt(payment_id, command.reservation_ids, amount, wallet.balance, now)
