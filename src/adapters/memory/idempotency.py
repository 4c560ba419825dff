"""First results of keyed requests, in memory."""

from __future__ import annotations

import copy
import datetime as dt
from collections.abc import Mapping
from uuid import UUID

from attrs import define

from concert_core.domain import ClaimVerdict, HeldKey, judge_claim
from concert_core.policy import Policy
from concert_core.ports import IdempotencyKey, JsonValue


@define
class _Claim:
    fingerprint: str
    claim_id: UUID
    started_at: dt.datetime
    result: dict[str, JsonValue] | None = None


class MemoryIdempotencyStore:
    """Claims judged by ``judge_claim``. Keys live for the policy's retention after
    their request started, plus the lease.

    Claims are kept in the order they were made, so expiry pops from the front.
    """

    def __init__(self, policy: Policy) -> None:
        self._lease = policy.idempotency_lease
        self._kept_for = policy.idempotency_retention + policy.idempotency_lease
        self._claims: dict[IdempotencyKey, _Claim] = {}

    def _forget_old(self, now: dt.datetime) -> None:
        while self._claims:
            key, claim = next(iter(self._claims.items()))
            if now - claim.started_at <= self._kept_for:
                return
            del self._claims[key]

    async def begin(
        self, key: IdempotencyKey, fingerprint: str, claim_id: UUID, now: dt.datetime
    ) -> Mapping[str, JsonValue] | None:
        self._forget_old(now)
        claim = self._claims.get(key)
        held = None
        if claim is not None:
            held = HeldKey(claim.fingerprint, claim.started_at, finished=claim.result is not None)
        verdict = judge_claim(held, fingerprint, now, lease=self._lease, kept_for=self._kept_for)
        if verdict is ClaimVerdict.RESULT and claim is not None:
            return copy.deepcopy(claim.result)
        self._claims.pop(key, None)  # the first run died; this one takes over (at the back)
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
