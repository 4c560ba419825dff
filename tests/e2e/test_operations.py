"""/health, /metrics and the OpenAPI document, at the root."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import attrs
import pytest
from dependency_injector import providers
from prometheus_client.parser import text_string_to_metric_families

from adapters.clock import ManualClock, SharedClock, SystemClock
from adapters.memory import MemoryQueueStore
from adapters.redis import RedisIdempotencyStore, RedisQueueStore
from adapters.sql import SqlIdempotencyStore, SqlQueueStore
from concert_core import Policy
from concert_core.domain import Concert, ServiceUnavailableError
from e2e.helpers import API, Api, OpenApi, running
from entrypoints.container import Container, Storage, open_storage
from entrypoints.http import create_app
from entrypoints.settings import Settings

CONTRACT_PATHS = {
    "/api/v1/queue/tokens": {"post"},
    "/api/v1/queue/status": {"get"},
    "/api/v1/queue/tokens/me": {"delete"},
    "/api/v1/queue/challenge": {"get"},
    "/api/v1/concerts": {"get"},
    "/api/v1/concerts/{concert_id}/dates": {"get"},
    "/api/v1/concerts/{concert_id}/dates/{date}/seats": {"get"},
    "/api/v1/reservations": {"post"},
    "/api/v1/reservations/{reservation_id}": {"get", "delete"},
    "/api/v1/payments": {"post"},
    "/api/v1/users/{user_id}/balance": {"get"},
    "/api/v1/users/{user_id}/balance/charge": {"post"},
    "/api/v1/users/{user_id}/payments": {"get"},
    "/api/v1/admin/concerts": {"get", "post"},
    "/api/v1/admin/concerts/{concert_id}": {"get"},
    "/api/v1/admin/concerts/{concert_id}/dates": {"post"},
    "/api/v1/admin/concerts/{concert_id}/sale": {"patch"},
    "/health": {"get"},
    "/metrics": {"get"},
}


async def test_health_is_ok_when_every_backend_answers(api: Api) -> None:
    reply = await api.client.get("/health")

    assert reply.status_code == 200
    assert reply.json() == {"status": "ok", "database": "ok", "queue": "ok"}


@pytest.mark.parametrize(
    ("checks", "expected"),
    [
        ({"database": True, "queue": False}, {"database": "ok", "queue": "unavailable"}),
        ({"database": False, "queue": True}, {"database": "unavailable", "queue": "ok"}),
        (ServiceUnavailableError("down"), {"database": "unavailable", "queue": "unavailable"}),
    ],
)
async def test_health_is_503_when_a_backend_does_not_answer(
    api: Api, checks: dict[str, bool] | Exception, expected: dict[str, str]
) -> None:
    async def health() -> dict[str, bool]:
        if isinstance(checks, Exception):
            raise checks
        return checks

    real = api.app.state.storage
    api.app.state.storage = attrs.evolve(real, health=health)
    try:
        reply = await api.client.get("/health")
    finally:
        api.app.state.storage = real

    assert reply.status_code == 503
    assert reply.json() == {"status": "unavailable", **expected}


async def test_metrics_count_requests_queues_holds_and_sales(api: Api, concert: Concert) -> None:
    cid = concert.concert_id
    buyer = await api.active_fan(cid)
    await api.waiting_fan(cid)
    await api.waiting_fan(cid)
    await api.service.admit_waiting(cid)  # lets one more in: capacity 2
    reservation_id = await api.held(buyer, cid, 3)
    await api.charge(buyer.user_id, 1_000_000)
    paid = await api.pay(buyer, [reservation_id], key="m-1")
    assert (await api.pay(buyer, [reservation_id], key="m-1")).json() == paid.json()  # a replay
    await api.client.get("/nowhere")

    reply = await api.client.get("/metrics")

    assert reply.status_code == 200
    assert reply.headers["content-type"].startswith("text/plain")
    samples = _samples(reply.text)
    assert samples["concert_queue_waiting", (("concert_id", str(cid)),)] == 1
    assert samples["concert_queue_active", (("concert_id", str(cid)),)] == 1  # the buyer left
    assert samples["concert_holds_total", ()] == 1
    assert samples["concert_payments_total", ()] == 1
    assert samples["concert_seats_sold_total", ()] == 1
    holds = (("method", "POST"), ("route", "/api/v1/reservations"), ("status", "201"))
    assert samples["concert_http_requests_total", holds] == 1
    payments = (("method", "POST"), ("route", "/api/v1/payments"), ("status", "201"))
    assert samples["concert_http_requests_total", payments] == 2
    unmatched = (("method", "GET"), ("route", "unmatched"), ("status", "404"))
    assert samples["concert_http_requests_total", unmatched] == 1
    seats_route = (("method", "POST"), ("route", "/api/v1/reservations"))
    assert samples["concert_http_request_duration_seconds_count", seats_route] == 1


async def test_each_app_has_its_own_metrics(open_api: OpenApi, policy: Policy) -> None:
    async with open_api(policy) as one:
        await one.client.get(f"{API}/users/{uuid.uuid4()}/balance")
    async with open_api(policy) as two:
        reply = await two.client.get("/metrics")
    assert "/api/v1/users/{user_id}/balance" not in reply.text


async def test_the_app_opens_its_storage_on_start_up_and_closes_it_on_shut_down(
    storage: Settings, clock: ManualClock
) -> None:
    events = []
    opened: list[Storage] = []

    async def tracked(settings: Settings) -> AsyncIterator[Storage]:
        async with asynccontextmanager(open_storage)(settings) as storage:
            events.append("opened")
            opened.append(storage)
            yield storage
        events.append("closed")

    settings = attrs.evolve(storage, rate_limit_joins_per_minute=0)
    container = Container(settings=settings)
    container.clock.override(providers.Object(clock))
    container.storage.override(providers.Resource(tracked, settings))
    app = create_app(settings, container=container)
    assert events == []

    async with running(app):
        assert events == ["opened"]
        assert app.state.storage is opened[0]
        assert app.state.service is not None

    assert events == ["opened", "closed"]


async def test_the_openapi_document_lists_every_path_of_the_contract(api: Api) -> None:
    reply = await api.client.get("/schema/openapi.json")

    assert reply.status_code == 200
    document = reply.json()
    assert document["info"]["title"] == "Concert reservations"
    assert document["info"]["version"]
    assert document["info"]["description"]
    paths = {path: set(ops) for path, ops in document["paths"].items()}
    assert paths == CONTRACT_PATHS
    assert "QueueToken" in document["components"]["securitySchemes"]
    assert "OperatorKey" in document["components"]["securitySchemes"]
    for path, operations in document["paths"].items():
        if path.startswith("/api/v1/admin"):
            for operation in operations.values():
                assert operation["security"] == [{"OperatorKey": []}], path
                assert "401" in operation["responses"], path
    hold = document["paths"]["/api/v1/reservations"]["post"]
    assert {"200", "201", "400", "401", "403", "404", "409"} <= hold["responses"].keys()
    problem = hold["responses"]["409"]["content"]["application/problem+json"]
    assert problem["schema"] == {"$ref": "#/components/schemas/Problem"}
    body = document["components"]["schemas"]["HoldSeatRequest"]["properties"]
    assert body["seat_no"]["examples"] == [7]


async def test_interactive_docs_are_served_under_schema(api: Api) -> None:
    for path in ("/schema", "/schema/swagger"):
        reply = await api.client.get(path)
        assert reply.status_code == 200, path
        assert reply.headers["content-type"].startswith("text/html")


def _samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


async def test_the_settings_pick_the_stores_and_the_clock(storage: Settings) -> None:
    async with asynccontextmanager(open_storage)(storage) as opened:
        kinds = (type(opened.queue), type(opened.idempotency), type(opened.clock))
        assert (await opened.health()) == {"database": True, "queue": True}
        now = await opened.clock.now()
    if storage.redis_url is not None:
        assert kinds == (RedisQueueStore, RedisIdempotencyStore, SharedClock)
    elif storage.database_url.startswith("postgresql"):
        assert kinds == (SqlQueueStore, SqlIdempotencyStore, SharedClock)
    elif storage.in_memory:
        assert kinds[0] is MemoryQueueStore and kinds[2] is SystemClock
    else:
        assert kinds == (SqlQueueStore, SqlIdempotencyStore, SystemClock)
    assert abs(now - dt.datetime.now(dt.UTC)) < dt.timedelta(seconds=5)
