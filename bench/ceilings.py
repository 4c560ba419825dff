"""The ceilings: a bare Litestar app, served like the service, doing the least work
each kind of endpoint must do.

- ``GET /ping``: nothing (the server and framework alone);
- ``GET /redis``: one Redis round trip (``INCR``), the floor under every queue call;
- ``POST /pg``: one committed single-row write through SQLAlchemy (an ``INSERT``),
  the floor under every hold and payment;
- ``GET /pg_read``: one ``SELECT`` of 50 rows through SQLAlchemy (one date's seats, in
  a table of the ceiling's own shaped like the service's ``seats``), returned as JSON:
  the floor under the seat list.

Run with ``uvicorn --factory bench.ceilings:create_app``; ``BENCH_DATABASE_URL`` and
``BENCH_REDIS_URL`` name the stores (the same PostgreSQL and Redis as the service),
and the connections are made as the service makes them, but for the pool's ping:
SQLAlchemy's stock pre-ping on every checkout (decisions 25 and 27).
"""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from litestar import Litestar, get, post
from sqlalchemy import text

from adapters import redis, sql

TABLE = "bench_ceiling_writes"
CREATE = f"CREATE TABLE IF NOT EXISTS {TABLE} (id bigserial PRIMARY KEY, at timestamptz)"
"""Run once before the server starts (its workers would race to create it)."""
READ_TABLE = "bench_ceiling_seats"
CREATE_READ = (
    f"CREATE TABLE IF NOT EXISTS {READ_TABLE} (date date, seat_no integer, price bigint,"
    " status varchar(10), holder uuid, held_until timestamptz, reservation_id uuid,"
    " PRIMARY KEY (date, seat_no));\n"
    f"INSERT INTO {READ_TABLE} (date, seat_no, price, status)"
    " SELECT d::date, n, 5000, 'AVAILABLE'"
    " FROM generate_series(date '2027-03-06', date '2027-03-08', interval '1 day') AS d,"
    " generate_series(1, 50) AS n ON CONFLICT DO NOTHING"
)
"""Run once before the server starts, like ``CREATE``: the read ceiling's table, shaped
like the service's ``seats`` (3 dates x 50 seats). Two statements: asyncpg's
``execute`` without arguments takes several."""
READ = text(
    f"SELECT date, seat_no, price, status, holder, held_until, reservation_id FROM {READ_TABLE}"
    " WHERE date = :date ORDER BY seat_no"
)
READ_DATE = dt.date(2027, 3, 7)


def create_app() -> Litestar:
    engine = sql.create_engine(os.environ["BENCH_DATABASE_URL"], pool_size=10, ping="stock")
    client = redis.connect(os.environ["BENCH_REDIS_URL"])
    counter = f"bench-ceiling:{os.getpid()}"

    @asynccontextmanager
    async def lifespan(_: Litestar) -> AsyncIterator[None]:
        try:
            yield
        finally:
            await client.delete(counter)
            await client.aclose()
            await engine.dispose()

    @get("/ping")
    async def ping() -> dict[str, bool]:
        return {"ok": True}

    @get("/redis")
    async def one_redis_round_trip() -> dict[str, int]:
        return {"n": int(await client.incr(counter))}

    @post("/pg", status_code=201)
    async def one_committed_write() -> dict[str, int]:
        async with engine.begin() as connection:
            row = await connection.execute(
                text(f"INSERT INTO {TABLE} (at) VALUES (now()) RETURNING id")
            )
            return {"id": int(row.scalar_one())}

    @get("/pg_read")
    async def one_read_of_50_rows() -> dict[str, object]:
        async with engine.connect() as connection:
            rows = await connection.execute(READ, {"date": READ_DATE})
            seats = [{"seat_no": r.seat_no, "status": r.status, "price": r.price} for r in rows]
            return {"date": READ_DATE, "seats": seats}

    return Litestar(
        route_handlers=[ping, one_redis_round_trip, one_committed_write, one_read_of_50_rows],
        lifespan=[lifespan],
        openapi_config=None,
    )
