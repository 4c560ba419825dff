"""The scale curve: a status poll's latency at the back of a line of a million against
one of a thousand, and Redis's memory per waiting token."""

from __future__ import annotations

import asyncio
import uuid
from pathlib import Path
from typing import Any

from bench import api, log, wrk
from bench.servers import serve
from bench.stores import REDIS_URL, service_env


def measure_scale(database_url: str, namespace: str, logs: Path, big: int) -> dict[str, Any]:
    """Poll latency at the back of a line of 1,000 (concert 4) and of ``big`` (concert
    5), measured in turns (1k, big, 1k, big) so that the machine's drift falls on both
    alike; Redis bytes per token over the filling of the big line."""
    env = service_env(
        database_url, namespace, active_capacity="1", admission_interval_seconds="3600"
    )
    server = serve(env, logs, "scale")
    api_base = server.base + "/api/v1"
    try:
        log(f"scale: filling a line to {big:,}")
        per_token = asyncio.run(_fill(namespace, 5, big - 1_000))
        back = asyncio.run(_issue_many(api_base, 5, 1_000))
        small = asyncio.run(_issue_many(api_base, 4, 1_000))
        runs: dict[str, list[wrk.Result]] = {"poll_1k": [], "poll_1m": []}
        for turn in range(2):
            for name, lines in (("poll_1k", small), ("poll_1m", back)):
                log(f"scale: {name}, turn {turn + 1}")
                script = wrk.script(wrk.BEARER_GET, lines=lines)
                runs[name].append(wrk.run(name, f"{api_base}/queue/status", script, seconds=5))
        return {
            "at_1k": wrk.combined(runs["poll_1k"]),
            "at_1m": wrk.combined(runs["poll_1m"]),
            "bytes_per_token": per_token,
            "line": big,
        }
    finally:
        server.stop()


async def _issue_many(api_base: str, concert: int, count: int) -> list[str]:
    async with api.session() as session:
        users = [str(uuid.uuid4()) for _ in range(count)]
        return await api.issue_tokens(session, api_base, concert, users)


async def _fill(namespace: str, concert: int, count: int) -> float:
    """Issue ``count`` tokens straight through the store; Redis bytes per token."""
    from adapters.redis import RedisQueueStore, connect, redis_time
    from concert_core import Policy
    from concert_core.domain import ConcertId, TokenId, UserId

    client = connect(REDIS_URL, max_connections=64)
    store = RedisQueueStore(client, Policy(), namespace=namespace)
    try:
        before = int((await client.info("memory"))["used_memory"])
        now = await redis_time(client)
        cid = ConcertId(concert)
        chunk = 5_000
        for start in range(0, count, chunk):
            await api.gather_limited(
                [
                    store.issue(UserId(uuid.uuid4()), cid, TokenId(uuid.uuid4()), now)
                    for _ in range(min(chunk, count - start))
                ],
                limit=64,
            )
            if start % 200_000 == 0:
                log(f"  {start:,} issued")
        after = int((await client.info("memory"))["used_memory"])
        return (after - before) / count
    finally:
        await client.aclose()
