"""The waiting room in Redis: one Lua script per operation, each atomic and one round trip.

Every key of a concert carries its hash tag ``{concert:ID}``, so a concert lives in one
Redis Cluster slot and every script touches one slot only:

- ``…:meta``   hash: ``seq``, the concert's issue counter (decision 7), and ``adm``;
- ``…:tok``    hash: token id (16 bytes) → the token, packed (41 bytes while WAITING);
- ``…:live``   hash: user id → the token id of the user's live token;
- ``…:line``   sorted set: WAITING token ids by sequence (position = ``ZRANK`` + 1);
- ``…:idle``   sorted set: WAITING token ids by idle deadline (last seen + timeout);
- ``…:active`` sorted set: ACTIVE token ids by ``active_until``;
- ``…:adm``    sorted set: admission passes ``"<n>:<count>"`` by time (the rate);
- ``…:ended``  list: when each token ended, oldest first, to prune ended records.

Every rule is judged by the caller's ``now``, passed to the scripts as integer
microseconds since the epoch (exact in Lua's doubles until the year 2255); Redis's
``TIME`` is never read. Key TTLs only collect garbage: each write keeps all the
concert's keys alive for the longest rule plus a margin.

The scripts live in ``scripts/*.lua``; ``queue_common.lua`` is prepended to each, and
each is registered once per client (``EVALSHA``, loaded on ``NOSCRIPT``).

The calls a stampede makes (issue, look, poll, extend, expire) are shared: those of one
concert that arrive in one event-loop turn go as one script call (``Coalescer``), whose
script takes the items in turn, each judged at its own caller's ``now``, as separate
calls would be.
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import datetime as dt
import logging
import struct
from collections.abc import Awaitable, Callable, Iterator, Sequence
from importlib import resources
from typing import Any, Generic, TypeVar
from uuid import UUID

import redis.asyncio as aioredis
from redis import exceptions as redis_errors
from redis.commands.core import AsyncScript

from concert_core.domain import (
    ConcertId,
    IssueOutcome,
    QueuePlace,
    QueueStats,
    QueueToken,
    ServiceUnavailableError,
    TokenId,
    TokenStatus,
    UserId,
)
from concert_core.policy import Policy

_log = logging.getLogger(__name__)

EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
_MICROSECOND = dt.timedelta(microseconds=1)

KEY_TTL_MARGIN = dt.timedelta(hours=1)
"""How long past the longest rule a quiet concert's keys are kept (garbage collection)."""
ENDED_KEPT_FOR = dt.timedelta(hours=1)
"""How long an ended token is still known (``look`` says EXPIRED, not unknown)."""
BATCH = 5_000
"""The most tokens one script ends (a script blocks the server while it runs)."""

_STATUS = {b"W": TokenStatus.WAITING, b"A": TokenStatus.ACTIVE, b"E": TokenStatus.EXPIRED}
_TRANSIENT = (
    redis_errors.ConnectionError,  # BusyLoadingError, AuthenticationError, ... too
    redis_errors.TimeoutError,
    redis_errors.ReadOnlyError,
    redis_errors.OutOfMemoryError,
    redis_errors.ClusterError,  # ClusterDownError, MasterDownError
    redis_errors.TryAgainError,
    OSError,
)


@contextlib.contextmanager
def unavailable_on_redis_errors() -> Iterator[None]:
    """Raise ServiceUnavailableError for any Redis error: none leaks past an adapter.

    One that means 'unreachable or busy' is logged as a warning; any other (a script
    error, a key of the wrong type) with its traceback, so that a bug is still seen.
    """
    try:
        yield
    except (redis_errors.RedisError, OSError) as error:
        if isinstance(error, _TRANSIENT) or str(error).startswith(("BUSY", "NOREPLICAS")):
            _log.warning("redis unavailable: %r", error)
        else:
            _log.exception("unexpected redis error")
        raise ServiceUnavailableError("Redis is unavailable; try again shortly") from error


def script_text(name: str) -> str:
    return resources.files("adapters.redis").joinpath("scripts", f"{name}.lua").read_text()


def check_client(client: aioredis.Redis) -> None:
    """The scripts exchange packed bytes: the client must not decode replies."""
    if client.connection_pool.connection_kwargs.get("decode_responses", False):
        raise ValueError("the Redis stores need a client with decode_responses=False")


def microseconds(instant: dt.datetime) -> int:
    return (instant - EPOCH) // _MICROSECOND


def _instant(us: float) -> dt.datetime:
    return EPOCH + dt.timedelta(microseconds=int(us))


def _milliseconds(duration: dt.timedelta) -> int:
    return -(-duration // dt.timedelta(milliseconds=1))


def _token(concert_id: ConcertId, row: bytes) -> QueueToken:
    """A token from a script's row: token id (16 bytes) and the packed token."""
    seq, issued, seen = struct.unpack_from(">ddd", row, 32)
    until = struct.unpack_from(">d", row, 57)[0] if len(row) > 57 else None
    return QueueToken(
        token_id=TokenId(UUID(bytes=row[:16])),
        user_id=UserId(UUID(bytes=row[16:32])),
        concert_id=concert_id,
        sequence=int(seq),
        status=_STATUS[row[56:57]],
        issued_at=_instant(issued),
        last_seen_at=_instant(seen),
        active_until=None if until is None else _instant(until),
    )


def _each(replies: Sequence[Any]) -> list[Any]:
    """A shared call's replies, one per item; an item the script failed on becomes
    that caller's ServiceUnavailableError (logged, as any script error is)."""
    items: list[Any] = []
    for reply in replies:
        if isinstance(reply, redis_errors.ResponseError):
            _log.error("a queue script failed on one item: %s", reply)
            unavailable = ServiceUnavailableError("Redis is unavailable; try again shortly")
            unavailable.__cause__ = reply
            items.append(unavailable)
        else:
            items.append(reply)
    return items


def _place(concert_id: ConcertId, reply: Sequence[Any], window: dt.timedelta) -> QueuePlace:
    """A place from ``[row, status, position, admitted]``."""
    row, status, position, admitted = reply
    return QueuePlace(
        _token(concert_id, row),
        _STATUS[status],
        position if position > 0 else None,
        admitted / window.total_seconds(),
    )


K = TypeVar("K")
A = TypeVar("A")
R = TypeVar("R")


class Coalescer(Generic[K, A, R]):
    """Calls made in one turn of the event loop share one round trip.

    ``submit(key, arg)`` queues ``arg`` under ``key``; at the loop's next turn
    ``run(key, args)`` is called once for everything queued under that key (at most
    ``limit`` per call) and returns one result per arg, in order. Each result is its
    caller's: an exception among them is raised to that caller alone, while a failure
    of the whole call is every caller's (each gets its own copy). Under a stampede a
    worker's concurrent polls become one script call instead of dozens; a lone call
    waits one loop turn. A caller cancelled before its turn may still have its item
    applied, as a request cancelled after it was sent would.
    """

    def __init__(
        self,
        run: Callable[[K, list[A]], Awaitable[Sequence[R | Exception]]],
        *,
        limit: int = 128,
    ) -> None:
        self._run = run
        self._limit = limit
        self._pending: dict[K, _Batch[A, R]] = {}
        self._running: set[asyncio.Task[None]] = set()

    async def submit(self, key: K, arg: A) -> R:
        loop = asyncio.get_running_loop()
        batch = self._pending.get(key)
        if batch is None or batch.loop is not loop or len(batch.args) >= self._limit:
            batch = self._pending[key] = _Batch(loop)
            loop.call_soon(self._flush, key, batch)
        batch.args.append(arg)
        future: asyncio.Future[R] = loop.create_future()
        batch.futures.append(future)
        return await future

    def _flush(self, key: K, batch: _Batch[A, R]) -> None:
        if self._pending.get(key) is batch:
            del self._pending[key]
        task = asyncio.create_task(self._execute(key, batch))
        self._running.add(task)
        task.add_done_callback(self._running.discard)

    async def _execute(self, key: K, batch: _Batch[A, R]) -> None:
        try:
            results = await self._run(key, batch.args)
            if len(results) != len(batch.args):
                raise RuntimeError(f"{len(results)} results for {len(batch.args)} calls")
        except BaseException as error:
            for future in batch.futures:
                if future.done():
                    continue
                if isinstance(error, asyncio.CancelledError):
                    future.cancel()
                else:
                    future.set_exception(_own_copy(error))
            if not isinstance(error, Exception):
                raise
            return
        for future, result in zip(batch.futures, results, strict=True):
            if future.done():
                continue
            if isinstance(result, Exception):
                future.set_exception(result)
            else:
                future.set_result(result)


def _own_copy(error: BaseException) -> BaseException:
    """A copy of a shared failure for one caller (each raise rewrites its traceback)."""
    try:
        copied = copy.copy(error)
    except Exception:
        return error
    copied.__cause__ = error.__cause__ or error
    return copied


class _Batch(Generic[A, R]):
    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self.args: list[A] = []
        self.futures: list[asyncio.Future[R]] = []


class RedisQueueStore:
    """The QueueStore port on Redis (one script per operation; see the module doc)."""

    _SCRIPTS = (
        "issue",
        "place",
        "expire",
        "extend_active",
        "admit",
        "expire_lapsed",
        "stats",
    )

    def __init__(
        self, client: aioredis.Redis, policy: Policy, *, namespace: str = "concert"
    ) -> None:
        check_client(client)
        self._client = client
        self._policy = policy
        self._namespace = namespace
        common = script_text("queue_common")
        self._scripts: dict[str, AsyncScript] = {
            name: client.register_script(common + "\n" + script_text(name))
            for name in self._SCRIPTS
        }
        longest = max(
            policy.idle_timeout,
            policy.active_ttl,
            policy.admission_rate_window,
            ENDED_KEPT_FOR,
        )
        self._key_ttl = longest + KEY_TTL_MARGIN
        # Concurrent calls of one kind for one concert share a script call; each item
        # carries its caller's now, and the script judges it by that.
        self._issues: Coalescer[ConcertId, tuple[bytes, bytes, dt.datetime], Any] = Coalescer(
            self._issue_many
        )
        self._places: Coalescer[tuple[ConcertId, bool], tuple[bytes, dt.datetime], Any] = Coalescer(
            self._place_many
        )
        self._extensions: Coalescer[ConcertId, tuple[bytes, dt.datetime, dt.datetime], Any] = (
            Coalescer(self._extend_many)
        )
        self._expiries: Coalescer[ConcertId, tuple[bytes, dt.datetime], Any] = Coalescer(
            self._expire_many
        )

    def keys(self, concert_id: ConcertId) -> list[str]:
        """The concert's keys, in the order the scripts take them."""
        base = f"{self._namespace}:{{concert:{int(concert_id)}}}"
        names = ("meta", "tok", "live", "line", "idle", "active", "adm", "ended")
        return [f"{base}:{name}" for name in names]

    async def _run(
        self,
        name: str,
        concert_id: ConcertId,
        now: dt.datetime,
        *args: bytes | str | int,
        key_ttl: dt.timedelta | None = None,
    ) -> Any:
        policy = self._policy
        common = (
            microseconds(now),
            policy.idle_timeout // _MICROSECOND,
            policy.active_ttl // _MICROSECOND,
            policy.admission_rate_window // _MICROSECOND,
            _milliseconds(key_ttl or self._key_ttl),
            ENDED_KEPT_FOR // _MICROSECOND,
            BATCH,
        )
        with unavailable_on_redis_errors():
            return await self._scripts[name](self.keys(concert_id), (*common, *args))

    # -- the port -----------------------------------------------------------------

    async def issue(
        self, user_id: UserId, concert_id: ConcertId, token_id: TokenId, now: dt.datetime
    ) -> IssueOutcome:
        reply = await self._issues.submit(concert_id, (user_id.bytes, token_id.bytes, now))
        created = reply[0]
        if created < 0:
            raise ValueError(f"token id {token_id} is taken")
        place = _place(concert_id, reply[1:], self._policy.admission_rate_window)
        return IssueOutcome(place, created=created == 1)

    async def _issue_many(
        self, concert_id: ConcertId, items: list[tuple[bytes, bytes, dt.datetime]]
    ) -> list[Any]:
        return await self._run_items("issue", concert_id, items)

    async def look(
        self, concert_id: ConcertId, token_id: TokenId, now: dt.datetime
    ) -> QueuePlace | None:
        return await self._place(concert_id, token_id, now, poll=False)

    async def poll(
        self, concert_id: ConcertId, token_id: TokenId, now: dt.datetime
    ) -> QueuePlace | None:
        return await self._place(concert_id, token_id, now, poll=True)

    async def _place(
        self, concert_id: ConcertId, token_id: TokenId, now: dt.datetime, *, poll: bool
    ) -> QueuePlace | None:
        reply = await self._places.submit((concert_id, poll), (token_id.bytes, now))
        if not reply:
            return None
        return _place(concert_id, reply, self._policy.admission_rate_window)

    async def _place_many(
        self, key: tuple[ConcertId, bool], items: list[tuple[bytes, dt.datetime]]
    ) -> list[Any]:
        concert_id, poll = key
        return await self._run_items("place", concert_id, items, int(poll))

    async def expire(
        self, concert_id: ConcertId, token_id: TokenId, now: dt.datetime
    ) -> QueueToken | None:
        row = await self._expiries.submit(concert_id, (token_id.bytes, now))
        return _token(concert_id, row) if row else None

    async def _expire_many(
        self, concert_id: ConcertId, items: list[tuple[bytes, dt.datetime]]
    ) -> list[Any]:
        return await self._run_items("expire", concert_id, items)

    async def extend_active(
        self, concert_id: ConcertId, token_id: TokenId, until: dt.datetime, now: dt.datetime
    ) -> bool:
        return bool(await self._extensions.submit(concert_id, (token_id.bytes, until, now)))

    async def _extend_many(
        self, concert_id: ConcertId, items: list[tuple[bytes, dt.datetime, dt.datetime]]
    ) -> list[Any]:
        # The keys must outlive the tokens, however far the holds push them.
        key_ttl = max(self._key_ttl, *(until - now + KEY_TTL_MARGIN for _, until, now in items))
        return await self._run_items("extend_active", concert_id, items, key_ttl=key_ttl)

    async def _run_items(
        self,
        name: str,
        concert_id: ConcertId,
        items: Sequence[tuple[Any, ...]],
        *head: int,
        key_ttl: dt.timedelta | None = None,
    ) -> list[Any]:
        """One shared script call: ``head``, then each item's fields in order (instants
        as microseconds; every item ends with its caller's now). One reply per item."""
        args = [
            microseconds(field) if isinstance(field, dt.datetime) else field
            for item in items
            for field in item
        ]
        latest = max(item[-1] for item in items)
        return _each(await self._run(name, concert_id, latest, *head, *args, key_ttl=key_ttl))

    async def admit(self, concert_id: ConcertId, now: dt.datetime) -> list[QueueToken]:
        while True:
            # Each run ends at most BATCH lapsed tokens; it admits only once none are
            # left, so an idle token never gets in and none stays in line past the pass.
            reply = await self._run("admit", concert_id, now, self._policy.active_capacity)
            if reply[0] == 1:
                return [_token(concert_id, row) for row in reply[1:]]

    async def expire_lapsed(
        self, concert_id: ConcertId, now: dt.datetime, limit: int
    ) -> list[QueueToken]:
        ended: list[QueueToken] = []
        while len(ended) < limit:
            batch = min(limit - len(ended), BATCH)
            rows = await self._run("expire_lapsed", concert_id, now, batch)
            ended.extend(_token(concert_id, row) for row in rows)
            if len(rows) < batch:
                break
        return ended

    async def stats(self, concert_id: ConcertId, now: dt.datetime) -> QueueStats:
        waiting, active = await self._run("stats", concert_id, now)
        return QueueStats(concert_id, waiting, active)
