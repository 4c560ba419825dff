"""A pre-queue of 1,000 fans spread over three instances, opened while they poll: one
order for every instance, drawn from the seed shown to the operator, and nobody who
joined after the opening ahead of anybody pre-queued."""

from __future__ import annotations

import asyncio
import datetime as dt
import time
import uuid
from typing import Any

import pytest

from concert_core.domain import TokenId, shuffle_key
from multi.conftest import Cluster
from multi.http import Http, http
from multi.test_multi_instance import bearer, claims

pytestmark = [pytest.mark.postgres, pytest.mark.redis]

ADMIN_KEY = "operator-key-for-the-multi-instance-tests-0123456789"
PREQUEUED = 1_000
LATE = 60
OPENS_IN = dt.timedelta(seconds=20)


def admin() -> dict[str, str]:
    return {"Authorization": f"Bearer {ADMIN_KEY}"}


async def new_sale(client: Http, cluster: Cluster, opens_at: dt.datetime) -> int:
    reply = await client.post(
        f"{cluster.api(0)}/admin/concerts",
        headers=admin(),
        json={
            "title": "Pre-queue",
            "venue": "Hall",
            "dates": [(dt.date.today() + dt.timedelta(days=30)).isoformat()],
            "price": 50_000,
            # Paused: the opening shuffles the line, and nobody is admitted, so every
            # fan keeps a position to compare.
            "sale": {
                "prequeue_opens_at": dt.datetime.now(dt.UTC).isoformat(),
                "opens_at": opens_at.isoformat(),
                "paused": True,
            },
        },
    )
    assert reply.status_code == 201, reply.text
    return int(reply.json()["concert_id"])


async def join(client: Http, cluster: Cluster, i: int, concert_id: int) -> dict[str, Any]:
    reply = await client.post(
        f"{cluster.api(i)}/queue/tokens",
        json={"user_id": str(uuid.uuid4()), "concert_id": concert_id},
    )
    assert reply.status_code == 201, reply.text
    return dict(reply.json())


async def positions(client: Http, cluster: Cluster, i: int, tokens: list[str]) -> list[int]:
    async def one(token: str) -> int:
        reply = await client.get(f"{cluster.api(i)}/queue/status", headers=bearer(token))
        assert reply.status_code == 200, reply.text
        body = reply.json()
        assert body["status"] == "WAITING" and body["position"] is not None, body
        return int(body["position"])

    return list(await asyncio.gather(*(one(t) for t in tokens)))


async def test_a_prequeue_opened_while_it_polls_is_one_shuffled_line_for_all(
    start_cluster: Any,
) -> None:
    cluster: Cluster = start_cluster(admin_key=ADMIN_KEY)
    async with http(connections=60) as client:
        opens_at = dt.datetime.now(dt.UTC) + OPENS_IN
        concert_id = await new_sale(client, cluster, opens_at)
        early = await asyncio.gather(
            *(join(client, cluster, i, concert_id) for i in range(PREQUEUED))
        )
        assert all(t["position"] is None for t in early)
        assert {t["sale"]["phase"] for t in early} == {"PAUSED"}
        assert dt.datetime.now(dt.UTC) < opens_at, "the pre-queue took too long to fill"
        tokens = [t["token"] for t in early]

        # The fans poll, spread over the instances, until past the opening.
        async def poll(i: int, token: str) -> None:
            await client.get(f"{cluster.api(i)}/queue/status", headers=bearer(token))

        while dt.datetime.now(dt.UTC) < opens_at + dt.timedelta(seconds=2):
            started = time.monotonic()
            await asyncio.gather(*(poll(i, t) for i, t in enumerate(tokens[::10])))
            await asyncio.sleep(max(0.0, 1.0 - (time.monotonic() - started)))

        late = [(await join(client, cluster, i, concert_id))["token"] for i in range(LATE)]
        everyone = tokens + late
        seen = [await positions(client, cluster, i, everyone) for i in range(3)]
        report = await client.get(f"{cluster.api(2)}/admin/concerts/{concert_id}", headers=admin())
        assert report.status_code == 200, report.text
        seed = report.json()["sale"]["shuffle_seed"]

    assert seen[0] == seen[1] == seen[2], "the instances disagree on the order"
    order = seen[0]
    assert sorted(order[:PREQUEUED]) == list(range(1, PREQUEUED + 1))
    assert order[PREQUEUED:] == list(range(PREQUEUED + 1, PREQUEUED + LATE + 1))
    # The order is the one the seed draws: sorted by shuffle_key(seed, token id).
    ids = [TokenId(uuid.UUID(claims(t)["jti"])) for t in tokens]
    drawn = sorted(range(PREQUEUED), key=lambda k: shuffle_key(seed, ids[k]))
    assert [order[k] for k in drawn] == list(range(1, PREQUEUED + 1))
    assert order[:PREQUEUED] != list(range(1, PREQUEUED + 1))  # not the arrival order
