"""Queue token rows as the SQL queue store reads and judges them: a row read as a
token, the conditions that say a stored token is live or lapsed at an instant (those
of ``QueueToken.status_at``), ending tokens, and counting admissions."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

from sqlalchemy import Row, and_, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from adapters.sql import tables as t
from concert_core.domain import ConcertId, QueueToken, TokenId, TokenStatus, UserId

q = t.queue_tokens.c
"""The columns of ``queue_tokens``."""
WAITING = TokenStatus.WAITING.value
ACTIVE = TokenStatus.ACTIVE.value
EXPIRED = TokenStatus.EXPIRED.value
LIVE = (WAITING, ACTIVE)

CHUNK = 5_000
"""Rows per ``IN (...)`` list: drivers cap bind parameters (asyncpg at 32,767)."""


def token_of(row: Row[Any]) -> QueueToken:
    return QueueToken(
        token_id=TokenId(row.token_id),
        user_id=UserId(row.user_id),
        concert_id=ConcertId(row.concert_id),
        sequence=row.sequence,
        status=TokenStatus(row.status),
        issued_at=row.issued_at,
        last_seen_at=row.last_seen_at,
        active_until=row.active_until,
        held_until=row.held_until,
    )


def active_lapsed(now: dt.datetime) -> Any:
    """Stored ACTIVE, but past both its base end and its holds' end at ``now``."""
    return and_(
        q.status == ACTIVE,
        q.active_until <= now,
        or_(q.held_until.is_(None), q.held_until <= now),
    )


def active_live(now: dt.datetime) -> Any:
    """ACTIVE at ``now``: before its base end or its holds' end, whichever is later."""
    return and_(q.status == ACTIVE, or_(q.active_until > now, q.held_until > now))


def waiting_idle(now: dt.datetime, idle_timeout: dt.timedelta) -> Any:
    """Stored WAITING, but not seen for the idle timeout at ``now``."""
    return and_(q.status == WAITING, q.last_seen_at <= now - idle_timeout)


def waiting_live(now: dt.datetime, idle_timeout: dt.timedelta) -> Any:
    return and_(q.status == WAITING, q.last_seen_at > now - idle_timeout)


async def end_all(c: AsyncConnection, sequences: Sequence[int], status: str) -> None:
    """Mark the tokens EXPIRED that are still stored with ``status``."""
    for start in range(0, len(sequences), CHUNK):
        await c.execute(
            update(t.queue_tokens)
            .where(q.sequence.in_(sequences[start : start + CHUNK]), q.status == status)
            .values(status=EXPIRED)
        )


async def admitted_since(c: AsyncConnection, concert_id: ConcertId, since: dt.datetime) -> int:
    """Tokens of the concert admitted after ``since`` (within the records kept)."""
    a = t.queue_admissions.c
    admitted = await c.scalar(
        select(func.coalesce(func.sum(a.admitted), 0)).where(
            a.concert_id == concert_id, a.at > since
        )
    )
    return int(admitted or 0)
