"""Value validators and command shapes: what the core accepts, and VALIDATION_ERROR."""

from __future__ import annotations

import datetime as dt
import uuid

import pytest

from concert_core import ConcertService, Policy
from concert_core.domain import ValidationError
from concert_core.domain import values as v
from concert_core.use_cases import (
    ChargeCommand,
    HoldSeatCommand,
    IssueTokenCommand,
    ListSeatsQuery,
    PayCommand,
    ScheduleConcertCommand,
    tiered_prices,
)
from support import DATES, active_token, hold, new_user, schedule

PRICES = tiered_prices(100_000)
NOT_INTEGERS = [True, False, 1.0, 2.5, "1", None, [1]]


@pytest.mark.parametrize("value", [1, 25, 50])
def test_a_seat_number_is_an_integer_from_one_to_fifty(value: int) -> None:
    assert v.seat_no(value) == value


@pytest.mark.parametrize("value", [0, 51, -1, 10**20, *NOT_INTEGERS])
def test_a_seat_number_outside_one_to_fifty_or_not_an_integer_is_refused(value: object) -> None:
    with pytest.raises(ValidationError) as raised:
        v.seat_no(value)
    assert raised.value.code == "VALIDATION_ERROR"


@pytest.mark.parametrize("value", [1, 10_000_000])
def test_a_charge_amount_is_an_integer_from_one_to_ten_million(value: int) -> None:
    assert v.charge_amount(value) == value


@pytest.mark.parametrize("value", [0, -5, 10_000_001, 10**13, *NOT_INTEGERS])
def test_a_charge_amount_out_of_range_or_not_an_integer_is_refused(value: object) -> None:
    with pytest.raises(ValidationError):
        v.charge_amount(value)


@pytest.mark.parametrize("value", [0, 70_000, 10_000_000])
def test_a_price_is_an_integer_from_zero_to_ten_million(value: int) -> None:
    assert v.price(value) == value


@pytest.mark.parametrize("value", [-1, 10_000_001, *NOT_INTEGERS])
def test_a_price_out_of_range_or_not_an_integer_is_refused(value: object) -> None:
    with pytest.raises(ValidationError):
        v.price(value)


@pytest.mark.parametrize("value", [1, 2**63 - 1])
def test_a_concert_id_is_a_positive_integer(value: int) -> None:
    assert v.concert_id(value) == value


@pytest.mark.parametrize("value", [0, -1, 2**63, *NOT_INTEGERS])
def test_a_concert_id_that_is_not_a_positive_integer_is_refused(value: object) -> None:
    with pytest.raises(ValidationError):
        v.concert_id(value)


def test_a_calendar_date_is_a_date_or_an_iso_string() -> None:
    day = dt.date(2026, 12, 24)
    assert v.calendar_date(day) == day
    assert v.calendar_date("2026-12-24") == day
    assert v.calendar_date("2028-02-29") == dt.date(2028, 2, 29)


@pytest.mark.parametrize(
    "value",
    [
        "2026-13-01",
        "2026-02-30",
        "2027-02-29",
        "2026/12/24",
        "24-12-2026",
        "20261224",
        "2026-12-24T00:00",
        " 2026-12-24",
        "",
        dt.datetime(2026, 12, 24, tzinfo=dt.UTC),
        20261224,
        None,
        True,
    ],
)
def test_a_date_that_is_not_a_calendar_date_written_yyyy_mm_dd_is_refused(value: object) -> None:
    with pytest.raises(ValidationError):
        v.calendar_date(value)


def test_an_iso_week_date_of_ten_characters_is_not_a_yyyy_mm_dd_date() -> None:
    # "2026-W52-4" is 2026-12-24 in ISO week notation; the API's dates are YYYY-MM-DD only.
    with pytest.raises(ValidationError):
        v.calendar_date("2026-W52-4")
    with pytest.raises(ValidationError):
        HoldSeatCommand("token", 1, "2026-W52-4", 1)


def test_a_user_id_is_a_uuid_or_its_string_form() -> None:
    user = uuid.uuid4()
    assert v.user_id(user) == user
    assert v.user_id(str(user)) == user
    assert v.user_id(str(user).upper()) == user


@pytest.mark.parametrize("value", ["not-a-uuid", "", "1234", 42, None, True, b"x"])
def test_a_user_id_that_is_not_a_uuid_is_refused(value: object) -> None:
    with pytest.raises(ValidationError):
        v.user_id(value)


# -- commands refuse bad input when built ---------------------------------------------------


@pytest.mark.parametrize("seat_no", [0, 51, True, "7", 7.0])
def test_a_hold_command_refuses_a_bad_seat_number(seat_no: object) -> None:
    with pytest.raises(ValidationError):
        HoldSeatCommand("token", 1, "2026-12-24", seat_no)  # type: ignore[arg-type]


@pytest.mark.parametrize("date", ["2026-12-32", "tomorrow", None])
def test_seat_queries_and_hold_commands_refuse_a_bad_date(date: object) -> None:
    with pytest.raises(ValidationError):
        HoldSeatCommand("token", 1, date, 1)  # type: ignore[arg-type]
    with pytest.raises(ValidationError):
        ListSeatsQuery("token", 1, date)  # type: ignore[arg-type]


@pytest.mark.parametrize("concert_id", [0, True, "1"])
def test_a_token_request_refuses_a_bad_concert_id(concert_id: object) -> None:
    with pytest.raises(ValidationError):
        IssueTokenCommand(uuid.uuid4(), concert_id)  # type: ignore[arg-type]


def test_scheduling_needs_a_title_dates_and_fifty_valid_prices() -> None:
    ok = ScheduleConcertCommand(" Winter ", "Hall", ["2026-12-25", "2026-12-24"], PRICES)
    assert ok.title == "Winter"
    assert ok.dates == (dt.date(2026, 12, 24), dt.date(2026, 12, 25))
    bad_inputs: list[tuple[object, object, object, object]] = [
        ("", "Hall", ["2026-12-24"], PRICES),
        ("x" * 201, "Hall", ["2026-12-24"], PRICES),
        ("Winter", "Hall", [], PRICES),
        ("Winter", "Hall", "2026-12-24", PRICES),
        ("Winter", "Hall", ["2026-12-24"], PRICES[:49]),
        ("Winter", "Hall", ["2026-12-24"], [*PRICES[:49], 1.5]),
    ]
    for title, venue, dates, prices in bad_inputs:
        with pytest.raises(ValidationError):
            ScheduleConcertCommand(title, venue, dates, prices)  # type: ignore[arg-type]


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


def test_tiered_prices_are_integer_won_by_tier() -> None:
    assert len(PRICES) == 50
    assert all(type(p) is int for p in PRICES)
    assert (PRICES[0], PRICES[10], PRICES[30]) == (150_000, 100_000, 70_000)


@pytest.mark.parametrize(
    "change",
    [
        {"active_capacity": 0},
        {"max_holds_per_user": 0},
        {"active_ttl": dt.timedelta(0)},
        {"idle_timeout": dt.timedelta(seconds=-1)},
        {"hold_ttl": 300},
    ],
)
def test_a_policy_refuses_non_positive_limits_and_durations(change: dict[str, object]) -> None:
    with pytest.raises((ValueError, TypeError)):
        Policy(**change)  # type: ignore[arg-type]


def test_a_policy_with_durations_past_a_year_or_absurd_limits_is_refused() -> None:
    with pytest.raises(ValueError, match="366 days"):
        Policy(active_ttl=dt.timedelta(seconds=10**12))
    with pytest.raises(ValueError, match="must be <="):
        Policy(active_capacity=10**9)
    with pytest.raises(ValueError, match="must be <="):
        Policy(max_holds_per_user=10**6)


def test_the_default_policy_is_the_specs() -> None:
    policy = Policy()
    assert policy.active_capacity == 100
    assert policy.admission_interval == dt.timedelta(seconds=1)
    assert policy.active_ttl == dt.timedelta(seconds=600)
    assert policy.hold_ttl == dt.timedelta(seconds=300)
    assert policy.idle_timeout == dt.timedelta(seconds=300)
    assert policy.max_holds_per_user == 4
    assert policy.idempotency_retention >= dt.timedelta(hours=24)


def test_an_idle_timeout_too_short_for_a_one_second_poll_hint_is_refused() -> None:
    with pytest.raises(ValueError, match="at least 3 seconds"):
        Policy(idle_timeout=dt.timedelta(seconds=2))
    assert Policy(idle_timeout=dt.timedelta(seconds=3)).idle_timeout.total_seconds() == 3
