"""The client-side CPU of the pieces of a queue call, one call at a time, against the
real Redis: what the status poll and the token issue spend beside the ceiling's
``INCR``. Not a throughput figure (``make bench`` is); a breakdown of one.

    PYTHONPATH=src:. .venv/bin/python -m bench.parts
"""

from __future__ import annotations

import asyncio
import datetime as dt
import os
import time
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

import msgspec

from adapters import redis
from adapters.redis import RedisQueueStore
from adapters.tokens import JwtTokenCodec
from concert_core.domain import Concert, ConcertId, TokenClaims, TokenId, UserId
from concert_core.policy import Policy
from concert_core.use_cases import SaleState
from concert_core.use_cases._views import queue_view
from entrypoints.http.schemas import QueueStatusResponse

CALLS = 3_000
REDIS_URL = os.environ.get("BENCH_REDIS", "redis://127.0.0.1:6379/0")


def report(label: str, cpu: float, wall: float | None = None) -> None:
    line = f"{label:<44} {cpu * 1e6 / CALLS:7.1f} µs CPU"
    if wall is not None:
        line += f"  {wall * 1e6 / CALLS:7.1f} µs wall"
    print(line)


def timed(label: str, work: Callable[[], Any]) -> None:
    started = time.process_time()
    for _ in range(CALLS):
        work()
    report(label, time.process_time() - started)


async def timed_async(label: str, work: Callable[[], Awaitable[Any]]) -> None:
    started, wall = time.process_time(), time.perf_counter()
    for _ in range(CALLS):
        await work()
    report(label, time.process_time() - started, time.perf_counter() - wall)


async def main() -> None:
    client = redis.connect(REDIS_URL)
    policy = Policy()
    namespace = f"bench-parts-{uuid.uuid4().hex[:8]}"
    store = RedisQueueStore(client, policy, namespace=namespace)
    counter = f"{store.keys(ConcertId(1))[0]}:counter"
    now = dt.datetime.now(dt.UTC)
    try:
        token_id = TokenId(uuid.uuid4())
        await store.issue(UserId(uuid.uuid4()), ConcertId(1), token_id, now)
        for _ in range(1_000):
            await store.issue(UserId(uuid.uuid4()), ConcertId(1), TokenId(uuid.uuid4()), now)
        await timed_async("Redis INCR (the /redis ceiling's call)", lambda: client.incr(counter))
        await timed_async(
            "status poll: place.lua, reply decoded", lambda: store.poll(ConcertId(1), token_id, now)
        )
        await timed_async(
            "token issue: issue.lua, reply decoded",
            lambda: store.issue(UserId(uuid.uuid4()), ConcertId(2), TokenId(uuid.uuid4()), now),
        )
        place = await store.poll(ConcertId(1), token_id, now)
        assert place is not None
        sale = SaleState(Concert(ConcertId(1), "Bench", "Hall"), sold_out=False, read_at=now)
        timed("queue view (position, wait, hint)", lambda: queue_view(place, sale, policy, now))
        view = queue_view(place, sale, policy, now)
        encoder = msgspec.json.Encoder()
        timed(
            "status reply built and encoded", lambda: encoder.encode(QueueStatusResponse.of(view))
        )
        codec = JwtTokenCodec("bench-parts-secret-of-enough-length-0123")
        timed(
            "JWT signed (token issue)",
            lambda: codec.encode(
                TokenClaims(TokenId(uuid.uuid4()), UserId(uuid.uuid4()), ConcertId(1), 1)
            ),
        )
        await memory_by_key(client, store)
    finally:
        async for key in client.scan_iter(match=f"{namespace}:*"):
            await client.unlink(key)
        await client.aclose()


async def memory_by_key(client: Any, store: RedisQueueStore, count: int = 100_000) -> None:
    """Where a waiting token's bytes go: ``MEMORY USAGE`` of each of a concert's keys
    over ``count`` waiting tokens, per token."""
    concert, now = ConcertId(3), dt.datetime.now(dt.UTC)
    for start in range(0, count, 1_000):
        await asyncio.gather(
            *(
                store.issue(UserId(uuid.uuid4()), concert, TokenId(uuid.uuid4()), now)
                for _ in range(min(1_000, count - start))
            )
        )
    print(f"Redis memory per waiting token, by key ({count:,} tokens):")
    total = 0
    base = store.keys(concert)[0].removesuffix("meta")
    beats = [key async for key in client.scan_iter(match=f"{base}beat:*")]
    for key in [*store.keys(concert), *beats]:
        used = await client.memory_usage(key, samples=0) or 0
        total += used
        name = key.removeprefix(base) if isinstance(key, str) else key.decode().removeprefix(base)
        print(f"  {name:<8} {used / count:7.1f} B")
    print(f"  {'all':<8} {total / count:7.1f} B")


if __name__ == "__main__":
    asyncio.run(main())
