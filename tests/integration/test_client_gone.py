"""A client that leaves before its request body is complete (docs/contract.md §9): the
app, in this process on memory storage, is handed half a body and then the ASGI
``http.disconnect``, as uvicorn does when the connection is lost or closed for its
body deadline. It is no server error: nothing at ERROR, no 500 counted."""

from __future__ import annotations

import logging
from typing import Any

import httpx
import pytest

from e2e.helpers import running
from entrypoints.http import create_app
from entrypoints.settings import MEMORY_URL, Settings
from support import TEST_SECRET, http_scope


async def _half_a_join(app: Any) -> list[dict[str, Any]]:
    """POST /api/v1/queue/tokens announcing 100 bytes, sending 10, then gone."""
    messages = [
        {"type": "http.request", "body": b'{"user_id"', "more_body": True},
        {"type": "http.disconnect"},
    ]
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return messages.pop(0) if len(messages) > 1 else messages[0]

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    headers = [(b"content-type", b"application/json"), (b"content-length", b"100")]
    scope = http_scope("POST", "/api/v1/queue/tokens", headers)
    await app(scope, receive, send)
    return sent


async def test_a_client_gone_mid_body_is_neither_logged_as_an_error_nor_counted_as_500(
    caplog: pytest.LogCaptureFixture,
) -> None:
    settings = Settings(
        database_url=MEMORY_URL, token_secret=TEST_SECRET, rate_limit_joins_per_minute=0
    )
    app = create_app(settings)
    async with running(app):
        with caplog.at_level(logging.DEBUG):
            await _half_a_join(app)
        transport = httpx.ASGITransport(app=app)  # type: ignore[arg-type]
        async with httpx.AsyncClient(transport=transport, base_url="http://api.test") as client:
            metrics = (await client.get("/metrics")).text
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING], caplog.records
    assert any("left before its body" in r.getMessage() for r in caplog.records)
    assert 'route="/api/v1/queue/tokens"' not in metrics
