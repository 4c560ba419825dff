"""The wire between Python and the scripts: times as integers, tokens packed in bytes,
and the queue scripts' replies read back as domain values.

Every time a script is given is an integer number of microseconds (since the epoch for
an instant), exact in Lua's doubles until the year 2255; key TTLs go in milliseconds.
"""

from __future__ import annotations

import datetime as dt
import logging
import struct
from collections.abc import Sequence
from typing import Any
from uuid import UUID

from redis import exceptions as redis_errors

from adapters.redis.errors import unavailable
from concert_core.domain import ConcertId, QueuePlace, QueueToken, TokenId, TokenStatus, UserId

_log = logging.getLogger(__name__)

EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
_MICROSECOND = dt.timedelta(microseconds=1)
_MILLISECOND = dt.timedelta(milliseconds=1)

_STATUS = {b"W": TokenStatus.WAITING, b"A": TokenStatus.ACTIVE, b"E": TokenStatus.EXPIRED}


def microseconds(instant: dt.datetime) -> int:
    """``instant`` as whole microseconds since the epoch."""
    return (instant - EPOCH) // _MICROSECOND


def microseconds_in(duration: dt.timedelta) -> int:
    """``duration`` in whole microseconds."""
    return duration // _MICROSECOND


def milliseconds_rounded_up(duration: dt.timedelta) -> int:
    """``duration`` in milliseconds, rounded up (a TTL never falls short)."""
    return -(-duration // _MILLISECOND)


def _instant(us: float) -> dt.datetime:
    return EPOCH + dt.timedelta(microseconds=int(us))


_RECORD = struct.Struct(">16s16sIcdddd")
"""A token's record (``encode`` in ``scripts/queue_common.lua``): token id, user id,
seq, status, issued_at, last_seen_at, active_until, held_until (0: none)."""


def token_from_row(concert_id: ConcertId, row: bytes) -> QueueToken:
    """A token from a script's row: its packed record."""
    token_id, user_id, seq, status, issued, seen, until, held = _RECORD.unpack(row)
    return QueueToken(
        token_id=TokenId(UUID(bytes=token_id)),
        user_id=UserId(UUID(bytes=user_id)),
        concert_id=concert_id,
        sequence=seq,
        status=_STATUS[status],
        issued_at=_instant(issued),
        last_seen_at=_instant(seen),
        active_until=_instant(until) if until else None,
        held_until=_instant(held) if held else None,
    )


def place_from_reply(
    concert_id: ConcertId, reply: Sequence[Any], window: dt.timedelta
) -> QueuePlace:
    """A place from ``[row, status, position, admitted]``; ``window`` is the admission
    rate's (``admitted`` were let in within it)."""
    row, status, position, admitted = reply
    return QueuePlace(
        token_from_row(concert_id, row),
        _STATUS[status],
        position if position > 0 else None,
        admitted / window.total_seconds(),
    )


def each_item(replies: Sequence[Any]) -> list[Any]:
    """A shared call's replies, one per item; an item the script failed on becomes
    that caller's ServiceUnavailableError (logged, as any script error is)."""
    items: list[Any] = []
    for reply in replies:
        if isinstance(reply, redis_errors.ResponseError):
            _log.error("a queue script failed on one item: %s", reply)
            items.append(unavailable(reply))
        else:
            items.append(reply)
    return items
