"""A keyed request whose first run committed but whose result could not be kept.

The first caller still gets its answer (the request is done). The key stays claimed
until its lease ends; then a retry runs again, and the ids derived from the key make
storage find the first run's writes instead of repeating them. A run cut short by an
outage gives its key up at once: the same derived ids make its retry safe.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Mapping
from typing import Any

import pytest

from adapters.clock import ManualClock
from adapters.memory import (
    MemoryDatabase,
    MemoryIdempotencyStore,
    MemoryQueueStore,
    MemoryUnitOfWorkFactory,
)
from adapters.tokens import JwtTokenCodec
from concert_core import ConcertService, Policy
from concert_core.domain import (
    IdempotencyInProgressError,
    ReservationStatus,
    ServiceUnavailableError,
    TokenStatus,
)
from concert_core.ports import IdempotencyKey, JsonValue
from concert_core.use_cases import ChargeCommand, HoldSeatCommand, PayCommand
from support import DATES, active_token, build_memory_service, hold, new_user, schedule

LEASE = dt.timedelta(seconds=10)


class DiesBeforeStoringResults(MemoryIdempotencyStore):
    """The result store fails after the request's transaction has committed."""

    def __init__(self, policy: Policy) -> None:
        super().__init__(policy)
        self.dying = True

    async def complete(
        self,
        key: IdempotencyKey,
        claim_id: uuid.UUID,
        result: Mapping[str, JsonValue],
        now: dt.datetime,
    ) -> None:
        if self.dying:
            raise ConnectionError("the result store went away")
        await super().complete(key, claim_id, result, now)


@pytest.fixture
def store(policy: Policy) -> DiesBeforeStoringResults:
    return DiesBeforeStoringResults(policy)


@pytest.fixture
def policy() -> Policy:
    return Policy(idempotency_lease=LEASE)


@pytest.fixture
def service(policy: Policy, clock: ManualClock, store: DiesBeforeStoringResults) -> ConcertService:
    return ConcertService.build(
        uow_factory=MemoryUnitOfWorkFactory(MemoryDatabase()),
        queue=MemoryQueueStore(policy),
        idempotency=store,
        codec=JwtTokenCodec("crash-secret-" + "c" * 32),
        clock=clock,
        policy=policy,
    )


async def test_a_charge_rerun_after_a_crash_does_not_add_the_money_twice(
    service: ConcertService, clock: ManualClock, store: DiesBeforeStoringResults
) -> None:
    user = new_user()
    command = ChargeCommand(user, 30_000, idempotency_key="top-up")
    assert (await service.charge_wallet(command)).balance == 30_000
    assert (await service.get_balance(user)).balance == 30_000

    with pytest.raises(IdempotencyInProgressError):
        await service.charge_wallet(command)  # the lease still runs

    store.dying = False
    clock.advance(LEASE)
    assert (await service.charge_wallet(command)).balance == 30_000
    assert (await service.get_balance(user)).balance == 30_000
    assert (await service.charge_wallet(command)).balance == 30_000  # now a stored replay


async def test_a_payment_rerun_after_a_crash_returns_the_first_payment(
    service: ConcertService, clock: ManualClock, store: DiesBeforeStoringResults
) -> None:
    concert = await schedule(service)
    user = new_user()
    ticket = await active_token(service, concert.concert_id, user)
    hold = await service.hold_seat(HoldSeatCommand(ticket.token, concert.concert_id, DATES[0], 40))
    await service.charge_wallet(ChargeCommand(user, 100_000))
    command = PayCommand(ticket.token, [hold.reservation.reservation_id], idempotency_key="buy")
    first = await service.pay(command)
    with pytest.raises(IdempotencyInProgressError):
        await service.pay(command)  # the lease still runs

    store.dying = False
    clock.advance(LEASE)
    receipt = await service.pay(command)  # the token is EXPIRED by now, yet this is a retry
    assert receipt.payment_id == first.payment_id
    history = await service.payment_history(user)
    assert [p.payment_id for p in history] == [receipt.payment_id]
    assert receipt.amount == hold.reservation.price
    assert receipt.balance == 100_000 - hold.reservation.price
    assert (await service.get_balance(user)).balance == receipt.balance


async def test_a_replayed_payment_does_not_end_the_fans_later_turn(
    policy: Policy, clock: ManualClock
) -> None:
    store = DiesBeforeStoringResults(policy)
    service = build_memory_service(policy, clock, idempotency=store).service
    concert = await schedule(service)
    user = new_user()
    await service.charge_wallet(ChargeCommand(user, 1_000_000))
    first_turn = await active_token(service, concert.concert_id, user)
    paid = await hold(service, first_turn.token, concert.concert_id, 1)
    await service.pay(PayCommand(first_turn.token, [paid.reservation_id], "k"))
    store.dying = False
    clock.advance(policy.idempotency_lease)

    next_turn = await active_token(service, concert.concert_id, user)
    next_hold = await hold(service, next_turn.token, concert.concert_id, 2)
    replay = await service.pay(PayCommand(next_turn.token, [paid.reservation_id], "k"))
    assert replay.reservation_ids == (paid.reservation_id,)
    assert (await service.queue_status(next_turn.token)).status is TokenStatus.ACTIVE
    view = await service.get_reservation(next_turn.token, next_hold.reservation_id)
    assert view.status is ReservationStatus.HELD


class LosesCommitReplies:
    """Units of work whose commit goes through but whose reply is lost while ``losing``
    (an outage between COMMIT and its acknowledgement), or that fail before the
    commit while ``failing``."""

    def __init__(self, inner: MemoryUnitOfWorkFactory) -> None:
        self._inner = inner
        self.losing = False
        self.failing = False

    def __call__(self) -> Any:
        factory = self

        class Unit:
            async def __aenter__(self) -> Any:
                self.uow = await self.inner.__aenter__()
                real_commit = self.uow.commit

                async def commit() -> None:
                    if factory.failing:
                        raise ServiceUnavailableError("the database is unavailable")
                    await real_commit()
                    if factory.losing:
                        raise ServiceUnavailableError("the database is unavailable")

                self.uow.commit = commit
                return self.uow

            async def __aexit__(self, *exc: Any) -> None:
                await self.inner.__aexit__(*exc)

        unit = Unit()
        unit.inner = self._inner()
        return unit


@pytest.mark.parametrize("committed", [True, False], ids=["reply-lost", "rolled-back"])
async def test_a_keyed_payment_cut_by_an_outage_is_retried_at_once_and_paid_once(
    policy: Policy, clock: ManualClock, committed: bool
) -> None:
    units = LosesCommitReplies(MemoryUnitOfWorkFactory(MemoryDatabase()))
    service = ConcertService.build(
        uow_factory=units,
        queue=MemoryQueueStore(policy),
        idempotency=MemoryIdempotencyStore(policy),
        codec=JwtTokenCodec("crash-secret-" + "c" * 32),
        clock=clock,
        policy=policy,
    )
    concert = await schedule(service)
    user = new_user()
    ticket = await active_token(service, concert.concert_id, user)
    hold = await service.hold_seat(HoldSeatCommand(ticket.token, concert.concert_id, DATES[0], 7))
    await service.charge_wallet(ChargeCommand(user, 300_000))
    command = PayCommand(ticket.token, [hold.reservation.reservation_id], idempotency_key="buy")

    units.losing, units.failing = committed, not committed
    if committed:  # the run looks for its own payment by the derived id, and finds it
        first = await service.pay(command)
    else:
        with pytest.raises(ServiceUnavailableError):
            await service.pay(command)
    units.losing = units.failing = False

    receipt = await service.pay(command)  # at once: no "in progress" until the lease ends
    if committed:
        assert receipt == first
    history = await service.payment_history(user)
    assert [p.payment_id for p in history] == [receipt.payment_id]
    assert (await service.get_balance(user)).balance == 300_000 - receipt.amount
