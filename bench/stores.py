"""The stores a benchmark runs on: a PostgreSQL database of its own (created, migrated,
dropped) and a Redis key namespace of its own (forgotten afterwards), and the
environment that points a service at them."""

from __future__ import annotations

import asyncio
import contextlib
import os
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path

import asyncpg  # type: ignore[import-untyped]
import redis.asyncio as aioredis

from bench.servers import concert_executable

ROOT = Path(__file__).resolve().parents[1]
ADMIN_DSN = os.environ.get("BENCH_POSTGRES", "postgresql://postgres@127.0.0.1:5432/postgres")
REDIS_URL = os.environ.get("BENCH_REDIS", "redis://127.0.0.1:6379/0")


def service_url(database: str) -> str:
    """The SQLAlchemy URL of ``database`` on the bench's PostgreSQL server."""
    base = ADMIN_DSN.rsplit("/", 1)[0].replace("postgresql://", "postgresql+asyncpg://")
    return f"{base}/{database}"


def asyncpg_dsn(database_url: str) -> str:
    """The DSN asyncpg takes for a SQLAlchemy (``postgresql+asyncpg://``) URL."""
    return database_url.replace("postgresql+asyncpg://", "postgresql://")


async def execute(database_url: str, statement: str) -> None:
    connection = await asyncpg.connect(asyncpg_dsn(database_url))
    try:
        await connection.execute(statement)
    finally:
        await connection.close()


async def create_database(name: str) -> None:
    await execute(ADMIN_DSN, f'CREATE DATABASE "{name}"')


async def drop_database(name: str) -> None:
    await execute(ADMIN_DSN, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@contextlib.contextmanager
def fresh_database() -> Iterator[str]:
    """A new, empty database for one run (dropped afterwards): its SQLAlchemy URL."""
    name = f"bench_{uuid.uuid4().hex[:10]}"
    asyncio.run(create_database(name))
    try:
        yield service_url(name)
    finally:
        asyncio.run(drop_database(name))


@contextlib.contextmanager
def migrated_database(namespace: str) -> Iterator[str]:
    """A fresh database, migrated, for one run (dropped afterwards)."""
    with fresh_database() as database_url:
        subprocess.run(
            [concert_executable(), "db", "upgrade"],
            env=service_env(database_url, namespace),
            check=True,
            capture_output=True,
        )
        yield database_url


async def forget_namespace(namespace: str) -> None:
    """Unlink every Redis key of ``namespace``."""
    client = aioredis.Redis.from_url(REDIS_URL)
    try:
        batch: list[bytes] = []
        async for key in client.scan_iter(match=f"{namespace}:*", count=1000):
            batch.append(key)
            if len(batch) >= 500:
                await client.unlink(*batch)
                batch.clear()
        if batch:
            await client.unlink(*batch)
    finally:
        await client.aclose()


def service_env(database_url: str, namespace: str, **settings: str) -> dict[str, str]:
    """This process's environment, with the service pointed at the run's stores and
    ``settings`` given as ``CONCERT_<NAME>`` variables."""
    return {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(ROOT / "src"), str(ROOT)]),
        "CONCERT_DATABASE_URL": database_url,
        "CONCERT_REDIS_URL": REDIS_URL,
        "CONCERT_REDIS_NAMESPACE": namespace,
        # The bench measures the engine: limits off unless a figure sets them
        # (rate_limit_joins_per_minute="60" measures a join with the limiter).
        "CONCERT_RATE_LIMIT_JOINS_PER_MINUTE": "0",
        **{f"CONCERT_{k.upper()}": v for k, v in settings.items()},
    }
