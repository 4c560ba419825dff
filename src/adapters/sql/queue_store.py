"""The waiting room in the SQL database: the embedded deployment needs no Redis.

Order comes from ``queue_tokens.sequence``, an identity (PostgreSQL) or
autoincrement (SQLite) column: the database's, shared by every instance, never a
clock. A token's place in line is its ``slot``: its sequence number, except for the
pre-queue, whose slots the opening dealt out again in the shuffled order
(``adapters.sql.queue_passes``). Each method is one transaction. In PostgreSQL,
issuing takes a shared advisory lock on the concert and the passes over the line
(opening, admitting, ending) an exclusive one, so no pass can commit while a sequence
number drawn before it is still uncommitted (it would be passed by, or missed by the
shuffle); tokens are locked ``FOR UPDATE`` before they change. SQLite's one write lock
(``BEGIN IMMEDIATE``) serialises them all.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from adapters.sql import postgres, queue_passes
from adapters.sql import tables as t
from adapters.sql.dialect import advisory_lock
from adapters.sql.engine import is_postgres
from adapters.sql.queue_passes import MINUTE
from adapters.sql.queue_rows import (
    LIVE,
    WAITING,
    active_live,
    admitted_since,
    q,
    token_of,
    waiting_live,
)
from adapters.sql.transactions import retrying_insert_races, transaction
from concert_core.domain import (
    ConcertId,
    IssueOutcome,
    QueuePlace,
    QueueStats,
    QueueToken,
    TokenId,
    TokenStatus,
    UserId,
)
from concert_core.domain.queue import settle
from concert_core.policy import Policy


class SqlQueueStore:
    def __init__(self, engine: AsyncEngine, policy: Policy) -> None:
        self._engine = engine
        self._policy = policy

    # -- helpers (inside one transaction) --------------------------------------------

    async def _find(
        self, c: AsyncConnection, concert_id: ConcertId, token_id: TokenId, *, lock: bool = True
    ) -> QueueToken | None:
        """The token (its row locked, unless ``lock`` is False)."""
        query = select(t.queue_tokens).where(q.token_id == token_id, q.concert_id == concert_id)
        row = (await c.execute(query.with_for_update() if lock else query)).first()
        return token_of(row) if row else None

    async def _end(self, c: AsyncConnection, token: QueueToken) -> bool:
        """Mark a live token EXPIRED if it is still as read; report whether it was."""
        result = await c.execute(
            update(t.queue_tokens)
            .where(q.sequence == token.sequence, q.status == token.status.value)
            .values(status=TokenStatus.EXPIRED.value)
        )
        return bool(result.rowcount == 1)

    async def _settle(self, c: AsyncConnection, token: QueueToken, now: dt.datetime) -> TokenStatus:
        """Apply time: a lapsed token is ended now. Returns its status at ``now``."""
        settled = settle(token, now, self._policy.idle_timeout)
        if settled.lapsed:
            await self._end(c, token)
        return settled.status

    async def _see(self, c: AsyncConnection, token: QueueToken, now: dt.datetime) -> None:
        token.see(now)
        await c.execute(
            update(t.queue_tokens)
            .where(q.sequence == token.sequence, q.last_seen_at < now)
            .values(last_seen_at=now)
        )

    async def _place(
        self, c: AsyncConnection, token: QueueToken, status: TokenStatus, now: dt.datetime
    ) -> QueuePlace:
        position = None
        if status is TokenStatus.WAITING:
            # The token's slot is read in the same statement, so an opening that deals
            # the slots out again is seen whole or not at all.
            slot = select(q.slot).where(q.sequence == token.sequence).scalar_subquery()
            ahead = await c.scalar(
                select(func.count())
                .select_from(t.queue_tokens)
                .where(q.concert_id == token.concert_id, q.status == WAITING, q.slot < slot)
            )
            position = int(ahead or 0) + 1
        return QueuePlace(token, status, position, await self._rate(c, token.concert_id, now))

    async def _rate(self, c: AsyncConnection, concert_id: ConcertId, now: dt.datetime) -> float:
        window = self._policy.admission_rate_window
        return await admitted_since(c, concert_id, now - window) / window.total_seconds()

    async def _insert(
        self,
        c: AsyncConnection,
        user_id: UserId,
        concert_id: ConcertId,
        token_id: TokenId,
        now: dt.datetime,
    ) -> int:
        """A new WAITING token whose slot is its sequence number; returns that number."""
        values = {"token_id": token_id, "user_id": user_id, "concert_id": concert_id}
        if is_postgres(c):
            return int((await c.execute(postgres.ISSUE, values | {"now": now})).scalar_one())
        # SQLite draws the number on insert: the slot is written once it is known.
        inserted = await c.execute(
            t.queue_tokens.insert()
            .values(**values, status=WAITING, issued_at=now, last_seen_at=now, slot=0)
            .returning(q.sequence)
        )
        sequence = int(inserted.scalar_one())
        await c.execute(update(t.queue_tokens).where(q.sequence == sequence).values(slot=sequence))
        return sequence

    # -- the port -------------------------------------------------------------------

    async def issue(
        self, user_id: UserId, concert_id: ConcertId, token_id: TokenId, now: dt.datetime
    ) -> IssueOutcome:
        # Another request of this user's may insert a live token first.
        return await retrying_insert_races(lambda: self._issue(user_id, concert_id, token_id, now))

    async def _issue(
        self, user_id: UserId, concert_id: ConcertId, token_id: TokenId, now: dt.datetime
    ) -> IssueOutcome:
        async with transaction(self._engine) as c:
            await advisory_lock(c, concert_id, shared=True)
            row = (
                await c.execute(
                    select(t.queue_tokens)
                    .where(q.concert_id == concert_id, q.user_id == user_id, q.status.in_(LIVE))
                    .with_for_update()
                )
            ).first()
            if row is not None:
                existing = token_of(row)
                status = await self._settle(c, existing, now)
                if status is not TokenStatus.EXPIRED:
                    if status is TokenStatus.WAITING:
                        await self._see(c, existing, now)
                    place = await self._place(c, existing, status, now)
                    return IssueOutcome(place, created=False)
            sequence = await self._insert(c, user_id, concert_id, token_id, now)
            token = QueueToken.issue(token_id, user_id, concert_id, sequence, now)
            place = await self._place(c, token, TokenStatus.WAITING, now)
            return IssueOutcome(place, created=True)

    async def live_token(
        self, user_id: UserId, concert_id: ConcertId, now: dt.datetime
    ) -> QueueToken | None:
        async with transaction(self._engine) as c:
            row = (
                await c.execute(
                    select(t.queue_tokens).where(
                        q.concert_id == concert_id, q.user_id == user_id, q.status.in_(LIVE)
                    )
                )
            ).first()
        token = None if row is None else token_of(row)
        if token is None or not token.is_live(now, self._policy.idle_timeout):
            return None
        return token

    async def look(
        self, concert_id: ConcertId, token_id: TokenId, now: dt.datetime
    ) -> QueuePlace | None:
        async with transaction(self._engine) as c:
            token = await self._find(c, concert_id, token_id, lock=False)
            if token is None:
                return None
            status = token.status_at(now, self._policy.idle_timeout)
            return await self._place(c, token, status, now)

    async def poll(
        self, concert_id: ConcertId, token_id: TokenId, now: dt.datetime
    ) -> QueuePlace | None:
        async with transaction(self._engine) as c:
            token = await self._find(c, concert_id, token_id)
            if token is None:
                return None
            status = await self._settle(c, token, now)
            if status is TokenStatus.WAITING:
                await self._see(c, token, now)
            return await self._place(c, token, status, now)

    async def expire(
        self, concert_id: ConcertId, token_id: TokenId, now: dt.datetime
    ) -> QueueToken | None:
        async with transaction(self._engine) as c:
            token = await self._find(c, concert_id, token_id)
            if token is None or await self._settle(c, token, now) is TokenStatus.EXPIRED:
                return None
            return token if await self._end(c, token) else None

    async def extend_active(
        self, concert_id: ConcertId, token_id: TokenId, until: dt.datetime, now: dt.datetime
    ) -> bool:
        async with transaction(self._engine) as c:
            token = await self._find(c, concert_id, token_id)
            if token is None or await self._settle(c, token, now) is not TokenStatus.ACTIVE:
                return False
            if not token.may_hold_at(now):
                return False
            token.extend_for_hold(until, now)
            await self._store_held_until(c, token)
            return True

    async def _store_held_until(self, c: AsyncConnection, token: QueueToken) -> None:
        """Write the token's ``held_until`` (its row is locked, still ACTIVE)."""
        await c.execute(
            update(t.queue_tokens)
            .where(q.sequence == token.sequence, q.status == TokenStatus.ACTIVE.value)
            .values(held_until=token.held_until)
        )

    async def retract_hold(
        self,
        concert_id: ConcertId,
        token_id: TokenId,
        ended_until: dt.datetime,
        remaining_until: dt.datetime | None,
        now: dt.datetime,
    ) -> None:
        async with transaction(self._engine) as c:
            token = await self._find(c, concert_id, token_id)
            if token is None or await self._settle(c, token, now) is not TokenStatus.ACTIVE:
                return
            held_until = token.held_until
            token.retract_hold(ended_until, remaining_until)
            if token.held_until != held_until:
                await self._store_held_until(c, token)
            await self._settle(c, token, now)  # past its base end with no hold: it ends

    async def open(self, concert_id: ConcertId, seed: int, now: dt.datetime) -> int:
        async with transaction(self._engine) as c:
            await advisory_lock(c, concert_id)
            return await queue_passes.open_line(c, concert_id, seed, now, self._policy)

    async def admit(
        self,
        concert_id: ConcertId,
        now: dt.datetime,
        *,
        capacity: int | None = None,
        per_minute: int | None = None,
        per_pass: int | None = None,
    ) -> list[QueueToken]:
        async with transaction(self._engine) as c:
            await advisory_lock(c, concert_id)
            return await queue_passes.admit_next(
                c,
                concert_id,
                now,
                self._policy,
                capacity=capacity,
                per_minute=per_minute,
                per_pass=per_pass,
            )

    async def end_waiting(self, concert_id: ConcertId, now: dt.datetime, limit: int) -> int:
        async with transaction(self._engine) as c:
            await advisory_lock(c, concert_id)
            return await queue_passes.end_waiting(c, concert_id, limit)

    async def expire_lapsed(
        self, concert_id: ConcertId, now: dt.datetime, limit: int
    ) -> list[QueueToken]:
        async with transaction(self._engine) as c:
            await advisory_lock(c, concert_id)  # one order of token locks with `admit`
            return await queue_passes.end_lapsed(c, concert_id, now, self._policy, limit)

    async def stats(self, concert_id: ConcertId, now: dt.datetime) -> QueueStats:
        async with transaction(self._engine) as c:

            async def count(condition: Any) -> int:
                query = select(func.count()).select_from(t.queue_tokens)
                return int(await c.scalar(query.where(q.concert_id == concert_id, condition)) or 0)

            return QueueStats(
                concert_id,
                waiting=await count(waiting_live(now, self._policy.idle_timeout)),
                active=await count(active_live(now)),
                admitted_last_minute=await admitted_since(c, concert_id, now - MINUTE),
                shuffle_seed=await queue_passes.opened_seed(c, concert_id),
            )
