"""Faults under load: Redis stopped and restarted, PostgreSQL connections killed
mid-transaction, an instance killed with SIGKILL during a payment storm. Afterwards
money is conserved and no seat is sold twice."""

from __future__ import annotations

import asyncio
import contextlib
import shutil
import subprocess
import time
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path

import asyncpg
import pytest
import redis

from integration.conftest import free_port
from multi.conftest import Cluster
from multi.http import Http, TransportError, http
from multi.test_multi_instance import (
    CONCERT,
    DATE,
    bearer,
    enter,
    scalar,
    until_active,
)

pytestmark = [pytest.mark.postgres, pytest.mark.redis]

FUNDS = 1_000_000


# -- shared checks --------------------------------------------------------------------


async def audit(cluster: Cluster, buyers: dict[str, int]) -> None:
    """Every buyer (user → price of the one seat they bought) paid exactly once and
    exactly that; no money appeared or vanished; no seat was sold twice."""
    url = cluster.database_url
    assert await scalar(url, "SELECT count(*) FROM payments") == len(buyers)
    assert await scalar(url, "SELECT count(*) FROM seats WHERE status = 'SOLD'") == len(buyers)
    assert (
        await scalar(
            url,
            "SELECT count(*) FROM (SELECT 1 FROM reservations WHERE status = 'CONFIRMED' "
            "GROUP BY concert_id, date, seat_no HAVING count(*) > 1) doubled",
        )
        == 0
    )
    assert (
        await scalar(
            url,
            "SELECT count(*) FROM wallets w WHERE balance <> "
            "(SELECT coalesce(sum(amount), 0) FROM ledger l WHERE l.user_id = w.user_id)",
        )
        == 0
    )
    charged = await scalar(url, "SELECT coalesce(sum(amount), 0) FROM ledger WHERE amount > 0")
    assert charged == FUNDS * len(buyers)
    paid = await scalar(url, "SELECT coalesce(sum(amount), 0) FROM payments")
    assert paid == sum(buyers.values())
    assert await scalar(url, "SELECT sum(balance) FROM wallets") == charged - paid
    for user, price in buyers.items():
        balance = await scalar(url, f"SELECT balance FROM wallets WHERE user_id = '{user}'")
        assert balance == FUNDS - price, user


async def ready_buyers(
    client: Http, cluster: Cluster, count: int
) -> list[tuple[str, str, str, int]]:
    """``count`` fans let in, each holding seat i + 1 with the funds to pay for it:
    (user, token, reservation id, price)."""
    users = [str(uuid.uuid4()) for _ in range(count)]
    tokens = await asyncio.gather(*(enter(client, cluster.api(i), u) for i, u in enumerate(users)))
    await until_active(client, cluster, list(tokens))
    ready = []
    for i, (user, token) in enumerate(zip(users, tokens, strict=True)):
        charged = await client.post(
            f"{cluster.api(i)}/users/{user}/balance/charge", json={"amount": FUNDS}
        )
        assert charged.status_code == 200, charged.text
        held = await client.post(
            f"{cluster.api(i)}/reservations",
            headers=bearer(token),
            json={"concert_id": CONCERT, "date": DATE, "seat_no": i + 1},
        )
        assert held.status_code == 201, held.text
        ready.append((user, token, held.json()["reservation_id"], held.json()["price"]))
    return ready


async def pay_until_paid(
    client: Http, cluster: Cluster, i: int, token: str, reservation_id: str
) -> list[int]:
    """Pay as a careful client does: one Idempotency-Key, retried (on the next
    instance) after a 503, a 409 IN_PROGRESS or a dropped connection, until 201."""
    key, seen = str(uuid.uuid4()), []
    for attempt in range(200):
        try:
            reply = await client.post(
                f"{cluster.api(i + attempt)}/payments",
                headers={**bearer(token), "Idempotency-Key": key},
                json={"reservation_ids": [reservation_id]},
            )
        except TransportError:
            seen.append(0)
            continue
        seen.append(reply.status_code)
        if reply.status_code == 201:
            return seen
        problem = reply.json()
        assert (reply.status_code, problem["code"]) in {
            (503, "SERVICE_UNAVAILABLE"),
            (409, "IDEMPOTENCY_IN_PROGRESS"),
        }, reply.text
        await asyncio.sleep(0.25)
    raise AssertionError(f"never paid: {seen}")


# -- Redis stopped and restarted ----------------------------------------------------


@pytest.fixture
def private_redis(tmp_path: Path) -> Iterator[Callable[[], subprocess.Popen[bytes]]]:
    """``start()`` runs a Redis of the test's own (append-only file, fsync always) on
    one port; call it again after killing it to restart it on the same data."""
    server = shutil.which("redis-server")
    if server is None:
        pytest.fail("redis-server is not installed")
    port = free_port()
    started: list[subprocess.Popen[bytes]] = []

    def start() -> subprocess.Popen[bytes]:
        process = subprocess.Popen(
            [
                server,
                "--port", str(port), "--bind", "127.0.0.1", "--save", "",
                "--appendonly", "yes", "--appendfsync", "always",
                "--dir", str(tmp_path),
            ],
            stdout=subprocess.DEVNULL,
        )  # fmt: skip
        started.append(process)
        probe = redis.Redis(port=port)
        for _ in range(100):
            try:
                if probe.ping():
                    break
            except redis.ConnectionError:
                time.sleep(0.05)
        probe.close()
        return process

    start.url = f"redis://127.0.0.1:{port}/0"  # type: ignore[attr-defined]
    yield start
    for process in started:
        process.kill()
        process.wait()


async def test_redis_stopped_and_restarted(
    start_cluster: Callable[..., Cluster],
    private_redis: Callable[[], subprocess.Popen[bytes]],
) -> None:
    server = private_redis()
    cluster = start_cluster(
        redis_url=private_redis.url,  # type: ignore[attr-defined]
        active_capacity="5",
        admission_interval_seconds="0.2",
    )
    async with http(per_request=30) as client:
        [(user, token, reservation_id, price)] = await ready_buyers(client, cluster, 1)
        waiting = [await enter(client, cluster.api(i), str(uuid.uuid4())) for i in range(3)]

        server.kill()  # SIGKILL: no goodbye
        server.wait()
        for i in range(3):
            status = await client.get(f"{cluster.api(i)}/queue/status", headers=bearer(token))
            assert status.status_code == 503, status.text
            assert status.json()["code"] == "SERVICE_UNAVAILABLE"
            assert "Redis" in status.json()["detail"]
            assert status.headers["Retry-After"]
            health = await client.get(f"{cluster.root(i)}/health")
            assert health.status_code == 503
            assert health.json() == {
                "status": "unavailable",
                "database": "ok",
                "queue": "unavailable",
            }
            entered = await client.post(
                f"{cluster.api(i)}/queue/tokens", json={"user_id": user, "concert_id": CONCERT}
            )
            assert entered.status_code == 503
        # What needs only PostgreSQL goes on.
        balance = await client.get(f"{cluster.api(0)}/users/{user}/balance")
        assert balance.status_code == 200
        assert balance.json()["balance"] == FUNDS

        private_redis()  # back, on the same data; the instances are not restarted
        for i in range(3):
            for _ in range(50):
                health = await client.get(f"{cluster.root(i)}/health")
                if health.status_code == 200:
                    break
                await asyncio.sleep(0.1)
            assert health.json() == {"status": "ok", "database": "ok", "queue": "ok"}
        status = await client.get(f"{cluster.api(2)}/queue/status", headers=bearer(token))
        assert status.status_code == 200, status.text
        assert status.json()["status"] == "ACTIVE"
        await until_active(client, cluster, waiting)  # the admission loops resumed
        assert (await pay_until_paid(client, cluster, 1, token, reservation_id))[-1] == 201
    await audit(cluster, {user: price})


# -- PostgreSQL connections killed mid-transaction --------------------------------------


KILLS = 20


async def kill_transactions(url: str, stop: asyncio.Event) -> int:
    """Terminate the database's other backends caught inside a transaction, every 10 ms,
    until ``KILLS`` are dead or ``stop`` is set; return how many were killed."""
    dsn = url.replace("postgresql+asyncpg://", "postgresql://")
    connection = await asyncpg.connect(dsn)
    killed = 0
    try:
        while not stop.is_set() and killed < KILLS:
            rows = await connection.fetch(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                "WHERE datname = current_database() AND pid <> pg_backend_pid() "
                "AND xact_start IS NOT NULL AND backend_type = 'client backend'"
            )
            killed += sum(1 for row in rows if row[0])
            await asyncio.sleep(0.01)
    finally:
        await connection.close()
    return killed


async def test_postgres_connections_killed_mid_transaction_during_a_payment_storm(
    start_cluster: Callable[..., Cluster],
) -> None:
    cluster = start_cluster(
        active_capacity="50", admission_interval_seconds="0.2", idempotency_lease_seconds="2"
    )
    async with http(per_request=60) as client:
        buyers = await ready_buyers(client, cluster, 30)
        stop = asyncio.Event()
        killer = asyncio.create_task(kill_transactions(cluster.database_url, stop))
        try:
            histories = await asyncio.gather(
                *(
                    pay_until_paid(client, cluster, i, token, reservation_id)
                    for i, (_, token, reservation_id, _) in enumerate(buyers)
                )
            )
        finally:
            stop.set()
            killed = await killer
        assert killed > 0, "no transaction was ever caught open"
        assert any(503 in h for h in histories), histories  # a kill reached a request
        for i in range(3):
            health = await client.get(f"{cluster.root(i)}/health")
            assert health.status_code == 200
    await audit(cluster, {user: price for user, _, _, price in buyers})


# -- an instance killed during a payment storm ----------------------------------------

STUCK = 3  # payments held mid-transaction on the victim when it dies (< its pool of 10)


@contextlib.asynccontextmanager
async def wallets_locked(url: str, users: list[str]) -> AsyncIterator[asyncpg.Connection]:
    """Hold these wallets' rows locked in an open transaction: a payment that reaches
    them waits inside its own transaction, its idempotency key claimed."""
    connection = await asyncpg.connect(url.replace("postgresql+asyncpg://", "postgresql://"))
    try:
        async with connection.transaction():
            await connection.execute(
                "SELECT 1 FROM wallets WHERE user_id = ANY($1::uuid[]) FOR UPDATE", users
            )
            yield connection
    finally:
        await connection.close()


async def until_waiting_on_locks(connection: asyncpg.Connection, count: int) -> None:
    for _ in range(600):
        waiting = await connection.fetchval(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
            "AND wait_event_type = 'Lock'"
        )
        if waiting >= count:
            return
        await asyncio.sleep(0.01)
    raise AssertionError(f"{count} payments never reached the locked wallets")


async def test_an_instance_killed_during_a_payment_storm(
    start_cluster: Callable[..., Cluster],
) -> None:
    cluster = start_cluster(
        active_capacity="50", admission_interval_seconds="0.2", idempotency_lease_seconds="2"
    )
    async with http(per_request=60) as client:
        buyers = await ready_buyers(client, cluster, 30)
        stuck = [user for user, _, _, _ in buyers[:STUCK]]
        # Every first attempt goes to instance 0. The first STUCK buyers' payments wait on
        # their wallets mid-transaction, keys claimed; the instance dies once another
        # payment is through and those are waiting, with the rest in flight on it.
        # Retries go on to the other two.
        async with wallets_locked(cluster.database_url, stuck) as locker:
            storm = [
                asyncio.create_task(pay_until_paid(client, cluster, 0, token, reservation_id))
                for _, token, reservation_id, _ in buyers
            ]
            await asyncio.wait(storm, return_when=asyncio.FIRST_COMPLETED)
            await until_waiting_on_locks(locker, STUCK)
            victim = cluster.processes[0]
            victim.kill()  # SIGKILL: no graceful shutdown, no rollback sent
            victim.wait()
        histories: list[list[int]] = await asyncio.gather(*storm)
    assert victim.returncode == -9
    cut = [h for h in histories if h[0] == 0]
    assert len(cut) >= STUCK, histories  # requests were in flight on the victim
    # The stuck ones had claimed their keys when it died: retries waited out the lease.
    for history in histories[:STUCK]:
        assert history[0] == 0 and 409 in history, histories
    assert all(h[-1] == 201 for h in histories)
    await audit(cluster, {user: price for user, _, _, price in buyers})
