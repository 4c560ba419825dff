"""docs/contract.md §3, Payment: all or nothing, its failures, its idempotency and its history."""

from __future__ import annotations

import asyncio
import datetime as dt
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

import pytest

from adapters.clock import ManualClock
from adapters.memory import MemoryQueueStore
from concert_core import ConcertService, Policy
from concert_core.domain import (
    Concert,
    ConcertId,
    EntryKind,
    HoldExpiredError,
    IdempotencyInProgressError,
    IdempotencyKeyReusedError,
    InsufficientBalanceError,
    NotFoundError,
    NotOwnerError,
    QueueToken,
    ReservationId,
    ReservationStatus,
    ServiceUnavailableError,
    TokenId,
    TokenNotActiveError,
    TokenStatus,
    ValidationError,
)
from concert_core.use_cases import (
    ChargeCommand,
    IssuedToken,
    IssueTokenCommand,
    ListSeatsQuery,
    PayCommand,
    tiered_prices,
)
from support import (
    DATES,
    MemoryKit,
    active_token,
    another_instance,
    build_memory_service,
    hold,
    new_user,
    schedule,
)

PRICES = tiered_prices(100_000)
FRONT, MIDDLE, BACK = 1, 11, 31
"""Seats of each price tier: 150,000, 100,000 and 70,000 won."""


async def buyer(service: ConcertService, concert: Concert, balance: int = 0) -> IssuedToken:
    """An ACTIVE fan of the concert with ``balance`` won in the wallet."""
    ticket = await active_token(service, concert.concert_id)
    if balance:
        await service.charge_wallet(ChargeCommand(ticket.view.user_id, balance))
    return ticket


async def state(
    kit: MemoryKit,
    ticket: IssuedToken,
    concert: Concert,
    reservation_ids: list[ReservationId],
) -> dict[str, Any]:
    """Everything a payment could change, as the buyer's ACTIVE token sees it."""
    service, user = kit.service, ticket.view.user_id
    seat_map = await service.list_seats(ListSeatsQuery(ticket.token, concert.concert_id, DATES[0]))
    return {
        "balance": (await service.get_balance(user)).balance,
        "ledger": list(kit.db.ledger.get(user, [])),
        "payments": await service.payment_history(user),
        "reservations": [
            (await service.get_reservation(ticket.token, r)).status for r in reservation_ids
        ],
        "seats": [s.status for s in seat_map.seats],
        "token": (await service.queue_status(ticket.token)).status,
    }


class HookedQueue(MemoryQueueStore):
    """The memory queue, running ``on_expire`` right after an ``expire`` (or raising)."""

    def __init__(self, policy: Policy) -> None:
        super().__init__(policy)
        self.on_expire: Callable[[], Awaitable[None]] | None = None

    async def expire(
        self, concert_id: ConcertId, token_id: TokenId, now: dt.datetime
    ) -> QueueToken | None:
        ended = await super().expire(concert_id, token_id, now)
        hook, self.on_expire = self.on_expire, None
        if hook is not None:
            await hook()
        return ended


class LookHook(MemoryQueueStore):
    """The memory queue, running ``on_look`` once, at the next ``look``."""

    def __init__(self, policy: Policy) -> None:
        super().__init__(policy)
        self.on_look: Callable[[], Awaitable[None]] | None = None

    async def look(self, concert_id: ConcertId, token_id: TokenId, now: dt.datetime) -> Any:
        hook, self.on_look = self.on_look, None
        if hook is not None:
            await hook()
        return await super().look(concert_id, token_id, now)


@pytest.fixture
def queue(policy: Policy) -> HookedQueue:
    return HookedQueue(policy)


@pytest.fixture
def kit(policy: Policy, clock: ManualClock, queue: HookedQueue) -> MemoryKit:
    """The in-memory service, its queue one whose expiries a test may hook (none does
    unless it sets ``queue.on_expire``)."""
    return build_memory_service(policy, clock, queue=queue)


# -- paying --------------------------------------------------------------------------------


async def test_paying_sells_the_seat_debits_the_wallet_and_records_the_payment(
    service: ConcertService, kit: MemoryKit, concert: Concert, clock: ManualClock
) -> None:
    ticket = await buyer(service, concert, 200_000)
    user = ticket.view.user_id
    reservation = await hold(service, ticket.token, concert.concert_id, FRONT)
    now = clock.advance(10)
    receipt = await service.pay(PayCommand(ticket.token, [reservation.reservation_id]))
    assert (receipt.amount, receipt.balance, receipt.paid_at) == (150_000, 50_000, now)
    assert receipt.reservation_ids == (reservation.reservation_id,)
    assert (await service.get_balance(user)).balance == 50_000
    assert [(e.kind, e.amount) for e in kit.db.ledger[user]] == [
        (EntryKind.CHARGE, 200_000),
        (EntryKind.PAYMENT, -150_000),
    ]
    [payment] = await service.payment_history(user)
    assert (payment.payment_id, payment.amount, payment.paid_at) == (
        receipt.payment_id,
        150_000,
        now,
    )
    assert payment.reservation_ids == (reservation.reservation_id,)
    view = await service.get_reservation(ticket.token, reservation.reservation_id)
    assert view.status == "CONFIRMED"
    observer = await active_token(service, concert.concert_id)
    seat_map = await service.list_seats(
        ListSeatsQuery(observer.token, concert.concert_id, DATES[0])
    )
    assert seat_map.seats[FRONT - 1].status == "SOLD"


async def test_one_payment_covers_several_holds_for_the_sum_of_their_prices(
    service: ConcertService, concert: Concert
) -> None:
    ticket = await buyer(service, concert, 400_000)
    ids = [
        (await hold(service, ticket.token, concert.concert_id, n)).reservation_id
        for n in (FRONT, MIDDLE, BACK)
    ]
    receipt = await service.pay(PayCommand(ticket.token, ids))
    assert receipt.amount == 150_000 + 100_000 + 70_000
    assert receipt.balance == 400_000 - receipt.amount
    assert [(await service.get_reservation(ticket.token, r)).status for r in ids] == [
        "CONFIRMED"
    ] * 3


async def test_paying_expires_the_token(service: ConcertService, concert: Concert) -> None:
    ticket = await buyer(service, concert, 200_000)
    reservation = await hold(service, ticket.token, concert.concert_id, MIDDLE)
    await service.pay(PayCommand(ticket.token, [reservation.reservation_id]))
    view = await service.queue_status(ticket.token)
    assert (view.status, view.position, view.active_until) == ("EXPIRED", None, None)
    with pytest.raises(TokenNotActiveError) as raised:
        await hold(service, ticket.token, concert.concert_id, MIDDLE + 1)
    assert raised.value.token_status == "EXPIRED"


@pytest.mark.parametrize("policy", [Policy(active_capacity=1)])
async def test_paying_frees_the_active_place_for_the_next_in_line(
    service: ConcertService, concert: Concert
) -> None:
    ticket = await buyer(service, concert, 200_000)
    waiting = await service.issue_token(IssueTokenCommand(new_user(), concert.concert_id))
    await service.admit_waiting(concert.concert_id)
    assert (await service.queue_status(waiting.token)).status == "WAITING"
    reservation = await hold(service, ticket.token, concert.concert_id, MIDDLE)
    await service.pay(PayCommand(ticket.token, [reservation.reservation_id]))
    await service.admit_waiting(concert.concert_id)
    assert (await service.queue_status(waiting.token)).status == "ACTIVE"


async def test_paying_releases_the_users_other_holds(
    service: ConcertService, concert: Concert
) -> None:
    ticket = await buyer(service, concert, 200_000)
    paid = await hold(service, ticket.token, concert.concert_id, MIDDLE)
    other = await hold(service, ticket.token, concert.concert_id, BACK)
    await service.pay(PayCommand(ticket.token, [paid.reservation_id]))
    view = await service.get_reservation(ticket.token, other.reservation_id)
    assert (view.status, view.held_until) == ("RELEASED", None)
    observer = await active_token(service, concert.concert_id)
    seat_map = await service.list_seats(
        ListSeatsQuery(observer.token, concert.concert_id, DATES[0], only_available=True)
    )
    assert BACK in [s.seat_no for s in seat_map.seats]
    assert MIDDLE not in [s.seat_no for s in seat_map.seats]


async def test_paying_releases_only_the_holds_of_the_token_that_paid(
    service: ConcertService, queue: HookedQueue
) -> None:
    concert = await schedule(service)
    user = new_user()
    await service.charge_wallet(ChargeCommand(user, 1_000_000))
    first = await active_token(service, concert.concert_id, user)
    paid = await hold(service, first.token, concert.concert_id, 1)
    later: dict[str, Any] = {}

    async def the_fans_next_turn_lands_in_between() -> None:
        ticket = await service.issue_token(IssueTokenCommand(user, concert.concert_id))
        await service.admit_waiting(concert.concert_id)
        later["token"] = ticket.token
        later["hold"] = await hold(service, ticket.token, concert.concert_id, 2)

    queue.on_expire = the_fans_next_turn_lands_in_between
    await service.pay(PayCommand(first.token, [paid.reservation_id]))
    still = await service.get_reservation(later["token"], later["hold"].reservation_id)
    assert still.status is ReservationStatus.HELD
    assert (await service.queue_status(later["token"])).status is TokenStatus.ACTIVE


# -- failures change nothing -----------------------------------------------------------------


async def test_insufficient_balance_fails_and_changes_nothing(
    service: ConcertService, kit: MemoryKit, concert: Concert
) -> None:
    ticket = await buyer(service, concert, 149_999)
    reservation = await hold(service, ticket.token, concert.concert_id, FRONT)
    ids = [reservation.reservation_id]
    before = await state(kit, ticket, concert, ids)
    with pytest.raises(InsufficientBalanceError) as raised:
        await service.pay(PayCommand(ticket.token, ids))
    assert raised.value.code == "INSUFFICIENT_BALANCE"
    after = await state(kit, ticket, concert, ids)
    assert after == before
    assert after["reservations"] == ["HELD"]
    assert after["token"] == "ACTIVE"


async def test_paying_a_lapsed_hold_is_hold_expired_and_changes_nothing(
    service: ConcertService, kit: MemoryKit, concert: Concert, clock: ManualClock, policy: Policy
) -> None:
    ticket = await buyer(service, concert, 1_000_000)
    lapsed = await hold(service, ticket.token, concert.concert_id, FRONT)
    clock.advance(policy.hold_ttl)
    ids = [lapsed.reservation_id]
    before = await state(kit, ticket, concert, ids)
    with pytest.raises(HoldExpiredError) as raised:
        await service.pay(PayCommand(ticket.token, ids))
    assert raised.value.code == "HOLD_EXPIRED"
    assert await state(kit, ticket, concert, ids) == before
    assert before["balance"] == 1_000_000


async def test_paying_a_released_hold_is_hold_expired(
    service: ConcertService, kit: MemoryKit, concert: Concert
) -> None:
    ticket = await buyer(service, concert, 1_000_000)
    released = await hold(service, ticket.token, concert.concert_id, FRONT)
    await service.release_hold(ticket.token, released.reservation_id)
    with pytest.raises(HoldExpiredError):
        await service.pay(PayCommand(ticket.token, [released.reservation_id]))
    assert (await service.get_balance(ticket.view.user_id)).balance == 1_000_000
    assert await service.payment_history(ticket.view.user_id) == []


async def test_paying_an_already_paid_reservation_again_is_hold_expired(
    service: ConcertService, concert: Concert
) -> None:
    user = new_user()
    first = await active_token(service, concert.concert_id, user)
    await service.charge_wallet(ChargeCommand(user, 1_000_000))
    bought = await hold(service, first.token, concert.concert_id, FRONT)
    await service.pay(PayCommand(first.token, [bought.reservation_id]))
    second = await active_token(service, concert.concert_id, user)
    with pytest.raises(HoldExpiredError):
        await service.pay(PayCommand(second.token, [bought.reservation_id]))
    assert (await service.get_balance(user)).balance == 850_000
    assert len(await service.payment_history(user)) == 1


async def test_paying_someone_elses_reservation_is_not_owner_and_changes_nothing(
    service: ConcertService, kit: MemoryKit, concert: Concert
) -> None:
    owner = await buyer(service, concert)
    payer = await buyer(service, concert, 1_000_000)
    theirs = await hold(service, owner.token, concert.concert_id, FRONT)
    before = await state(kit, payer, concert, [])
    with pytest.raises(NotOwnerError) as raised:
        await service.pay(PayCommand(payer.token, [theirs.reservation_id]))
    assert raised.value.code == "NOT_OWNER"
    assert await state(kit, payer, concert, []) == before
    assert (await service.get_reservation(owner.token, theirs.reservation_id)).status == "HELD"


async def test_one_bad_reservation_among_several_changes_nothing_at_all(
    service: ConcertService, kit: MemoryKit, concert: Concert
) -> None:
    owner = await buyer(service, concert)
    payer = await buyer(service, concert, 1_000_000)
    theirs = await hold(service, owner.token, concert.concert_id, FRONT)
    mine = [
        (await hold(service, payer.token, concert.concert_id, n)).reservation_id
        for n in (MIDDLE, BACK)
    ]
    before = await state(kit, payer, concert, mine)
    with pytest.raises(NotOwnerError):
        await service.pay(PayCommand(payer.token, [*mine, theirs.reservation_id]))
    after = await state(kit, payer, concert, mine)
    assert after == before
    assert after["reservations"] == ["HELD", "HELD"]
    assert after["seats"][MIDDLE - 1] == after["seats"][BACK - 1] == "HELD"


async def test_one_lapsed_hold_among_several_changes_nothing_at_all(
    service: ConcertService, kit: MemoryKit, concert: Concert, clock: ManualClock, policy: Policy
) -> None:
    ticket = await buyer(service, concert, 1_000_000)
    early = await hold(service, ticket.token, concert.concert_id, FRONT)
    clock.advance(policy.hold_ttl - dt.timedelta(seconds=10))
    late = await hold(service, ticket.token, concert.concert_id, MIDDLE)
    clock.advance(10)  # the first hold has lapsed, the second has not
    ids = [late.reservation_id, early.reservation_id]
    before = await state(kit, ticket, concert, ids)
    assert before["reservations"] == ["HELD", "RELEASED"]
    with pytest.raises(HoldExpiredError):
        await service.pay(PayCommand(ticket.token, ids))
    assert await state(kit, ticket, concert, ids) == before


async def test_paying_an_unknown_reservation_is_not_found_and_changes_nothing(
    service: ConcertService, kit: MemoryKit, concert: Concert
) -> None:
    ticket = await buyer(service, concert, 1_000_000)
    mine = await hold(service, ticket.token, concert.concert_id, FRONT)
    ids = [mine.reservation_id]
    before = await state(kit, ticket, concert, ids)
    with pytest.raises(NotFoundError):
        await service.pay(PayCommand(ticket.token, [*ids, ReservationId(uuid.uuid4())]))
    assert await state(kit, ticket, concert, ids) == before


async def test_paying_for_a_missing_and_a_foreign_reservation_reports_the_missing_one(
    service: ConcertService,
) -> None:
    concert = await schedule(service)
    buyer, other = (
        await active_token(service, concert.concert_id),
        await active_token(service, concert.concert_id),
    )
    theirs = await hold(service, other.token, concert.concert_id, 9)
    with pytest.raises(NotFoundError):
        await service.pay(PayCommand(buyer.token, [theirs.reservation_id, new_user()]))


async def test_paying_a_reservation_of_another_concert_is_token_not_active(
    service: ConcertService, concert: Concert
) -> None:
    other = await schedule(service)
    user = new_user()
    here = await active_token(service, concert.concert_id, user)
    there = await active_token(service, other.concert_id, user)
    await service.charge_wallet(ChargeCommand(user, 1_000_000))
    elsewhere = await hold(service, there.token, other.concert_id, FRONT)
    with pytest.raises(TokenNotActiveError) as raised:
        await service.pay(PayCommand(here.token, [elsewhere.reservation_id]))
    assert raised.value.token_status == "ACTIVE"
    assert (await service.get_balance(user)).balance == 1_000_000
    assert (await service.get_reservation(there.token, elsewhere.reservation_id)).status == "HELD"


@pytest.mark.parametrize(
    "reservation_ids",
    [[], "not-a-list", ["not-a-uuid"], [42], "dup"],
)
async def test_a_malformed_list_of_reservations_is_a_validation_error(
    service: ConcertService, concert: Concert, reservation_ids: object
) -> None:
    ticket = await buyer(service, concert)
    if reservation_ids == "dup":
        rid = uuid.uuid4()
        reservation_ids = [rid, str(rid)]
    with pytest.raises(ValidationError) as raised:
        await service.pay(PayCommand(ticket.token, reservation_ids))  # type: ignore[arg-type]
    assert raised.value.code == "VALIDATION_ERROR"


# -- idempotency -------------------------------------------------------------------------------


async def test_a_payment_retried_with_its_key_returns_the_first_receipt_and_charges_once(
    service: ConcertService, kit: MemoryKit, concert: Concert, clock: ManualClock
) -> None:
    ticket = await buyer(service, concert, 1_000_000)
    user = ticket.view.user_id
    reservation = await hold(service, ticket.token, concert.concert_id, FRONT)
    command = PayCommand(ticket.token, [reservation.reservation_id], idempotency_key="pay-1")
    first = await service.pay(command)
    clock.advance(30)
    assert (await service.queue_status(ticket.token)).status == "EXPIRED"
    retry = await service.pay(command)
    assert retry == first
    assert (await service.get_balance(user)).balance == 850_000
    assert len(await service.payment_history(user)) == 1
    assert [e.amount for e in kit.db.ledger[user]] == [1_000_000, -150_000]


async def test_a_payment_retried_a_day_later_still_gets_its_first_receipt(
    service: ConcertService, concert: Concert, clock: ManualClock
) -> None:
    ticket = await buyer(service, concert, 1_000_000)
    reservation = await hold(service, ticket.token, concert.concert_id, BACK)
    command = PayCommand(ticket.token, [reservation.reservation_id], idempotency_key="pay-1")
    first = await service.pay(command)
    clock.advance(dt.timedelta(hours=24))
    assert await service.pay(command) == first
    assert (await service.get_balance(ticket.view.user_id)).balance == 930_000


async def test_a_key_reused_after_retention_for_other_seats_pays_for_them(
    service: ConcertService, clock: ManualClock
) -> None:
    concert = await schedule(service)
    user = new_user()
    await service.charge_wallet(ChargeCommand(user, 1_000_000))
    first = await active_token(service, concert.concert_id, user)
    r1 = await hold(service, first.token, concert.concert_id, 1)
    await service.pay(PayCommand(first.token, [r1.reservation_id], "p"))
    clock.advance(dt.timedelta(hours=25))  # past the day a key is kept
    second = await active_token(service, concert.concert_id, user)
    r2 = await hold(service, second.token, concert.concert_id, 2)
    receipt = await service.pay(PayCommand(second.token, [r2.reservation_id], "p"))
    assert receipt.reservation_ids == (r2.reservation_id,)
    assert len(await service.payment_history(user)) == 2


async def test_a_keyed_retry_lists_the_same_reservations_in_any_order(
    service: ConcertService, concert: Concert
) -> None:
    ticket = await buyer(service, concert, 1_000_000)
    ids = [
        (await hold(service, ticket.token, concert.concert_id, n)).reservation_id
        for n in (FRONT, MIDDLE)
    ]
    first = await service.pay(PayCommand(ticket.token, ids, idempotency_key="pay-1"))
    retry = await service.pay(PayCommand(ticket.token, ids[::-1], idempotency_key="pay-1"))
    assert retry == first
    assert (await service.get_balance(ticket.view.user_id)).balance == 750_000


async def test_the_same_payment_key_for_other_reservations_is_idempotency_key_reused(
    service: ConcertService, concert: Concert
) -> None:
    user = new_user()
    first = await active_token(service, concert.concert_id, user)
    await service.charge_wallet(ChargeCommand(user, 1_000_000))
    paid = await hold(service, first.token, concert.concert_id, FRONT)
    await service.pay(PayCommand(first.token, [paid.reservation_id], idempotency_key="pay-1"))
    second = await active_token(service, concert.concert_id, user)
    other = await hold(service, second.token, concert.concert_id, MIDDLE)
    for token in (first.token, second.token):  # looked up before the token's state
        with pytest.raises(IdempotencyKeyReusedError):
            await service.pay(PayCommand(token, [other.reservation_id], idempotency_key="pay-1"))
    assert (await service.get_balance(user)).balance == 850_000
    assert (await service.get_reservation(second.token, other.reservation_id)).status == "HELD"
    assert (await service.queue_status(second.token)).status == "ACTIVE"


async def test_payment_keys_are_scoped_to_their_user(
    service: ConcertService, concert: Concert
) -> None:
    alice = await buyer(service, concert, 1_000_000)
    bob = await buyer(service, concert, 1_000_000)
    a = await hold(service, alice.token, concert.concert_id, FRONT)
    b = await hold(service, bob.token, concert.concert_id, MIDDLE)
    ra = await service.pay(PayCommand(alice.token, [a.reservation_id], idempotency_key="pay-1"))
    rb = await service.pay(PayCommand(bob.token, [b.reservation_id], idempotency_key="pay-1"))
    assert ra.payment_id != rb.payment_id
    assert (ra.amount, rb.amount) == (150_000, 100_000)
    assert (await service.get_balance(bob.view.user_id)).balance == 900_000


async def test_a_keyed_payment_that_failed_can_be_retried_with_the_same_key(
    service: ConcertService, kit: MemoryKit, concert: Concert
) -> None:
    ticket = await buyer(service, concert, 100_000)
    user = ticket.view.user_id
    reservation = await hold(service, ticket.token, concert.concert_id, FRONT)
    command = PayCommand(ticket.token, [reservation.reservation_id], idempotency_key="pay-1")
    with pytest.raises(InsufficientBalanceError):
        await service.pay(command)
    await service.charge_wallet(ChargeCommand(user, 50_000))
    receipt = await service.pay(command)
    assert (receipt.amount, receipt.balance) == (150_000, 0)
    assert await service.pay(command) == receipt
    assert [e.amount for e in kit.db.ledger[user]] == [100_000, 50_000, -150_000]


async def test_an_outage_after_a_payment_commits_keeps_its_receipt_and_its_key(
    service: ConcertService, queue: HookedQueue
) -> None:
    concert = await schedule(service)
    user = new_user()
    await service.charge_wallet(ChargeCommand(user, 1_000_000))
    ticket = await active_token(service, concert.concert_id, user)
    r1 = await hold(service, ticket.token, concert.concert_id, 1)
    r2 = await hold(service, ticket.token, concert.concert_id, 2)

    async def outage() -> None:
        raise ServiceUnavailableError("the queue backend blinked")

    queue.on_expire = outage
    receipt = await service.pay(PayCommand(ticket.token, [r1.reservation_id], "k"))
    assert receipt.reservation_ids == (r1.reservation_id,)
    with pytest.raises(IdempotencyKeyReusedError):
        await service.pay(PayCommand(ticket.token, [r2.reservation_id], "k"))
    assert await service.pay(PayCommand(ticket.token, [r1.reservation_id], "k")) == receipt


async def test_a_payment_retried_while_the_first_still_runs_is_idempotency_in_progress(
    service: ConcertService, kit: MemoryKit, concert: Concert
) -> None:
    ticket = await buyer(service, concert, 1_000_000)
    reservation = await hold(service, ticket.token, concert.concert_id, FRONT)
    command = PayCommand(ticket.token, [reservation.reservation_id], idempotency_key="pay-1")
    kit.gate.close()
    first = asyncio.create_task(service.pay(command))
    await asyncio.wait_for(kit.gate.blocked.wait(), timeout=1)
    with pytest.raises(IdempotencyInProgressError) as raised:
        await asyncio.wait_for(service.pay(command), timeout=1)  # a retry must not wait its turn
    assert raised.value.code == "IDEMPOTENCY_IN_PROGRESS"
    kit.gate.open.set()
    receipt = await first
    assert await service.pay(command) == receipt
    assert (await service.get_balance(ticket.view.user_id)).balance == 850_000
    assert len(await service.payment_history(ticket.view.user_id)) == 1


async def test_a_retry_that_took_over_from_a_slow_first_run_answers_with_its_payment(
    policy: Policy, clock: ManualClock
) -> None:
    queue = LookHook(policy)
    kit = build_memory_service(policy, clock, queue=queue)
    slow = kit.service  # the first run: its units of work wait at the gate
    retry = another_instance(kit, clock)
    concert = await schedule(slow)
    user = new_user()
    await slow.charge_wallet(ChargeCommand(user, 1_000_000))
    ticket = await active_token(slow, concert.concert_id, user)
    held = await hold(slow, ticket.token, concert.concert_id, 1)
    command = PayCommand(ticket.token, [held.reservation_id], "k")

    kit.gate.close()
    first = asyncio.create_task(slow.pay(command))
    await kit.gate.blocked.wait()
    clock.advance(policy.idempotency_lease)

    async def the_first_run_finishes_meanwhile() -> None:
        kit.gate.open.set()
        await first

    queue.on_look = the_first_run_finishes_meanwhile
    answer = await retry.pay(command)
    assert answer.payment_id == (await first).payment_id
    assert len(await slow.payment_history(user)) == 1
    assert (await slow.get_balance(user)).balance == 1_000_000 - held.price


# -- history --------------------------------------------------------------------------------


async def test_the_payment_history_lists_the_newest_payment_first(
    service: ConcertService, concert: Concert, clock: ManualClock
) -> None:
    user = new_user()
    await service.charge_wallet(ChargeCommand(user, 1_000_000))
    receipts = []
    for seat_no in (FRONT, MIDDLE, BACK):
        ticket = await active_token(service, concert.concert_id, user)
        reservation = await hold(service, ticket.token, concert.concert_id, seat_no)
        clock.advance(60)
        receipts.append(await service.pay(PayCommand(ticket.token, [reservation.reservation_id])))
    history = await service.payment_history(user)
    assert [p.payment_id for p in history] == [r.payment_id for r in reversed(receipts)]
    assert [p.amount for p in history] == [70_000, 100_000, 150_000]
    assert [p.paid_at for p in history] == sorted((p.paid_at for p in history), reverse=True)
    assert await service.payment_history(new_user()) == []
