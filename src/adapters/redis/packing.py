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


def token_from_row(concert_id: ConcertId, row: bytes) -> QueueToken:
    """A token from a script's row: token id (16 bytes) and the packed token (see
    ``encode`` in ``scripts/queue_common.lua``)."""
    seq, issued, seen = struct.unpack_from(">ddd", row, 32)
    until = struct.unpack_from(">d", row, 57)[0] if len(row) > 57 else None
    held = struct.unpack_from(">d", row, 65)[0] if len(row) > 65 else None
    return QueueToken(
        token_id=TokenId(UUID(bytes=row[:16])),
        user_id=UserId(UUID(bytes=row[16:32])),
        concert_id=concert_id,
        sequence=int(seq),
        status=_STATUS[row[56:57]],
        issued_at=_instant(issued),
        last_seen_at=_instant(seen),
        active_until=None if until is None else _instant(until),
        held_until=None if held is None else _instant(held),
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
