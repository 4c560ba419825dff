"""The join limit across three `concert serve` instances (docs/contract.md §9): one
address's concurrent joins, spread over every instance, are counted as one, whether
the limits live in Redis or in PostgreSQL. Loopback only, 150 requests a run."""

from __future__ import annotations

import asyncio
import uuid
from collections import Counter
from collections.abc import Callable

import pytest

from multi.conftest import Cluster
from multi.http import Reply, http

pytestmark = [pytest.mark.postgres]

ADMIN_KEY = "operator-key-for-the-rate-limit-tests-0123456789"
JOINS = 150
LIMIT = 60


async def _crowd_from_one_address(cluster: Cluster) -> None:
    async with http(connections=JOINS) as client:

        async def join(i: int) -> Reply:
            body = {"user_id": str(uuid.uuid4()), "concert_id": 1}
            return await client.post(f"{cluster.api(i)}/queue/tokens", json=body)

        replies = await asyncio.gather(*(join(i) for i in range(JOINS)))
        statuses = Counter(reply.status_code for reply in replies)
        # Each instance got 50 joins, under the limit: counted per process, all would pass.
        assert statuses == {201: LIMIT, 429: JOINS - LIMIT}, statuses
        for reply in replies:
            if reply.status_code == 429:
                assert reply.json()["code"] == "RATE_LIMITED"
                assert 1 <= int(reply.headers["Retry-After"]) <= 60

        view = await client.get(
            f"{cluster.api(0)}/admin/concerts/1",
            headers={"Authorization": f"Bearer {ADMIN_KEY}"},
        )
        assert view.status_code == 200, view.text
        queue = view.json()["queue"]
        assert queue["waiting"] + queue["active"] == LIMIT, queue


@pytest.mark.redis
async def test_one_address_gets_exactly_the_limit_across_instances_with_redis(
    start_cluster: Callable[..., Cluster],
) -> None:
    cluster = start_cluster(rate_limit_joins_per_minute=str(LIMIT), admin_key=ADMIN_KEY)
    await _crowd_from_one_address(cluster)


async def test_one_address_gets_exactly_the_limit_across_instances_on_postgres(
    start_cluster: Callable[..., Cluster],
) -> None:
    cluster = start_cluster(
        redis_url=None, rate_limit_joins_per_minute=str(LIMIT), admin_key=ADMIN_KEY
    )
    await _crowd_from_one_address(cluster)
