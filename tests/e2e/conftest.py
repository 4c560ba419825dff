"""The REST API under test: one app per test, driven in the test's own event loop.

``storage`` is the one place the storage is chosen; every test depends on it
(through ``api``/``open_api``) and on the ``clock``, nothing else. Requests go through
``httpx.ASGITransport`` in the test's loop, so ``asyncio.gather`` really interleaves
them (Litestar's AsyncTestClient runs the app in a portal thread, one request at a
time), and the test can call the service and move the clock in the same loop.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
from attrs import evolve
from dependency_injector import providers

from adapters import sql
from adapters.clock import ManualClock
from concert_core import Policy
from concert_core.domain import Concert
from e2e.helpers import Api, OpenApi, running
from entrypoints.container import Container
from entrypoints.http import create_app
from entrypoints.settings import MEMORY_URL, Settings
from services import REDIS_URL, empty_postgres, redis_namespace
from support import TEST_SECRET


@pytest.fixture(
    params=[
        "memory",
        "sqlite",
        pytest.param("postgres", marks=pytest.mark.postgres),
        pytest.param("postgres+redis", marks=[pytest.mark.postgres, pytest.mark.redis]),
    ]
)
async def storage(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Settings]:
    """The storage every e2e test runs against, as settings: in memory, the embedded
    SQLite store (a fresh, migrated file per test), PostgreSQL (the run's database,
    emptied), and PostgreSQL with the waiting room and idempotency keys in Redis (a key
    namespace of the test's own)."""
    if request.param == "memory":
        yield Settings(database_url=MEMORY_URL, token_secret=TEST_SECRET)
        return
    if request.param.startswith("postgres"):
        url: str = request.getfixturevalue("postgres_url")
        async for _ in empty_postgres(url):
            pass
        if request.param == "postgres":
            yield Settings(database_url=url, token_secret=TEST_SECRET)
            return
        async for _, namespace in redis_namespace():
            yield Settings(
                database_url=url,
                redis_url=REDIS_URL,
                redis_namespace=namespace,
                token_secret=TEST_SECRET,
            )
        return
    url = f"sqlite+aiosqlite:///{tmp_path}/e2e.db"
    engine = sql.create_engine(url)
    try:
        await sql.upgrade(engine)
    finally:
        await engine.dispose()
    yield Settings(database_url=url, token_secret=TEST_SECRET)


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
def policy() -> Policy:
    """Small, explicit rules: limits and lapses are reached in a few steps."""
    return Policy(
        active_capacity=2,
        active_ttl=dt.timedelta(seconds=300),
        hold_ttl=dt.timedelta(seconds=60),
        idle_timeout=dt.timedelta(seconds=120),
        max_holds_per_user=2,
        idempotency_lease=dt.timedelta(seconds=10),
    )


@pytest.fixture
def open_api(storage: Settings, clock: ManualClock) -> OpenApi:
    """``async with open_api(policy) as api``: an app on ``storage`` and ``clock``;
    keyword arguments change its settings."""

    @asynccontextmanager
    async def open_(policy: Policy, **changes: Any) -> AsyncIterator[Api]:
        settings = evolve(storage, policy=policy, **changes)
        container = Container(settings=settings)
        container.clock.override(providers.Object(clock))
        app = create_app(settings, container=container)
        async with running(app):
            transport = httpx.ASGITransport(app=app)  # type: ignore[arg-type]
            async with httpx.AsyncClient(transport=transport, base_url="http://api.test") as client:
                yield Api(client=client, app=app, clock=clock, settings=settings)

    return open_


@pytest.fixture
async def api(open_api: OpenApi, policy: Policy) -> AsyncIterator[Api]:
    async with open_api(policy) as opened:
        yield opened


@pytest.fixture
async def concert(api: Api) -> Concert:
    return await api.schedule()
