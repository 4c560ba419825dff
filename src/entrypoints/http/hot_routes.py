"""The two calls a stampede makes, answered on a short path (decision 26).

Every waiting fan polls ``GET /api/v1/queue/status`` at its hint, and every arriving
one sends ``POST /api/v1/queue/tokens``: at an on-sale these are nearly all the
traffic. :class:`HotRoutes` sits in front of Litestar's router and answers those two
itself, with the same use cases, checks, replies, problems, headers and metrics as
their Litestar handlers in ``controllers/queue.py``, without Litestar's per-request
machinery (request object, signature model, response object), which was a quarter of
their CPU.

It answers only what it can answer exactly as Litestar would; everything else goes to
Litestar unchanged, and so does any request it has begun and finds unusual, with the
body it read handed on as received:

- any other method or path (``HEAD``, a trailing slash, a ``root_path``), an invalid
  ``Host`` header;
- a join whose body is over the size limit, unfinished (the client left), not declared
  as JSON or not strictly a join request: Litestar's own decoding and
  ``strict_body`` then give the 400 or 413 they always gave;
- a join when identity is on (its guard and owner check are Litestar's).

Litestar's handlers stay registered: they document the routes in the OpenAPI schema
and answer what is handed on. ``tests/e2e/test_hot_routes.py`` sends each kind of
request to an app with and without this path and compares the replies byte for byte.
"""

from __future__ import annotations

import re
import time
from collections.abc import Awaitable, Callable, Iterable
from typing import Any, cast

import msgspec
from litestar import Litestar, Response
from litestar.enums import ScopeType
from litestar.types import ASGIApp, Message, Receive, ReceiveMessage, Scope, Send

from concert_core import ConcertService
from concert_core.domain import TokenStatus, ValidationError
from concert_core.use_cases import IssueTokenCommand
from entrypoints.http.client_address import scope_address
from entrypoints.http.decoding import (
    REQUEST_STARTED,
    JsonRequest,
    raw_header,
    scope_bearer_token,
    strict_decode,
)
from entrypoints.http.errors import EXCEPTION_HANDLERS
from entrypoints.http.identity import IDENTITY_STATE
from entrypoints.http.metrics import Metrics
from entrypoints.http.rate_limit import LIMITS_STATE, REQUEST_COUNTED
from entrypoints.http.schemas import IssueTokenRequest, QueueStatusResponse, QueueTokenResponse
from entrypoints.rate_limits import ClientLimits
from entrypoints.settings import Settings

_HOST = re.compile(rb"\A[0-9A-Za-z!$&'()*+,;=\-._~:\[\]@%]*\Z")
"""A ``Host`` header Litestar's router accepts (any other is its 400)."""
_JSON = [(b"content-type", b"application/json")]

Route = Callable[[Scope, Receive, Send], Awaitable[None]]


class HotRoutes:
    """An ASGI app answering the poll and the join, and handing everything else to
    ``framework`` (the app's own handler, under Litestar's ``before_send`` hooks)."""

    def __init__(
        self, app: Litestar, framework: ASGIApp, *, prefix: str, max_body_bytes: int
    ) -> None:
        self._app = app
        self._framework = framework
        self._max_body = max_body_bytes
        self._poll_path = f"{prefix}/queue/status"
        self._join_path = f"{prefix}/queue/tokens"
        self._routes: dict[tuple[str, str], Route] = {
            ("GET", self._poll_path): self._poll,
            ("POST", self._join_path): self._join,
        }

    @property
    def framework(self) -> ASGIApp:
        """What answers everything else: Litestar's own handler."""
        return self._framework

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == ScopeType.HTTP and not scope.get("root_path"):
            route = self._routes.get((scope["method"], scope["path"]))
            if route is not None and _host_ok(scope):
                await route(scope, receive, send)
                return
        await self._framework(scope, receive, send)

    async def _poll(self, scope: Scope, receive: Receive, send: Send) -> None:
        _routed(scope, self._poll_path)
        state = self._app.state
        try:
            await _hit_request(state, scope)
            _started(scope)
            service: ConcertService = state.service
            view = await service.queue_status(scope_bearer_token(scope))
            reply = QueueStatusResponse.of(view)
            messages = _json_reply(200, reply, reply.status, reply.poll_after_seconds)
        except Exception as error:  # answered as the app answers it
            await self._refuse(scope, receive, send, error)
            return
        for message in messages:
            await send(message)

    async def _join(self, scope: Scope, receive: Receive, send: Send) -> None:
        state = self._app.state
        if state.get(IDENTITY_STATE) is not None:
            await self._framework(scope, receive, send)  # the guard is Litestar's
            return
        _routed(scope, self._join_path)
        try:
            await _hit_request(state, scope)  # before the body, as the middleware
            _started(scope)
            received, body = await self._read_body(scope, receive)
        except Exception as error:
            await self._refuse(scope, receive, send, error)
            return
        request = None if body is None else _join_request(scope, body)
        if request is None:
            await self._framework(scope, _replay(received, receive), send)
            return
        try:
            limits: ClientLimits = state[LIMITS_STATE]
            if limits.joins_limited:
                settings: Settings = state.settings
                await limits.hit_join(scope_address(scope, settings.trusted_proxies))
            service: ConcertService = state.service
            command = IssueTokenCommand(request.user_id, request.concert_id, request.proof)
            issued = await service.issue_token(command)
            metrics: Metrics = state.metrics
            metrics.token_issued(issued)
            reply = QueueTokenResponse.of(issued)
            status = 201 if issued.created else 200
            messages = _json_reply(status, reply, reply.status, reply.poll_after_seconds)
        except Exception as error:
            await self._refuse(scope, receive, send, error)
            return
        for message in messages:
            await send(message)

    async def _read_body(
        self, scope: Scope, receive: Receive
    ) -> tuple[list[ReceiveMessage], bytes | None]:
        """The messages received for the body, and the body when it came complete and
        within the size limit (else None: Litestar answers it)."""
        length = raw_header(scope, b"content-length")  # ASGI names headers in lower case
        if length is not None and not (length.isascii() and length.isdigit() and len(length) <= 12):
            return [], None  # Litestar's 400
        if length is not None and int(length) > self._max_body:
            return [], None  # Litestar's 413
        received: list[ReceiveMessage] = []
        size = 0
        while True:
            message = await receive()
            received.append(message)
            if message["type"] != "http.request":
                return received, None  # the client left
            size += len(message.get("body", b""))
            if size > self._max_body:
                return received, None
            if not message.get("more_body", False):
                break
        if len(received) == 1:
            return received, cast("bytes", received[0].get("body", b""))
        return received, b"".join(cast("bytes", m.get("body", b"")) for m in received)

    async def _refuse(self, scope: Scope, receive: Receive, send: Send, error: Exception) -> None:
        """``error`` answered by the app's error table, as Litestar would answer it."""
        request = JsonRequest(scope, receive, send)
        handler = next(
            EXCEPTION_HANDLERS[kind] for kind in type(error).__mro__ if kind in EXCEPTION_HANDLERS
        )
        response: Response[Any] = handler(request, error)
        await response.to_asgi_response(None, request)(scope, receive, send)


def _host_ok(scope: Scope) -> bool:
    for name, value in scope["headers"]:
        if name == b"host":
            return _HOST.match(value) is not None
    return True


def _routed(scope: Scope, template: str) -> None:
    """What Litestar's router stamps on a scope it routes: the route (the request
    metrics' label)."""
    cast("dict[str, Any]", scope)["path_template"] = template


def _started(scope: Scope) -> None:
    """What the app's request class stamps when a route's handling begins (after the
    all-routes limit's middleware): the start of the request's latency."""
    cast("dict[str, Any]", scope)[REQUEST_STARTED] = time.perf_counter()


async def _hit_request(state: Any, scope: Scope) -> None:
    """The all-routes limit, when it is on (``RequestRateLimitMiddleware``)."""
    limits: ClientLimits = state[LIMITS_STATE]
    if limits.requests_per_minute:
        settings: Settings = state.settings
        cast("dict[str, Any]", scope)[REQUEST_COUNTED] = True  # handed on: not twice
        await limits.hit_request(scope_address(scope, settings.trusted_proxies))


class _JoinFieldsOnly(IssueTokenRequest, forbid_unknown_fields=True):
    """A join request with no other field: msgspec skips an unknown field without
    checking it (its UTF-8, its numbers), where Litestar's first, untyped decoding
    refuses a body that is not JSON anywhere. A body with one is Litestar's."""


def _join_request(scope: Scope, body: bytes) -> IssueTokenRequest | None:
    """The join's body, when it is strictly a join request declared as JSON and nothing
    else; else None."""
    try:
        return strict_decode(raw_header(scope, b"content-type"), body, _JoinFieldsOnly)
    except ValidationError:  # Litestar gives its own answer
        return None


def _replay(messages: Iterable[ReceiveMessage], receive: Receive) -> Receive:
    """``receive``, giving first the ``messages`` already taken from it."""
    pending = list(messages)

    async def replayed() -> ReceiveMessage:
        if pending:
            return pending.pop(0)
        return await receive()

    return replayed


def _json_reply(
    status: int, reply: msgspec.Struct, token_status: str, poll_after: int
) -> tuple[Message, Message]:
    """The reply's two messages, as Litestar's response for ``reply`` sends them."""
    body = msgspec.json.encode(reply)
    headers = [*_JSON, (b"content-length", str(len(body)).encode())]
    if token_status == TokenStatus.WAITING:  # docs/contract.md §4
        headers.append((b"retry-after", str(poll_after).encode()))
    return (
        {"type": "http.response.start", "status": status, "headers": headers},
        {"type": "http.response.body", "body": body, "more_body": False},
    )


__all__ = ["HotRoutes"]
