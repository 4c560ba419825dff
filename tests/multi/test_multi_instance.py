"""Invariants across three `concert serve` instances sharing one PostgreSQL database and
one Redis, driven concurrently over HTTP (loopback only, bounded in count)."""

from __future__ import annotations

import asyncio
import base64
import json
import subprocess
import uuid
from collections import Counter
from collections.abc import Callable
from typing import Any

import pytest
from sqlalchemy import text

from adapters import sql
from integration.conftest import CONCERT as CLI
from multi.conftest import Cluster
from multi.http import Http, Reply, http

pytestmark = [pytest.mark.postgres, pytest.mark.redis]

CONCERT = 1
DATE = "2027-03-06"


def claims(token: str) -> dict[str, Any]:
    payload = token.split(".")[1]
    return dict(json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4))))


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def enter(client: Http, base: str, user: str) -> str:
    reply = await client.post(f"{base}/queue/tokens", json={"user_id": user, "concert_id": 1})
    assert reply.status_code == 201, reply.text
    return str(reply.json()["token"])


async def status(client: Http, base: str, token: str) -> dict[str, Any]:
    reply = await client.get(f"{base}/queue/status", headers=bearer(token))
    assert reply.status_code == 200, reply.text
    return dict(reply.json())


async def until_active(client: Http, cluster: Cluster, tokens: list[str]) -> None:
    for _ in range(100):
        states = await asyncio.gather(
            *(status(client, cluster.api(i), t) for i, t in enumerate(tokens))
        )
        if all(s["status"] == "ACTIVE" for s in states):
            return
        await asyncio.sleep(0.2)
    raise AssertionError("the instances' admission loops did not admit everyone")


async def scalar(url: str, query: str) -> Any:
    engine = sql.create_engine(url)
    try:
        async with engine.connect() as connection:
            return (await connection.execute(text(query))).scalar()
    finally:
        await engine.dispose()


async def test_400_active_fans_on_three_instances_race_for_50_seats(
    start_cluster: Callable[..., Cluster],
) -> None:
    cluster = start_cluster(active_capacity="400", admission_interval_seconds="0.2")
    users = [str(uuid.uuid4()) for _ in range(400)]
    async with http(per_request=180) as client:
        tokens = await asyncio.gather(
            *(enter(client, cluster.api(i), u) for i, u in enumerate(users))
        )
        await until_active(client, cluster, list(tokens))

        async def hold(i: int, token: str) -> int:
            seat_no = i % 50 + 1  # eight fans for every seat
            reply = await client.post(
                f"{cluster.api(i + 1)}/reservations",
                headers=bearer(token),
                json={"concert_id": CONCERT, "date": DATE, "seat_no": seat_no},
            )
            if reply.status_code == 409:
                assert reply.json()["code"] == "SEAT_UNAVAILABLE"
            return reply.status_code

        codes = Counter(await asyncio.gather(*(hold(i, t) for i, t in enumerate(tokens))))
    assert codes == {201: 50, 409: 350}
    assert (
        await scalar(
            cluster.database_url,
            "SELECT count(*) FROM (SELECT date, seat_no FROM reservations WHERE status = 'HELD' "
            "GROUP BY concert_id, date, seat_no HAVING count(*) > 1) doubled",
        )
        == 0
    )
    assert (
        await scalar(cluster.database_url, "SELECT count(*) FROM seats WHERE status = 'HELD'") == 50
    )


async def test_2000_tokens_issued_across_instances_keep_one_exact_line(
    start_cluster: Callable[..., Cluster],
) -> None:
    # The servers' own loops pass once at start; the test then admits by hand.
    cluster = start_cluster(active_capacity="100", admission_interval_seconds="3600")
    users = [str(uuid.uuid4()) for _ in range(2000)]
    async with http(per_request=180) as client:
        tokens = await asyncio.gather(
            *(enter(client, cluster.api(i), u) for i, u in enumerate(users))
        )
        sequences = [claims(t)["seq"] for t in tokens]
        assert len(set(sequences)) == 2000
        by_sequence = [t for _, t in sorted(zip(sequences, tokens, strict=True))]
        places = await asyncio.gather(
            *(status(client, cluster.api(i), t) for i, t in enumerate(by_sequence))
        )
        assert [p["position"] for p in places] == list(range(1, 2001))

        # One admission pass, run by the operator's CLI as any process could run it.
        await asyncio.to_thread(
            subprocess.run, [*CLI, "queue", "admit", "--concert", "1"], env=cluster.env, check=True
        )
        after = await asyncio.gather(
            *(status(client, cluster.api(i), t) for i, t in enumerate(by_sequence))
        )
    assert [p["status"] for p in after] == ["ACTIVE"] * 100 + ["WAITING"] * 1900
    assert [p["position"] for p in after[100:]] == list(range(1, 1901))


async def test_concurrent_charges_and_payments_on_shared_wallets_conserve_money(
    start_cluster: Callable[..., Cluster],
) -> None:
    cluster = start_cluster(active_capacity="50", admission_interval_seconds="0.2")
    buyers = [str(uuid.uuid4()) for _ in range(20)]
    async with http(per_request=180) as client:
        tokens = await asyncio.gather(
            *(enter(client, cluster.api(i), u) for i, u in enumerate(buyers))
        )
        await until_active(client, cluster, list(tokens))
        holds = await asyncio.gather(
            *(
                client.post(
                    f"{cluster.api(i)}/reservations",
                    headers=bearer(t),
                    json={"concert_id": CONCERT, "date": DATE, "seat_no": i + 1},
                )
                for i, t in enumerate(tokens)
            )
        )
        reservations = [h.json()["reservation_id"] for h in holds]
        prices = [h.json()["price"] for h in holds]

        async def charge(i: int, user: str, amount: int) -> None:
            reply = await client.post(
                f"{cluster.api(i)}/users/{user}/balance/charge", json={"amount": amount}
            )
            assert reply.status_code == 200, reply.text

        # Ten charges per buyer, across instances, all at once: 200 charges.
        await asyncio.gather(
            *(
                charge(i + k, user, prices[i] // 10 + 1_000)
                for i, user in enumerate(buyers)
                for k in range(10)
            )
        )

        async def pay(i: int) -> int:
            reply = await client.post(
                f"{cluster.api(i + 2)}/payments",
                headers=bearer(tokens[i]),
                json={"reservation_ids": [reservations[i]]},
            )
            return reply.status_code

        # Each buyer pays while more charges land on the same wallets.
        results = await asyncio.gather(
            *(pay(i) for i in range(len(buyers))),
            *(charge(i, user, 500) for i, user in enumerate(buyers)),
        )
        assert results[: len(buyers)] == [201] * len(buyers)
        balances = [
            (await client.get(f"{cluster.api(i)}/users/{u}/balance")).json()["balance"]
            for i, u in enumerate(buyers)
        ]
    for i, balance in enumerate(balances):
        charged = 10 * (prices[i] // 10 + 1_000) + 500
        assert balance == charged - prices[i]
    assert (
        await scalar(
            cluster.database_url,
            "SELECT count(*) FROM wallets w WHERE balance <> "
            "(SELECT coalesce(sum(amount), 0) FROM ledger l WHERE l.user_id = w.user_id)",
        )
        == 0
    )
    assert await scalar(cluster.database_url, "SELECT min(balance) FROM wallets") >= 0
    assert await scalar(
        cluster.database_url, "SELECT count(*) FROM seats WHERE status = 'SOLD'"
    ) == len(buyers)


async def test_one_payment_retried_on_every_instance_at_once_is_charged_once(
    start_cluster: Callable[..., Cluster],
) -> None:
    cluster = start_cluster(active_capacity="5", admission_interval_seconds="0.2")
    user = str(uuid.uuid4())
    async with http(per_request=180) as client:
        token = await enter(client, cluster.api(0), user)
        await until_active(client, cluster, [token])
        held = await client.post(
            f"{cluster.api(1)}/reservations",
            headers=bearer(token),
            json={"concert_id": CONCERT, "date": DATE, "seat_no": 1},
        )
        price = held.json()["price"]
        await client.post(
            f"{cluster.api(2)}/users/{user}/balance/charge", json={"amount": price * 3}
        )
        body = {"reservation_ids": [held.json()["reservation_id"]]}

        async def attempt(i: int) -> Reply:
            return await client.post(
                f"{cluster.api(i)}/payments",
                headers={**bearer(token), "Idempotency-Key": "pay-once"},
                json=body,
            )

        replies = await asyncio.gather(*(attempt(i) for i in range(30)))
        codes = Counter(r.status_code for r in replies)
        assert set(codes) <= {201, 409}
        assert codes[201] >= 1
        assert {r.json()["payment_id"] for r in replies if r.status_code == 201} == {
            replies[[r.status_code for r in replies].index(201)].json()["payment_id"]
        }
        for r in replies:
            if r.status_code == 409:
                assert r.json()["code"] == "IDEMPOTENCY_IN_PROGRESS"
        # Retried afterwards on every instance: the first result, before the token check.
        again = [await attempt(i) for i in range(3)]
        assert [r.status_code for r in again] == [201] * 3
        balance = (await client.get(f"{cluster.api(0)}/users/{user}/balance")).json()["balance"]
    assert balance == price * 2
    assert await scalar(cluster.database_url, "SELECT count(*) FROM payments") == 1
