"""The CPU the on-sale reports beside its servers': this database's PostgreSQL
backends and the Redis server."""

from __future__ import annotations

import contextlib

import asyncpg  # type: ignore[import-untyped]
import redis.asyncio as aioredis

from bench.cpu import pid_cpu_seconds
from bench.stores import REDIS_URL


class OtherCpu:
    """CPU spent by this database's PostgreSQL backends (those alive at the end; a
    backend that came and went in between is missed) and by the Redis server (all of
    it: Redis is shared, so this is an upper bound)."""

    def __init__(self, dsn: str) -> None:
        self._dsn = dsn
        self._backends: dict[int, float] = {}
        self._redis = 0.0

    async def _snapshot(self) -> tuple[dict[int, float], float]:
        conn = await asyncpg.connect(self._dsn)
        try:
            pids = await conn.fetch(
                "SELECT pid FROM pg_stat_activity "
                "WHERE datname = current_database() AND pid <> pg_backend_pid()"
            )
        finally:
            await conn.close()
        backends = {row["pid"]: pid_cpu_seconds(row["pid"]) for row in pids}
        client = aioredis.Redis.from_url(REDIS_URL)
        try:
            info = await client.info("cpu")
        finally:
            await client.aclose()
        return backends, float(info["used_cpu_user"]) + float(info["used_cpu_sys"])

    async def start(self) -> None:
        with contextlib.suppress(Exception):
            self._backends, self._redis = await self._snapshot()

    async def stop(self) -> dict[str, float | None]:
        try:
            backends, redis_cpu = await self._snapshot()
        except Exception:
            return {"database_cpu_seconds": None, "redis_cpu_seconds": None}
        database = sum(cpu - self._backends.get(pid, 0.0) for pid, cpu in backends.items())
        return {
            "database_cpu_seconds": round(database, 2),
            "redis_cpu_seconds": round(redis_cpu - self._redis, 2),
        }
