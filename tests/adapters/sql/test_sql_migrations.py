"""Alembic owns the schema: the migrations build exactly the tables the adapter uses,
and each one upgrades a live database without losing or changing its data."""

from __future__ import annotations

import datetime as dt
import tempfile
import uuid
from collections.abc import AsyncIterator

import asyncpg
import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from attrs import frozen
from sqlalchemy import Connection, inspect, select
from sqlalchemy.ext.asyncio import AsyncEngine

import backends
from adapters import sql
from adapters.sql import tables as t
from adapters.sql.tables import metadata
from concert_core.domain import (
    ConcertId,
    Money,
    SaleSettings,
    TokenId,
    TokenStatus,
    UserId,
)
from concert_core.policy import Policy
from services import POSTGRES_ADMIN_DSN, unavailable
from support import migrated_sqlite


async def test_the_migrated_schema_matches_the_tables_the_adapter_uses() -> None:
    async with migrated_sqlite() as engine:

        def differences(connection: Connection) -> list[object]:
            context = MigrationContext.configure(connection, opts={"compare_type": True})
            return list(compare_metadata(context, metadata))

        async with engine.connect() as connection:
            assert await connection.run_sync(differences) == []


async def test_migrating_a_migrated_database_again_changes_nothing() -> None:
    async with migrated_sqlite() as engine:
        assert await sql.current_revision(engine) == sql.head_revision() is not None
        await sql.upgrade(engine)
        assert await sql.current_revision(engine) == sql.head_revision()


async def test_the_queries_have_their_indexes() -> None:
    async with migrated_sqlite() as engine:

        def indexes(connection: Connection) -> dict[str, list[list[str]]]:
            inspector = inspect(connection)
            return {
                table: [list(ix["column_names"]) for ix in inspector.get_indexes(table)]
                for table in ("seats", "queue_tokens", "ledger", "reservation_records")
            }

        async with engine.connect() as connection:
            found = await connection.run_sync(indexes)
    assert ["concert_id", "date", "status"] in found["seats"]
    # The seat row is the hold (migration 0005): read and paid by its reservation id,
    # released with its turn, swept when lapsed.
    assert ["reservation_id"] in found["seats"]
    assert ["token_id"] in found["seats"]
    assert ["held_until"] in found["seats"]
    # Positions count the tokens ahead by their place in line (the slot), not the
    # sequence: the opening of a pre-queue deals places out again.
    assert ["concert_id", "status", "slot"] in found["queue_tokens"]
    assert ["user_id", "serial"] in found["ledger"]
    assert ["concert_id", "date", "seat_no"] in found["reservation_records"]


# -- the on-sale migration (0002) on a database in use ----------------------------------

T0 = dt.datetime(2026, 12, 1, 18, tzinfo=dt.UTC)
DATE = dt.date(2026, 12, 24)
POLICY = Policy(
    active_capacity=3,
    idle_timeout=dt.timedelta(hours=1),
    active_ttl=dt.timedelta(minutes=10),
)
BEFORE_ON_SALES = "0001"

COLUMNS_BEFORE = {
    t.concerts: ["concert_id", "title", "venue"],
    t.concert_dates: ["concert_id", "date"],
    t.seats: ["concert_id", "date", "seat_no", "price", "status", "holder", "held_until"],
    t.payments: ["serial", "payment_id", "user_id", "concert_id", "amount", "paid_at"],
    t.queue_tokens: [
        "sequence",
        "token_id",
        "user_id",
        "concert_id",
        "status",
        "issued_at",
        "last_seen_at",
        "active_until",
    ],
    t.queue_admissions: ["serial", "concert_id", "at", "admitted"],
}
"""What each table held before the on-sale migration (the columns it reads back)."""


@pytest.fixture(params=backends.params("sqlite", "postgres"))
async def empty_database(request: pytest.FixtureRequest) -> AsyncIterator[AsyncEngine]:
    """An engine on a database of its own, not migrated yet."""
    if request.param == "sqlite":
        with tempfile.TemporaryDirectory(prefix="concert-") as directory:
            engine = sql.create_engine(f"sqlite+aiosqlite:///{directory}/old.db")
            yield engine
            await engine.dispose()
        return
    name = f"concert_migration_{uuid.uuid4().hex[:12]}"
    try:
        admin = await asyncpg.connect(POSTGRES_ADMIN_DSN, timeout=5)
    except (OSError, asyncpg.PostgresError, TimeoutError) as error:
        unavailable("PostgreSQL", error)
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
        base = POSTGRES_ADMIN_DSN.rsplit("/", 1)[0].replace(
            "postgresql://", "postgresql+asyncpg://"
        )
        engine = sql.create_engine(f"{base}/{name}")
        yield engine
        await engine.dispose()
    finally:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()


@frozen
class InUse:
    """What a database in use held before the on-sale migration."""

    payer: UserId
    active: TokenId
    waiting: list[TokenId]
    """In line order."""


async def _fill_before_on_sales(engine: AsyncEngine) -> InUse:
    """A concert with a date, a sold seat and its payment, and a line: an expired token,
    an active one, and three waiting."""
    in_use = InUse(
        UserId(uuid.uuid4()), TokenId(uuid.uuid4()), [TokenId(uuid.uuid4()) for _ in range(3)]
    )
    async with engine.begin() as c:
        await c.execute(t.concerts.insert().values(concert_id=1, title="Aurora", venue="Hall"))
        await c.execute(t.concert_dates.insert().values(concert_id=1, date=DATE))
        await c.execute(
            t.seats.insert(),
            [
                {
                    "concert_id": 1,
                    "date": DATE,
                    "seat_no": n,
                    "price": 1_000 * n,
                    "status": "SOLD" if n == 1 else "AVAILABLE",
                }
                for n in range(1, 51)
            ],
        )
        await c.execute(
            t.payments.insert().values(
                payment_id=uuid.uuid4(),
                user_id=in_use.payer,
                concert_id=1,
                reservation_ids=[str(uuid.uuid4())],
                amount=1_000,
                paid_at=T0,
            )
        )
        line = [("EXPIRED", None), ("ACTIVE", T0 + dt.timedelta(minutes=5))]
        line += [("WAITING", None)] * len(in_use.waiting)
        ids = [uuid.uuid4(), in_use.active, *in_use.waiting]
        for token_id, (status, active_until) in zip(ids, line, strict=True):
            await c.execute(
                t.queue_tokens.insert().values(
                    token_id=token_id,
                    user_id=uuid.uuid4(),
                    concert_id=1,
                    status=status,
                    issued_at=T0,
                    last_seen_at=T0,
                    active_until=active_until,
                )
            )
        await c.execute(t.queue_admissions.insert().values(concert_id=1, at=T0, admitted=1))
    return in_use


async def _stored(engine: AsyncEngine) -> dict[str, list[tuple[object, ...]]]:
    async with engine.connect() as c:
        stored = {}
        for table, names in COLUMNS_BEFORE.items():
            columns = [table.c[name] for name in names]
            rows = await c.execute(select(*columns).order_by(*columns))
            stored[table.name] = [tuple(row) for row in rows]
        return stored


async def test_the_on_sale_migration_keeps_the_data_of_a_database_in_use(
    empty_database: AsyncEngine,
) -> None:
    engine = empty_database
    await sql.upgrade(engine, BEFORE_ON_SALES)
    in_use = await _fill_before_on_sales(engine)
    before = await _stored(engine)

    await sql.upgrade(engine)

    assert await sql.current_revision(engine) == sql.head_revision()
    assert await _stored(engine) == before
    async with sql.SqlUnitOfWorkFactory(engine)() as uow:
        concert = await uow.catalogue.get_concert(ConcertId(1))
        [paid] = await uow.payments.history(in_use.payer)
        assert await uow.payments.revenue(ConcertId(1)) == Money(1_000)
    assert concert is not None and concert.sale == SaleSettings()  # on sale at once
    assert paid.token_id is None
    queue = sql.SqlQueueStore(engine, POLICY)
    places = [await queue.look(ConcertId(1), x, T0) for x in in_use.waiting]
    assert [p.position for p in places if p is not None] == [1, 2, 3]
    place = await queue.look(ConcertId(1), in_use.active, T0)
    assert place is not None and place.status is TokenStatus.ACTIVE
    assert place.token.ends_at == place.token.active_until == T0 + dt.timedelta(minutes=5)
    stats = await queue.stats(ConcertId(1), T0)
    assert (stats.waiting, stats.active, stats.shuffle_seed) == (3, 1, None)


async def test_after_the_on_sale_migration_the_line_goes_on_where_it_was(
    empty_database: AsyncEngine,
) -> None:
    engine = empty_database
    await sql.upgrade(engine, BEFORE_ON_SALES)
    in_use = await _fill_before_on_sales(engine)
    await sql.upgrade(engine)
    queue = sql.SqlQueueStore(engine, POLICY)
    newcomer = TokenId(uuid.uuid4())
    issued = await queue.issue(UserId(uuid.uuid4()), ConcertId(1), newcomer, T0)
    assert issued.created and issued.place.position == 4
    assert issued.place.token.sequence > len(in_use.waiting) + 2  # no number drawn twice
    admitted = await queue.admit(ConcertId(1), T0)
    assert [x.token_id for x in admitted] == in_use.waiting[:2]  # capacity 3, one active
