"""Payments in SQL: a payment made whole (on PostgreSQL in one statement), each recorded
once and at most one per turn, read back by id, as a fan's history or as a concert's
revenue."""

from __future__ import annotations

import json
from typing import Any
from uuid import UUID

from sqlalchemy import Row, exc, func, select

from adapters.sql import postgres
from adapters.sql import tables as t
from adapters.sql.dialect import insert_ignoring_conflicts
from adapters.sql.engine import is_postgres
from adapters.sql.holds import reservation_of
from adapters.sql.reservations import SqlReservationRepository
from adapters.sql.transactions import SqlRepository
from adapters.sql.wallets import SqlWalletRepository
from concert_core.domain import (
    ConcertId,
    IdempotencyInProgressError,
    Money,
    Payment,
    PaymentId,
    ReservationId,
    TokenId,
    UserId,
)
from concert_core.domain.payment import payable, turn_paid_already
from concert_core.ports import PaymentOutcome, PaymentRequest


def _payment(row: Row[Any]) -> Payment:
    return Payment(
        payment_id=PaymentId(row.payment_id),
        user_id=UserId(row.user_id),
        concert_id=ConcertId(row.concert_id),
        reservation_ids=tuple(ReservationId(UUID(r)) for r in row.reservation_ids),
        amount=Money(row.amount),
        paid_at=row.paid_at,
        token_id=TokenId(row.token_id) if row.token_id else None,
    )


class SqlPaymentRepository(SqlRepository):
    async def pay(self, request: PaymentRequest) -> PaymentOutcome:
        if is_postgres(self._c):
            outcome = await self.pay_at_once(request)
            if outcome is not None:
                return outcome
        return await self._pay_by_steps(request)

    def _payment(self, request: PaymentRequest, amount: Money) -> Payment:
        return Payment(
            request.payment_id,
            request.user_id,
            request.concert_id,
            request.reservation_ids,
            amount,
            request.now,
            request.token_id,
        )

    async def pay_at_once(self, request: PaymentRequest) -> PaymentOutcome | None:
        """``postgres.PAY``; None when it refused (it then wrote nothing). PostgreSQL
        only; one statement, so atomic in autocommit too."""
        rids = list(request.reservation_ids)
        params = {
            "rids": rids,
            "rid_texts": [str(r) for r in rids],
            "rids_json": json.dumps([str(r) for r in rids]),
            "n": len(rids),
            "user_id": request.user_id,
            "concert_id": request.concert_id,
            "token_id": request.token_id,
            "payment_id": request.payment_id,
            "now": request.now,
        }
        try:
            outcome = (await self._c.execute(postgres.PAY, params)).one()
        except exc.IntegrityError as error:
            # Committed by another transaction after this statement's snapshot: this one
            # wrote nothing, and its transaction must roll back.
            if "uq_payments_token_id" in str(error.orig):
                raise turn_paid_already() from error
            if "uq_ledger_entry_id" in str(error.orig) or "uq_payments_payment_id" in str(
                error.orig
            ):
                raise IdempotencyInProgressError(
                    f"payment {request.payment_id} exists already"
                ) from error
            raise
        if outcome.balance is None:
            return None
        return PaymentOutcome(self._payment(request, Money(outcome.amount)), Money(outcome.balance))

    async def _pay_by_steps(self, request: PaymentRequest) -> PaymentOutcome:
        """The payment a step at a time (SQLite, under its write lock; and PostgreSQL's
        refusals, to say which rule refused)."""
        reservations = SqlReservationRepository(self._c)
        user, rids, now, pid = (
            request.user_id,
            request.reservation_ids,
            request.now,
            request.payment_id,
        )
        rows = await self._c.execute(
            select(t.reservations).where(t.reservations.c.reservation_id.in_(rids))
        )
        stored = {ReservationId(row.reservation_id): reservation_of(row) for row in rows}
        payable({r: stored.get(r) for r in rids}, user, request.concert_id)
        confirmed = await reservations.confirm(user, rids, now)
        amount = Money(sum(r.price for r in confirmed))
        wallet = await SqlWalletRepository(self._c).debit(user, amount, pid, pid, now)
        payment = self._payment(request, amount)
        await self.add(payment)
        await reservations.release_holds_of_token(request.token_id, now)
        return PaymentOutcome(payment, wallet.balance)

    async def add(self, payment: Payment) -> None:
        # Either unique index refuses the row without an error (the transaction stays
        # usable): a payment id taken first, then a turn that paid already.
        result = await self._c.execute(
            insert_ignoring_conflicts(self._c, t.payments).values(
                payment_id=payment.payment_id,
                user_id=payment.user_id,
                concert_id=payment.concert_id,
                reservation_ids=[str(r) for r in payment.reservation_ids],
                amount=payment.amount,
                paid_at=payment.paid_at,
                token_id=payment.token_id,
            )
        )
        if result.rowcount == 1:
            return
        if await self.get(payment.payment_id) is not None:
            raise IdempotencyInProgressError(f"payment {payment.payment_id} exists already")
        raise turn_paid_already()

    async def revenue(self, concert_id: ConcertId) -> Money:
        p = t.payments.c
        total = await self._c.scalar(
            select(func.coalesce(func.sum(p.amount), 0)).where(p.concert_id == concert_id)
        )
        return Money(int(total or 0))

    async def get(self, payment_id: PaymentId) -> Payment | None:
        row = (
            await self._c.execute(select(t.payments).where(t.payments.c.payment_id == payment_id))
        ).first()
        return _payment(row) if row else None

    async def history(self, user_id: UserId) -> list[Payment]:
        rows = await self._c.execute(
            select(t.payments)
            .where(t.payments.c.user_id == user_id)
            .order_by(t.payments.c.serial.desc())
        )
        return [_payment(r) for r in rows]
