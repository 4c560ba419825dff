"""Many coroutines racing through the use cases at once.

In-memory ports finish without suspending, so on their own concurrent calls would run
one after another. The ports here are wrapped to yield to the event loop before and
after every call, so the coroutines really interleave at every await.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
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
    DomainError,
    IdempotencyInProgressError,
    SeatStatus,
    SeatUnavailableError,
    TokenStatus,
)
from concert_core.use_cases import (
    ChargeCommand,
    HoldSeatCommand,
    IssueTokenCommand,
    ListSeatsQuery,
    PayCommand,
)
from support import DATES, Yielding, YieldingUnitOfWork, active_token, new_user, schedule


@pytest.fixture
def racing() -> ConcertService:
    policy = Policy(active_capacity=200, max_holds_per_user=3)
    db = MemoryDatabase()
    factory = MemoryUnitOfWorkFactory(db)
    uow: Callable[[], Any] = lambda: YieldingUnitOfWork(factory)  # noqa: E731
    return ConcertService.build(
        uow_factory=uow,
        queue=Yielding(MemoryQueueStore(policy)),
        idempotency=Yielding(MemoryIdempotencyStore(policy)),
        codec=JwtTokenCodec("race-secret-" + "r" * 32),
        clock=Yielding(ManualClock()),
        policy=policy,
    )


async def outcomes(*calls: Any) -> list[Any]:
    return await asyncio.gather(*calls, return_exceptions=True)


async def test_a_hundred_fans_holding_one_seat_at_once_leave_exactly_one_holder(
    racing: ConcertService,
) -> None:
    concert = await schedule(racing)
    tickets = [await active_token(racing, concert.concert_id) for _ in range(100)]
    results = await outcomes(
        *(
            racing.hold_seat(HoldSeatCommand(t.token, concert.concert_id, DATES[0], 7))
            for t in tickets
        )
    )
    wins = [r for r in results if not isinstance(r, BaseException)]
    assert len(wins) == 1
    assert all(isinstance(r, SeatUnavailableError) for r in results if r not in wins)
    winner = tickets[results.index(wins[0])]
    seats = await racing.list_seats(ListSeatsQuery(winner.token, concert.concert_id, DATES[0]))
    assert seats.seats[6].status is SeatStatus.HELD


async def test_one_fan_holding_one_seat_many_times_at_once_gets_one_hold(
    racing: ConcertService,
) -> None:
    concert = await schedule(racing)
    ticket = await active_token(racing, concert.concert_id)
    command = HoldSeatCommand(ticket.token, concert.concert_id, DATES[0], 3)
    results = await outcomes(*(racing.hold_seat(command) for _ in range(20)))
    assert not [r for r in results if isinstance(r, BaseException)]
    assert len({r.reservation.reservation_id for r in results}) == 1
    assert sum(r.created for r in results) == 1


async def test_one_fan_grabbing_many_seats_at_once_stops_at_the_hold_limit(
    racing: ConcertService,
) -> None:
    concert = await schedule(racing)
    ticket = await active_token(racing, concert.concert_id)
    results = await outcomes(
        *(
            racing.hold_seat(HoldSeatCommand(ticket.token, concert.concert_id, DATES[0], n))
            for n in range(1, 11)
        )
    )
    held = [r for r in results if not isinstance(r, BaseException)]
    assert len(held) == racing.policy.max_holds_per_user
    assert all(getattr(r, "code", None) == "HOLD_LIMIT_REACHED" for r in results if r not in held)


async def test_concurrent_retries_of_one_keyed_charge_add_the_money_once(
    racing: ConcertService,
) -> None:
    user = new_user()
    command = ChargeCommand(user, 10_000, idempotency_key="top-up")
    results = await outcomes(*(racing.charge_wallet(command) for _ in range(30)))
    done = [r for r in results if not isinstance(r, BaseException)]
    assert done, "at least the first charge completes"
    assert all(isinstance(r, IdempotencyInProgressError) for r in results if r not in done)
    assert (await racing.get_balance(user)).balance == 10_000
    assert (await racing.charge_wallet(command)).balance == 10_000


async def test_concurrent_charges_and_payments_on_one_wallet_keep_the_books_exact(
    racing: ConcertService,
) -> None:
    concert = await schedule(racing)
    user = new_user()
    ticket = await active_token(racing, concert.concert_id, user)
    holds = [
        await racing.hold_seat(HoldSeatCommand(ticket.token, concert.concert_id, DATES[0], n))
        for n in (31, 32)  # back-tier seats: 70,000 won each
    ]
    price = holds[0].reservation.price
    ids = [h.reservation.reservation_id for h in holds]
    results = await outcomes(
        *(racing.charge_wallet(ChargeCommand(user, 5_000)) for _ in range(40)),
        *(racing.pay(PayCommand(ticket.token, ids)) for _ in range(10)),
    )
    payments = await racing.payment_history(user)
    assert len(payments) <= 1
    paid = sum(p.amount for p in payments)
    balance = (await racing.get_balance(user)).balance
    assert balance == 40 * 5_000 - paid
    assert balance >= 0
    if payments:
        assert paid == 2 * price
    errors = {type(r).__name__ for r in results if isinstance(r, BaseException)}
    assert all(isinstance(r, DomainError) for r in results if isinstance(r, BaseException)), errors


async def test_concurrent_admission_passes_never_exceed_the_capacity() -> None:
    policy = Policy(active_capacity=5)
    queue = Yielding(MemoryQueueStore(policy))
    service = ConcertService.build(
        uow_factory=MemoryUnitOfWorkFactory(MemoryDatabase()),
        queue=queue,
        idempotency=MemoryIdempotencyStore(policy),
        codec=JwtTokenCodec("race-secret-" + "r" * 32),
        clock=ManualClock(),
        policy=policy,
    )
    concert = await schedule(service)
    tickets = [
        await service.issue_token(IssueTokenCommand(new_user(), concert.concert_id))
        for _ in range(20)
    ]
    await outcomes(*(service.admit_waiting(concert.concert_id) for _ in range(10)))
    views = [await service.queue_status(t.token) for t in tickets]
    active = [v for v in views if v.status is TokenStatus.ACTIVE]
    assert len(active) == 5
    assert [v.status for v in views[:5]] == [TokenStatus.ACTIVE] * 5, "the first five go in"
    assert [v.position for v in views[5:]] == list(range(1, 16))


async def test_concurrent_token_requests_of_one_fan_yield_one_place_in_line(
    racing: ConcertService,
) -> None:
    concert = await schedule(racing)
    user = new_user()
    command = IssueTokenCommand(user, concert.concert_id)
    results = await outcomes(*(racing.issue_token(command) for _ in range(25)))
    assert sum(r.created for r in results) == 1
    assert {r.view.position for r in results} == {1}
