"""The ceilings: a bare Litestar app, served like the service, doing the least work
each kind of endpoint must do.

- ``GET /ping``: nothing (the server and framework alone);
- ``GET /redis``: one Redis round trip (``INCR``), the floor under every queue call;
- ``POST /pg``: one committed single-row write through SQLAlchemy (an ``INSERT``),
  the floor under every hold and payment.

Run with ``uvicorn --factory bench.ceilings:create_app``; ``BENCH_DATABASE_URL`` and
``BENCH_REDIS_URL`` name the stores (the same PostgreSQL and Redis as the service),
and the connections are made as the service makes them.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from litestar import Litestar, get, post
from sqlalchemy import text

from adapters import redis, sql

TABLE = "bench_ceiling_writes"
CREATE = f"CREATE TABLE IF NOT EXISTS {TABLE} (id bigserial PRIMARY KEY, at timestamptz)"
"""Run once before the server starts (its workers would race to create it)."""


def create_app() -> Litestar:
    engine = sql.create_engine(os.environ["BENCH_DATABASE_URL"], pool_size=10)
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

    return Litestar(
        route_handlers=[ping, one_redis_round_trip, one_committed_write],
        lifespan=[lifespan],
        openapi_config=None,
    )
