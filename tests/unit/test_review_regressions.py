"""Defects a review found, each pinned by the test that shows it fixed."""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import Awaitable, Callable
from typing import Any

import pytest

from adapters.clock import ManualClock
from adapters.memory import MemoryQueueStore
from concert_core import ConcertService, Policy
from concert_core.domain import (
    ConcertId,
    IdempotencyKeyReusedError,
    NotFoundError,
    QueueToken,
    ReservationStatus,
    ServiceUnavailableError,
    TokenId,
    TokenInvalidError,
    TokenStatus,
    ValidationError,
)
from concert_core.use_cases import (
    ChargeCommand,
    IssueTokenCommand,
    ListSeatsQuery,
    PayCommand,
    ScheduleConcertCommand,
)
from support import (
    DATES,
    active_token,
    another_instance,
    build_memory_service,
    hold,
    new_user,
    schedule,
)

DAY = dt.timedelta(hours=24)


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


@pytest.fixture
def queue(policy: Policy) -> HookedQueue:
    return HookedQueue(policy)


@pytest.fixture
def service(policy: Policy, clock: ManualClock, queue: HookedQueue) -> ConcertService:
    return build_memory_service(policy, clock, queue=queue).service


async def test_a_key_reused_after_retention_with_another_amount_charges_afresh(
    service: ConcertService, clock: ManualClock
) -> None:
    user = new_user()
    await service.charge_wallet(ChargeCommand(user, 1_000, idempotency_key="k"))
    clock.advance(DAY + dt.timedelta(hours=1))
    assert (await service.charge_wallet(ChargeCommand(user, 5_000, "k"))).balance == 6_000


async def test_a_key_reused_after_retention_for_other_seats_pays_for_them(
    service: ConcertService, clock: ManualClock
) -> None:
    concert = await schedule(service)
    user = new_user()
    await service.charge_wallet(ChargeCommand(user, 1_000_000))
    first = await active_token(service, concert.concert_id, user)
    r1 = await hold(service, first.token, concert.concert_id, 1)
    await service.pay(PayCommand(first.token, [r1.reservation_id], "p"))
    clock.advance(DAY + dt.timedelta(hours=1))
    second = await active_token(service, concert.concert_id, user)
    r2 = await hold(service, second.token, concert.concert_id, 2)
    receipt = await service.pay(PayCommand(second.token, [r2.reservation_id], "p"))
    assert receipt.reservation_ids == (r2.reservation_id,)
    assert len(await service.payment_history(user)) == 2


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


@pytest.mark.parametrize("key", [123, b"k", ["k"], 1.5, True])
async def test_an_idempotency_key_that_is_not_a_string_is_a_validation_error(key: object) -> None:
    with pytest.raises(ValidationError):
        ChargeCommand(new_user(), 1_000, idempotency_key=key)  # type: ignore[arg-type]
    with pytest.raises(ValidationError):
        PayCommand("t", [new_user()], idempotency_key=key)  # type: ignore[arg-type]


async def test_reservation_ids_may_come_as_strings_and_junk_is_a_validation_error(
    service: ConcertService,
) -> None:
    concert = await schedule(service)
    ticket = await active_token(service, concert.concert_id)
    held = await hold(service, ticket.token, concert.concert_id, 5)
    by_text = await service.get_reservation(ticket.token, str(held.reservation_id))
    assert by_text.reservation_id == held.reservation_id
    for junk in (["x"], {}, "not-a-uuid", 7):
        with pytest.raises(ValidationError):
            await service.get_reservation(ticket.token, junk)  # type: ignore[arg-type]
        with pytest.raises(ValidationError):
            await service.release_hold(ticket.token, junk)  # type: ignore[arg-type]
    for junk in ("1", [1], 0):
        with pytest.raises(ValidationError):
            await service.admit_waiting(junk)  # type: ignore[arg-type]


def test_only_available_must_be_a_boolean_and_prices_a_list_of_integers() -> None:
    with pytest.raises(ValidationError):
        ListSeatsQuery("t", 1, DATES[0], only_available="false")  # type: ignore[arg-type]
    with pytest.raises(ValidationError):
        ScheduleConcertCommand("A", "B", [DATES[0]], b"x" * 50)  # type: ignore[arg-type]


def test_a_policy_with_durations_past_a_year_or_absurd_limits_is_refused() -> None:
    with pytest.raises(ValueError, match="366 days"):
        Policy(active_ttl=dt.timedelta(seconds=10**12))
    with pytest.raises(ValueError, match="must be <="):
        Policy(active_capacity=10**9)
    with pytest.raises(ValueError, match="must be <="):
        Policy(max_holds_per_user=10**6)


async def test_releasing_with_a_signed_token_the_queue_does_not_know_is_token_invalid(
    service: ConcertService, policy: Policy, clock: ManualClock
) -> None:
    concert = await schedule(service)
    ticket = await active_token(service, concert.concert_id)
    held = await hold(service, ticket.token, concert.concert_id, 5)
    stranger = build_memory_service(policy, clock).service  # same secret, another queue
    await schedule(stranger)
    unknown = await stranger.issue_token(IssueTokenCommand(new_user(), concert.concert_id))
    with pytest.raises(TokenInvalidError):
        await service.release_hold(unknown.token, held.reservation_id)


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


# -- concurrency review ---------------------------------------------------------------


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


async def test_a_replayed_payment_does_not_end_the_fans_later_turn(
    policy: Policy, clock: ManualClock
) -> None:
    from test_crash_recovery import DiesBeforeStoringResults

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


async def test_a_hold_whose_token_cannot_be_extended_is_given_back(
    policy: Policy, clock: ManualClock
) -> None:
    class Unreachable(MemoryQueueStore):
        async def extend_active(self, *args: Any) -> bool:
            raise ServiceUnavailableError("the queue backend is down")

    service = build_memory_service(policy, clock, queue=Unreachable(policy)).service
    concert = await schedule(service)
    ticket = await active_token(service, concert.concert_id)
    with pytest.raises(ServiceUnavailableError):
        await hold(service, ticket.token, concert.concert_id, 3)
    seats = await service.list_seats(ListSeatsQuery(ticket.token, concert.concert_id, DATES[0]))
    assert seats.seats[2].status == "AVAILABLE"
