"""In-memory wallets and payments, as atomic as the other memory repositories (each
method runs without awaiting anything but its own repositories' methods)."""

from __future__ import annotations

import datetime as dt
from uuid import UUID

import attrs

from adapters.memory.repositories import MemoryReservationRepository, _Repository
from concert_core.domain import (
    ConcertId,
    IdempotencyInProgressError,
    LedgerEntry,
    Money,
    Payment,
    PaymentId,
    UserId,
    Wallet,
)
from concert_core.domain.payment import payable, turn_paid_already
from concert_core.ports import PaymentOutcome, PaymentRequest


class MemoryWalletRepository(_Repository):
    async def get(self, user_id: UserId) -> Wallet:
        self._db.read()
        return attrs.evolve(self._db.wallets.get(user_id) or Wallet(user_id))

    def _record(self, wallet: Wallet, entry: LedgerEntry) -> Wallet:
        db = self._db
        db.put(db.wallets, wallet.user_id, wallet)
        db.append(db.ledger, wallet.user_id, entry)
        db.put(db.ledger_ids, entry.entry_id, None)
        return attrs.evolve(wallet)

    async def charge(
        self, user_id: UserId, amount: Money, entry_id: UUID, now: dt.datetime
    ) -> Wallet:
        wallet = await self.get(user_id)
        if entry_id in self._db.ledger_ids:
            return wallet  # this very charge is already in the ledger
        return self._record(wallet, wallet.charge(amount, entry_id, now))

    async def debit(
        self,
        user_id: UserId,
        amount: Money,
        entry_id: UUID,
        payment_id: PaymentId,
        now: dt.datetime,
    ) -> Wallet:
        if entry_id in self._db.ledger_ids:
            raise IdempotencyInProgressError(f"ledger entry {entry_id} exists already")
        wallet = await self.get(user_id)
        return self._record(wallet, wallet.debit(amount, entry_id, payment_id, now))

    async def ledger(self, user_id: UserId) -> list[LedgerEntry]:
        self._db.read()
        return list(self._db.ledger.get(user_id, ()))


class MemoryPaymentRepository(_Repository):
    async def pay(self, request: PaymentRequest) -> PaymentOutcome:
        reservations = MemoryReservationRepository(self._db)
        wallets = MemoryWalletRepository(self._db)
        user, rids, now = request.user_id, request.reservation_ids, request.now
        payable({r: await reservations.get(r) for r in rids}, user, request.concert_id)
        confirmed = await reservations.confirm(user, rids, now)
        amount = Money(sum(r.price for r in confirmed))
        pid = request.payment_id
        wallet = await wallets.debit(user, amount, pid, pid, now)
        payment = Payment(pid, user, request.concert_id, rids, amount, now, request.token_id)
        await self.add(payment)
        await reservations.release_holds_of_token(request.token_id, now)
        return PaymentOutcome(payment, wallet.balance)

    async def add(self, payment: Payment) -> None:
        db = self._db
        if payment.payment_id in db.payments:
            raise IdempotencyInProgressError(f"payment {payment.payment_id} exists already")
        if payment.token_id is not None:
            if payment.token_id in db.payments_by_token:
                raise turn_paid_already()
            db.put(db.payments_by_token, payment.token_id, payment.payment_id)
        db.put(db.payments, payment.payment_id, payment)
        db.append(db.payments_by_user, payment.user_id, payment.payment_id)
        revenue = db.revenue.get(payment.concert_id, Money(0))
        db.put(db.revenue, payment.concert_id, Money(revenue + payment.amount))

    async def revenue(self, concert_id: ConcertId) -> Money:
        self._db.read()
        return self._db.revenue.get(concert_id, Money(0))

    async def get(self, payment_id: PaymentId) -> Payment | None:
        self._db.read()
        return self._db.payments.get(payment_id)

    async def history(self, user_id: UserId) -> list[Payment]:
        self._db.read()
        db = self._db
        return [db.payments[p] for p in reversed(db.payments_by_user.get(user_id, ()))]
