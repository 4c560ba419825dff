"""PostgreSQL refusing connections (too many clients, starting up, shutting down) is 503
with Retry-After, never 500 (docs/contract.md §9)."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator

import asyncpg
import httpx
import pytest
from attrs import evolve
from sqlalchemy import exc

import backends
from adapters.clock import ManualClock
from adapters.sql.engine import as_unavailable
from concert_core.domain import Concert, ServiceUnavailableError
from e2e.helpers import POLICY, running_api
from services import POSTGRES_ADMIN_DSN

JOINS = 64


@pytest.mark.parametrize(
    "error",
    [
        asyncpg.exceptions.TooManyConnectionsError("sorry, too many clients already"),
        asyncpg.exceptions.CannotConnectNowError("the database system is starting up"),
        asyncpg.exceptions.AdminShutdownError("terminating connection"),
        asyncpg.exceptions.ConnectionFailureError("connection failure"),
        asyncpg.exceptions.DiskFullError("could not extend file"),
        exc.TimeoutError("QueuePool limit of size 10 overflow 0 reached"),
        exc.OperationalError("BEGIN IMMEDIATE", {}, Exception("database is locked")),
    ],
    ids=lambda e: type(e).__name__,
)
def test_refusals_and_exhaustion_read_as_unavailable(error: Exception) -> None:
    assert isinstance(as_unavailable(error), ServiceUnavailableError)


@pytest.mark.parametrize(
    "error",
    [
        asyncpg.exceptions.UniqueViolationError("duplicate key"),
        asyncpg.exceptions.UndefinedTableError("no such table"),
        ValueError("a bug"),
    ],
    ids=lambda e: type(e).__name__,
)
def test_other_errors_are_not_read_as_unavailable(error: Exception) -> None:
    assert as_unavailable(error) is None


@pytest.fixture
async def limited_url(postgres_url: str) -> AsyncIterator[str]:
    """The run's database through a role of its own that may hold 2 connections at once
    (a PostgreSQL that refuses more: ``TooManyConnectionsError``)."""
    role = f"concert_limited_{uuid.uuid4().hex[:12]}"
    database = postgres_url.rsplit("/", 1)[1]
    admin = await asyncpg.connect(POSTGRES_ADMIN_DSN.rsplit("/", 1)[0] + f"/{database}", timeout=5)
    try:
        await admin.execute(f"CREATE ROLE {role} LOGIN CONNECTION LIMIT 2")
        await admin.execute(f"GRANT USAGE ON SCHEMA public TO {role}")
        await admin.execute(f"GRANT ALL ON ALL TABLES IN SCHEMA public TO {role}")
        await admin.execute(f"GRANT ALL ON ALL SEQUENCES IN SCHEMA public TO {role}")
        yield postgres_url.replace("://postgres@", f"://{role}@", 1)
    finally:
        await admin.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = $1", role
        )
        await admin.execute(f"DROP OWNED BY {role}")
        await admin.execute(f"DROP ROLE {role}")
        await admin.close()


@pytest.mark.postgres
async def test_a_burst_of_joins_on_a_full_postgres_gets_503_with_retry_after_never_500(
    postgres_url: str, limited_url: str
) -> None:
    assert "://postgres@" in postgres_url
    async with backends.open_settings("postgres", lambda: postgres_url) as storage:
        limited = evolve(storage, database_url=limited_url, database_pool_size=10)
        async with running_api(limited, ManualClock(), POLICY) as api:
            concert: Concert = await api.schedule()

            async def join() -> httpx.Response:
                return await api.enter(concert.concert_id)

            replies = await asyncio.gather(*(join() for _ in range(JOINS)))
    statuses = sorted({r.status_code for r in replies})
    assert set(statuses) <= {201, 503}, [(r.status_code, r.text) for r in replies]
    refused = [r for r in replies if r.status_code == 503]
    assert refused, statuses  # the third connection was refused, and answered
    assert all(r.json()["code"] == "SERVICE_UNAVAILABLE" for r in refused)
    assert all(r.headers["Retry-After"] == "5" for r in refused)
    assert any(r.status_code == 201 for r in replies)
