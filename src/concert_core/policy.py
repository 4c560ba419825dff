"""The tunable rules of the service, with their defaults (docs/contract.md §5)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

from attrs import Attribute, field, frozen, validators

MAX_DURATION = dt.timedelta(days=366)
"""Longer than any rule needs, and far from where date arithmetic overflows."""


def _count(most: int) -> Callable[[Any, Attribute[int], int], Any]:
    return validators.and_(validators.instance_of(int), validators.ge(1), validators.le(most))


def _positive_duration(_: object, attribute: object, value: dt.timedelta) -> None:
    name = getattr(attribute, "name", "duration")
    if not isinstance(value, dt.timedelta) or not dt.timedelta(0) < value <= MAX_DURATION:
        raise ValueError(f"{name} must be a duration of more than 0 and at most 366 days")


def _idle_timeout(instance: object, attribute: object, value: dt.timedelta) -> None:
    _positive_duration(instance, attribute, value)
    if value < dt.timedelta(seconds=3):
        # The polling hint is at least 1 s and never more than a third of this.
        raise ValueError("idle_timeout must be at least 3 seconds")


def _seconds(n: float) -> dt.timedelta:
    return dt.timedelta(seconds=n)


@frozen
class Policy:
    active_capacity: int = field(default=100, validator=_count(10_000_000))
    """At most this many ACTIVE tokens per concert at any instant."""
    admission_interval: dt.timedelta = field(default=_seconds(1), validator=_positive_duration)
    active_ttl: dt.timedelta = field(default=_seconds(600), validator=_positive_duration)
    hold_ttl: dt.timedelta = field(default=_seconds(300), validator=_positive_duration)
    idle_timeout: dt.timedelta = field(default=_seconds(300), validator=_idle_timeout)
    max_holds_per_user: int = field(default=4, validator=_count(1_000))
    idempotency_retention: dt.timedelta = field(
        default=dt.timedelta(hours=24), validator=_positive_duration
    )
    """How long a charge or payment's first result is kept for retries."""
    idempotency_lease: dt.timedelta = field(default=_seconds(60), validator=_positive_duration)
    """How long a started request owns its key before a retry may take over."""
    admission_rate_window: dt.timedelta = field(default=_seconds(60), validator=_positive_duration)
    """How far back the observed admission rate looks for the estimated wait."""
