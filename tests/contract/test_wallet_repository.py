"""WalletRepository: balance >= 0, every change a ledger entry, balance = sum of entries."""

from __future__ import annotations

import asyncio
import uuid

import pytest

from backends import Backend
from concert_core.domain import (
    EntryKind,
    InsufficientBalanceError,
    Money,
    PaymentId,
    UserId,
    ValidationError,
    Wallet,
)
from contract.helpers import T0, at, new_user


async def charge(
    backend: Backend, user: UserId, amount: int, entry_id: uuid.UUID | None = None
) -> Wallet:
    async with backend.uow() as uow:
        wallet = await uow.wallets.charge(user, Money(amount), entry_id or uuid.uuid4(), T0)
        await uow.commit()
    return wallet


async def debit(backend: Backend, user: UserId, amount: int) -> Wallet:
    async with backend.uow() as uow:
        payment_id = PaymentId(uuid.uuid4())
        wallet = await uow.wallets.debit(user, Money(amount), uuid.uuid4(), payment_id, at(1))
        await uow.commit()
    return wallet


async def balance_and_ledger_sum(backend: Backend, user: UserId) -> tuple[int, int]:
    async with backend.uow() as uow:
        wallet = await uow.wallets.get(user)
        ledger = await uow.wallets.ledger(user)
    return wallet.balance, sum(e.amount for e in ledger)


async def test_an_unknown_user_has_an_empty_wallet(backend: Backend) -> None:
    user = new_user()
    async with backend.uow() as uow:
        assert await uow.wallets.get(user) == Wallet(user, Money(0))
        assert await uow.wallets.ledger(user) == []


async def test_a_charge_adds_to_the_balance_and_is_ledgered(backend: Backend) -> None:
    user, entry_id = new_user(), uuid.uuid4()
    async with backend.uow() as uow:
        wallet = await uow.wallets.charge(user, Money(50_000), entry_id, at(3))
        await uow.commit()
    assert wallet == Wallet(user, Money(50_000))
    async with backend.uow() as uow:
        assert await uow.wallets.get(user) == wallet
        (entry,) = await uow.wallets.ledger(user)
    assert (entry.entry_id, entry.user_id, entry.kind) == (entry_id, user, EntryKind.CHARGE)
    assert (entry.amount, entry.at, entry.payment_id) == (50_000, at(3), None)


async def test_a_debit_takes_from_the_balance_and_ledgers_a_negative_payment_entry(
    backend: Backend,
) -> None:
    user, entry_id, payment_id = new_user(), uuid.uuid4(), PaymentId(uuid.uuid4())
    await charge(backend, user, 80_000)
    async with backend.uow() as uow:
        wallet = await uow.wallets.debit(user, Money(30_000), entry_id, payment_id, at(5))
        await uow.commit()
    assert wallet.balance == 50_000
    async with backend.uow() as uow:
        _, entry = await uow.wallets.ledger(user)
    assert (entry.entry_id, entry.kind, entry.amount) == (entry_id, EntryKind.PAYMENT, -30_000)
    assert (entry.payment_id, entry.at) == (payment_id, at(5))
    assert (await debit(backend, user, 50_000)).balance == 0, "the whole balance can be spent"


async def test_the_balance_is_the_sum_of_the_ledger_oldest_first(backend: Backend) -> None:
    user = new_user()
    ids = [uuid.uuid4() for _ in range(3)]
    await charge(backend, user, 10_000, ids[0])
    await charge(backend, user, 7_000, ids[1])
    await debit(backend, user, 12_000)
    await charge(backend, user, 1, ids[2])
    async with backend.uow() as uow:
        ledger = await uow.wallets.ledger(user)
    assert [e.amount for e in ledger] == [10_000, 7_000, -12_000, 1]
    assert [ledger[0].entry_id, ledger[1].entry_id, ledger[3].entry_id] == ids
    assert await balance_and_ledger_sum(backend, user) == (5_001, 5_001)
    # Wallets are per user.
    other = new_user()
    await charge(backend, other, 3_000)
    assert await balance_and_ledger_sum(backend, other) == (3_000, 3_000)
    assert await balance_and_ledger_sum(backend, user) == (5_001, 5_001)


async def test_a_debit_beyond_the_balance_raises_and_changes_nothing(backend: Backend) -> None:
    user = new_user()
    await charge(backend, user, 42_000)
    async with backend.uow() as uow:
        with pytest.raises(InsufficientBalanceError):
            await uow.wallets.debit(user, Money(42_001), uuid.uuid4(), PaymentId(uuid.uuid4()), T0)
        await uow.commit()
    async with backend.uow() as uow:
        assert len(await uow.wallets.ledger(user)) == 1
    assert await balance_and_ledger_sum(backend, user) == (42_000, 42_000)
    with pytest.raises(InsufficientBalanceError):
        await debit(backend, new_user(), 1)


async def test_a_charge_past_the_balance_cap_raises_and_changes_nothing(
    backend: Backend,
) -> None:
    user, cap = new_user(), 10**12
    near = cap - 5  # the port does not cap one entry; the use case caps a request
    await charge(backend, user, near)
    async with backend.uow() as uow:
        with pytest.raises(ValidationError):
            await uow.wallets.charge(user, Money(6), uuid.uuid4(), T0)
        await uow.commit()
    assert await balance_and_ledger_sum(backend, user) == (near, near)
    assert (await charge(backend, user, 5)).balance == cap
    with pytest.raises(ValidationError):
        await charge(backend, user, 1)


async def test_a_charge_repeated_with_the_same_entry_id_is_applied_once(
    backend: Backend,
) -> None:
    user, entry_id = new_user(), uuid.uuid4()
    async with backend.uow() as uow:
        await uow.wallets.charge(user, Money(1_000), entry_id, T0)
        again = await uow.wallets.charge(user, Money(1_000), entry_id, T0)
        await uow.commit()
    assert again.balance == 1_000
    later = await charge(backend, user, 1_000, entry_id)
    assert later.balance == 1_000
    async with backend.uow() as uow:
        assert [e.entry_id for e in await uow.wallets.ledger(user)] == [entry_id]


async def test_concurrent_charges_are_all_counted(backend: Backend) -> None:
    user = new_user()
    await asyncio.gather(*(charge(backend, user, 1_000) for _ in range(20)))
    assert await balance_and_ledger_sum(backend, user) == (20_000, 20_000)


async def test_concurrent_debits_never_overdraw(backend: Backend) -> None:
    user = new_user()
    await charge(backend, user, 5_000)
    results = await asyncio.gather(
        *(debit(backend, user, 1_000) for _ in range(12)), return_exceptions=True
    )
    failures = [r for r in results if isinstance(r, BaseException)]
    assert len(results) - len(failures) == 5
    assert all(isinstance(f, InsufficientBalanceError) for f in failures)
    assert await balance_and_ledger_sum(backend, user) == (0, 0)
