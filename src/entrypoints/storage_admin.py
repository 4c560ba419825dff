"""Work on storage that comes before any service: migrating the database schema, and
asking whether the storage the settings name will serve.

With ``entrypoints.container`` it is the only way from the CLI and the HTTP app to the
adapters. Each call opens what it needs and closes it before returning; the drivers are
imported only when used (the in-memory shape needs none).
"""

from __future__ import annotations

from entrypoints.settings import Settings


async def upgrade_schema(settings: Settings) -> str | None:
    """Create or migrate the database schema to the latest revision (safe to run
    again); the revision it is at afterwards."""
    from adapters import sql

    engine = sql.create_engine(settings.database_url)
    try:
        await sql.upgrade(engine)
        return await sql.current_revision(engine)
    finally:
        await engine.dispose()


async def schema_revision(settings: Settings) -> str | None:
    """The revision the database schema is at; None before the first migration."""
    from adapters import sql

    engine = sql.create_engine(settings.database_url)
    try:
        return await sql.current_revision(engine)
    finally:
        await engine.dispose()


def latest_schema_revision() -> str | None:
    """The revision the code's migrations end at."""
    from adapters import sql

    return sql.head_revision()


async def redis_refusal(redis_url: str) -> str | None:
    """Why Redis refuses what ``redis_url`` asks (a database index out of range, bad
    credentials), or None: it accepts them or cannot be reached now (an outage the
    service rides out, unlike a wrong setting)."""
    from adapters import redis

    return await redis.refused_settings(redis_url)
