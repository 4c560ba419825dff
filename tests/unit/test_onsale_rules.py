"""On-sales through the use cases, on memory adapters: phases at each join, poll and
admission pass; the opening shuffle; sold out and closed; the rate; the turn's end;
a turn that pays once."""

from __future__ import annotations

import asyncio
import collections
import datetime as dt
import uuid

import pytest

from adapters.clock import ManualClock
from concert_core import ConcertService, Policy
from concert_core.domain import (
    Concert,
    ConcertId,
    Phase,
    ReservationId,
    SaleClosedError,
    SaleNotOpenError,
    SaleSettings,
    SeatKey,
    SeatNo,
    ServiceUnavailableError,
    TokenId,
    TokenNotActiveError,
    TokenStatus,
    ValidationError,
)
from concert_core.ports import HoldRequest
from concert_core.use_cases import (
    AddConcertCommand,
    ChangeSaleCommand,
    ChargeCommand,
    IssuedToken,
    IssueTokenCommand,
    PayCommand,
    tiered_prices,
)
from concert_core.use_cases._sales import SaleBook
from support import DATES, GatedUnitOfWorkFactory, MemoryKit, build_memory_service, hold, new_user

MINUTE = dt.timedelta(minutes=1)


@pytest.fixture
def policy() -> Policy:
    return Policy(
        active_capacity=2,
        active_ttl=dt.timedelta(seconds=600),
        hold_ttl=dt.timedelta(seconds=300),
        idle_timeout=dt.timedelta(seconds=300),
        admission_interval=dt.timedelta(seconds=1),
    )


async def add(service: ConcertService, clock: ManualClock, **sale: object) -> Concert:
    return await service.add_concert(
        AddConcertCommand("Aurora", "Hall", [DATES[0]], tiered_prices(100_000), sale=sale or None)
    )


async def join(service: ConcertService, concert: Concert, count: int = 1) -> list[IssuedToken]:
    return [
        await service.issue_token(IssueTokenCommand(new_user(), concert.concert_id))
        for _ in range(count)
    ]


async def later(clock: ManualClock, by: dt.timedelta) -> dt.datetime:
    clock.advance(by)
    return await clock.now()


# -- phases ---------------------------------------------------------------------------


async def test_nobody_joins_a_scheduled_sale(service: ConcertService, clock: ManualClock) -> None:
    now = await clock.now()
    concert = await add(service, clock, prequeue_opens_at=now + MINUTE, opens_at=now + 2 * MINUTE)
    with pytest.raises(SaleNotOpenError) as refused:
        await join(service, concert)
    assert refused.value.opens_at == now + 2 * MINUTE
    assert refused.value.prequeue_opens_at == now + MINUTE


async def test_a_prequeued_fan_has_no_position_and_polls_just_after_the_opening(
    service: ConcertService, clock: ManualClock
) -> None:
    now = await clock.now()
    concert = await add(service, clock, prequeue_opens_at=now, opens_at=now + MINUTE)
    [ticket] = await join(service, concert)
    assert ticket.view.status is TokenStatus.WAITING
    assert ticket.view.position is None
    assert ticket.view.sale.phase is Phase.PREQUEUE
    assert 60 <= ticket.view.poll_after_seconds <= 65
    await later(clock, 50 * dt.timedelta(seconds=1))
    status = await service.queue_status(ticket.token)
    assert status.position is None and 10 <= status.poll_after_seconds <= 15
    [admission] = await service.admit_waiting(concert.concert_id)
    assert admission.admitted == 0  # nobody is admitted before the opening
    await later(clock, 10 * dt.timedelta(seconds=1))
    status = await service.queue_status(ticket.token)
    assert status.sale.phase is Phase.OPEN and status.position == 1


async def test_the_prequeue_spreads_its_polls_over_the_seconds_after_the_opening(
    service: ConcertService, clock: ManualClock
) -> None:
    now = await clock.now()
    concert = await add(service, clock, prequeue_opens_at=now, opens_at=now + MINUTE)
    hints = {t.view.poll_after_seconds for t in await join(service, concert, 40)}
    assert len(hints) >= 4 and min(hints) >= 60 and max(hints) <= 66


async def test_a_pause_stops_admission_not_joining(
    service: ConcertService, clock: ManualClock
) -> None:
    concert = await add(service, clock, paused=True)
    tickets = await join(service, concert, 3)
    assert tickets[0].view.sale.phase is Phase.PAUSED
    await service.admit_waiting(concert.concert_id)
    assert (await service.queue_status(tickets[0].token)).status is TokenStatus.WAITING
    await service.change_sale(ChangeSaleCommand(concert.concert_id, {"paused": False}))
    await service.admit_waiting(concert.concert_id)
    assert (await service.queue_status(tickets[0].token)).status is TokenStatus.ACTIVE


async def test_a_pause_reaches_an_instance_whose_kept_sale_is_being_read_afresh(
    kit: MemoryKit, clock: ManualClock, policy: Policy
) -> None:
    """An instance keeps a sale for one admission interval. A request finding it stale
    while another re-reads it waits for that read: it must not judge by the sale as it
    was before a pause made on another instance."""
    concert = await add(kit.service, clock)
    units = GatedUnitOfWorkFactory(kit.uow)
    book = SaleBook(units, policy)
    assert not (await book.state(concert.concert_id, await clock.now())).concert.sale.paused
    await kit.service.change_sale(ChangeSaleCommand(concert.concert_id, {"paused": True}))
    now = await later(clock, 2 * policy.admission_interval)
    units.close()  # the first fresh read waits at the gate
    first = asyncio.create_task(book.state(concert.concert_id, now))
    await units.blocked.wait()
    second = asyncio.create_task(book.state(concert.concert_id, now))
    for _ in range(20):
        await asyncio.sleep(0)
    units.open.set()
    states = await asyncio.gather(first, second)
    assert [state.concert.sale.paused for state in states] == [True, True]


async def test_requests_finding_a_sale_stale_share_one_read_and_its_failure(
    policy: Policy, clock: ManualClock
) -> None:
    """A database refusing reads (a file locked elsewhere, a full pool) answers a
    stampede all at once: one read is made, and its failure is every request's, not one
    wait after another."""
    reads = 0

    class Refusing:
        def __call__(self) -> Refusing:
            return self

        async def __aenter__(self) -> None:
            nonlocal reads
            reads += 1
            await asyncio.sleep(0.05)
            raise ServiceUnavailableError("the database is locked")

        async def __aexit__(self, *_: object) -> None:
            return None

    book = SaleBook(Refusing(), policy)  # type: ignore[arg-type]
    now = await clock.now()
    results = await asyncio.gather(
        *(book.state(ConcertId(1), now) for _ in range(30)), return_exceptions=True
    )
    assert reads == 1
    assert all(isinstance(result, ServiceUnavailableError) for result in results)
    with pytest.raises(ServiceUnavailableError):  # the next request tries again
        await book.state(ConcertId(1), now)
    assert reads == 2


async def test_the_operators_message_reaches_every_fan(
    service: ConcertService, clock: ManualClock
) -> None:
    concert = await add(service, clock)
    [ticket] = await join(service, concert)
    await service.change_sale(
        ChangeSaleCommand(concert.concert_id, {"message": "Doors open at 7 pm"})
    )
    assert (await service.queue_status(ticket.token)).sale.message == "Doors open at 7 pm"


async def test_a_closed_sale_takes_nobody_and_ends_its_waiting_room(
    service: ConcertService, clock: ManualClock
) -> None:
    now = await clock.now()
    concert = await add(service, clock, opens_at=now, closes_at=now + MINUTE)
    tickets = await join(service, concert, 4)
    await service.admit_waiting(concert.concert_id)
    await later(clock, MINUTE)
    with pytest.raises(SaleClosedError) as refused:
        await join(service, concert)
    assert refused.value.phase == Phase.CLOSED
    report = await service.admit_waiting(concert.concert_id)
    assert report[0].ended == 2
    assert (await service.queue_status(tickets[3].token)).status is TokenStatus.EXPIRED
    assert (await service.queue_status(tickets[0].token)).status is TokenStatus.ACTIVE


async def sell_every_seat(kit: MemoryKit, concert: Concert, now: dt.datetime) -> None:
    """Sell every seat of the concert straight through storage (a buyer each)."""
    async with kit.uow() as uow:
        for date in await uow.catalogue.list_dates(concert.concert_id):
            for seat_no in range(1, 51):
                user = new_user()
                outcome = await uow.seats.hold(
                    HoldRequest(
                        seat=SeatKey(concert.concert_id, date, SeatNo(seat_no)),
                        user_id=user,
                        token_id=TokenId(uuid.uuid4()),
                        reservation_id=ReservationId(uuid.uuid4()),
                        now=now,
                        until=now + MINUTE,
                        max_holds=1,
                    )
                )
                await uow.reservations.confirm(user, (outcome.reservation.reservation_id,), now)
        await uow.commit()


async def two_in_turn_one_waiting_seen_open(
    service: ConcertService, clock: ManualClock
) -> tuple[Concert, list[IssuedToken]]:
    """A concert with two fans in their turn (the capacity) and a third waiting, whose
    poll has the service keep the sale as OPEN."""
    concert = await add(service, clock)
    tickets = await join(service, concert, 3)
    await service.admit_waiting(concert.concert_id)
    assert (await service.queue_status(tickets[2].token)).sale.phase is Phase.OPEN
    return concert, tickets


async def test_a_waiting_fan_polling_a_sold_out_sale_is_let_go_at_once(
    kit: MemoryKit, clock: ManualClock
) -> None:
    service = kit.service
    concert, tickets = await two_in_turn_one_waiting_seen_open(service, clock)
    await sell_every_seat(kit, concert, await clock.now())
    await later(clock, dt.timedelta(seconds=1))  # within one admission interval
    status = await service.queue_status(tickets[2].token)
    assert status.sale.phase is Phase.SOLD_OUT
    assert status.status is TokenStatus.EXPIRED
    assert (await service.queue_status(tickets[0].token)).status is TokenStatus.ACTIVE
    with pytest.raises(SaleClosedError) as refused:
        await join(service, concert)
    assert refused.value.phase == Phase.SOLD_OUT


async def test_an_admission_pass_right_after_the_last_sale_admits_nobody(
    kit: MemoryKit, clock: ManualClock
) -> None:
    service = kit.service
    concert, tickets = await two_in_turn_one_waiting_seen_open(service, clock)
    await service.leave_queue(tickets[0].token)  # a turn ends: a place is free
    await sell_every_seat(kit, concert, await clock.now())

    report = await service.admit_waiting(concert.concert_id)  # at the same instant

    assert report[0].admitted == 0 and report[0].ended == 1
    assert (await service.queue_status(tickets[2].token)).status is TokenStatus.EXPIRED


# -- the opening shuffle ------------------------------------------------------------


async def test_nobody_joining_after_the_opening_is_ahead_of_anybody_prequeued(
    service: ConcertService, clock: ManualClock
) -> None:
    now = await clock.now()
    concert = await add(service, clock, prequeue_opens_at=now, opens_at=now + MINUTE)
    early = await join(service, concert, 10)
    await later(clock, MINUTE)
    late = await join(service, concert, 5)
    positions = {t.token: (await service.queue_status(t.token)).position for t in early + late}
    assert sorted(positions[t.token] for t in early) == list(range(1, 11))  # type: ignore[type-var]
    assert [positions[t.token] for t in late] == list(range(11, 16))


async def test_the_first_to_arrive_is_no_likelier_to_be_first_after_the_opening(
    policy: Policy,
) -> None:
    """Over many openings of a five-fan pre-queue, the first arrival's place is spread
    evenly over 1..5 (a chi-square test at the 0.1% level: a fair shuffle fails it
    once in a thousand runs; a FIFO or a reversal fails it always)."""
    places: collections.Counter[int] = collections.Counter()
    runs = 500
    for _ in range(runs):
        clock = ManualClock()
        service = build_memory_service(policy, clock).service
        now = await clock.now()
        concert = await add(service, clock, prequeue_opens_at=now, opens_at=now + MINUTE)
        first, *_ = await join(service, concert, 5)
        await later(clock, MINUTE)
        position = (await service.queue_status(first.token)).position
        assert position is not None
        places[position] += 1
    expected = runs / 5
    chi_square = sum((places[p] - expected) ** 2 / expected for p in range(1, 6))
    assert chi_square < 18.47, places  # 4 degrees of freedom, p = 0.001


async def test_the_opening_is_shown_to_the_operator_with_its_seed(
    service: ConcertService, clock: ManualClock
) -> None:
    now = await clock.now()
    concert = await add(service, clock, prequeue_opens_at=now, opens_at=now + MINUTE)
    await join(service, concert, 3)
    [before] = await service.report_concerts(concert.concert_id)
    assert before.phase is Phase.PREQUEUE and before.queue.shuffle_seed is None
    await later(clock, MINUTE)
    await service.admit_waiting(concert.concert_id)
    [after] = await service.report_concerts(concert.concert_id)
    assert after.phase is Phase.OPEN and after.queue.shuffle_seed is not None
    assert after.queue.active == 2 and after.queue.waiting == 1


async def test_an_opened_sale_keeps_its_opening_time(
    service: ConcertService, clock: ManualClock
) -> None:
    concert = await add(service, clock)
    await join(service, concert)
    with pytest.raises(ValidationError, match="opened"):
        await service.change_sale(
            ChangeSaleCommand(concert.concert_id, {"opens_at": await later(clock, MINUTE)})
        )


# -- capacity and rate ----------------------------------------------------------------


async def test_each_sale_has_its_own_capacity_changed_live(
    service: ConcertService, clock: ManualClock
) -> None:
    concert = await add(service, clock, capacity=3)
    tickets = await join(service, concert, 6)
    await service.admit_waiting(concert.concert_id)
    assert [(await service.queue_status(t.token)).status for t in tickets].count(
        TokenStatus.ACTIVE
    ) == 3
    await service.change_sale(ChangeSaleCommand(concert.concert_id, {"capacity": 1}))
    await service.admit_waiting(concert.concert_id)
    [report] = await service.report_concerts(concert.concert_id)
    assert (report.queue.active, report.capacity) == (3, 1)  # nobody's turn ended


async def test_admission_keeps_to_the_rate_spread_over_the_minute(
    service: ConcertService, clock: ManualClock
) -> None:
    concert = await add(service, clock, capacity=100, admission_per_minute=30)
    tickets = await join(service, concert, 60)
    admitted = []
    for _ in range(60):
        for ticket in tickets:
            await service.queue_status(ticket.token)
        admitted.append(sum(a.admitted for a in await service.admit_waiting(concert.concert_id)))
        await later(clock, dt.timedelta(seconds=1))
    assert max(admitted) == 1  # 30 a minute, one pass a second: one a pass
    assert sum(admitted) == 30


# -- the turn's end -------------------------------------------------------------------


async def active(service: ConcertService, concert: Concert) -> IssuedToken:
    [ticket] = await join(service, concert)
    await service.admit_waiting(concert.concert_id)
    assert (await service.queue_status(ticket.token)).status is TokenStatus.ACTIVE
    return ticket


async def test_holding_and_releasing_never_keeps_a_turn_past_base_plus_hold_time(
    service: ConcertService, clock: ManualClock, policy: Policy
) -> None:
    concert = await add(service, clock)
    ticket = await active(service, concert)
    base_end = await clock.now() + policy.active_ttl
    seat_no = 1
    while True:
        try:
            reservation = await hold(service, ticket.token, concert.concert_id, seat_no)
        except TokenNotActiveError:
            break
        await later(clock, dt.timedelta(seconds=100))
        await service.release_hold(ticket.token, reservation.reservation_id)
        seat_no += 1
    now = await clock.now()
    assert base_end <= now <= base_end + policy.hold_ttl
    status = await service.queue_status(ticket.token)
    assert status.status is TokenStatus.EXPIRED


async def test_after_its_base_end_a_turn_lives_only_to_pay_for_what_it_holds(
    service: ConcertService, clock: ManualClock, policy: Policy
) -> None:
    concert = await add(service, clock)
    ticket = await active(service, concert)
    await later(clock, policy.active_ttl - dt.timedelta(seconds=10))
    kept = await hold(service, ticket.token, concert.concert_id, 1)
    await later(clock, dt.timedelta(seconds=20))  # past the base end
    with pytest.raises(TokenNotActiveError):
        await hold(service, ticket.token, concert.concert_id, 2)
    status = await service.queue_status(ticket.token)
    assert status.status is TokenStatus.ACTIVE and status.active_until == kept.held_until
    await service.release_hold(ticket.token, kept.reservation_id)
    assert (await service.queue_status(ticket.token)).status is TokenStatus.EXPIRED


async def test_a_turn_pays_once_even_when_two_payments_race(
    service: ConcertService, clock: ManualClock
) -> None:
    concert = await add(service, clock)
    ticket = await active(service, concert)
    await service.charge_wallet(ChargeCommand(ticket.view.user_id, 10_000_000))
    first = await hold(service, ticket.token, concert.concert_id, 1)
    second = await hold(service, ticket.token, concert.concert_id, 2)
    outcomes = await asyncio.gather(
        service.pay(PayCommand(ticket.token, [first.reservation_id])),
        service.pay(PayCommand(ticket.token, [second.reservation_id])),
        return_exceptions=True,
    )
    assert sum(not isinstance(o, BaseException) for o in outcomes) == 1
    assert all(isinstance(o, TokenNotActiveError) for o in outcomes if isinstance(o, BaseException))


async def test_an_operator_adds_a_concert_with_its_sale_in_one_step(
    service: ConcertService, clock: ManualClock
) -> None:
    now = await clock.now()
    concert = await add(service, clock, prequeue_opens_at=now, opens_at=now + MINUTE)
    assert concert.sale == SaleSettings(prequeue_opens_at=now, opens_at=now + MINUTE)
    with pytest.raises(ValidationError, match="past"):
        await service.add_concert(
            AddConcertCommand(
                "Old", "Hall", [now.date() - dt.timedelta(days=1)], tiered_prices(1_000)
            )
        )
    with pytest.raises(ValidationError, match="repeat"):
        await service.add_concert(
            AddConcertCommand("Twice", "Hall", [DATES[0], DATES[0]], tiered_prices(1_000))
        )
