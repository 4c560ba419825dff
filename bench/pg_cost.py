"""PostgreSQL's own CPU per hold and per payment, beside the ``/pg`` ceiling's insert.

Holds go straight through ``SqlSeatRepository.hold`` and payments through
``SqlPaymentRepository.pay`` (no HTTP, no Redis), one seat each, from 1 and then 10
concurrent connections; the ceiling's single-row insert runs the same way. The
PostgreSQL CPU is that of this run's own server processes (the backends serving its
pooled connections, read from ``/proc`` before and after), so other work on the
machine does not count; the client's is this process's CPU (SQLAlchemy and asyncpg,
per operation).

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
from sqlalchemy.ext.asyncio import AsyncEngine

from adapters.sql import SqlUnitOfWorkFactory, create_engine
from bench.ceilings import CREATE, TABLE
from bench.cpu import pid_cpu_seconds
from bench.servers import concert_executable
from bench.stores import migrated_database, service_env
from concert_core.domain import (
    ConcertId,
    Money,
    Payment,
    PaymentId,
    ReservationId,
    SeatKey,
    SeatNo,
    TokenId,
    UserId,
)
from concert_core.ports import HoldRequest

OPERATIONS = 3_000
CONNECTIONS = (1, 10)
FIRST = dt.date(2027, 3, 6)
POOL = 10


async def backend_pids(engine: AsyncEngine) -> list[int]:
    """The server processes of the engine's pooled connections (all of them opened)."""
    ready = asyncio.Barrier(POOL)

    async def one() -> int:
        async with engine.connect() as connection:
            pid = int((await connection.execute(text("SELECT pg_backend_pid()"))).scalar_one())
            await ready.wait()
            return pid

    return list(await asyncio.gather(*(one() for _ in range(POOL))))


async def measure(
    label: str,
    pids: list[int],
    count: int,
    connections: int,
    one: Callable[[int], Awaitable[None]],
) -> None:
    todo = iter(range(count))

    async def worker() -> None:
        for i in todo:
            await one(i)

    def server() -> float:
        return sum(pid_cpu_seconds(pid) for pid in pids)

    cpu, client, wall = server(), time.process_time(), time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(connections)))
    cpu, client = server() - cpu, time.process_time() - client
    wall = time.perf_counter() - wall
    print(
        f"{label:<28} {connections:>2} connections: {count / wall:7.0f}/s,"
        f" PostgreSQL CPU {cpu / count * 1e6:5.0f} µs, client CPU {client / count * 1e6:5.0f} µs"
        " each"
    )


async def run(url: str) -> None:
    engine = create_engine(url, pool_size=POOL)
    uow = SqlUnitOfWorkFactory(engine)
    now = dt.datetime.now(dt.UTC)
    offset = 0
    held: dict[int, tuple[UserId, TokenId, ReservationId]] = {}

    def key_of(n: int) -> SeatKey:
        return SeatKey(ConcertId(1), FIRST + dt.timedelta(weeks=n // 50), SeatNo(n % 50 + 1))

    async def hold(i: int) -> None:
        n = offset + i
        user, turn, rid = UserId(uuid.uuid4()), TokenId(uuid.uuid4()), ReservationId(uuid.uuid4())
        request = HoldRequest(
            seat=key_of(n),
            user_id=user,
            token_id=turn,
            reservation_id=rid,
            now=now,
            until=now + dt.timedelta(minutes=5),
            max_holds=1,
        )
        async with uow() as work:
            await work.seats.hold(request)
            await work.commit()
        held[n] = (user, turn, rid)

    async def pay(i: int) -> None:
        user, turn, rid = held[offset + i]
        pid = PaymentId(uuid.uuid4())
        async with uow() as work:
            if hasattr(work.payments, "pay"):  # one storage operation (decision 20)
                from concert_core.ports import PaymentRequest

                request = PaymentRequest(pid, user, ConcertId(1), turn, (rid,), now)
                await work.payments.pay(request)
            else:  # the use case's steps before it
                await work.reservations.get(rid)
                [confirmed] = await work.reservations.confirm(user, [rid], now)
                await work.wallets.debit(user, confirmed.price, pid, pid, now)
                payment = Payment(pid, user, ConcertId(1), (rid,), confirmed.price, now, turn)
                await work.payments.add(payment)
            await work.commit()

    async def charge(i: int) -> None:
        user = held[offset + i][0]
        async with uow() as work:
            await work.wallets.charge(user, Money(1_000_000), uuid.uuid4(), now)
            await work.commit()

    async def insert(_: int) -> None:
        async with engine.begin() as connection:
            await connection.execute(text(f"INSERT INTO {TABLE} (at) VALUES (now()) RETURNING id"))

    try:
        async with engine.begin() as connection:
            await connection.execute(text(CREATE))
        pids = await backend_pids(engine)
        for connections in CONNECTIONS:
            await measure("hold (the seat, the limit)", pids, OPERATIONS, connections, hold)
            await measure("(charging the holders)", pids, OPERATIONS, connections, charge)
            await measure("pay (one seat)", pids, OPERATIONS, connections, pay)
            offset += OPERATIONS
            await measure("ceiling insert", pids, OPERATIONS, connections, insert)
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
