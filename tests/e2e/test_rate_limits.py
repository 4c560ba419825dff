"""Rate limits over HTTP (docs/contract.md §9), on every storage family: 429
RATE_LIMITED with Retry-After, nothing changed by a refusal, the all-routes limit, and
the client address behind a trusted proxy."""

from __future__ import annotations

import ipaddress
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx

from concert_core import Policy
from concert_core.domain import Concert
from e2e.helpers import API, Api, OpenApi, assert_problem

PROXY = ipaddress.ip_network("10.0.0.0/8")


@asynccontextmanager
async def client_at(api: Api, peer: str) -> AsyncIterator[httpx.AsyncClient]:
    """A client whose requests reach the app from ``peer``."""
    transport = httpx.ASGITransport(app=api.app, client=(peer, 40_000))  # type: ignore[arg-type]
    async with httpx.AsyncClient(transport=transport, base_url="http://api.test") as client:
        yield client


async def join(client: httpx.AsyncClient, concert: Concert, **headers: str) -> httpx.Response:
    body = {"user_id": str(uuid.uuid4()), "concert_id": concert.concert_id}
    return await client.post(f"{API}/queue/tokens", json=body, headers=headers)


async def line(api: Api, concert: Concert) -> tuple[int, int]:
    stats = await api.storage.queue.stats(concert.concert_id, await api.clock.now())
    return stats.waiting, stats.active


async def test_joins_over_the_limit_get_429_and_change_nothing(
    open_api: OpenApi, policy: Policy
) -> None:
    async with open_api(policy, rate_limit_joins_per_minute=3) as api:
        concert = await api.schedule()
        for _ in range(3):
            assert (await join(api.client, concert)).status_code == 201
        refused_user = str(uuid.uuid4())
        reply = await api.enter(concert.concert_id, refused_user)
        body = assert_problem(reply, 429, "RATE_LIMITED")
        assert body["type"] == "urn:concert:problem:rate-limited"
        assert reply.headers["Retry-After"] == "60"  # all three joined this instant
        assert await line(api, concert) == (3, 0)

        api.clock.advance(20)
        reply = await api.enter(concert.concert_id, refused_user)
        assert_problem(reply, 429, "RATE_LIMITED")
        assert reply.headers["Retry-After"] == "40"  # refusals are not counted

        api.clock.advance(40)  # the first three leave the window
        reply = await api.enter(concert.concert_id, refused_user)
        assert reply.status_code == 201, reply.text  # a new token: none had been issued
        assert reply.json()["position"] == 4
        assert await line(api, concert) == (4, 0)


async def test_a_rejoin_counts_as_a_join(open_api: OpenApi, policy: Policy) -> None:
    """Every join that reaches the limiter counts, even one that gives a live token back."""
    async with open_api(policy, rate_limit_joins_per_minute=2) as api:
        concert = await api.schedule()
        user = str(uuid.uuid4())
        assert (await api.enter(concert.concert_id, user)).status_code == 201
        assert (await api.enter(concert.concert_id, user)).status_code == 200
        assert_problem(await api.enter(concert.concert_id, user), 429, "RATE_LIMITED")


async def test_a_malformed_join_is_400_and_not_counted(open_api: OpenApi, policy: Policy) -> None:
    async with open_api(policy, rate_limit_joins_per_minute=1) as api:
        concert = await api.schedule()
        for bad in ({"user_id": "nope", "concert_id": 1}, {"concert_id": "1"}, [1]):
            reply = await api.client.post(f"{API}/queue/tokens", json=bad)
            assert_problem(reply, 400, "VALIDATION_ERROR")
        assert (await join(api.client, concert)).status_code == 201
        assert_problem(await join(api.client, concert), 429, "RATE_LIMITED")


async def test_the_join_limit_is_per_address(open_api: OpenApi, policy: Policy) -> None:
    async with open_api(policy, rate_limit_joins_per_minute=1) as api:
        concert = await api.schedule()
        async with client_at(api, "203.0.113.9") as other, client_at(api, "2001:db8::1") as v6:
            assert (await join(api.client, concert)).status_code == 201
            assert (await join(other, concert)).status_code == 201
            assert (await join(v6, concert)).status_code == 201
            assert_problem(await join(api.client, concert), 429, "RATE_LIMITED")
            assert_problem(await join(other, concert), 429, "RATE_LIMITED")
        # An IPv6 client counts by its /64: another address of it is the same client.
        async with client_at(api, "2001:db8::ffff:2") as same_64:
            assert_problem(await join(same_64, concert), 429, "RATE_LIMITED")
        assert await line(api, concert) == (3, 0)


async def test_forwarded_for_is_honoured_from_a_trusted_proxy_only(
    open_api: OpenApi, policy: Policy
) -> None:
    settings = {"rate_limit_joins_per_minute": 1, "trusted_proxies": (PROXY,)}
    async with open_api(policy, **settings) as api:
        concert = await api.schedule()
        async with client_at(api, "10.1.2.3") as proxy:
            forwarded = {"X-Forwarded-For": "198.51.100.1"}
            assert (await join(proxy, concert, **forwarded)).status_code == 201
            assert_problem(await join(proxy, concert, **forwarded), 429, "RATE_LIMITED")
            # Another client behind the proxy, and one that forged an entry to its left.
            second = {"X-Forwarded-For": "198.51.100.1, 198.51.100.2, 10.0.0.9"}
            assert (await join(proxy, concert, **second)).status_code == 201
            assert_problem(await join(proxy, concert, **second), 429, "RATE_LIMITED")
        async with client_at(api, "203.0.113.9") as direct:
            # Not a trusted proxy: its header is ignored, whatever it says.
            for fake in ("198.51.100.7", "198.51.100.8"):
                reply = await join(direct, concert, **{"X-Forwarded-For": fake})
                if fake.endswith("7"):
                    assert reply.status_code == 201, reply.text
                else:
                    assert_problem(reply, 429, "RATE_LIMITED")
        assert await line(api, concert) == (3, 0)


async def test_the_all_routes_limit_spares_health_and_metrics(
    open_api: OpenApi, policy: Policy
) -> None:
    async with open_api(policy, rate_limit_requests_per_minute=3) as api:
        concert = await api.schedule()
        for _ in range(2):
            assert (await api.client.get(f"{API}/concerts")).status_code == 200
        assert (await join(api.client, concert)).status_code == 201  # joins count too
        reply = await api.client.get(f"{API}/concerts")
        assert_problem(reply, 429, "RATE_LIMITED")
        assert reply.headers["Retry-After"] == "60"
        assert_problem(await join(api.client, concert), 429, "RATE_LIMITED")
        for _ in range(5):
            assert (await api.client.get("/health")).status_code == 200
            assert (await api.client.get("/metrics")).status_code == 200
        async with client_at(api, "203.0.113.9") as other:
            assert (await other.get(f"{API}/concerts")).status_code == 200
        assert await line(api, concert) == (1, 0)
        api.clock.advance(60)
        assert (await api.client.get(f"{API}/concerts")).status_code == 200


async def test_limits_off_let_every_join_through(open_api: OpenApi, policy: Policy) -> None:
    async with open_api(
        policy, rate_limit_joins_per_minute=0, rate_limit_requests_per_minute=0
    ) as api:
        concert = await api.schedule()
        for _ in range(70):
            assert (await join(api.client, concert)).status_code == 201
