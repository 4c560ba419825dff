"""Running a request at most once per idempotency key."""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import json
import logging
import uuid
from collections.abc import Awaitable, Callable, Mapping
from typing import TypeVar

from attrs import frozen

from concert_core.domain import DomainError, ServiceUnavailableError, UserId, ValidationError
from concert_core.ports import IdempotencyKey, IdempotencyStore, JsonValue

R = TypeVar("R")
MAX_KEY_LENGTH = 255
_ID_NAMESPACE = uuid.UUID("6f1c1d0e-9f6e-4d55-9a59-3f0c2b1f7d21")
_log = logging.getLogger(__name__)


def key_text(value: object) -> str | None:
    """Validate a client's key: absent, or 1..255 printable ASCII characters."""
    if value is None:
        return None
    if (
        not isinstance(value, str)
        or not 1 <= len(value) <= MAX_KEY_LENGTH
        or not (value.isascii() and value.isprintable())
    ):
        raise ValidationError(
            f"Idempotency-Key must be 1 to {MAX_KEY_LENGTH} printable ASCII characters"
        )
    return value


@frozen
class KeyedRequest:
    """A request as idempotency sees it: its scoped key (if any) and its body."""

    key: IdempotencyKey | None
    payload: Mapping[str, JsonValue]

    @classmethod
    def of(
        cls, user_id: UserId, operation: str, key: str | None, payload: Mapping[str, JsonValue]
    ) -> KeyedRequest:
        scoped = None if key is None else IdempotencyKey(user_id, operation, key)
        return cls(scoped, payload)

    @property
    def fingerprint(self) -> str:
        canonical = json.dumps(self.payload, sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(canonical.encode()).hexdigest()

    def derived_id(self) -> uuid.UUID:
        """An id fixed by the key and the body, so storage rejects a second execution
        of one request (and only of that request). Without a key, a fresh random id."""
        if self.key is None:
            return uuid.uuid4()
        k = self.key
        return uuid.uuid5(_ID_NAMESPACE, f"{k.user_id}/{k.operation}/{k.key}/{self.fingerprint}")


async def run_once(
    store: IdempotencyStore,
    request: KeyedRequest,
    now: dt.datetime,
    run: Callable[[], Awaitable[R]],
    dump: Callable[[R], Mapping[str, JsonValue]],
    load: Callable[[Mapping[str, JsonValue]], R],
    after: Callable[[R], Awaitable[None]] | None = None,
) -> R:
    """Run ``run`` unless the key has a first result already; then return that.

    The key is looked up before ``run`` checks anything else. When ``run`` fails, the
    key is given up so that a retry runs at once instead of answering "in progress"
    until the lease ends: a domain error means nothing changed; after an outage the
    outcome may be unknown (a commit whose reply was lost), but ids derived from key
    and body let the re-run find the first run's writes in storage, so it cannot do the
    work twice. Only a process that dies mid-run leaves its key claimed, until the
    lease ends. ``after`` runs once the result is kept: follow-up effects that time
    would also bring about, so their failure is logged, not raised.
    """
    if request.key is None:
        result = await run()
    else:
        claim = uuid.uuid4()
        stored = await store.begin(request.key, request.fingerprint, claim, now)
        if stored is not None:
            return load(stored)
        try:
            result = await run()
        except ServiceUnavailableError:
            with contextlib.suppress(ServiceUnavailableError):  # else it lapses
                await store.abandon(request.key, claim)
            raise
        except DomainError:
            await store.abandon(request.key, claim)
            raise
        try:
            await store.complete(request.key, claim, dump(result), now)
        except Exception:
            # The request is done; only its record is missing. The claim lapses with its
            # lease, and a retry then finds this run's writes by the derived ids.
            _log.warning("an idempotent result could not be kept", exc_info=True)
    if after is not None:
        try:
            await after(result)
        except Exception:
            _log.warning("a follow-up effect failed; time will bring it about", exc_info=True)
    return result
