"""A sale's phase at an instant, from the operator's settings and the seats."""

from __future__ import annotations

import datetime as dt
import uuid

import pytest

from concert_core.domain import TokenId, ValidationError
from concert_core.domain.sale import Phase, SaleSettings, shuffle_key

T0 = dt.datetime(2027, 1, 1, 12, 0, tzinfo=dt.UTC)
MINUTE = dt.timedelta(minutes=1)


def scheduled() -> SaleSettings:
    return SaleSettings(prequeue_opens_at=T0, opens_at=T0 + MINUTE, closes_at=T0 + 60 * MINUTE)


def test_a_sale_with_no_settings_is_open_at_once() -> None:
    assert SaleSettings().phase_at(T0, sold_out=False) is Phase.OPEN


@pytest.mark.parametrize(
    ("at", "phase"),
    [
        (T0 - dt.timedelta(seconds=1), Phase.SCHEDULED),
        (T0, Phase.PREQUEUE),
        (T0 + MINUTE - dt.timedelta(microseconds=1), Phase.PREQUEUE),
        (T0 + MINUTE, Phase.OPEN),
        (T0 + 60 * MINUTE - dt.timedelta(microseconds=1), Phase.OPEN),
        (T0 + 60 * MINUTE, Phase.CLOSED),
    ],
)
def test_the_phase_follows_the_schedule(at: dt.datetime, phase: Phase) -> None:
    assert scheduled().phase_at(at, sold_out=False) is phase


def test_without_a_prequeue_the_sale_is_scheduled_until_it_opens() -> None:
    sale = SaleSettings(opens_at=T0)
    assert sale.phase_at(T0 - dt.timedelta(seconds=1), sold_out=False) is Phase.SCHEDULED
    assert sale.phase_at(T0, sold_out=False) is Phase.OPEN


def test_a_pause_stands_in_for_the_prequeue_or_the_open_sale_only() -> None:
    sale = SaleSettings(
        prequeue_opens_at=T0, opens_at=T0 + MINUTE, closes_at=T0 + 2 * MINUTE, paused=True
    )
    assert sale.phase_at(T0 - MINUTE, sold_out=False) is Phase.SCHEDULED
    assert sale.phase_at(T0, sold_out=False) is Phase.PAUSED
    assert sale.entry_at(T0, sold_out=False) is Phase.PREQUEUE
    assert sale.phase_at(T0 + MINUTE, sold_out=False) is Phase.PAUSED
    assert sale.entry_at(T0 + MINUTE, sold_out=False) is Phase.OPEN
    assert sale.phase_at(T0 + 2 * MINUTE, sold_out=False) is Phase.CLOSED


def test_a_sold_out_sale_is_sold_out_whatever_the_schedule_says() -> None:
    assert SaleSettings().phase_at(T0, sold_out=True) is Phase.SOLD_OUT
    assert SaleSettings(paused=True).phase_at(T0, sold_out=True) is Phase.SOLD_OUT
    assert Phase.SOLD_OUT.ended and Phase.CLOSED.ended and not Phase.PAUSED.ended


@pytest.mark.parametrize(
    ("settings", "complaint"),
    [
        ({"prequeue_opens_at": T0 + MINUTE, "opens_at": T0}, "not be after opens_at"),
        ({"prequeue_opens_at": T0}, "needs an opening time"),
        ({"opens_at": T0, "closes_at": T0}, "after opens_at"),
        ({"capacity": 0}, "capacity"),
        ({"capacity": True}, "capacity"),
        ({"admission_per_minute": 0}, "admission_per_minute"),
        ({"message": "x" * 501}, "500 characters"),
        ({"paused": "yes"}, "paused"),
        ({"opens_at": dt.datetime(2027, 1, 1)}, "time zone"),
    ],
)
def test_bad_settings_are_refused_with_a_reason(
    settings: dict[str, object], complaint: str
) -> None:
    with pytest.raises(ValidationError, match=complaint):
        SaleSettings(**settings)  # type: ignore[arg-type]


def test_a_blank_message_is_no_message() -> None:
    assert SaleSettings(message="   ").message is None
    assert SaleSettings(message=" Doors at 7 ").message == "Doors at 7"


def test_the_shuffle_order_is_fixed_by_the_seed_and_differs_between_seeds() -> None:
    ids = [TokenId(uuid.uuid4()) for _ in range(50)]
    first = sorted(ids, key=lambda t: shuffle_key(7, t))
    assert first == sorted(ids, key=lambda t: shuffle_key(7, t))
    assert first != sorted(ids, key=lambda t: shuffle_key(8, t))
