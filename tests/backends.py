"""The storage families the cross-backend suites run against, named in one place.

The contract suite (``contract/``), the HTTP suite (``e2e/``) and the property suite
(``property/``) run their tests on every family in ``FAMILIES``. A fixture parametrised
by ``params()`` gets a family's name (its test id; marked with the services it needs)
and opens the family on fresh storage, either as adapters (``open_backend``: units of
work, queue store and idempotency store, as the contract and property suites drive
them) or as the app's settings (``open_settings``: what the e2e suite starts the app
with).

A family whose service is unreachable skips, or fails under
``CONCERT_REQUIRE_SERVICES=1`` (see services.py). A new family joins all three suites
by adding one ``Family`` to ``FAMILIES``; the tests themselves do not change.
"""

from __future__ import annotations

import tempfile
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from functools import partial
from typing import Any

import pytest
from attrs import evolve, frozen
from sqlalchemy.ext.asyncio import AsyncEngine

from adapters import sql
from adapters.challenge import SpentProofs
from adapters.memory import (
    MemoryDatabase,
    MemoryIdempotencyStore,
    MemoryQueueStore,
    MemorySpentProofs,
    MemoryUnitOfWorkFactory,
)
from adapters.redis import RedisIdempotencyStore, RedisQueueStore, RedisSpentProofs
from concert_core.policy import Policy
from concert_core.ports import BoxOffice, IdempotencyStore, QueueStore, UnitOfWorkFactory
from concert_core.use_cases import UnitOfWorkBoxOffice
from entrypoints.settings import MEMORY_URL, Settings
from services import REDIS_URL, empty_postgres, redis_namespace
from support import TEST_SECRET, copy_migrated_sqlite, migrated_sqlite

_emptied_postgres = asynccontextmanager(empty_postgres)
_redis_namespace = asynccontextmanager(redis_namespace)

PostgresUrl = Callable[[], str]
"""How a family gets the run's PostgreSQL database (the ``postgres_url`` fixture). Only
the families that need it ask, so a run without PostgreSQL never does."""


@frozen
class Backend:
    """One storage family opened as adapters, on storage of their own."""

    name: str
    uow: UnitOfWorkFactory
    queue: QueueStore
    idempotency: IdempotencyStore
    policy: Policy
    database: MemoryDatabase | AsyncEngine
    """Where seats, reservations, wallets and payments are kept (the memory database or
    the SQL engine), for a test that reads them behind the ports."""
    spent_proofs: SpentProofs
    """Join-challenge solutions used (beside the waiting room, as the app keeps them)."""
    box_office: BoxOffice
    """Holds and payments outside a unit of work, as the app wires them (PostgreSQL's
    autocommit statements; elsewhere a unit of work a call)."""


@frozen
class Family:
    """A storage family: its name, the services it needs, and how to open it."""

    name: str
    needs: tuple[str, ...]
    """The services it needs, each also the name of its pytest mark."""
    open_backend: Callable[[Policy, PostgresUrl], AbstractAsyncContextManager[Backend]]
    open_settings: Callable[[PostgresUrl], AbstractAsyncContextManager[Settings]]

    @property
    def marks(self) -> list[pytest.MarkDecorator]:
        return [getattr(pytest.mark, service) for service in self.needs]


# -- memory: nothing to install -------------------------------------------------------


@asynccontextmanager
async def _memory_backend(policy: Policy, _: PostgresUrl) -> AsyncIterator[Backend]:
    db = MemoryDatabase()
    yield Backend(
        name="memory",
        uow=MemoryUnitOfWorkFactory(db),
        queue=MemoryQueueStore(policy),
        idempotency=MemoryIdempotencyStore(policy),
        policy=policy,
        database=db,
        spent_proofs=MemorySpentProofs(),
        box_office=UnitOfWorkBoxOffice(MemoryUnitOfWorkFactory(db)),
    )


@asynccontextmanager
async def _memory_settings(_: PostgresUrl) -> AsyncIterator[Settings]:
    yield Settings(database_url=MEMORY_URL, token_secret=TEST_SECRET)


# -- sqlite: the embedded store, a fresh migrated file --------------------------------


def box_office_on(engine: AsyncEngine) -> BoxOffice:
    """As the app wires it (``entrypoints.container``)."""
    if engine.dialect.name == "postgresql":
        return sql.SqlBoxOffice(engine)
    return UnitOfWorkBoxOffice(sql.SqlUnitOfWorkFactory(engine))


def _sql_backend(name: str, engine: AsyncEngine, policy: Policy) -> Backend:
    """Every port in the SQL database."""
    return Backend(
        name=name,
        uow=sql.SqlUnitOfWorkFactory(engine),
        queue=sql.SqlQueueStore(engine, policy),
        idempotency=sql.SqlIdempotencyStore(engine, policy),
        policy=policy,
        database=engine,
        spent_proofs=sql.SqlSpentProofs(engine),
        box_office=box_office_on(engine),
    )


@asynccontextmanager
async def _sqlite_backend(policy: Policy, _: PostgresUrl) -> AsyncIterator[Backend]:
    async with migrated_sqlite() as engine:
        yield _sql_backend("sqlite", engine, policy)


@asynccontextmanager
async def _sqlite_settings(_: PostgresUrl) -> AsyncIterator[Settings]:
    with tempfile.TemporaryDirectory(prefix="concert-") as directory:
        # The app opens engines of its own.
        url = await copy_migrated_sqlite(f"{directory}/e2e.db")
        yield Settings(database_url=url, token_secret=TEST_SECRET)


# -- postgres: the run's database, every table emptied --------------------------------


@asynccontextmanager
async def _postgres_backend(policy: Policy, postgres_url: PostgresUrl) -> AsyncIterator[Backend]:
    async with _emptied_postgres(postgres_url()) as engine:
        yield _sql_backend("postgres", engine, policy)


@asynccontextmanager
async def _postgres_settings(postgres_url: PostgresUrl) -> AsyncIterator[Settings]:
    url = postgres_url()
    async with _emptied_postgres(url):
        pass  # emptied; the app opens engines of its own
    yield Settings(database_url=url, token_secret=TEST_SECRET)


# -- postgres+redis: the waiting room and idempotency keys in a Redis namespace -------


@asynccontextmanager
async def _postgres_redis_backend(
    policy: Policy, postgres_url: PostgresUrl
) -> AsyncIterator[Backend]:
    url = postgres_url()
    async with _redis_namespace() as (client, namespace), _emptied_postgres(url) as engine:
        yield Backend(
            name="postgres+redis",
            uow=sql.SqlUnitOfWorkFactory(engine),
            queue=RedisQueueStore(client, policy, namespace=namespace),
            idempotency=RedisIdempotencyStore(client, policy, namespace=namespace),
            policy=policy,
            database=engine,
            spent_proofs=RedisSpentProofs(client, namespace=namespace),
            box_office=box_office_on(engine),
        )


@asynccontextmanager
async def _postgres_redis_settings(postgres_url: PostgresUrl) -> AsyncIterator[Settings]:
    async with _postgres_settings(postgres_url) as settings, _redis_namespace() as (_, namespace):
        yield evolve(settings, redis_url=REDIS_URL, redis_namespace=namespace)


FAMILIES: dict[str, Family] = {
    family.name: family
    for family in (
        Family("memory", (), _memory_backend, _memory_settings),
        Family("sqlite", (), _sqlite_backend, _sqlite_settings),
        Family("postgres", ("postgres",), _postgres_backend, _postgres_settings),
        Family(
            "postgres+redis",
            ("postgres", "redis"),
            _postgres_redis_backend,
            _postgres_redis_settings,
        ),
    )
}
"""Every storage family, by name, in the order the suites run them."""


def params(*names: str) -> list[Any]:
    """The named families (every one when none is named) as ``pytest.param``s: the
    family's name is the value and the id, its services are its marks."""
    return [
        pytest.param(family.name, marks=family.marks, id=family.name)
        for family in (FAMILIES[name] for name in names or FAMILIES)
    ]


def marks(name: str) -> list[pytest.MarkDecorator]:
    """The marks of a test that runs on the family ``name`` alone."""
    return FAMILIES[name].marks


def postgres_url_of(request: pytest.FixtureRequest) -> PostgresUrl:
    """The ``postgres_url`` fixture, asked for only when a family needs it."""
    return partial(request.getfixturevalue, "postgres_url")


def open_backend(
    name: str, policy: Policy, postgres_url: PostgresUrl
) -> AbstractAsyncContextManager[Backend]:
    """``async with open_backend(name, policy, url) as backend``: the family's adapters
    on fresh storage, closed (and their storage emptied of this test) afterwards."""
    return FAMILIES[name].open_backend(policy, postgres_url)


def open_settings(name: str, postgres_url: PostgresUrl) -> AbstractAsyncContextManager[Settings]:
    """``async with open_settings(name, url) as settings``: the app's settings for the
    family on fresh storage (the app opens and closes its own connections)."""
    return FAMILIES[name].open_settings(postgres_url)
