"""PostgreSQL's own CPU per hold, beside the ``/pg`` ceiling's insert.

Holds go straight through ``SqlSeatRepository.hold`` (no HTTP, no Redis), one seat each,
from 1 and then 10 concurrent connections; the ceiling's single-row insert runs the
same way. The CPU is that of every ``postgres`` process on the machine, read from
``/proc`` before and after, so run it on a quiet machine.

    PYTHONPATH=src:. .venv/bin/python -m bench.pg_cost
"""

from __future__ import annotations

import asyncio
import datetime as dt
import subprocess
import time
import uuid
from collections.abc import Awaitable, Callable

from sqlalchemy import text

from adapters.sql import SqlUnitOfWorkFactory, create_engine
from bench.ceilings import CREATE, TABLE
from bench.cpu import cpu_by_group
from bench.servers import concert_executable
from bench.stores import migrated_database, service_env
from concert_core.domain import ConcertId, ReservationId, SeatKey, SeatNo, TokenId, UserId
from concert_core.ports import HoldRequest

HOLDS = 4_000
FIRST = dt.date(2027, 3, 6)


def postgres_cpu_seconds() -> float:
    return cpu_by_group().get("postgres", 0.0)


async def measure(
    label: str, count: int, connections: int, one: Callable[[int], Awaitable[None]]
) -> None:
    todo = iter(range(count))

    async def worker() -> None:
        for i in todo:
            await one(i)

    cpu, wall = postgres_cpu_seconds(), time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(connections)))
    cpu, wall = postgres_cpu_seconds() - cpu, time.perf_counter() - wall
    print(
        f"{label:<28} {connections:>2} connections: {count / wall:7.0f}/s,"
        f" PostgreSQL CPU {cpu / count * 1e6:5.0f} µs each"
    )


async def run(url: str) -> None:
    engine = create_engine(url, pool_size=10)
    uow = SqlUnitOfWorkFactory(engine)
    now = dt.datetime.now(dt.UTC)
    offset = 0

    async def hold(i: int) -> None:
        n = offset + i
        key = SeatKey(ConcertId(1), FIRST + dt.timedelta(weeks=n // 50), SeatNo(n % 50 + 1))
        request = HoldRequest(
            seat=key,
            user_id=UserId(uuid.uuid4()),
            token_id=TokenId(uuid.uuid4()),
            reservation_id=ReservationId(uuid.uuid4()),
            now=now,
            until=now + dt.timedelta(minutes=5),
            max_holds=1,
        )
        async with uow() as work:
            await work.seats.hold(request)
            await work.commit()

    async def insert(_: int) -> None:
        async with engine.begin() as connection:
            await connection.execute(text(f"INSERT INTO {TABLE} (at) VALUES (now()) RETURNING id"))

    try:
        async with engine.begin() as connection:
            await connection.execute(text(CREATE))
        for connections in (1, 10):
            await measure("hold (seat + reservation)", HOLDS, connections, hold)
            offset += HOLDS
            await measure("ceiling insert", HOLDS, connections, insert)
    finally:
        await engine.dispose()


def main() -> None:
    namespace = f"bench-{uuid.uuid4().hex[:8]}"
    with migrated_database(namespace) as url:
        seed = [concert_executable(), "seed", "--concerts", "1", "--dates", "160"]
        subprocess.run(seed, env=service_env(url, namespace), check=True, capture_output=True)
        asyncio.run(run(url))


if __name__ == "__main__":
    main()
