"""What a keyed request finds when it claims its key: the one rule every idempotency
store applies (the Redis script ``idempotency_begin.lua`` mirrors it line for line; the
contract suite holds every store to it)."""

from __future__ import annotations

import datetime as dt
import enum

from attrs import frozen

from concert_core.domain.errors import IdempotencyInProgressError, IdempotencyKeyReusedError


class ClaimVerdict(enum.Enum):
    CLAIM = "claim"
    """Nobody holds the key (or its holder's time is over): this request runs."""
    RESULT = "result"
    """The first request finished: its result is the answer."""


@frozen
class HeldKey:
    """What storage holds for a key: the first request's fingerprint, when it started,
    and whether its result is kept."""

    fingerprint: str
    started_at: dt.datetime
    finished: bool


def judge_claim(
    held: HeldKey | None,
    fingerprint: str,
    now: dt.datetime,
    *,
    lease: dt.timedelta,
    kept_for: dt.timedelta,
) -> ClaimVerdict:
    """Judge a claim on a key at ``now``.

    - nothing held, or held longer than ``kept_for`` (retention + lease): CLAIM, as new;
    - held for another request body: IdempotencyKeyReusedError;
    - held with a result: RESULT;
    - held, running, within its ``lease``: IdempotencyInProgressError;
    - held, running, lease over (the first run died): CLAIM, taking over.
    """
    if held is None or now - held.started_at > kept_for:
        return ClaimVerdict.CLAIM
    if held.fingerprint != fingerprint:
        raise IdempotencyKeyReusedError()
    if held.finished:
        return ClaimVerdict.RESULT
    if now - held.started_at < lease:
        raise IdempotencyInProgressError()
    return ClaimVerdict.CLAIM
