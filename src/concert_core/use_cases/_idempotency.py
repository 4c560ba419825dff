"""Running a keyed use case at most once per idempotency key (decision 3).

A keyed use case (``ChargeWallet``, ``Pay``) is a plain transaction that takes the id
its writes are stored under; ``Idempotent`` wraps it with the key's claim, its first
result, and the follow-up effects of a run that did the work.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import json
import logging
import uuid
from collections.abc import Mapping
from typing import Generic, Protocol, TypeVar

from attrs import frozen

from concert_core.domain import DomainError, ServiceUnavailableError, UserId, ValidationError
from concert_core.ports import Clock, IdempotencyKey, IdempotencyStore, JsonValue
from concert_core.use_cases._best_effort import best_effort

C = TypeVar("C")
R = TypeVar("R")
C_contra = TypeVar("C_contra", contravariant=True)
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


class KeyedUseCase(Protocol[C_contra, R]):
    """A use case whose command may carry an idempotency key."""

    def request(self, command: C_contra) -> KeyedRequest:
        """The command's key, scoped to its user, and the body the key is bound to."""

    async def run(self, command: C_contra, request_id: uuid.UUID, now: dt.datetime) -> R:
        """Do the work, storing its writes under ``request_id``."""

    async def earlier(self, command: C_contra, request_id: uuid.UUID) -> R | None:
        """The result of an earlier run under ``request_id`` whose writes committed but
        whose result was never kept (its process died), if storage has it."""

    async def after(self, command: C_contra, result: R, now: dt.datetime) -> None:
        """Follow-up effects of a run that did the work (not of a replay). Time would
        bring them about too, so a failure here is logged, not raised."""

    def dump(self, result: R) -> Mapping[str, JsonValue]: ...

    def load(self, record: Mapping[str, JsonValue]) -> R: ...


class Idempotent(Generic[C, R]):
    """Run a keyed use case unless its key has a first result already; then return that.

    Rules:
    - the key is looked up before the use case checks anything else (a paid token is
      EXPIRED, yet a retry of the payment must get its receipt back);
    - the same key with another body is IDEMPOTENCY_KEY_REUSED; a retry while the
      first run holds the key is IDEMPOTENCY_IN_PROGRESS;
    - when the run fails, the key is given up so a retry runs at once: a domain error
      means nothing changed; after an outage the outcome may be unknown (a commit whose
      reply was lost), but the id derived from key and body lets the retry find the
      first run's writes (``earlier``), so the work is never done twice. Only a process
      that dies mid-run leaves its key claimed, until the lease ends.
    """

    def __init__(self, use_case: KeyedUseCase[C, R], store: IdempotencyStore, clock: Clock) -> None:
        self._use_case = use_case
        self._store = store
        self._clock = clock

    async def __call__(self, command: C) -> R:
        now = await self._clock.now()
        request = self._use_case.request(command)
        if request.key is None:
            result = await self._use_case.run(command, request.derived_id(), now)
            await self._follow_up(command, result, now)
            return result
        claim = uuid.uuid4()
        stored = await self._store.begin(request.key, request.fingerprint, claim, now)
        if stored is not None:
            return self._use_case.load(stored)
        try:
            result, fresh = await self._run_keyed(command, request.derived_id(), now)
        except ServiceUnavailableError:
            with contextlib.suppress(ServiceUnavailableError):  # else it lapses
                await self._store.abandon(request.key, claim)
            raise
        except DomainError:
            await self._store.abandon(request.key, claim)
            raise
        # The request is done; only its record can be missing. Then the claim lapses with
        # its lease, and a retry finds this run's writes by the derived id.
        with best_effort(_log, "an idempotent result could not be kept"):
            await self._store.complete(request.key, claim, self._use_case.dump(result), now)
        if fresh:
            await self._follow_up(command, result, now)
        return result

    async def _run_keyed(
        self, command: C, request_id: uuid.UUID, now: dt.datetime
    ) -> tuple[R, bool]:
        """The result, and whether this run did the work (False: an earlier run's)."""
        if (earlier := await self._use_case.earlier(command, request_id)) is not None:
            return earlier, False
        try:
            return await self._use_case.run(command, request_id, now), True
        except DomainError:
            # A first run that outlived its lease may have done the work meanwhile: then
            # this failure is that run's success, and so is the answer.
            if (earlier := await self._use_case.earlier(command, request_id)) is not None:
                return earlier, False
            raise

    async def _follow_up(self, command: C, result: R, now: dt.datetime) -> None:
        with best_effort(_log, "a follow-up effect failed; time will bring it about"):
            await self._use_case.after(command, result, now)
