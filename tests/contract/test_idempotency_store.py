"""IdempotencyStore: the first result of a keyed request, kept for retries.

The fixture's policy: lease 10 s, retention 24 h (docs/contract.md §3: a key is kept
at least 24 hours).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import uuid

import pytest

from backends import Backend
from concert_core.domain import IdempotencyInProgressError, IdempotencyKeyReusedError
from concert_core.ports import IdempotencyKey, JsonValue
from contract.helpers import T0, at, new_user

RESULT: dict[str, JsonValue] = {
    "payment_id": "6b0f4a8e-0d3c-4c55-9f3e-2a1b7c9d0e11",
    "reservation_ids": ["a", "b"],
    "amount": 10**12,
    "paid": True,
    "note": None,
    "nested": {"balance": 0, "tags": [1, 2.5, "x"]},
}


CLAIM = uuid.UUID(int=1)
"""The claim id of the request under test; a rival's claim is ``RIVAL``."""
RIVAL = uuid.UUID(int=2)


def key(name: str = "k-1", operation: str = "pay") -> IdempotencyKey:
    return IdempotencyKey(new_user(), operation, name)


async def test_the_first_begin_claims_the_key_and_a_second_is_in_progress(
    backend: Backend,
) -> None:
    k = key()
    assert await backend.idempotency.begin(k, "fp", CLAIM, T0) is None
    with pytest.raises(IdempotencyInProgressError):
        await backend.idempotency.begin(k, "fp", CLAIM, at(1))


async def test_after_completion_begin_returns_the_first_result(backend: Backend) -> None:
    k = key()
    await backend.idempotency.begin(k, "fp", CLAIM, T0)
    await backend.idempotency.complete(k, CLAIM, RESULT, at(1))
    assert await backend.idempotency.begin(k, "fp", CLAIM, at(2)) == RESULT
    assert await backend.idempotency.begin(k, "fp", CLAIM, at(3)) == RESULT


@pytest.mark.parametrize("completed", [False, True], ids=["in-progress", "completed"])
async def test_the_same_key_with_another_fingerprint_is_refused(
    backend: Backend, completed: bool
) -> None:
    k = key()
    await backend.idempotency.begin(k, "fp", CLAIM, T0)
    if completed:
        await backend.idempotency.complete(k, CLAIM, RESULT, at(1))
    with pytest.raises(IdempotencyKeyReusedError):
        await backend.idempotency.begin(k, "another", CLAIM, at(2))
    if completed:
        assert await backend.idempotency.begin(k, "fp", CLAIM, at(3)) == RESULT


async def test_keys_are_scoped_by_user_and_by_operation(backend: Backend) -> None:
    first = key("shared", "pay")
    someone_elses = IdempotencyKey(new_user(), first.operation, first.key)
    other_operation = IdempotencyKey(first.user_id, "charge", first.key)
    await backend.idempotency.begin(first, "fp", CLAIM, T0)
    assert await backend.idempotency.begin(other_operation, "other", CLAIM, at(1)) is None
    await backend.idempotency.complete(first, CLAIM, RESULT, at(1))
    assert await backend.idempotency.begin(someone_elses, "other", CLAIM, at(2)) is None
    assert await backend.idempotency.begin(first, "fp", CLAIM, at(2)) == RESULT
    with pytest.raises(IdempotencyInProgressError):
        await backend.idempotency.begin(other_operation, "other", CLAIM, at(2))


async def test_abandoning_frees_the_key_for_any_request(backend: Backend) -> None:
    k = key()
    await backend.idempotency.begin(k, "fp", CLAIM, T0)
    await backend.idempotency.abandon(k, CLAIM)
    assert await backend.idempotency.begin(k, "another", CLAIM, at(1)) is None
    await backend.idempotency.complete(k, CLAIM, RESULT, at(2))
    assert await backend.idempotency.begin(k, "another", CLAIM, at(3)) == RESULT
    # Abandoning a completed key keeps its result.
    await backend.idempotency.abandon(k, CLAIM)
    assert await backend.idempotency.begin(k, "another", CLAIM, at(4)) == RESULT


async def test_a_claim_can_be_taken_over_once_its_lease_has_passed(backend: Backend) -> None:
    k, lease = key(), backend.policy.idempotency_lease
    await backend.idempotency.begin(k, "fp", CLAIM, T0)
    with pytest.raises(IdempotencyInProgressError):
        await backend.idempotency.begin(k, "fp", CLAIM, T0 + lease - dt.timedelta(seconds=1))
    taken_over_at = T0 + lease + dt.timedelta(seconds=1)
    assert await backend.idempotency.begin(k, "fp", CLAIM, taken_over_at) is None
    # The new claim has a lease of its own.
    with pytest.raises(IdempotencyInProgressError):
        await backend.idempotency.begin(k, "fp", CLAIM, taken_over_at + dt.timedelta(seconds=1))


async def test_a_completed_result_is_kept_for_the_retention_time(backend: Backend) -> None:
    k = key()
    await backend.idempotency.begin(k, "fp", CLAIM, T0)
    await backend.idempotency.complete(k, CLAIM, RESULT, at(1))
    retention = backend.policy.idempotency_retention
    kept = [at(1) + dt.timedelta(hours=23), at(1) + retention - dt.timedelta(seconds=1)]
    for now in kept:
        assert await backend.idempotency.begin(k, "fp", CLAIM, now) == RESULT


async def test_a_completed_result_is_gone_after_retention_and_lease(backend: Backend) -> None:
    k, policy = key(), backend.policy
    await backend.idempotency.begin(k, "fp", CLAIM, T0)
    await backend.idempotency.complete(k, CLAIM, RESULT, at(1))
    gone = at(2) + policy.idempotency_retention + policy.idempotency_lease
    assert await backend.idempotency.begin(k, "another", CLAIM, gone) is None


async def test_the_stored_result_is_a_snapshot(backend: Backend) -> None:
    k = key()
    result: dict[str, JsonValue] = {"balance": 1, "list": [1, 2]}
    await backend.idempotency.begin(k, "fp", CLAIM, T0)
    await backend.idempotency.complete(k, CLAIM, result, at(1))
    result["balance"] = 999
    stored = await backend.idempotency.begin(k, "fp", CLAIM, at(2))
    assert stored == {"balance": 1, "list": [1, 2]}
    assert stored is not None
    listed = stored["list"]
    assert isinstance(listed, list)
    listed.append(3)
    assert await backend.idempotency.begin(k, "fp", CLAIM, at(3)) == {"balance": 1, "list": [1, 2]}


async def test_concurrent_begins_let_exactly_one_request_run(backend: Backend) -> None:
    k = key()
    results = await asyncio.gather(
        *(backend.idempotency.begin(k, "fp", CLAIM, T0) for _ in range(10)), return_exceptions=True
    )
    assert results.count(None) == 1
    assert all(isinstance(r, IdempotencyInProgressError) for r in results if r is not None)


async def test_a_run_that_outlived_its_lease_cannot_touch_the_claim_that_took_over(
    backend: Backend,
) -> None:
    k = key()
    lease = backend.policy.idempotency_lease
    await backend.idempotency.begin(k, "fp", CLAIM, T0)
    assert await backend.idempotency.begin(k, "fp", RIVAL, T0 + lease) is None
    await backend.idempotency.abandon(k, CLAIM)  # the old run gives up: not its key now
    with pytest.raises(IdempotencyInProgressError):
        await backend.idempotency.begin(k, "fp", uuid.UUID(int=3), T0 + lease)
    await backend.idempotency.complete(k, CLAIM, {"old": True}, T0 + lease)
    await backend.idempotency.complete(k, RIVAL, RESULT, T0 + lease)
    assert await backend.idempotency.begin(k, "fp", uuid.UUID(int=3), T0 + lease) == RESULT


async def test_completing_an_abandoned_claim_keeps_nothing(backend: Backend) -> None:
    k = key()
    await backend.idempotency.begin(k, "fp", CLAIM, T0)
    await backend.idempotency.abandon(k, CLAIM)
    await backend.idempotency.complete(k, CLAIM, RESULT, at(1))
    assert await backend.idempotency.begin(k, "fp", RIVAL, at(2)) is None
