"""The tunable rules of the service, with SPEC's defaults."""

from __future__ import annotations

import datetime as dt

from attrs import field, frozen, validators

_positive_int = [validators.instance_of(int), validators.ge(1)]


def _positive_duration(_: object, attribute: object, value: dt.timedelta) -> None:
    if not isinstance(value, dt.timedelta) or value <= dt.timedelta(0):
        raise ValueError(f"{getattr(attribute, 'name', 'duration')} must be a positive duration")


def _idle_timeout(instance: object, attribute: object, value: dt.timedelta) -> None:
    _positive_duration(instance, attribute, value)
    if value < dt.timedelta(seconds=3):
        # The polling hint is at least 1 s and never more than a third of this.
        raise ValueError("idle_timeout must be at least 3 seconds")


def _seconds(n: float) -> dt.timedelta:
    return dt.timedelta(seconds=n)


@frozen
class Policy:
    active_capacity: int = field(default=100, validator=_positive_int)
    """At most this many ACTIVE tokens per concert at any instant."""
    admission_interval: dt.timedelta = field(default=_seconds(1), validator=_positive_duration)
    active_ttl: dt.timedelta = field(default=_seconds(600), validator=_positive_duration)
    hold_ttl: dt.timedelta = field(default=_seconds(300), validator=_positive_duration)
    idle_timeout: dt.timedelta = field(default=_seconds(300), validator=_idle_timeout)
    max_holds_per_user: int = field(default=4, validator=_positive_int)
    idempotency_retention: dt.timedelta = field(
        default=dt.timedelta(hours=24), validator=_positive_duration
    )
    """How long a charge or payment's first result is kept for retries."""
    idempotency_lease: dt.timedelta = field(default=_seconds(60), validator=_positive_duration)
    """How long a started request owns its key before a retry may take over."""
    admission_rate_window: dt.timedelta = field(default=_seconds(60), validator=_positive_duration)
    """How far back the observed admission rate looks for the estimated wait."""
