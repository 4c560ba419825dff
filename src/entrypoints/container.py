"""The composition root: one dependency-injector container picks adapters by settings.

Storage is a ``Resource`` opened in the app's lifespan or the CLI command and closed
with it, never at import time:

    container = Container(settings=Settings.from_env(os.environ))
    await container.init_resources()
    service = await container.service()
    await service.list_concerts()  # use the service
    await container.shutdown_resources()
"""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator, Awaitable, Callable

from attrs import frozen
from dependency_injector import containers, providers

from adapters.clock import SystemClock
from adapters.memory import (
    MemoryDatabase,
    MemoryIdempotencyStore,
    MemoryQueueStore,
    MemoryUnitOfWorkFactory,
)
from adapters.tokens import JwtTokenCodec
from concert_core import ConcertService
from concert_core.ports import Clock, IdempotencyStore, QueueStore, UnitOfWorkFactory
from entrypoints.settings import Settings, SettingsError

HealthCheck = Callable[[], Awaitable[dict[str, bool]]]
"""Reports whether each backing service (``database``, ``queue``) answers."""


@frozen
class Storage:
    """What one adapter family provides the service with."""

    uow: UnitOfWorkFactory
    queue: QueueStore
    idempotency: IdempotencyStore
    token_secret: str
    health: HealthCheck


def check_supported(settings: Settings) -> None:
    """Refuse settings this release cannot honour, rather than silently ignore them."""
    if settings.redis_url is not None:
        raise SettingsError(
            "CONCERT_REDIS_URL is set, but this release keeps the waiting room in the SQL "
            "database; unset it (a Redis queue store arrives with the scaled deployment)"
        )


async def open_storage(settings: Settings) -> AsyncIterator[Storage]:
    """Open the storage the settings name; close it when the resource shuts down."""
    check_supported(settings)
    if settings.in_memory:
        yield _memory_storage(settings)
        return
    from adapters import sql  # imported only when used: the memory shape needs no driver

    engine = sql.create_engine(settings.database_url)
    try:
        secret = settings.token_secret or await sql.stored_secret(
            engine, "token_secret", lambda: secrets.token_urlsafe(48)
        )

        async def health() -> dict[str, bool]:
            database = await sql.ping(engine)
            return {"database": database, "queue": database}

        yield Storage(
            uow=sql.SqlUnitOfWorkFactory(engine),
            queue=sql.SqlQueueStore(engine, settings.policy),
            idempotency=sql.SqlIdempotencyStore(engine, settings.policy),
            token_secret=secret,
            health=health,
        )
    finally:
        await engine.dispose()


def _memory_storage(settings: Settings) -> Storage:
    async def health() -> dict[str, bool]:
        return {"database": True, "queue": True}

    return Storage(
        uow=MemoryUnitOfWorkFactory(MemoryDatabase()),
        queue=MemoryQueueStore(settings.policy),
        idempotency=MemoryIdempotencyStore(settings.policy),
        token_secret=settings.token_secret or secrets.token_urlsafe(48),
        health=health,
    )


def build_service(storage: Storage, clock: Clock, settings: Settings) -> ConcertService:
    return ConcertService.build(
        uow=storage.uow,
        queue=storage.queue,
        idempotency=storage.idempotency,
        codec=JwtTokenCodec(storage.token_secret),
        clock=clock,
        policy=settings.policy,
    )


class Container(containers.DeclarativeContainer):
    settings = providers.Dependency(instance_of=Settings)
    clock = providers.Singleton(SystemClock)
    storage = providers.Resource(open_storage, settings)
    service = providers.Singleton(build_service, storage, clock, settings)
