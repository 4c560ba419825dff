"""The waiting room in the SQL database: the embedded deployment needs no Redis.

Order comes from ``queue_tokens.sequence``, an identity (PostgreSQL) or
autoincrement (SQLite) column: the database's, shared by every instance, never a
clock. Each method is one transaction. In PostgreSQL, issuing takes a shared advisory
lock on the concert and admitting an exclusive one, so no admission can commit while a
sequence number drawn before it is still uncommitted (it would be passed by); tokens
are locked ``FOR UPDATE`` before they change. SQLite's one write lock
(``BEGIN IMMEDIATE``) serialises them all.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import Row, delete, func, select, update
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from adapters.sql import tables as t
from adapters.sql.dialect import advisory_lock
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

_q = t.queue_tokens.c
_LIVE = (TokenStatus.WAITING.value, TokenStatus.ACTIVE.value)
_CHUNK = 5_000
"""Rows per ``IN (...)`` list: drivers cap bind parameters (asyncpg at 32,767)."""


def _token(row: Row[Any]) -> QueueToken:
    return QueueToken(
        token_id=TokenId(row.token_id),
        user_id=UserId(row.user_id),
        concert_id=ConcertId(row.concert_id),
        sequence=row.sequence,
        status=TokenStatus(row.status),
        issued_at=row.issued_at,
        last_seen_at=row.last_seen_at,
        active_until=row.active_until,
    )


class SqlQueueStore:
    def __init__(self, engine: AsyncEngine, policy: Policy) -> None:
        self._engine = engine
        self._policy = policy

    # -- helpers (inside one transaction) --------------------------------------------

    async def _find(
        self, c: AsyncConnection, concert_id: ConcertId, token_id: TokenId
    ) -> QueueToken | None:
        row = (
            await c.execute(
                select(t.queue_tokens)
                .where(_q.token_id == token_id, _q.concert_id == concert_id)
                .with_for_update()
            )
        ).first()
        return _token(row) if row else None

    async def _end(self, c: AsyncConnection, token: QueueToken) -> bool:
        """Mark a live token EXPIRED if it is still as read; report whether it was."""
        result = await c.execute(
            update(t.queue_tokens)
            .where(_q.sequence == token.sequence, _q.status == token.status.value)
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
            .where(_q.sequence == token.sequence, _q.last_seen_at < now)
            .values(last_seen_at=now)
        )

    async def _place(
        self, c: AsyncConnection, token: QueueToken, status: TokenStatus, now: dt.datetime
    ) -> QueuePlace:
        position = None
        if status is TokenStatus.WAITING:
            ahead = (
                await c.execute(
                    select(func.count())
                    .select_from(t.queue_tokens)
                    .where(
                        _q.concert_id == token.concert_id,
                        _q.status == TokenStatus.WAITING.value,
                        _q.sequence < token.sequence,
                    )
                )
            ).scalar_one()
            position = ahead + 1
        return QueuePlace(token, status, position, await self._rate(c, token.concert_id, now))

    async def _rate(self, c: AsyncConnection, concert_id: ConcertId, now: dt.datetime) -> float:
        window = self._policy.admission_rate_window
        a = t.queue_admissions.c
        admitted = (
            await c.execute(
                select(func.coalesce(func.sum(a.admitted), 0)).where(
                    a.concert_id == concert_id, a.at >= now - window
                )
            )
        ).scalar_one()
        return float(admitted) / window.total_seconds()

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
                    .where(
                        _q.concert_id == concert_id,
                        _q.user_id == user_id,
                        _q.status.in_(_LIVE),
                    )
                    .with_for_update()
                )
            ).first()
            if row is not None:
                existing = _token(row)
                status = await self._settle(c, existing, now)
                if status is not TokenStatus.EXPIRED:
                    if status is TokenStatus.WAITING:
                        await self._see(c, existing, now)
                    place = await self._place(c, existing, status, now)
                    return IssueOutcome(place, created=False)
            sequence = (
                await c.execute(
                    t.queue_tokens.insert()
                    .values(
                        token_id=token_id,
                        user_id=user_id,
                        concert_id=concert_id,
                        status=TokenStatus.WAITING.value,
                        issued_at=now,
                        last_seen_at=now,
                    )
                    .returning(_q.sequence)
                )
            ).scalar_one()
            token = QueueToken.issue(token_id, user_id, concert_id, sequence, now)
            place = await self._place(c, token, TokenStatus.WAITING, now)
            return IssueOutcome(place, created=True)

    async def look(
        self, concert_id: ConcertId, token_id: TokenId, now: dt.datetime
    ) -> QueuePlace | None:
        async with transaction(self._engine) as c:
            row = (
                await c.execute(
                    select(t.queue_tokens).where(
                        _q.token_id == token_id, _q.concert_id == concert_id
                    )
                )
            ).first()
            if row is None:
                return None
            token = _token(row)
            return await self._place(c, token, token.status_at(now, self._policy.idle_timeout), now)

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
            await c.execute(
                update(t.queue_tokens)
                .where(
                    _q.sequence == token.sequence,
                    _q.status == TokenStatus.ACTIVE.value,
                    _q.active_until < until,
                )
                .values(active_until=until)
            )
            return True

    async def _lapsed(
        self, c: AsyncConnection, concert_id: ConcertId, now: dt.datetime, limit: int | None
    ) -> list[QueueToken]:
        """End ACTIVE tokens past their time, then idle WAITING ones (up to ``limit``);
        return them as they were."""
        idle_since = now - self._policy.idle_timeout
        ended: list[QueueToken] = []
        for status, lapsed in (
            (TokenStatus.ACTIVE, _q.active_until <= now),
            (TokenStatus.WAITING, _q.last_seen_at <= idle_since),
        ):
            room = None if limit is None else limit - len(ended)
            if room is not None and room <= 0:
                break
            query = (
                select(t.queue_tokens)
                .where(_q.concert_id == concert_id, _q.status == status.value, lapsed)
                .order_by(_q.sequence)
                .limit(room)
                .with_for_update()
            )
            tokens = [_token(row) for row in await c.execute(query)]
            for start in range(0, len(tokens), _CHUNK):
                chunk = [x.sequence for x in tokens[start : start + _CHUNK]]
                await c.execute(
                    update(t.queue_tokens)
                    .where(_q.sequence.in_(chunk), _q.status == status.value)
                    .values(status=TokenStatus.EXPIRED.value)
                )
            ended.extend(tokens)
        return ended

    async def admit(self, concert_id: ConcertId, now: dt.datetime) -> list[QueueToken]:
        async with transaction(self._engine) as c:
            await advisory_lock(c, concert_id)
            await self._lapsed(c, concert_id, now, None)
            active = (
                await c.execute(
                    select(func.count())
                    .select_from(t.queue_tokens)
                    .where(_q.concert_id == concert_id, _q.status == TokenStatus.ACTIVE.value)
                )
            ).scalar_one()
            free = self._policy.active_capacity - active
            if free <= 0:
                return []
            rows = await c.execute(
                select(t.queue_tokens)
                .where(_q.concert_id == concert_id, _q.status == TokenStatus.WAITING.value)
                .order_by(_q.sequence)
                .limit(free)
                .with_for_update()
            )
            admitted = [_token(row) for row in rows]
            if not admitted:
                return []
            until = now + self._policy.active_ttl
            await c.execute(
                update(t.queue_tokens)
                .where(
                    _q.sequence.in_([x.sequence for x in admitted]),
                    _q.status == TokenStatus.WAITING.value,
                )
                .values(status=TokenStatus.ACTIVE.value, active_until=until)
            )
            for token in admitted:
                token.admit(now, self._policy.active_ttl)
            a = t.queue_admissions.c
            await c.execute(
                t.queue_admissions.insert().values(
                    concert_id=concert_id, at=now, admitted=len(admitted)
                )
            )
            await c.execute(
                delete(t.queue_admissions).where(
                    a.concert_id == concert_id, a.at < now - self._policy.admission_rate_window
                )
            )
            return admitted

    async def expire_lapsed(
        self, concert_id: ConcertId, now: dt.datetime, limit: int
    ) -> list[QueueToken]:
        async with transaction(self._engine) as c:
            await advisory_lock(c, concert_id)  # one order of token locks with `admit`
            return await self._lapsed(c, concert_id, now, limit)

    async def stats(self, concert_id: ConcertId, now: dt.datetime) -> QueueStats:
        async with transaction(self._engine) as c:

            async def count(*where: Any) -> int:
                query = select(func.count()).select_from(t.queue_tokens)
                return int(
                    (await c.execute(query.where(_q.concert_id == concert_id, *where))).scalar_one()
                )

            waiting = await count(
                _q.status == TokenStatus.WAITING.value,
                _q.last_seen_at > now - self._policy.idle_timeout,
            )
            active = await count(_q.status == TokenStatus.ACTIVE.value, _q.active_until > now)
            return QueueStats(concert_id, waiting, active)
