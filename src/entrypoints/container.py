"""The composition root: one dependency-injector container picks adapters by settings.

Storage is a ``Resource`` opened in the app's lifespan or the CLI command and closed
with it, never at import time:

    async with opened(Container(settings=Settings.from_env(os.environ))) as (_, service):
        await service.list_concerts()  # use the service

Work on storage that comes before any service (migrating the schema, checking that
storage takes its settings) lives beside it, in ``entrypoints.storage_admin``.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import secrets
from collections.abc import AsyncIterator, Awaitable, Callable
from functools import partial
from operator import attrgetter
from typing import TYPE_CHECKING, TypeVar

from attrs import evolve, frozen
from dependency_injector import containers, providers

from adapters.challenge import AltchaJoinChallenges, SpentProofs
from adapters.clock import SharedClock, SystemClock
from adapters.memory import (
    MemoryDatabase,
    MemoryIdempotencyStore,
    MemoryQueueStore,
    MemoryRateLimiter,
    MemorySpentProofs,
    MemoryUnitOfWorkFactory,
)
from adapters.tokens import CachingTokenCodec, JwtTokenCodec
from concert_core import ConcertService
from concert_core.ports import (
    BoxOffice,
    Clock,
    IdempotencyStore,
    ProofSpendingQueue,
    QueueStore,
    SeatMapReader,
    UnitOfWorkFactory,
)
from entrypoints.rate_limits import ClientLimits, RateLimiter
from entrypoints.settings import Settings

if TYPE_CHECKING:
    from adapters.identity import IdentityVerifier, KeySource

_T = TypeVar("_T")

HealthCheck = Callable[[], Awaitable[dict[str, bool]]]
"""Reports whether each backing service (``database``, ``queue``) answers."""


@frozen
class Storage:
    """What one adapter family provides the service with."""

    uow_factory: UnitOfWorkFactory
    queue: QueueStore
    idempotency: IdempotencyStore
    token_secret: str
    health: HealthCheck
    clock: Clock
    """The clock the rules are judged by: one that every instance sharing the storage
    shares (docs/contract.md §7)."""
    admin_key: str
    """The operator key guarding the admin routes (docs/contract.md §8): the setting,
    else generated once and stored beside the token secret (in memory: per process)."""
    rate_limiter: RateLimiter
    """The rate limit logs (docs/contract.md §9): in Redis when it is configured, else in
    the database (in memory: per process), so every instance counts the same hits."""
    spent_proofs: SpentProofs
    """Join-challenge solutions used (docs/contract.md §9): beside the waiting room."""
    proof_queue: ProofSpendingQueue | None = None
    """The waiting room itself when it spends those solutions as it issues tokens (a
    join with a proof is then one storage call), else None."""
    seat_maps: SeatMapReader | None = None
    """The seat list's read outside a unit of work (None: through one)."""
    box_office: BoxOffice | None = None
    """Holds and payments outside a unit of work (None: a unit of work each)."""


async def open_storage(settings: Settings) -> AsyncIterator[Storage]:
    """Open the storage the settings name; close it when the resource shuts down.

    The database holds seats, reservations, wallets and payments. The waiting room and
    idempotency keys live in Redis when ``CONCERT_REDIS_URL`` is set, else beside them
    in the database. Rules are judged by the shared store's clock: Redis's, else the
    database's.
    """
    memory = _memory_storage(settings) if settings.in_memory else None
    async with contextlib.AsyncExitStack() as stack:
        if memory is not None:
            base = memory
        else:
            base = await _sql_storage(settings, stack)
        if settings.redis_url is None:
            yield base
            return
        from adapters import redis  # imported only when used

        client = redis.connect(settings.redis_url, max_connections=settings.redis_pool_size)
        stack.push_async_callback(client.aclose)
        namespace = settings.redis_namespace

        async def health() -> dict[str, bool]:
            database, queue = await asyncio.gather(base.health(), redis.ping(client))
            return {"database": database["database"], "queue": queue}

        queue = redis.RedisQueueStore(client, settings.policy, namespace=namespace)
        await queue.prepare()
        yield evolve(
            base,
            queue=queue,
            proof_queue=queue,  # it spends under RedisSpentProofs's keys, same namespace
            idempotency=redis.RedisIdempotencyStore(client, settings.policy, namespace=namespace),
            spent_proofs=redis.RedisSpentProofs(client, namespace=namespace),
            health=health,
            clock=SharedClock(partial(redis.redis_time, client)),
            rate_limiter=redis.RedisRateLimiter(client, namespace=namespace),
        )


async def _sql_storage(settings: Settings, stack: contextlib.AsyncExitStack) -> Storage:
    from adapters import sql  # imported only when used: the memory shape needs no driver
    from adapters.sql.seat_map import SqlSeatMaps

    engine = sql.create_engine(settings.database_url, pool_size=settings.database_pool_size)
    stack.push_async_callback(engine.dispose)
    seat_maps = SqlSeatMaps.on(engine)
    stack.push_async_callback(seat_maps.aclose)
    secret = settings.token_secret or await sql.stored_secret(
        engine, "token_secret", lambda: secrets.token_urlsafe(48)
    )
    admin_key = settings.admin_key or await sql.stored_secret(engine, "admin_key", new_admin_key)

    async def health() -> dict[str, bool]:
        database = await sql.ping(engine)
        return {"database": database, "queue": database}

    return Storage(
        uow_factory=sql.SqlUnitOfWorkFactory(engine),
        queue=sql.SqlQueueStore(engine, settings.policy),
        idempotency=sql.SqlIdempotencyStore(engine, settings.policy),
        token_secret=secret,
        health=health,
        clock=SharedClock(partial(sql.database_time, engine))
        if engine.dialect.name == "postgresql"
        else SystemClock(),  # SQLite's processes share one host, and its clock
        admin_key=admin_key,
        rate_limiter=sql.SqlRateLimiter(engine),
        spent_proofs=sql.SqlSpentProofs(engine),
        seat_maps=seat_maps,
        box_office=sql.SqlBoxOffice(engine) if engine.dialect.name == "postgresql" else None,
    )


def _memory_storage(settings: Settings) -> Storage:
    async def health() -> dict[str, bool]:
        return {"database": True, "queue": True}

    return Storage(
        uow_factory=MemoryUnitOfWorkFactory(MemoryDatabase()),
        queue=MemoryQueueStore(settings.policy),
        idempotency=MemoryIdempotencyStore(settings.policy),
        token_secret=settings.token_secret or secrets.token_urlsafe(48),
        health=health,
        clock=SystemClock(),
        admin_key=settings.admin_key or new_admin_key(),
        rate_limiter=MemoryRateLimiter(),
        spent_proofs=MemorySpentProofs(),
    )


def new_admin_key() -> str:
    """A fresh operator key: 43 URL-safe characters (256 random bits)."""
    return secrets.token_urlsafe(32)


def build_service(storage: Storage, clock: Clock, settings: Settings) -> ConcertService:
    return ConcertService.build(
        uow_factory=storage.uow_factory,
        queue=storage.queue,
        idempotency=storage.idempotency,
        codec=CachingTokenCodec(JwtTokenCodec(storage.token_secret)),
        clock=clock,
        policy=settings.policy,
        challenges=AltchaJoinChallenges(
            storage.token_secret,
            storage.spent_proofs,
            max_number=settings.challenge_max_number,
            ttl=settings.challenge_ttl,
        ),
        proof_queue=storage.proof_queue,
        seat_maps=storage.seat_maps,
        box_office=storage.box_office,
    )


def build_identity(settings: Settings) -> IdentityVerifier | None:
    """The verifier of fans' identity tokens, or None when identity is off
    (docs/contract.md §9). PyJWT's cryptography is imported only when it is on."""
    from adapters.identity import FixedKey, IdentityVerifier, JwksKeys, load_identity_key

    keys: KeySource
    if settings.identity_key is not None:
        keys = FixedKey(load_identity_key(settings.identity_key))
    elif settings.identity_jwks_url is not None:
        keys = JwksKeys(settings.identity_jwks_url)
    else:
        return None
    return IdentityVerifier(
        keys, issuer=settings.identity_issuer, audience=settings.identity_audience
    )


def build_limits(storage: Storage, clock: Clock, settings: Settings) -> ClientLimits:
    return ClientLimits(
        storage.rate_limiter,
        clock,
        joins_per_minute=settings.rate_limit_joins_per_minute,
        joins_per_fan_per_minute=settings.rate_limit_joins_per_fan_per_minute,
        requests_per_minute=settings.rate_limit_requests_per_minute,
    )


class Container(containers.DeclarativeContainer):
    settings = providers.Dependency(instance_of=Settings)
    storage = providers.Resource(open_storage, settings)
    clock = providers.Callable(attrgetter("clock"), storage)
    service = providers.Singleton(build_service, storage, clock, settings)
    identity = providers.Singleton(build_identity, settings)
    limits = providers.Singleton(build_limits, storage, clock, settings)


@contextlib.asynccontextmanager
async def opened(container: Container) -> AsyncIterator[tuple[Storage, ConcertService]]:
    """The container's storage, open while the block runs and closed after it, and the
    service built on it."""
    try:
        await resolved(container.init_resources())
        storage = await resolved(container.storage())
        yield storage, await resolved(container.service())
    finally:
        await resolved(container.shutdown_resources())


async def resolved(value: _T | Awaitable[_T]) -> _T:
    """What a container call gives: dependency-injector returns an awaitable when an
    async resource is involved, and the plain value when a test overrides it with an
    object."""
    if inspect.isawaitable(value):
        return await value
    return value
