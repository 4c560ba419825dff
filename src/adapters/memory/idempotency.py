"""First results of keyed requests, in memory."""

from __future__ import annotations

import copy
import datetime as dt
from collections.abc import Mapping
from uuid import UUID

from attrs import define

from concert_core.domain import IdempotencyInProgressError, IdempotencyKeyReusedError
from concert_core.policy import Policy
from concert_core.ports import IdempotencyKey, JsonValue


@define
class _Claim:
    fingerprint: str
    claim_id: UUID
    started_at: dt.datetime
    result: dict[str, JsonValue] | None = None


class MemoryIdempotencyStore:
    """Keys live for the policy's retention after their request started, plus the lease.

    Claims are kept in the order they were made, so expiry pops from the front.
    """

    def __init__(self, policy: Policy) -> None:
        self._policy = policy
        self._claims: dict[IdempotencyKey, _Claim] = {}

    def _forget_old(self, now: dt.datetime) -> None:
        keep_for = self._policy.idempotency_retention + self._policy.idempotency_lease
        while self._claims:
            key, claim = next(iter(self._claims.items()))
            if now - claim.started_at <= keep_for:
                return
            del self._claims[key]

    async def begin(
        self, key: IdempotencyKey, fingerprint: str, claim_id: UUID, now: dt.datetime
    ) -> Mapping[str, JsonValue] | None:
        self._forget_old(now)
        claim = self._claims.get(key)
        if claim is not None:
            if claim.fingerprint != fingerprint:
                raise IdempotencyKeyReusedError(
                    "this Idempotency-Key was first used with a different request"
                )
            if claim.result is not None:
                return copy.deepcopy(claim.result)
            if now - claim.started_at < self._policy.idempotency_lease:
                raise IdempotencyInProgressError(
                    "a request with this Idempotency-Key is still running"
                )
            del self._claims[key]  # the first run died; this one takes over
        self._claims[key] = _Claim(fingerprint, claim_id, now)
        return None

    def _held_by(self, key: IdempotencyKey, claim_id: UUID) -> _Claim | None:
        claim = self._claims.get(key)
        if claim is None or claim.claim_id != claim_id or claim.result is not None:
            return None
        return claim

    async def complete(
        self,
        key: IdempotencyKey,
        claim_id: UUID,
        result: Mapping[str, JsonValue],
        now: dt.datetime,
    ) -> None:
        if claim := self._held_by(key, claim_id):
            claim.result = copy.deepcopy(dict(result))

    async def abandon(self, key: IdempotencyKey, claim_id: UUID) -> None:
        if self._held_by(key, claim_id):
            del self._claims[key]
