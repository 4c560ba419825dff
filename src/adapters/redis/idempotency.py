"""First results of keyed requests, in Redis.

One hash per (user, operation, key), named by a digest of the three so that any key a
client sends makes one well-formed key name with a hash tag of its own:
``fp`` (the first request's fingerprint), ``claim`` (the claim id holding it),
``started`` (microseconds since the epoch) and, once completed, ``result`` (JSON).
Each method is one script, so a check and its write are one atomic step. The claim
rule is ``concert_core.domain.idempotency.judge_claim``, which
``scripts/idempotency_begin.lua`` mirrors. Every rule is judged by the caller's ``now``;
the key's TTL (retention + lease + a margin, from each claim) only collects garbage.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Mapping
from typing import Any
from uuid import UUID

import redis.asyncio as aioredis
from redis.commands.core import AsyncScript

from adapters.redis.packing import microseconds, microseconds_in, milliseconds_rounded_up
from adapters.redis.scripts import KEY_TTL_MARGIN, check_client, register_scripts, run_script
from concert_core.domain import IdempotencyInProgressError, IdempotencyKeyReusedError
from concert_core.policy import Policy
from concert_core.ports import IdempotencyKey, JsonValue


class RedisIdempotencyStore:
    """A key is kept for the policy's retention after its request started, plus the lease."""

    def __init__(
        self, client: aioredis.Redis, policy: Policy, *, namespace: str = "concert"
    ) -> None:
        check_client(client)
        self._policy = policy
        self._namespace = namespace
        scripts = register_scripts(
            client, ("idempotency_begin", "idempotency_complete", "idempotency_abandon")
        )
        self._begin = scripts["idempotency_begin"]
        self._complete = scripts["idempotency_complete"]
        self._abandon = scripts["idempotency_abandon"]
        kept_for = policy.idempotency_retention + policy.idempotency_lease
        self._kept_for_us = microseconds_in(kept_for)
        self._key_ttl_ms = milliseconds_rounded_up(kept_for + KEY_TTL_MARGIN)

    def key_name(self, key: IdempotencyKey) -> str:
        scoped = json.dumps([str(key.user_id), key.operation, key.key])
        digest = hashlib.sha256(scoped.encode()).hexdigest()[:32]
        return f"{self._namespace}:{{idem:{digest}}}"

    async def _run(self, script: AsyncScript, key: IdempotencyKey, *args: str | int) -> Any:
        return await run_script(script, [self.key_name(key)], args)

    async def begin(
        self, key: IdempotencyKey, fingerprint: str, claim_id: UUID, now: dt.datetime
    ) -> Mapping[str, JsonValue] | None:
        reply = await self._run(
            self._begin,
            key,
            microseconds(now),
            self._kept_for_us,
            microseconds_in(self._policy.idempotency_lease),
            fingerprint,
            str(claim_id),
            self._key_ttl_ms,
        )
        outcome = reply[0]
        if outcome == b"claimed":
            return None
        if outcome == b"result":
            result: dict[str, JsonValue] = json.loads(reply[1])
            return result
        if outcome == b"reused":
            raise IdempotencyKeyReusedError()
        raise IdempotencyInProgressError()

    async def complete(
        self,
        key: IdempotencyKey,
        claim_id: UUID,
        result: Mapping[str, JsonValue],
        now: dt.datetime,
    ) -> None:
        await self._run(self._complete, key, str(claim_id), json.dumps(dict(result)))

    async def abandon(self, key: IdempotencyKey, claim_id: UUID) -> None:
        await self._run(self._abandon, key, str(claim_id))
