"""Real PostgreSQL and Redis for the tests that need them.

A test run gets its own PostgreSQL database (created, migrated once, dropped at the
end); each test starts from empty tables. Where a service is absent the tests that
need it skip, unless ``CONCERT_REQUIRE_SERVICES=1`` (CI), where they fail.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import os
import uuid
from collections.abc import AsyncIterator, Coroutine, Iterator
from typing import Any, TypeVar

import asyncpg
import pytest
import redis.asyncio as aioredis
from redis.exceptions import RedisError
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from adapters import sql
from adapters.sql.tables import metadata

_T = TypeVar("_T")

POSTGRES_ADMIN_DSN = os.environ.get(
    "CONCERT_TEST_POSTGRES", "postgresql://postgres@127.0.0.1:5432/postgres"
)
"""Where the test run creates its database (a server with trust auth, as on CI)."""
REDIS_URL = os.environ.get("CONCERT_TEST_REDIS", "redis://127.0.0.1:6379/0")
"""The Redis the tests share; each test keeps to a key namespace of its own."""


def unavailable(service: str, error: BaseException) -> None:
    """Skip for want of ``service``; fail instead where services are required."""
    message = f"{service} is not reachable: {error}"
    if os.environ.get("CONCERT_REQUIRE_SERVICES") == "1":
        pytest.fail(message + " (CONCERT_REQUIRE_SERVICES=1)", pytrace=False)
    pytest.skip(message)


async def _create_database() -> str:
    name = f"concert_test_{os.getpid()}_{uuid.uuid4().hex[:8]}"
    admin = await asyncpg.connect(POSTGRES_ADMIN_DSN, timeout=5)
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
    finally:
        await admin.close()
    base = POSTGRES_ADMIN_DSN.rsplit("/", 1)[0].replace("postgresql://", "postgresql+asyncpg://")
    url = f"{base}/{name}"
    engine = sql.create_engine(url)
    try:
        await sql.upgrade(engine)
    finally:
        await engine.dispose()
    return url


async def _drop_database(url: str) -> None:
    name = url.rsplit("/", 1)[1]
    admin = await asyncpg.connect(POSTGRES_ADMIN_DSN, timeout=5)
    try:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await admin.close()


def run_aside(work: Coroutine[Any, Any, _T]) -> _T:
    """Run a coroutine to the end on a loop of its own (session fixtures are set up
    from inside a test's running loop)."""
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, work).result()


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """A migrated database of this test run's own."""
    try:
        url = run_aside(_create_database())
    except (OSError, asyncpg.PostgresError, TimeoutError) as error:
        unavailable("PostgreSQL", error)
    yield url
    run_aside(_drop_database(url))


TABLES = ", ".join(table.name for table in metadata.sorted_tables)


async def empty_postgres(url: str) -> AsyncIterator[AsyncEngine]:
    """An engine on the run's database, every table emptied first."""
    engine = sql.create_engine(url)
    try:
        async with engine.begin() as connection:
            await connection.execute(text(f"TRUNCATE {TABLES} RESTART IDENTITY CASCADE"))
        yield engine
    finally:
        await engine.dispose()


async def redis_namespace() -> AsyncIterator[tuple[aioredis.Redis, str]]:
    """A Redis client and a namespace of this test's own, its keys deleted afterwards
    (other test processes share the server: never FLUSHDB)."""
    client = aioredis.Redis.from_url(REDIS_URL)
    namespace = f"test-{uuid.uuid4().hex}"
    try:
        try:
            await client.ping()
        except (RedisError, OSError) as error:
            unavailable("Redis", error)
        yield client, namespace
        await forget_namespace(client, namespace)
    finally:
        await client.aclose()


async def forget_namespace(client: aioredis.Redis, namespace: str) -> None:
    """Delete every key of ``namespace``."""
    async for key in client.scan_iter(match=f"{namespace}:*", count=1_000):
        await client.unlink(key)


def require_redis() -> None:
    """Skip (or fail, where services are required) unless Redis answers a PING; for
    tests that open their Redis clients later, on a loop of their own."""

    async def ping() -> None:
        client = aioredis.Redis.from_url(REDIS_URL)
        try:
            await client.ping()
        finally:
            await client.aclose()

    try:
        run_aside(ping())
    except (RedisError, OSError) as error:
        unavailable("Redis", error)


CHROMIUM = os.environ.get("CONCERT_TEST_CHROMIUM", "/usr/bin/chromium")
"""The browser the page tests drive: Debian's Chromium (Playwright's own download is
not used); ``.ci/run`` installs it when missing."""


def require_chromium() -> str:
    """Skip (or fail, where services are required) unless Chromium and Playwright are
    installed; the browser's path."""
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError as error:
        unavailable("Playwright", error)
    if not os.access(CHROMIUM, os.X_OK):
        unavailable("Chromium", FileNotFoundError(CHROMIUM))
    return CHROMIUM
