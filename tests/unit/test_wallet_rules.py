"""docs/contract.md §3, Wallet: charging, the balance cap, the ledger and idempotent charges."""

from __future__ import annotations

import asyncio
import datetime as dt
import uuid

import pytest

from adapters.clock import ManualClock
from concert_core import ConcertService
from concert_core.domain import (
    EntryKind,
    IdempotencyInProgressError,
    IdempotencyKeyReusedError,
    Money,
    PaymentId,
    UserId,
    ValidationError,
)
from concert_core.domain.values import MAX_BALANCE
from concert_core.use_cases import Balance, ChargeCommand
from support import MemoryKit, new_user


async def seed_balance(kit: MemoryKit, clock: ManualClock, user: UserId, amount: int) -> None:
    """Put ``amount`` in a wallet in one ledgered step, past the per-charge limit."""
    async with kit.uow() as uow:
        await uow.wallets.charge(user, Money(amount), uuid.uuid4(), await clock.now())
        await uow.commit()


def ledger_amounts(kit: MemoryKit, user: UserId) -> list[int]:
    return [entry.amount for entry in kit.db.ledger.get(user, [])]


async def test_a_user_never_seen_has_a_balance_of_zero(service: ConcertService) -> None:
    user = new_user()
    assert await service.get_balance(user) == Balance(user, Money(0))
    assert await service.get_balance(str(user)) == Balance(user, Money(0))


async def test_a_charge_adds_to_the_balance_and_writes_a_ledger_entry(
    service: ConcertService, kit: MemoryKit, clock: ManualClock
) -> None:
    user = new_user()
    first = await service.charge_wallet(ChargeCommand(user, 30_000))
    second = await service.charge_wallet(ChargeCommand(str(user), 12_345))
    assert (first.balance, second.balance) == (30_000, 42_345)
    assert (await service.get_balance(user)).balance == 42_345
    entries = kit.db.ledger[user]
    assert [(e.kind, e.amount) for e in entries] == [
        (EntryKind.CHARGE, 30_000),
        (EntryKind.CHARGE, 12_345),
    ]
    assert entries[0].at == await clock.now()


@pytest.mark.parametrize("amount", [1, 10_000_000])
async def test_a_charge_of_one_to_ten_million_won_is_accepted(
    service: ConcertService, amount: int
) -> None:
    user = new_user()
    assert (await service.charge_wallet(ChargeCommand(user, amount))).balance == amount


@pytest.mark.parametrize("amount", [0, -1, 10_000_001, 1.0, 500.5, True, "100", None])
async def test_a_charge_outside_one_to_ten_million_integer_won_is_a_validation_error(
    service: ConcertService, amount: object
) -> None:
    user = new_user()
    with pytest.raises(ValidationError) as raised:
        await service.charge_wallet(ChargeCommand(user, amount))  # type: ignore[arg-type]
    assert raised.value.code == "VALIDATION_ERROR"
    assert (await service.get_balance(user)).balance == 0


async def test_a_charge_may_bring_the_balance_up_to_exactly_the_cap(
    service: ConcertService, kit: MemoryKit, clock: ManualClock
) -> None:
    user = new_user()
    await seed_balance(kit, clock, user, MAX_BALANCE - 10)
    assert (await service.charge_wallet(ChargeCommand(user, 10))).balance == MAX_BALANCE


async def test_a_charge_past_the_balance_cap_is_refused_and_changes_nothing(
    service: ConcertService, kit: MemoryKit, clock: ManualClock
) -> None:
    user = new_user()
    await seed_balance(kit, clock, user, MAX_BALANCE - 10)
    with pytest.raises(ValidationError):
        await service.charge_wallet(ChargeCommand(user, 11))
    assert (await service.get_balance(user)).balance == MAX_BALANCE - 10
    assert ledger_amounts(kit, user) == [MAX_BALANCE - 10]


async def test_a_user_id_that_is_not_a_uuid_is_a_validation_error(
    service: ConcertService,
) -> None:
    for bad in ("not-a-uuid", "", 42):
        with pytest.raises(ValidationError):
            ChargeCommand(bad, 1_000)  # type: ignore[arg-type]
        with pytest.raises(ValidationError):
            await service.get_balance(bad)  # type: ignore[arg-type]
        with pytest.raises(ValidationError):
            await service.payment_history(bad)  # type: ignore[arg-type]


# -- idempotency --------------------------------------------------------------------------


async def test_a_charge_retried_with_its_key_returns_the_first_result_and_charges_once(
    service: ConcertService, kit: MemoryKit
) -> None:
    user = new_user()
    first = await service.charge_wallet(ChargeCommand(user, 5_000, idempotency_key="top-up-1"))
    await service.charge_wallet(ChargeCommand(user, 700))
    retry = await service.charge_wallet(ChargeCommand(user, 5_000, idempotency_key="top-up-1"))
    assert retry == first == Balance(user, Money(5_000))
    assert (await service.get_balance(user)).balance == 5_700
    assert ledger_amounts(kit, user) == [5_000, 700]


async def test_an_idempotency_key_is_kept_for_at_least_a_day(
    service: ConcertService, kit: MemoryKit, clock: ManualClock
) -> None:
    user = new_user()
    first = await service.charge_wallet(ChargeCommand(user, 5_000, idempotency_key="top-up-1"))
    clock.advance(dt.timedelta(hours=24))
    retry = await service.charge_wallet(ChargeCommand(user, 5_000, idempotency_key="top-up-1"))
    assert retry == first
    with pytest.raises(IdempotencyKeyReusedError):
        await service.charge_wallet(ChargeCommand(user, 6_000, idempotency_key="top-up-1"))
    assert ledger_amounts(kit, user) == [5_000]


async def test_a_key_reused_after_retention_with_another_amount_charges_afresh(
    service: ConcertService, clock: ManualClock
) -> None:
    user = new_user()
    await service.charge_wallet(ChargeCommand(user, 1_000, idempotency_key="k"))
    clock.advance(dt.timedelta(hours=25))  # past the day a key is kept
    assert (await service.charge_wallet(ChargeCommand(user, 5_000, "k"))).balance == 6_000


async def test_the_same_key_with_another_amount_is_idempotency_key_reused(
    service: ConcertService, kit: MemoryKit
) -> None:
    user = new_user()
    await service.charge_wallet(ChargeCommand(user, 5_000, idempotency_key="top-up-1"))
    with pytest.raises(IdempotencyKeyReusedError) as raised:
        await service.charge_wallet(ChargeCommand(user, 6_000, idempotency_key="top-up-1"))
    assert raised.value.code == "IDEMPOTENCY_KEY_REUSED"
    assert (await service.get_balance(user)).balance == 5_000
    assert ledger_amounts(kit, user) == [5_000]


async def test_idempotency_keys_are_scoped_to_their_user(
    service: ConcertService, kit: MemoryKit
) -> None:
    alice, bob = new_user(), new_user()
    await service.charge_wallet(ChargeCommand(alice, 5_000, idempotency_key="shared"))
    bobs = await service.charge_wallet(ChargeCommand(bob, 9_000, idempotency_key="shared"))
    assert bobs == Balance(bob, Money(9_000))
    assert ledger_amounts(kit, alice) == [5_000]
    assert ledger_amounts(kit, bob) == [9_000]


async def test_a_charge_retried_while_the_first_still_runs_is_idempotency_in_progress(
    service: ConcertService, kit: MemoryKit
) -> None:
    user = new_user()
    command = ChargeCommand(user, 5_000, idempotency_key="top-up-1")
    kit.gate.close()
    first = asyncio.create_task(service.charge_wallet(command))
    await asyncio.wait_for(kit.gate.blocked.wait(), timeout=1)
    with pytest.raises(IdempotencyInProgressError) as raised:
        await asyncio.wait_for(
            service.charge_wallet(command), timeout=1
        )  # a retry must not wait its turn
    assert raised.value.code == "IDEMPOTENCY_IN_PROGRESS"
    kit.gate.open.set()
    assert (await first).balance == 5_000
    assert (await service.charge_wallet(command)).balance == 5_000
    assert ledger_amounts(kit, user) == [5_000]


async def test_a_keyed_charge_that_failed_can_be_retried_with_the_same_key(
    service: ConcertService, kit: MemoryKit, clock: ManualClock
) -> None:
    user = new_user()
    command = ChargeCommand(user, 1_000, idempotency_key="top-up-1")
    await seed_balance(kit, clock, user, MAX_BALANCE - 500)
    with pytest.raises(ValidationError):
        await service.charge_wallet(command)
    async with kit.uow() as uow:  # the cause goes away: the wallet is spent down
        payment_id = PaymentId(uuid.uuid4())
        await uow.wallets.debit(user, Money(1_000), payment_id, payment_id, await clock.now())
        await uow.commit()
    assert (await service.charge_wallet(command)).balance == MAX_BALANCE - 500
    assert (await service.charge_wallet(command)).balance == MAX_BALANCE - 500
    assert ledger_amounts(kit, user) == [MAX_BALANCE - 500, -1_000, 1_000]


@pytest.mark.parametrize("key", ["", "x" * 256, "clé", "tab\there"])
async def test_a_malformed_idempotency_key_is_a_validation_error(
    service: ConcertService, key: str
) -> None:
    user = new_user()
    with pytest.raises(ValidationError):
        await service.charge_wallet(ChargeCommand(user, 1_000, idempotency_key=key))
    assert (await service.get_balance(user)).balance == 0


async def test_the_balance_is_always_the_sum_of_the_ledger(
    service: ConcertService, kit: MemoryKit
) -> None:
    user = new_user()
    for amount in (10_000, 1, 9_999_999, 3):
        balance = await service.charge_wallet(ChargeCommand(user, amount))
        assert balance.balance == sum(ledger_amounts(kit, user))
