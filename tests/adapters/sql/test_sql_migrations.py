"""Alembic owns the schema: the migrations build exactly the tables the adapter uses."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import Connection, inspect

from adapters import sql
from adapters.sql.tables import metadata
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
                for table in ("seats", "queue_tokens", "ledger", "reservations")
            }

        async with engine.connect() as connection:
            found = await connection.run_sync(indexes)
    assert ["concert_id", "date", "status"] in found["seats"]
    assert ["concert_id", "status", "sequence"] in found["queue_tokens"]
    assert ["user_id", "serial"] in found["ledger"]
    assert ["concert_id", "date", "seat_no"] in found["reservations"]
