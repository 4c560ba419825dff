"""The poll and the join answered on their short path (``entrypoints.http.hot_routes``,
decision 26) give exactly what their Litestar handlers give: each request below is sent
through the app as served and then through Litestar's own router, and the two replies
must match: status, headers and body, byte for byte where the request changes nothing."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager, nullcontext
from typing import Any

import httpx
import pytest

from concert_core import Policy
from e2e.helpers import API, Api, OpenApi
from entrypoints.http.hot_routes import HotRoutes
from support import http_scope

POLL, JOIN = f"{API}/queue/status", f"{API}/queue/tokens"
Send = Callable[..., Awaitable[httpx.Response]]


@asynccontextmanager
async def litestar_only(api: Api) -> AsyncIterator[None]:
    """Requests made inside go to Litestar's router, as with ``hot_routes=False``."""
    hot = api.app.asgi_handler
    assert isinstance(hot, HotRoutes)
    api.app.asgi_handler = hot.framework
    try:
        yield
    finally:
        api.app.asgi_handler = hot


async def both(api: Api, method: str, url: str, **request: Any) -> tuple[httpx.Response, ...]:
    """The reply of the app as served, then the reply of Litestar alone."""
    short = await api.client.request(method, url, **request)
    async with litestar_only(api):
        framework = await api.client.request(method, url, **request)
    return short, framework


def headers(reply: httpx.Response, *leave_out: str) -> list[tuple[str, str]]:
    return sorted((k, v) for k, v in reply.headers.multi_items() if k not in leave_out)


def assert_same(short: httpx.Response, framework: httpx.Response) -> None:
    assert short.status_code == framework.status_code, (short.text, framework.text)
    assert headers(short) == headers(framework)
    assert short.content == framework.content


@pytest.fixture
async def served(open_api: OpenApi, policy: Policy) -> AsyncIterator[Api]:
    async with open_api(policy, rate_limit_joins_per_minute=1_000) as api:
        yield api


async def test_the_app_as_served_answers_them_on_the_short_path(api: Api) -> None:
    """Not a vacuous comparison: the served app has the short path in front."""
    assert isinstance(api.app.asgi_handler, HotRoutes)


async def test_polls_match_in_every_state_and_refusal(served: Api) -> None:
    api = served
    concert = await api.schedule()
    waiting = await api.waiting_fan(concert.concert_id)
    for auth in (
        waiting.auth,
        {},
        {"Authorization": "Bearer nonsense"},
        {"Authorization": "Basic abc"},
        {"Authorization": f"Bearer {waiting.token}x"},
        {"Authorization": "Bearer a b"},
    ):
        assert_same(*await both(api, "GET", POLL, headers=auth))
    assert "retry-after" in (await api.status(waiting)).headers

    await api.service.admit_waiting(concert.concert_id)
    short, framework = await both(api, "GET", POLL, headers=waiting.auth)
    assert short.json()["status"] == "ACTIVE"
    assert_same(short, framework)

    await api.client.delete(f"{API}/queue/tokens/me", headers=waiting.auth)
    short, framework = await both(api, "GET", POLL, headers=waiting.auth)
    assert short.json()["status"] == "EXPIRED"
    assert_same(short, framework)


async def test_other_methods_hosts_and_paths_are_litestars(served: Api) -> None:
    api = served
    for method, url, extra in (
        ("HEAD", POLL, {}),
        ("PUT", POLL, {}),
        ("GET", POLL + "/", {}),
        ("GET", JOIN, {}),
        ("GET", POLL, {"headers": {"Host": "bad host"}}),
    ):
        assert_same(*await both(api, method, url, **extra))


@pytest.mark.parametrize(
    "body",
    [
        b"",
        b"{",
        b"[]",
        b'{"user_id": "not a uuid", "concert_id": 1}',
        b'{"concert_id": 1}',
        b'{"user_id": "%(user)s", "concert_id": "%(concert)s"}',
        b'{"user_id": "%(user)s", "concert_id": %(concert)s.0}',
        b'{"user_id": "%(user)s", "concert_id": %(concert)s, "proof": 5}',
        b'{"user_id": "%(user)s", "concert_id": 0}',
        b'{"user_id": "%(user)s", "concert_id": 99999}',
        b'{"user_id": "\xff", "concert_id": 1}',
        b'{"user_id": "%(user)s", "concert_id": %(concert)s, "pad": "' + b"x" * 70_000 + b'"}',
        # Not JSON only where a typed decoding skips: an unknown field's text or number.
        b'{"user_id": "%(user)s", "concert_id": %(concert)s, "x": "\xff"}',
        b'{"user_id": "%(user)s", "concert_id": %(concert)s, "\xff": 1}',
        b'{"user_id": "%(user)s", "concert_id": %(concert)s, "x": 1e400}',
        b'{"user_id": "%(user)s", "concert_id": %(concert)s} trailing',
    ],
)
async def test_refused_joins_match(served: Api, body: bytes) -> None:
    api = served
    concert = await api.schedule()
    content = body.replace(b"%(user)s", str(uuid.uuid4()).encode())
    content = content.replace(b"%(concert)s", str(concert.concert_id).encode())
    for content_type in ("application/json", "text/plain", None):
        sent = {} if content_type is None else {"Content-Type": content_type}
        short, framework = await both(api, "POST", JOIN, content=content, headers=sent)
        assert short.status_code >= 400
        assert_same(short, framework)
    stats = await api.storage.queue.stats(concert.concert_id, await api.clock.now())
    assert stats.waiting == stats.active == 0  # a refused join issues nothing


async def test_a_content_length_no_server_would_pass_is_still_a_problem(served: Api) -> None:
    """A scope as a lenient server could hand it: not a 500 from either path."""
    api = served
    for length in ("\u00b2".encode("latin-1"), b"9" * 5_000, b"-1"):
        short, framework = [
            await raw_asgi(api, [(b"content-length", length)], b"{}", hot=hot)
            for hot in (True, False)
        ]
        assert short == framework
        assert short[0] == 400, short


async def raw_asgi(
    api: Api, headers: list[tuple[bytes, bytes]], body: bytes, *, hot: bool
) -> tuple[int, bytes]:
    """A join sent straight to the app's ASGI callable: its status and body."""
    scope = http_scope("POST", JOIN, [(b"host", b"api.test"), *headers])
    sent: list[dict[str, Any]] = []
    asked = [{"type": "http.request", "body": body, "more_body": False}]

    async def receive() -> dict[str, Any]:
        return asked.pop(0) if asked else {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    async with litestar_only(api) if not hot else nullcontext():
        await api.app(scope, receive, send)  # type: ignore[arg-type]
    status = sent[0]["status"]
    return status, b"".join(m.get("body", b"") for m in sent[1:])


async def test_joins_match_new_again_and_refused_by_the_sale(served: Api) -> None:
    api = served
    concert = await api.schedule()
    cid = concert.concert_id

    first = await api.client.post(JOIN, json=_join(cid))
    async with litestar_only(api):
        second = await api.client.post(JOIN, json=_join(cid))
    assert first.status_code == second.status_code == 201
    assert headers(first, "content-length") == headers(second, "content-length")
    assert first.json().keys() == second.json().keys()
    assert second.json()["position"] == first.json()["position"] + 1

    again = _join(cid, first.json()["user_id"])
    assert_same(*await both(api, "POST", JOIN, json=again))  # the live token, back: 200

    later = (await api.add_concert(sale={"opens_at": "2026-01-01T13:00:00Z"}))["concert_id"]
    short, framework = await both(api, "POST", JOIN, json=_join(later))
    assert short.status_code == 409
    assert_same(short, framework)

    challenged = (await api.add_concert(sale={"join_challenge": True}))["concert_id"]
    short, framework = await both(api, "POST", JOIN, json=_join(challenged))
    assert short.status_code == 403
    assert_same(short, framework)

    await api.change_sale(cid, closes_at="2026-01-01T12:00:00Z")
    short, framework = await both(api, "POST", JOIN, json=_join(cid))
    assert short.status_code == 410
    assert_same(short, framework)


async def test_rate_limited_joins_and_polls_match(open_api: OpenApi, policy: Policy) -> None:
    async with open_api(
        policy, rate_limit_joins_per_minute=2, rate_limit_requests_per_minute=8
    ) as api:
        concert = await api.schedule()
        cid = concert.concert_id
        short, framework = await both(api, "POST", JOIN, json=_join(cid))
        assert short.status_code == 201 and framework.status_code == 200  # the same fan
        short, framework = await both(api, "POST", JOIN, json=_join(cid))
        assert short.status_code == 429  # the join limit
        assert_same(short, framework)
        # The all-routes limit counts each request once, whichever path answers it: so
        # far 4 requests, 2 more of them malformed joins (handed on to Litestar).
        for _ in range(2):
            short, framework = await both(api, "POST", JOIN, content=b"{")
            assert short.status_code == framework.status_code == 400
        short, framework = await both(api, "GET", POLL)
        assert short.status_code == 429
        assert_same(short, framework)


def _join(concert_id: int, user_id: str | None = None) -> dict[str, Any]:
    return {"user_id": user_id or str(uuid.uuid4()), "concert_id": concert_id}
