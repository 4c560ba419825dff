"""Holds, releases and payments racing one another (decision 20: the hold is its seat's
row): whichever wins, the other changes nothing, money is conserved, a reservation is
one row of the ``reservations`` view, and the fan's hold limit counts only live holds."""

from __future__ import annotations

import asyncio
import datetime as dt
import uuid
from typing import Any

import pytest

from backends import Backend
from concert_core.domain import (
    ConcertId,
    DomainError,
    Money,
    PaymentId,
    Reservation,
    ReservationId,
    ReservationStatus,
    Seat,
    SeatKey,
    SeatStatus,
    TokenId,
    UserId,
    Wallet,
)
from concert_core.ports import BoxOffice, HoldOutcome, PaymentRequest
from concert_core.use_cases import UnitOfWorkBoxOffice
from contract.helpers import (
    D1,
    PRICES,
    at,
    hold_request,
    new_concert,
    new_token_id,
    new_user,
    seat,
)

BALANCE = Money(1_000_000)


@pytest.fixture(params=["unit of work", "box office"])
def desk(request: pytest.FixtureRequest, backend: Backend) -> BoxOffice:
    """How holds, payments and the end of a turn reach storage: a unit of work a call,
    or the family's box office as the app wires it (on PostgreSQL one autocommit
    statement each; elsewhere it is a unit of work a call too)."""
    if request.param == "box office":
        return backend.box_office
    return UnitOfWorkBoxOffice(backend.uow)


async def hold(
    desk: BoxOffice, backend: Backend, key: SeatKey, user: UserId, now: dt.datetime, **options: Any
) -> HoldOutcome:
    return await desk.hold(hold_request(backend, key, user, now, **options))


async def _fund(backend: Backend, user: UserId) -> None:
    async with backend.uow() as uow:
        await uow.wallets.charge(user, BALANCE, uuid.uuid4(), at(0))
        await uow.commit()


async def _pay(
    desk: BoxOffice, user: UserId, concert_id: ConcertId, token: TokenId, *rids: ReservationId
) -> Money:
    request = PaymentRequest(
        PaymentId(uuid.uuid4()),
        user,
        concert_id,
        token,
        tuple(rids),
        at(2),
    )
    outcome = await desk.pay(request)
    return outcome.payment.amount


async def _release(backend: Backend, user: UserId, rid: ReservationId) -> None:
    async with backend.uow() as uow:
        await uow.reservations.release(rid, user, at(2))
        await uow.commit()


async def _a_turn_with_two_holds(
    desk: BoxOffice, backend: Backend, concert_id: ConcertId, round_no: int
) -> tuple[UserId, TokenId, tuple[SeatKey, Reservation], tuple[SeatKey, Reservation]]:
    """A funded fan whose turn holds two seats of its own (round ``round_no``'s)."""
    user, token = new_user(), new_token_id()
    await _fund(backend, user)
    held = []
    for key in (seat(concert_id, D1, 2 * round_no + 1), seat(concert_id, D1, 2 * round_no + 2)):
        held.append(
            (key, (await hold(desk, backend, key, user, at(1), token_id=token)).reservation)
        )
    return user, token, held[0], held[1]


async def _books(
    backend: Backend, user: UserId, concert_id: ConcertId, a: Reservation, b: Reservation
) -> tuple[Wallet, Reservation, Reservation, dict[SeatKey, Seat]]:
    """After a race: the fan's wallet, both reservations as stored, the date's seats."""
    async with backend.uow() as uow:
        wallet = await uow.wallets.get(user)
        got_a = await uow.reservations.get(a.reservation_id)
        got_b = await uow.reservations.get(b.reservation_id)
        seats = {s.key: s for s in await uow.seats.list_seats(concert_id, D1)}
    assert got_a is not None and got_b is not None
    return wallet, got_a, got_b, seats


async def test_a_release_racing_a_payment_either_sells_or_frees_never_both(
    backend: Backend, desk: BoxOffice
) -> None:
    concert_id = await new_concert(backend)
    for round_no in range(6):
        user, token, (first, a), (second, b) = await _a_turn_with_two_holds(
            desk, backend, concert_id, round_no
        )
        paid, released = await asyncio.gather(
            _pay(desk, user, concert_id, token, a.reservation_id),
            _release(backend, user, a.reservation_id),
            return_exceptions=True,
        )
        wallet, got_a, got_b, seats = await _books(backend, user, concert_id, a, b)
        if isinstance(paid, BaseException):
            assert isinstance(paid, DomainError), paid
            assert released is None
            assert wallet.balance == BALANCE
            assert got_a.status is ReservationStatus.RELEASED
            assert seats[first].status_at(at(2)) is SeatStatus.AVAILABLE
            assert got_b.status is ReservationStatus.HELD  # the payment changed nothing
        else:
            assert paid == PRICES[first.seat_no - 1]
            assert isinstance(released, DomainError), released
            assert wallet.balance == BALANCE - paid
            assert got_a.status is ReservationStatus.CONFIRMED
            assert seats[first].status_at(at(2)) is SeatStatus.SOLD
            assert got_b.status is ReservationStatus.RELEASED  # the turn's other hold
            assert seats[second].status_at(at(2)) is SeatStatus.AVAILABLE


async def test_after_a_payment_and_a_release_the_fan_may_hold_the_limit_again(
    backend: Backend, desk: BoxOffice
) -> None:
    concert_id = await new_concert(backend)
    user, token = new_user(), new_token_id()
    limit = backend.policy.max_holds_per_user
    await _fund(backend, user)
    held = [
        (
            await hold(desk, backend, seat(concert_id, D1, n), user, at(1), token_id=token)
        ).reservation
        for n in range(1, limit + 1)
    ]
    await _pay(desk, user, concert_id, token, held[0].reservation_id)
    # Paid and released with the turn: none counts; a new turn holds the limit again,
    # then a release gives one place back at once.
    later = new_token_id()
    again = [
        (await hold(desk, backend, seat(concert_id, D1, 10 + n), user, at(3), token_id=later))
        for n in range(limit)
    ]
    assert all(outcome.created for outcome in again)
    async with backend.uow() as uow:
        await uow.reservations.release(again[0].reservation.reservation_id, user, at(3))
        await uow.commit()
    assert (
        await hold(desk, backend, seat(concert_id, D1, 30), user, at(3), token_id=later)
    ).created


async def test_a_hold_on_a_seat_its_fan_just_paid_for_is_refused_and_changes_nothing(
    backend: Backend, desk: BoxOffice
) -> None:
    concert_id = await new_concert(backend)
    user, token = new_user(), new_token_id()
    await _fund(backend, user)
    key = seat(concert_id, D1, 5)
    a = (await hold(desk, backend, key, user, at(1), token_id=token)).reservation
    results = await asyncio.gather(
        _pay(desk, user, concert_id, token, a.reservation_id),
        *(hold(desk, backend, key, new_user(), at(40)) for _ in range(4)),
        return_exceptions=True,
    )
    # The hold lapses at 31: a hold at 40 may take it only if the payment did not
    # happen first (the payment itself is at 2, so it is judged live).
    async with backend.uow() as uow:
        stored = {s.key: s for s in await uow.seats.list_seats(concert_id, D1)}[key]
        got = await uow.reservations.get(a.reservation_id)
        wallet = await uow.wallets.get(user)
    assert got is not None
    if isinstance(results[0], BaseException):
        assert wallet.balance == BALANCE
        assert got.status is ReservationStatus.RELEASED
        assert sum(not isinstance(r, BaseException) for r in results[1:]) == 1
    else:
        assert stored.status is SeatStatus.SOLD and got.status is ReservationStatus.CONFIRMED
        assert wallet.balance == BALANCE - PRICES[4]
        assert all(isinstance(r, DomainError) for r in results[1:])


async def test_a_crowd_holding_paying_releasing_and_sweeping_at_once_keeps_the_books(
    backend: Backend, desk: BoxOffice
) -> None:
    """Eight fans, each with a turn, race for ten seats: holds, payments of what they
    got, releases, and the sweeper, all at once and in rounds past the holds' lapse.
    Afterwards: no seat sold twice, each reservation one row of the view (a hold on its
    seat's row or a record, never both), the money paid equals the seats sold, and no
    fan holds more than the limit."""
    concert_id = await new_concert(backend)
    fans = [(new_user(), new_token_id()) for _ in range(8)]
    for user, _ in fans:
        await _fund(backend, user)
    keys = [seat(concert_id, D1, n) for n in range(1, 11)]
    mine: dict[UserId, list[ReservationId]] = {user: [] for user, _ in fans}

    async def take(user: UserId, token: TokenId, n: int, now: float) -> None:
        outcome = await hold(desk, backend, keys[n % len(keys)], user, at(now), token_id=token)
        mine[user].append(outcome.reservation.reservation_id)

    async def pay(user: UserId, token: TokenId, now: float) -> None:
        if not mine[user]:
            return
        request = PaymentRequest(
            PaymentId(uuid.uuid4()), user, concert_id, token, (mine[user][-1],), at(now)
        )
        await desk.pay(request)

    async def end_turn(token: TokenId, now: float) -> None:
        await desk.release_holds_of_token(token, at(now))

    async def let_go(user: UserId, now: float) -> None:
        if mine[user]:
            async with backend.uow() as uow:
                await uow.reservations.release(mine[user][0], user, at(now))
                await uow.commit()

    async def sweep(now: float) -> None:
        async with backend.uow() as uow:
            await uow.reservations.release_lapsed(at(now), 100)
            await uow.commit()

    for round_no, now in enumerate((1.0, 20.0, 40.0, 45.0, 80.0)):
        calls = []
        for i, (user, token) in enumerate(fans):
            calls.append(take(user, token, i + round_no, now))
            calls.append(take(user, token, i * 3 + round_no, now))
            if (i + round_no) % 3 == 0:
                calls.append(pay(user, token, now))
            if (i + round_no) % 4 == 1:
                calls.append(let_go(user, now))
            if (i + round_no) % 5 == 3:
                calls.append(end_turn(token, now))
        calls.append(sweep(now))
        results = await asyncio.gather(*calls, return_exceptions=True)
        for result in results:
            assert result is None or isinstance(result, DomainError), repr(result)

    async with backend.uow() as uow:
        seats = await uow.seats.list_seats(concert_id, D1)
        paid = [p for user, _ in fans for p in await uow.payments.history(user)]
        balances = [(await uow.wallets.get(user)).balance for user, _ in fans]
        rids = {rid for ids in mine.values() for rid in ids}
        got = {rid: await uow.reservations.get(rid) for rid in rids}
    sold = [s for s in seats if s.status is SeatStatus.SOLD]
    assert sold and len(sold) < len(keys)  # the crowd did buy, and not everything
    confirmed = [r for r in got.values() if r and r.status is ReservationStatus.CONFIRMED]
    assert len(confirmed) == len(sold) == sum(len(p.reservation_ids) for p in paid)
    assert {r.seat for r in confirmed} == {s.key for s in sold}
    assert sum(p.amount for p in paid) == sum(s.price for s in sold)
    assert sum(BALANCE - b for b in balances) == sum(s.price for s in sold)
    for s in seats:
        if s.status is SeatStatus.HELD:
            assert s.reservation_id is not None
            held = got.get(s.reservation_id)
            assert held is None or held.status is ReservationStatus.HELD
    for user, _ in fans:
        live = [s for s in seats if s.is_held_by(user, at(80))]
        assert len(live) <= backend.policy.max_holds_per_user


async def test_the_end_of_a_turn_racing_its_payment_ends_each_hold_once(
    backend: Backend, desk: BoxOffice
) -> None:
    """What a payment's follow-up meets (``Pay.after``): the turn's holds released while
    the payment runs. Either the payment sells its seat and frees the other, or the
    release frees both and the payment is refused; never a seat both sold and freed."""
    concert_id = await new_concert(backend)
    for round_no in range(6):
        user, token, (first, a), (second, b) = await _a_turn_with_two_holds(
            desk, backend, concert_id, round_no
        )
        paid, released = await asyncio.gather(
            _pay(desk, user, concert_id, token, a.reservation_id),
            desk.release_holds_of_token(token, at(2)),
            return_exceptions=True,
        )
        wallet, got_a, got_b, seats = await _books(backend, user, concert_id, a, b)
        async with backend.uow() as uow:
            left = await uow.reservations.release_holds_of_token(token, at(3))
        assert left == 0  # nothing of the turn is held any more
        assert got_b.status is ReservationStatus.RELEASED
        assert seats[second].status_at(at(2)) is SeatStatus.AVAILABLE
        if isinstance(paid, BaseException):
            assert isinstance(paid, DomainError), paid
            assert released == 2
            assert wallet.balance == BALANCE
            assert got_a.status is ReservationStatus.RELEASED
            assert seats[first].status_at(at(2)) is SeatStatus.AVAILABLE
        else:
            assert paid == PRICES[first.seat_no - 1]
            assert released == 0
            assert wallet.balance == BALANCE - paid
            assert got_a.status is ReservationStatus.CONFIRMED
            assert seats[first].status_at(at(2)) is SeatStatus.SOLD
