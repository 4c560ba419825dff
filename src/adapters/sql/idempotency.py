"""First results of keyed requests, in the SQL database."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any
from uuid import UUID

from sqlalchemy import delete, select, update
from sqlalchemy.ext.asyncio import AsyncEngine

from adapters.sql import tables as t
from adapters.sql.transactions import retrying_insert_races, transaction
from concert_core.domain import ClaimVerdict, HeldKey, judge_claim
from concert_core.policy import Policy
from concert_core.ports import IdempotencyKey, JsonValue

_k = t.idempotency_keys.c


def _is(key: IdempotencyKey) -> Any:
    return (_k.user_id == key.user_id) & (_k.operation == key.operation) & (_k.key == key.key)


class SqlIdempotencyStore:
    """One row per (user, operation, key), claimed by one run at a time, by the rule of
    ``judge_claim``.

    A key is kept for the policy's retention after its request started (plus the
    lease); an older row is taken over by the next request with that key as if new.
    """

    def __init__(self, engine: AsyncEngine, policy: Policy) -> None:
        self._engine = engine
        self._lease = policy.idempotency_lease
        self._kept_for = policy.idempotency_retention + policy.idempotency_lease

    async def begin(
        self, key: IdempotencyKey, fingerprint: str, claim_id: UUID, now: dt.datetime
    ) -> Mapping[str, JsonValue] | None:
        # A concurrent request may insert the key between this one's read and insert.
        return await retrying_insert_races(lambda: self._begin(key, fingerprint, claim_id, now))

    async def _begin(
        self, key: IdempotencyKey, fingerprint: str, claim_id: UUID, now: dt.datetime
    ) -> Mapping[str, JsonValue] | None:
        async with transaction(self._engine) as c:
            row = (
                await c.execute(select(t.idempotency_keys).where(_is(key)).with_for_update())
            ).first()
            held = None
            if row is not None:
                held = HeldKey(row.fingerprint, row.started_at, finished=row.result is not None)
            verdict = judge_claim(
                held, fingerprint, now, lease=self._lease, kept_for=self._kept_for
            )
            if verdict is ClaimVerdict.RESULT:
                assert row is not None
                result: dict[str, JsonValue] = row.result
                return result
            claim = {"fingerprint": fingerprint, "claim_id": claim_id, "started_at": now}
            if row is None:
                await c.execute(
                    t.idempotency_keys.insert().values(
                        user_id=key.user_id, operation=key.operation, key=key.key, **claim
                    )
                )
            else:  # kept past its time, or its first run died (its lease ran out)
                await c.execute(
                    update(t.idempotency_keys).where(_is(key)).values(**claim, result=None)
                )
            return None

    async def complete(
        self,
        key: IdempotencyKey,
        claim_id: UUID,
        result: Mapping[str, JsonValue],
        now: dt.datetime,
    ) -> None:
        async with transaction(self._engine) as c:
            await c.execute(
                update(t.idempotency_keys)
                .where(_is(key), _k.claim_id == claim_id, _k.result.is_(None))
                .values(result=dict(result))
            )

    async def abandon(self, key: IdempotencyKey, claim_id: UUID) -> None:
        async with transaction(self._engine) as c:
            await c.execute(
                delete(t.idempotency_keys).where(
                    _is(key), _k.claim_id == claim_id, _k.result.is_(None)
                )
            )
