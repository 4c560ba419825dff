"""The waiting room: queue tokens and the rules of their life.

A token moves WAITING -> ACTIVE -> EXPIRED. Its state is judged at an instant:
an ACTIVE token past ``active_until`` and a WAITING token that has not been seen
for the idle timeout are EXPIRED at once, whether or not a sweeper has run.
"""

from __future__ import annotations

import datetime as dt
import enum
import math

from attrs import define, frozen

from concert_core.domain.errors import TokenNotActiveError
from concert_core.domain.values import ConcertId, TokenId, UserId


class TokenStatus(enum.StrEnum):
    WAITING = "WAITING"
    ACTIVE = "ACTIVE"
    EXPIRED = "EXPIRED"


@frozen
class TokenClaims:
    """What a signed token string carries; the token's state lives in the queue store."""

    token_id: TokenId
    user_id: UserId
    concert_id: ConcertId
    sequence: int


@define
class QueueToken:
    token_id: TokenId
    user_id: UserId
    concert_id: ConcertId
    sequence: int
    """The global issue sequence number: the one source of queue order."""
    status: TokenStatus
    issued_at: dt.datetime
    last_seen_at: dt.datetime
    active_until: dt.datetime | None = None
    """The turn's base end: admission plus the active TTL."""
    held_until: dt.datetime | None = None
    """How long the token's live holds keep it past its base end (the latest hold's
    expiry), or None: a hold extends a turn only as long as the hold lasts."""

    @classmethod
    def issue(
        cls,
        token_id: TokenId,
        user_id: UserId,
        concert_id: ConcertId,
        sequence: int,
        now: dt.datetime,
    ) -> QueueToken:
        return cls(token_id, user_id, concert_id, sequence, TokenStatus.WAITING, now, now)

    @property
    def claims(self) -> TokenClaims:
        return TokenClaims(self.token_id, self.user_id, self.concert_id, self.sequence)

    def status_at(self, now: dt.datetime, idle_timeout: dt.timedelta) -> TokenStatus:
        """The token's state at ``now``, lapses included."""
        if self.status is TokenStatus.ACTIVE:
            return TokenStatus.ACTIVE if now < self.ends_at else TokenStatus.EXPIRED
        if self.status is TokenStatus.WAITING:
            idle = now - self.last_seen_at >= idle_timeout
            return TokenStatus.EXPIRED if idle else TokenStatus.WAITING
        return TokenStatus.EXPIRED

    def is_live(self, now: dt.datetime, idle_timeout: dt.timedelta) -> bool:
        return self.status_at(now, idle_timeout) is not TokenStatus.EXPIRED

    def see(self, now: dt.datetime) -> None:
        """Record a poll: it keeps a WAITING token's place."""
        self.last_seen_at = max(self.last_seen_at, now)

    def admit(self, now: dt.datetime, active_ttl: dt.timedelta) -> None:
        if self.status is not TokenStatus.WAITING:
            raise TokenNotActiveError(
                "only a waiting token can be admitted", token_status=self.status, position=None
            )
        self.status = TokenStatus.ACTIVE
        self.active_until = now + active_ttl

    @property
    def ends_at(self) -> dt.datetime:
        """When an ACTIVE token's turn ends: its base end, or its holds' if later."""
        assert self.active_until is not None, "only an admitted token has a turn"
        if self.held_until is None:
            return self.active_until
        return max(self.active_until, self.held_until)

    def may_hold_at(self, now: dt.datetime) -> bool:
        """Whether the turn may take a new hold: ACTIVE and before its base end. After
        it, a turn lives only to pay for or release what it holds."""
        return (
            self.status is TokenStatus.ACTIVE
            and self.active_until is not None
            and (now < self.active_until)
        )

    def extend_for_hold(self, until: dt.datetime, now: dt.datetime) -> None:
        """Keep the turn alive at least until ``until`` (a new hold's expiry)."""
        if not self.may_hold_at(now):
            raise TokenNotActiveError(
                "the turn takes no new holds", token_status=self.status, position=None
            )
        self.held_until = until if self.held_until is None else max(self.held_until, until)

    def retract_hold(self, ended_until: dt.datetime, remaining_until: dt.datetime | None) -> None:
        """A hold that reached to ``ended_until`` was released: the turn is kept only by
        the holds that remain (the latest of them ends at ``remaining_until``). A later
        extension (a hold made meanwhile) stands."""
        if self.held_until is not None and self.held_until <= ended_until:
            self.held_until = remaining_until

    def expire(self) -> None:
        self.status = TokenStatus.EXPIRED


@frozen
class Settlement:
    """A token judged at an instant: what a store must do about it."""

    status: TokenStatus
    """Its state at the instant, lapses included."""
    lapsed: bool
    """Stored WAITING or ACTIVE but EXPIRED at the instant: the store ends it now."""


def settle(token: QueueToken, now: dt.datetime, idle_timeout: dt.timedelta) -> Settlement:
    """Apply time to a stored token: the rule every queue store settles a token by
    before acting on it (``settle`` in the Redis scripts' ``queue_common.lua`` mirrors
    it)."""
    status = token.status_at(now, idle_timeout)
    lapsed = status is TokenStatus.EXPIRED and token.status is not TokenStatus.EXPIRED
    return Settlement(status, lapsed)


@frozen
class QueuePlace:
    """A token as seen at an instant, with its place in line while WAITING."""

    token: QueueToken
    status: TokenStatus
    position: int | None
    admission_rate: float = 0.0
    """Tokens admitted per second to this concert, observed over the policy's window:
    read in the same store operation, so a poll costs one round trip."""


@frozen
class QueueStats:
    concert_id: ConcertId
    waiting: int
    active: int
    admitted_last_minute: int = 0
    shuffle_seed: int | None = None
    """The seed the line was shuffled with at its opening; None before it opened."""


@frozen
class IssueOutcome:
    place: QueuePlace
    created: bool


def estimated_wait_seconds(
    position: int,
    admissions_per_second: float,
    *,
    active_ttl: dt.timedelta,
    capacity: int,
) -> int:
    """Seconds until admission: from the observed admission rate, else from the TTL.

    With no admissions observed recently, every active place frees at worst once per
    active TTL, so ``position * ttl / capacity`` bounds the wait.
    """
    if admissions_per_second > 0:
        return math.ceil(position / admissions_per_second)
    return math.ceil(position * active_ttl.total_seconds() / max(capacity, 1))


FRONT_PLACES = 1_000
"""The front of the line: these places keep the square-root curve (1 s to the 100th,
at most 4 s), whatever the estimated wait says, so that the next admissions are seen
soon even when the observed rate lags a burst (a sale's opening)."""
WAIT_SHARE = 3
"""Beyond the front, a fan polls at least every ``1 / WAIT_SHARE`` of its estimated
wait (observed rate): its estimate is refreshed each time a third of it has passed,
and more often as its turn nears (decision 23)."""


def poll_after_seconds(
    status: TokenStatus,
    position: int | None,
    estimated_wait: int | None,
    *,
    idle_timeout: dt.timedelta,
    admissions_per_second: float = 0.0,
) -> int:
    """How long a client should wait before polling again.

    Grows with the position: the larger of the square root of the position over ten
    (1 s near the front, about 10 s at 10,000th) and, beyond the first
    ``FRONT_PLACES`` and once admissions are observed, a third of the wait they predict
    (``position / admissions_per_second``), so a fan an hour from its turn is not asked
    every 20 s. Never past the expected wait, so a fan about to be admitted polls soon;
    never more than a third of the idle timeout, so a client following the hint keeps
    its place.
    """
    ceiling = max(1, int(idle_timeout.total_seconds() // 3))
    if status is TokenStatus.WAITING and position is not None:
        hint = max(1, math.ceil(math.sqrt(position) / 10))
        if position > FRONT_PLACES and admissions_per_second > 0:
            wait = position / admissions_per_second
            hint = max(hint, math.ceil(wait / WAIT_SHARE))
        if estimated_wait is not None:
            hint = min(hint, max(1, estimated_wait))
        return min(hint, ceiling)
    # An ACTIVE or EXPIRED token has no place to keep; a slow hint saves requests.
    return min(30, ceiling)
