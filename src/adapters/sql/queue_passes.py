"""The SQL queue store's passes over a concert's whole line: ending lapsed tokens, the
opening's shuffle, an admission pass, and ending the waiting room of a sale that ended.

Each runs inside the caller's transaction, after the caller took the concert's
exclusive lock (``advisory_lock`` on PostgreSQL; SQLite's write lock), so passes of
every process take their turns, and no token issued before a pass is still
uncommitted while it runs.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import bindparam, delete, func, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from adapters.sql import postgres
from adapters.sql import tables as t
from adapters.sql.engine import is_postgres
from adapters.sql.queue_rows import (
    ACTIVE,
    WAITING,
    active_lapsed,
    admitted_since,
    end_all,
    q,
    token_of,
    waiting_idle,
)
from concert_core.domain import ConcertId, QueueToken, TokenId
from concert_core.domain.sale import shuffle_key
from concert_core.policy import Policy

MINUTE = dt.timedelta(minutes=1)
"""The window a sale's admission rate is counted over."""


async def end_lapsed(
    c: AsyncConnection, concert_id: ConcertId, now: dt.datetime, policy: Policy, limit: int | None
) -> list[QueueToken]:
    """End ACTIVE tokens past their time, then idle WAITING ones (up to ``limit``);
    return them as they were."""
    ended: list[QueueToken] = []
    for status, lapsed in (
        (ACTIVE, active_lapsed(now)),
        (WAITING, waiting_idle(now, policy.idle_timeout)),
    ):
        room = None if limit is None else limit - len(ended)
        if room is not None and room <= 0:
            break
        ended += await _end_where(c, concert_id, lapsed, room, status)
    return ended


async def _end_where(
    c: AsyncConnection, concert_id: ConcertId, condition: Any, limit: int | None, status: str
) -> list[QueueToken]:
    query = (
        select(t.queue_tokens)
        .where(q.concert_id == concert_id, condition)
        .order_by(q.sequence)
        .limit(limit)
        .with_for_update()
    )
    tokens = [token_of(row) for row in await c.execute(query)]
    await end_all(c, [x.sequence for x in tokens], status)
    return tokens


async def opened_seed(c: AsyncConnection, concert_id: ConcertId) -> int | None:
    """The seed the concert's line was opened with; None before its opening."""
    o = t.queue_openings.c
    seed = await c.scalar(select(o.seed).where(o.concert_id == concert_id))
    return None if seed is None else int(seed)


async def open_line(
    c: AsyncConnection, concert_id: ConcertId, seed: int, now: dt.datetime, policy: Policy
) -> int:
    """Open the line once: the idle leave it, and the live WAITING tokens (the
    pre-queue) are dealt the slots they hold, ascending, in the order of
    ``shuffle_key(seed, token_id)``. Returns the seed the line was opened with."""
    earlier = await opened_seed(c, concert_id)
    if earlier is not None:
        return earlier
    await _end_where(c, concert_id, waiting_idle(now, policy.idle_timeout), None, WAITING)
    rows = (
        await c.execute(
            select(q.sequence, q.slot, q.token_id)
            .where(q.concert_id == concert_id, q.status == WAITING)
            .order_by(q.slot)
            .with_for_update()
        )
    ).all()
    shuffled = sorted(rows, key=lambda row: shuffle_key(seed, TokenId(row.token_id)))
    moves = [
        (row.sequence, slot)
        for row, slot in zip(shuffled, (row.slot for row in rows), strict=True)
        if row.slot != slot
    ]
    await _deal(c, moves)
    await c.execute(
        t.queue_openings.insert().values(concert_id=concert_id, seed=seed, opened_at=now)
    )
    return seed


async def _deal(c: AsyncConnection, moves: list[tuple[int, int]]) -> None:
    """Give each token (by sequence) its new slot."""
    if not moves:
        return
    if is_postgres(c):
        sequences, slots = zip(*moves, strict=True)
        await c.execute(postgres.DEAL_SLOTS, {"sequences": sequences, "slots": slots})
        return
    await c.execute(
        update(t.queue_tokens)
        .where(q.sequence == bindparam("moved"))
        .values(slot=bindparam("dealt")),
        [{"moved": sequence, "dealt": slot} for sequence, slot in moves],
    )


async def admit_next(
    c: AsyncConnection,
    concert_id: ConcertId,
    now: dt.datetime,
    policy: Policy,
    *,
    capacity: int | None,
    per_minute: int | None,
    per_pass: int | None,
) -> list[QueueToken]:
    """Fill the free active places with the earliest live WAITING tokens, within the
    capacity, the rate over the last minute and the pass's share; return them."""
    await end_lapsed(c, concert_id, now, policy, None)
    active = await c.scalar(
        select(func.count())
        .select_from(t.queue_tokens)
        .where(q.concert_id == concert_id, q.status == ACTIVE)
    )
    free = (capacity or policy.active_capacity) - int(active or 0)
    if per_minute is not None:
        free = min(free, per_minute - await admitted_since(c, concert_id, now - MINUTE))
    if per_pass is not None:
        free = min(free, per_pass)
    if free <= 0:
        return []
    rows = await c.execute(
        select(t.queue_tokens)
        .where(q.concert_id == concert_id, q.status == WAITING)
        .order_by(q.slot)
        .limit(free)
        .with_for_update()
    )
    admitted = [token_of(row) for row in rows]
    if not admitted:
        return []
    for token in admitted:
        token.admit(now, policy.active_ttl)
    await c.execute(
        update(t.queue_tokens)
        .where(q.sequence.in_([x.sequence for x in admitted]), q.status == WAITING)
        .values(status=ACTIVE, active_until=now + policy.active_ttl, held_until=None)
    )
    await _record_admissions(c, concert_id, now, len(admitted), policy)
    return admitted


async def _record_admissions(
    c: AsyncConnection, concert_id: ConcertId, now: dt.datetime, admitted: int, policy: Policy
) -> None:
    """Count the pass's admissions, and forget those no window looks back to."""
    a = t.queue_admissions.c
    await c.execute(
        t.queue_admissions.insert().values(concert_id=concert_id, at=now, admitted=admitted)
    )
    kept = max(policy.admission_rate_window, MINUTE)
    await c.execute(delete(t.queue_admissions).where(a.concert_id == concert_id, a.at < now - kept))


async def end_waiting(c: AsyncConnection, concert_id: ConcertId, limit: int) -> int:
    """End the first ``limit`` WAITING tokens in line; return how many ended."""
    sequences = list(
        (
            await c.execute(
                select(q.sequence)
                .where(q.concert_id == concert_id, q.status == WAITING)
                .order_by(q.slot)
                .limit(limit)
                .with_for_update()
            )
        ).scalars()
    )
    await end_all(c, sequences, WAITING)
    return len(sequences)
