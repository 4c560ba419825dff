"""A concert's on-sale: the operator's settings and the phase they give at an instant
(docs/contract.md §8)."""

from __future__ import annotations

import datetime as dt
import enum
import hashlib
import math
from collections.abc import Callable

from attrs import field, frozen

from concert_core.domain.errors import ValidationError
from concert_core.domain.values import TokenId

MAX_MESSAGE_LENGTH = 500
MAX_CAPACITY = 10_000_000
MAX_ADMISSIONS_PER_MINUTE = 10_000_000


class Phase(enum.StrEnum):
    SCHEDULED = "SCHEDULED"
    """Before the pre-queue (or the opening, without one): nobody may join."""
    PREQUEUE = "PREQUEUE"
    """Fans may join; nobody has a place until the opening shuffles them."""
    OPEN = "OPEN"
    """The line is FIFO and fans are admitted."""
    PAUSED = "PAUSED"
    """The operator paused a pre-queue or an open sale: joining goes on, admission stops."""
    SOLD_OUT = "SOLD_OUT"
    """Every seat of every date is sold: nobody may join, nobody waits."""
    CLOSED = "CLOSED"
    """Past the closing time: nobody may join, nobody waits."""

    @property
    def ended(self) -> bool:
        return self in (Phase.SOLD_OUT, Phase.CLOSED)


def _instant(value: dt.datetime | None) -> dt.datetime | None:
    if value is None:
        return None
    if not isinstance(value, dt.datetime) or value.tzinfo is None:
        raise ValidationError("sale times must be instants with a time zone (RFC 3339)")
    return value.astimezone(dt.UTC)


def _bounded(name: str, most: int) -> Callable[[object, object, int | None], None]:
    def check(_: object, __: object, value: int | None) -> None:
        if value is None:
            return
        if type(value) is not int or not 1 <= value <= most:
            raise ValidationError(f"{name} must be a whole number from 1 to {most:,}")

    return check


def _message(value: str | None) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise ValidationError("message must be text")
    text = value.strip()
    if len(text) > MAX_MESSAGE_LENGTH:
        raise ValidationError(f"message must be at most {MAX_MESSAGE_LENGTH} characters")
    return text or None


def _flag(name: str) -> Callable[[object, object, bool], None]:
    def check(_: object, __: object, value: bool) -> None:
        if type(value) is not bool:
            raise ValidationError(f"{name} must be true or false")

    return check


@frozen
class SaleSettings:
    """What the operator sets for a concert's on-sale. The defaults are a sale that is
    open at once, FIFO, with no pre-queue, closing time, pause, rate, challenge or
    message; ``capacity`` None means the service's default capacity."""

    prequeue_opens_at: dt.datetime | None = field(default=None, converter=_instant)
    opens_at: dt.datetime | None = field(default=None, converter=_instant)
    closes_at: dt.datetime | None = field(default=None, converter=_instant)
    paused: bool = field(default=False, validator=_flag("paused"))
    capacity: int | None = field(
        default=None,
        validator=_bounded("capacity", MAX_CAPACITY),
    )
    admission_per_minute: int | None = field(
        default=None,
        validator=_bounded("admission_per_minute", MAX_ADMISSIONS_PER_MINUTE),
    )
    join_challenge: bool = field(default=False, validator=_flag("join_challenge"))
    message: str | None = field(default=None, converter=_message)

    def __attrs_post_init__(self) -> None:
        if self.prequeue_opens_at is not None:
            if self.opens_at is None:
                raise ValidationError("a pre-queue needs an opening time (opens_at)")
            if self.prequeue_opens_at > self.opens_at:
                raise ValidationError("prequeue_opens_at must not be after opens_at")
        opens, closes = self.opens_at, self.closes_at
        if closes is not None and opens is not None and closes <= opens:
            raise ValidationError("closes_at must be after opens_at")

    def entry_at(self, now: dt.datetime, *, sold_out: bool) -> Phase:
        """The phase at ``now`` as joining sees it: the pause left out."""
        if sold_out:
            return Phase.SOLD_OUT
        if self.closes_at is not None and now >= self.closes_at:
            return Phase.CLOSED
        if self.opens_at is not None and now < self.opens_at:
            if self.prequeue_opens_at is not None and now >= self.prequeue_opens_at:
                return Phase.PREQUEUE
            return Phase.SCHEDULED
        return Phase.OPEN

    def phase_at(self, now: dt.datetime, *, sold_out: bool) -> Phase:
        """The phase at ``now``: PAUSED in place of PREQUEUE or OPEN while paused."""
        entry = self.entry_at(now, sold_out=sold_out)
        if self.paused and entry in (Phase.PREQUEUE, Phase.OPEN):
            return Phase.PAUSED
        return entry


def shuffle_key(seed: int, token_id: TokenId) -> str:
    """Where a pre-queued token falls in the order drawn at the opening: tokens are
    sorted by this key (ascending). A hash of the seed drawn at the opening and the
    token's id, so the order is uniformly random, fixed by the seed, and the same in
    every store (the Redis script ``open.lua`` computes the same SHA-1)."""
    return hashlib.sha1(f"{seed}:".encode() + token_id.bytes).hexdigest()


PREQUEUE_POLL_SPREAD_SECONDS = 6
"""Pre-queued fans poll again within this many seconds after the opening, each at
its own offset, so the opening does not bring the whole pre-queue at one instant."""


def prequeue_poll_after(
    now: dt.datetime,
    opens_at: dt.datetime | None,
    token_id: TokenId,
    *,
    idle_timeout: dt.timedelta,
) -> int:
    """Seconds until a pre-queued fan should poll: just after the opening, offset by
    the token (0 to 5 s), never more than a third of the idle timeout."""
    ceiling = max(1, int(idle_timeout.total_seconds() // 3))
    until_open = 0.0 if opens_at is None else (opens_at - now).total_seconds()
    offset = token_id.int % PREQUEUE_POLL_SPREAD_SECONDS
    return max(1, min(ceiling, math.ceil(max(until_open, 0.0)) + offset))
