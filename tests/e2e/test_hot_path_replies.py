"""The poll and the join, now handled without injected dependencies or route
middleware (decision 21), still answer every refusal as every other route does: an RFC
9457 problem with its code, the security headers, Retry-After on a 429, and the reply
counted and timed in the request metrics under its route."""

from __future__ import annotations

import uuid

import httpx
from prometheus_client.parser import text_string_to_metric_families

from concert_core import Policy
from e2e.helpers import API, OpenApi, assert_problem

SECURITY = ("content-security-policy", "x-content-type-options", "x-frame-options")


def _secured(reply: httpx.Response) -> None:
    for name in SECURITY:
        assert name in reply.headers, (name, reply.headers)
    assert reply.headers["x-content-type-options"] == "nosniff"
    assert reply.headers.get_list("x-frame-options") == ["DENY"]


async def _samples(client: httpx.AsyncClient, name: str) -> dict[tuple[str, ...], float]:
    text = (await client.get("/metrics")).text
    found: dict[tuple[str, ...], float] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == name:
                labels = sample.labels
                key = (labels.get("route", ""), labels.get("method", ""), labels.get("status", ""))
                found[key] = sample.value
    return found


async def test_the_hot_handlers_refusals_are_problems_with_headers_and_are_counted(
    open_api: OpenApi, policy: Policy
) -> None:
    async with open_api(policy, rate_limit_joins_per_minute=2) as api:
        concert = await api.schedule()
        status_url, join_url = f"{API}/queue/status", f"{API}/queue/tokens"
        fan = await api.waiting_fan(concert.concert_id)
        header, payload, signature = fan.token.split(".")
        respelt = f"{header}.{payload}.{signature}!"
        polls = [
            await api.client.get(status_url),
            await api.client.get(status_url, headers={"Authorization": "Bearer nonsense"}),
            await api.client.get(status_url, headers={"Authorization": f"Bearer {respelt}"}),
            await api.client.get(status_url, headers={"Authorization": "Basic abc"}),
        ]
        for reply in polls:
            assert_problem(reply, 401, "TOKEN_INVALID")
            assert reply.headers["WWW-Authenticate"].startswith("Bearer")  # contract §errors
            _secured(reply)
        ok = await api.status(fan)
        assert ok.status_code == 200 and "Retry-After" in ok.headers
        _secured(ok)

        joins = [
            (await api.client.post(join_url, content=b"{"), 400),
            (await api.client.post(join_url, json={"user_id": "x", "concert_id": 1}), 400),
            (
                await api.client.post(
                    join_url, json={"user_id": str(uuid.uuid4()), "concert_id": 10**9}
                ),
                404,
            ),
            (await api.enter(concert.concert_id), 429),
        ]
        for reply, status in joins:
            assert_problem(reply, status)
            _secured(reply)
        assert joins[-1][0].headers["Retry-After"].isdigit()

        counted = await _samples(api.client, "concert_http_requests_total")
        for route, method, replies in (
            ("/api/v1/queue/status", "GET", [*polls, ok]),
            ("/api/v1/queue/tokens", "POST", [reply for reply, _ in joins]),
        ):
            for code in {str(reply.status_code) for reply in replies}:
                expected = sum(str(reply.status_code) == code for reply in replies)
                if route.endswith("tokens") and code == "201":
                    expected += 1  # the waiting fan's join
                assert counted.get((route, method, code), 0) >= expected, (
                    route,
                    code,
                    counted,
                )
        timed = await _samples(api.client, "concert_http_request_duration_seconds_count")
        assert any(key[0] == "/api/v1/queue/status" for key in timed), timed
        assert any(key[0] == "/api/v1/queue/tokens" for key in timed), timed


async def test_a_poll_over_the_all_routes_limit_is_a_429_problem_with_headers(
    open_api: OpenApi, policy: Policy
) -> None:
    async with open_api(policy, rate_limit_requests_per_minute=3) as api:
        concert = await api.schedule()
        fan = await api.waiting_fan(concert.concert_id)
        replies = [await api.status(fan) for _ in range(3)]
        assert [reply.status_code for reply in replies[:2]] == [200, 200]
        refused = replies[-1]
        assert_problem(refused, 429, "RATE_LIMITED")
        assert refused.headers["Retry-After"].isdigit()
        _secured(refused)
        counted = await _samples(api.client, "concert_http_requests_total")
        assert counted.get(("/api/v1/queue/status", "GET", "429"), 0) >= 1, counted
