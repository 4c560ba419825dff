"""Running a request at most once per idempotency key."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import uuid
from collections.abc import Awaitable, Callable, Mapping
from typing import TypeVar

from concert_core.domain import DomainError, UserId, ValidationError
from concert_core.ports import IdempotencyKey, IdempotencyStore, JsonValue

MAX_KEY_LENGTH = 255
R = TypeVar("R")
_KEY_NAMESPACE = uuid.UUID("6f1c1d0e-9f6e-4d55-9a59-3f0c2b1f7d21")


def idempotency_key(user_id: UserId, operation: str, key: str | None) -> IdempotencyKey | None:
    """Validate a client's key (1..255 printable ASCII characters) and scope it."""
    if key is None:
        return None
    if not 1 <= len(key) <= MAX_KEY_LENGTH or not (key.isascii() and key.isprintable()):
        raise ValidationError(
            f"Idempotency-Key must be 1 to {MAX_KEY_LENGTH} printable ASCII characters"
        )
    return IdempotencyKey(user_id, operation, key)


def derived_id(key: IdempotencyKey | None) -> uuid.UUID:
    """An id fixed by the key, so storage rejects a second execution of one request.

    Without a key, a fresh random id.
    """
    if key is None:
        return uuid.uuid4()
    return uuid.uuid5(_KEY_NAMESPACE, f"{key.user_id}/{key.operation}/{key.key}")


def fingerprint(payload: Mapping[str, JsonValue]) -> str:
    canonical = json.dumps(payload, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()


async def run_once(
    store: IdempotencyStore,
    key: IdempotencyKey | None,
    payload: Mapping[str, JsonValue],
    now: dt.datetime,
    run: Callable[[], Awaitable[R]],
    dump: Callable[[R], Mapping[str, JsonValue]],
    load: Callable[[Mapping[str, JsonValue]], R],
) -> R:
    """Run ``run`` unless ``key`` has a first result already; then return that.

    The key is looked up before ``run`` checks anything else. A domain error means
    nothing changed, so the key is given up and a retry runs afresh. Any other failure
    leaves the key claimed until its lease ends: the outcome is unknown, and ids derived
    from the key make a later re-run find the first execution's writes in storage.
    """
    if key is None:
        return await run()
    stored = await store.begin(key, fingerprint(payload), now)
    if stored is not None:
        return load(stored)
    try:
        result = await run()
    except DomainError:
        await store.abandon(key)
        raise
    await store.complete(key, dump(result), now)
    return result
