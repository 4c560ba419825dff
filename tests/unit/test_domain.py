"""The aggregates' own methods: Seat, Reservation, Wallet and QueueToken."""

from __future__ import annotations

import datetime as dt
import uuid

import pytest

from concert_core.domain import (
    ConcertId,
    EntryKind,
    HoldExpiredError,
    InsufficientBalanceError,
    Money,
    NotOwnerError,
    PaymentId,
    QueueToken,
    Reservation,
    ReservationId,
    ReservationStatus,
    Seat,
    SeatKey,
    SeatNo,
    SeatStatus,
    SeatUnavailableError,
    TokenId,
    TokenNotActiveError,
    TokenStatus,
    UserId,
    ValidationError,
    Wallet,
)
from concert_core.domain.seating import seats_for_date
from concert_core.domain.values import MAX_BALANCE

T0 = dt.datetime(2026, 1, 1, 12, 0, tzinfo=dt.UTC)
TTL = dt.timedelta(minutes=5)
SECOND = dt.timedelta(seconds=1)
KEY = SeatKey(ConcertId(1), dt.date(2026, 12, 24), SeatNo(7))


def user() -> UserId:
    return UserId(uuid.uuid4())


def rid() -> ReservationId:
    return ReservationId(uuid.uuid4())


# -- Seat ------------------------------------------------------------------------------------


def test_a_new_seat_is_available_with_its_price() -> None:
    seat = Seat(KEY, Money(70_000))
    assert seat.status_at(T0) is SeatStatus.AVAILABLE
    assert (seat.price, seat.holder, seat.held_until, seat.reservation_id) == (
        70_000,
        None,
        None,
        None,
    )


def test_a_seat_hold_lasts_until_its_expiry_and_no_later() -> None:
    seat, holder, reservation = Seat(KEY, Money(1)), user(), rid()
    seat.hold(holder, reservation, T0, T0 + TTL)
    assert seat.status_at(T0 + TTL - SECOND) is SeatStatus.HELD
    assert seat.is_held_by(holder, T0 + TTL - SECOND)
    assert not seat.is_held_by(user(), T0)
    assert seat.status_at(T0 + TTL) is SeatStatus.AVAILABLE
    assert not seat.is_held_by(holder, T0 + TTL)


def test_a_held_seat_cannot_be_held_again_until_the_hold_lapses() -> None:
    seat, first, reservation = Seat(KEY, Money(1)), user(), rid()
    seat.hold(first, reservation, T0, T0 + TTL)
    with pytest.raises(SeatUnavailableError):
        seat.hold(user(), rid(), T0 + TTL - SECOND, T0 + 2 * TTL)
    assert (seat.holder, seat.reservation_id) == (first, reservation)
    second, later = user(), rid()
    seat.hold(second, later, T0 + TTL, T0 + 2 * TTL)
    assert (seat.holder, seat.reservation_id, seat.held_until) == (second, later, T0 + 2 * TTL)


def test_a_seat_is_released_only_by_the_reservation_that_holds_it() -> None:
    seat, reservation = Seat(KEY, Money(1)), rid()
    seat.hold(user(), reservation, T0, T0 + TTL)
    assert seat.release(rid()) is False
    assert seat.status is SeatStatus.HELD
    assert seat.release(reservation) is True
    assert (seat.status, seat.holder, seat.held_until, seat.reservation_id) == (
        SeatStatus.AVAILABLE,
        None,
        None,
        None,
    )
    assert seat.release(reservation) is False


def test_a_seat_is_sold_only_to_its_live_hold() -> None:
    seat, reservation = Seat(KEY, Money(1)), rid()
    with pytest.raises(SeatUnavailableError):
        seat.sell(reservation, T0)
    seat.hold(user(), reservation, T0, T0 + TTL)
    with pytest.raises(SeatUnavailableError):
        seat.sell(rid(), T0)
    with pytest.raises(SeatUnavailableError):
        seat.sell(reservation, T0 + TTL)
    assert seat.status is SeatStatus.HELD
    seat.sell(reservation, T0 + TTL - SECOND)
    assert seat.status_at(T0 + 100 * TTL) is SeatStatus.SOLD


def test_a_sold_seat_can_be_neither_held_nor_released() -> None:
    seat, reservation = Seat(KEY, Money(1)), rid()
    seat.hold(user(), reservation, T0, T0 + TTL)
    seat.sell(reservation, T0)
    with pytest.raises(SeatUnavailableError):
        seat.hold(user(), rid(), T0 + 2 * TTL, T0 + 3 * TTL)
    assert seat.release(reservation) is False
    assert seat.status is SeatStatus.SOLD


def test_a_date_has_exactly_fifty_seats_priced_in_order() -> None:
    prices = [Money(n * 1_000) for n in range(1, 51)]
    seats = seats_for_date(ConcertId(3), dt.date(2026, 12, 24), prices)
    assert [s.key.seat_no for s in seats] == list(range(1, 51))
    assert [s.price for s in seats] == prices
    for wrong in (prices[:49], [*prices, Money(1)]):
        with pytest.raises(ValidationError):
            seats_for_date(ConcertId(3), dt.date(2026, 12, 24), wrong)


# -- Reservation --------------------------------------------------------------------------------


def held(owner: UserId) -> Reservation:
    return Reservation.hold(rid(), owner, KEY, Money(100_000), T0, T0 + TTL, TokenId(uuid.uuid4()))


def test_a_reservation_is_held_until_its_time_then_reads_released() -> None:
    reservation = held(user())
    assert reservation.concert_id == KEY.concert_id
    assert reservation.status_at(T0 + TTL - SECOND) is ReservationStatus.HELD
    assert reservation.is_live_hold(T0 + TTL - SECOND)
    assert reservation.status_at(T0 + TTL) is ReservationStatus.RELEASED
    assert not reservation.is_live_hold(T0 + TTL)
    assert reservation.status is ReservationStatus.HELD  # reading changes nothing


def test_only_the_owner_can_confirm_a_reservation() -> None:
    owner = user()
    reservation = held(owner)
    with pytest.raises(NotOwnerError):
        reservation.confirm(user(), T0)
    assert reservation.status is ReservationStatus.HELD
    reservation.confirm(owner, T0)
    assert reservation.status is ReservationStatus.CONFIRMED


def test_a_lapsed_released_or_paid_reservation_cannot_be_confirmed() -> None:
    owner = user()
    lapsed = held(owner)
    with pytest.raises(HoldExpiredError):
        lapsed.confirm(owner, T0 + TTL)
    assert lapsed.status is ReservationStatus.HELD
    released = held(owner)
    released.release(owner)
    with pytest.raises(HoldExpiredError):
        released.confirm(owner, T0)
    paid = held(owner)
    paid.confirm(owner, T0)
    with pytest.raises(HoldExpiredError):
        paid.confirm(owner, T0)
    assert paid.status is ReservationStatus.CONFIRMED


def test_releasing_a_reservation_reports_whether_it_released_it() -> None:
    owner = user()
    reservation = held(owner)
    with pytest.raises(NotOwnerError):
        reservation.release(user())
    assert reservation.release(owner) is True
    assert reservation.status is ReservationStatus.RELEASED
    assert reservation.release(owner) is False


def test_a_paid_reservation_cannot_be_released() -> None:
    owner = user()
    reservation = held(owner)
    reservation.confirm(owner, T0)
    with pytest.raises(HoldExpiredError):
        reservation.release(owner)
    assert reservation.status is ReservationStatus.CONFIRMED


def test_a_hold_lapses_only_once_its_time_has_come() -> None:
    reservation = held(user())
    assert reservation.lapse(T0 + TTL - SECOND) is False
    assert reservation.status is ReservationStatus.HELD
    assert reservation.lapse(T0 + TTL) is True
    assert reservation.status is ReservationStatus.RELEASED
    assert reservation.lapse(T0 + 2 * TTL) is False


# -- Wallet ----------------------------------------------------------------------------------


def test_a_wallet_starts_at_zero_and_a_charge_is_a_positive_ledger_entry() -> None:
    owner, entry_id = user(), uuid.uuid4()
    wallet = Wallet(owner)
    assert wallet.balance == 0
    entry = wallet.charge(Money(5_000), entry_id, T0)
    assert wallet.balance == 5_000
    assert (entry.entry_id, entry.user_id, entry.kind, entry.amount, entry.at) == (
        entry_id,
        owner,
        EntryKind.CHARGE,
        5_000,
        T0,
    )
    assert entry.payment_id is None


@pytest.mark.parametrize("amount", [0, -1])
def test_a_wallet_refuses_a_charge_that_is_not_positive(amount: int) -> None:
    wallet = Wallet(user(), Money(10))
    with pytest.raises(ValidationError):
        wallet.charge(Money(amount), uuid.uuid4(), T0)
    assert wallet.balance == 10


def test_a_wallet_balance_never_exceeds_the_cap() -> None:
    wallet = Wallet(user(), Money(MAX_BALANCE - 1))
    with pytest.raises(ValidationError):
        wallet.charge(Money(2), uuid.uuid4(), T0)
    assert wallet.balance == MAX_BALANCE - 1
    wallet.charge(Money(1), uuid.uuid4(), T0)
    assert wallet.balance == MAX_BALANCE


def test_a_debit_is_a_negative_ledger_entry_tied_to_its_payment() -> None:
    wallet, payment_id = Wallet(user(), Money(10_000)), PaymentId(uuid.uuid4())
    entry = wallet.debit(Money(10_000), uuid.uuid4(), payment_id, T0)
    assert wallet.balance == 0
    assert (entry.kind, entry.amount, entry.payment_id) == (EntryKind.PAYMENT, -10_000, payment_id)


def test_a_debit_beyond_the_balance_is_refused_and_changes_nothing() -> None:
    wallet = Wallet(user(), Money(9_999))
    with pytest.raises(InsufficientBalanceError) as raised:
        wallet.debit(Money(10_000), uuid.uuid4(), PaymentId(uuid.uuid4()), T0)
    assert raised.value.code == "INSUFFICIENT_BALANCE"
    assert wallet.balance == 9_999


def test_a_negative_debit_is_refused() -> None:
    wallet = Wallet(user(), Money(100))
    with pytest.raises(ValidationError):
        wallet.debit(Money(-1), uuid.uuid4(), PaymentId(uuid.uuid4()), T0)
    assert wallet.balance == 100


# -- QueueToken ------------------------------------------------------------------------------

IDLE = dt.timedelta(seconds=300)
ACTIVE_TTL = dt.timedelta(seconds=600)


def token() -> QueueToken:
    return QueueToken.issue(TokenId(uuid.uuid4()), user(), ConcertId(1), 17, T0)


def test_a_new_token_is_waiting_and_carries_its_claims() -> None:
    t = token()
    assert t.status is TokenStatus.WAITING
    assert (t.issued_at, t.last_seen_at, t.active_until) == (T0, T0, None)
    claims = t.claims
    assert (claims.token_id, claims.user_id, claims.concert_id, claims.sequence) == (
        t.token_id,
        t.user_id,
        t.concert_id,
        17,
    )


def test_a_waiting_token_expires_once_idle_for_the_timeout() -> None:
    t = token()
    assert t.status_at(T0 + IDLE - SECOND, IDLE) is TokenStatus.WAITING
    assert t.is_live(T0 + IDLE - SECOND, IDLE)
    assert t.status_at(T0 + IDLE, IDLE) is TokenStatus.EXPIRED
    assert not t.is_live(T0 + IDLE, IDLE)


def test_being_seen_keeps_a_waiting_token_and_never_goes_back_in_time() -> None:
    t = token()
    t.see(T0 + IDLE - SECOND)
    assert t.status_at(T0 + 2 * IDLE - 2 * SECOND, IDLE) is TokenStatus.WAITING
    t.see(T0)
    assert t.last_seen_at == T0 + IDLE - SECOND


def test_an_admitted_token_is_active_for_the_ttl_from_admission() -> None:
    t = token()
    admitted = T0 + IDLE - SECOND
    t.admit(admitted, ACTIVE_TTL)
    assert (t.status, t.active_until) == (TokenStatus.ACTIVE, admitted + ACTIVE_TTL)
    assert t.status_at(admitted + ACTIVE_TTL - SECOND, IDLE) is TokenStatus.ACTIVE
    assert t.status_at(admitted + ACTIVE_TTL, IDLE) is TokenStatus.EXPIRED


def test_only_a_waiting_token_can_be_admitted() -> None:
    t = token()
    t.admit(T0, ACTIVE_TTL)
    with pytest.raises(TokenNotActiveError):
        t.admit(T0, ACTIVE_TTL)
    assert t.active_until == T0 + ACTIVE_TTL
    t.expire()
    with pytest.raises(TokenNotActiveError):
        t.admit(T0, ACTIVE_TTL)
    assert t.status is TokenStatus.EXPIRED


def test_a_hold_extends_a_turn_as_long_as_it_lasts_and_never_shortens_it() -> None:
    t = token()
    t.admit(T0, ACTIVE_TTL)
    t.extend_for_hold(T0 + ACTIVE_TTL + TTL, T0 + SECOND)
    assert t.active_until == T0 + ACTIVE_TTL  # the base end stays
    assert t.ends_at == T0 + ACTIVE_TTL + TTL
    t.extend_for_hold(T0 + TTL, T0 + SECOND)
    assert t.ends_at == T0 + ACTIVE_TTL + TTL
    assert t.status_at(T0 + ACTIVE_TTL + TTL - SECOND, IDLE) is TokenStatus.ACTIVE
    assert t.status_at(T0 + ACTIVE_TTL + TTL, IDLE) is TokenStatus.EXPIRED


def test_a_released_hold_extends_the_turn_no_longer() -> None:
    t = token()
    t.admit(T0, ACTIVE_TTL)
    t.extend_for_hold(T0 + ACTIVE_TTL + TTL, T0 + SECOND)
    t.retract_hold(T0 + ACTIVE_TTL + TTL, remaining_until=T0 + ACTIVE_TTL + SECOND)
    assert t.ends_at == T0 + ACTIVE_TTL + SECOND  # kept by the hold that remains
    t.retract_hold(T0 + ACTIVE_TTL + SECOND, remaining_until=None)
    assert t.ends_at == T0 + ACTIVE_TTL
    assert t.status_at(T0 + ACTIVE_TTL, IDLE) is TokenStatus.EXPIRED


def test_retracting_an_earlier_hold_leaves_a_later_extension_standing() -> None:
    t = token()
    t.admit(T0, ACTIVE_TTL)
    t.extend_for_hold(T0 + ACTIVE_TTL + TTL, T0 + SECOND)
    t.retract_hold(T0 + ACTIVE_TTL, remaining_until=None)  # a hold that reached less far
    assert t.ends_at == T0 + ACTIVE_TTL + TTL


def test_only_an_active_token_before_its_base_end_can_take_a_hold() -> None:
    waiting = token()
    with pytest.raises(TokenNotActiveError):
        waiting.extend_for_hold(T0 + TTL, T0)
    assert waiting.active_until is None
    ended = token()
    ended.admit(T0, ACTIVE_TTL)
    ended.expire()
    with pytest.raises(TokenNotActiveError):
        ended.extend_for_hold(T0 + 2 * ACTIVE_TTL, T0)
    late = token()
    late.admit(T0, ACTIVE_TTL)
    late.extend_for_hold(T0 + ACTIVE_TTL + TTL, T0 + SECOND)
    assert not late.may_hold_at(T0 + ACTIVE_TTL)  # alive for its hold, but no new ones
    with pytest.raises(TokenNotActiveError):
        late.extend_for_hold(T0 + ACTIVE_TTL + 2 * TTL, T0 + ACTIVE_TTL)


def test_an_expired_token_stays_expired() -> None:
    t = token()
    t.expire()
    assert t.status_at(T0, IDLE) is TokenStatus.EXPIRED
    t.see(T0 + SECOND)
    assert t.status_at(T0 + SECOND, IDLE) is TokenStatus.EXPIRED
