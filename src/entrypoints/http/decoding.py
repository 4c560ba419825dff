"""Turning the raw request into checked values: the strict second decoding of a JSON
body, the request class that makes an undecodable body a client error (and notes a
client that left before its body was complete), a path's concert id, the bearer
token and the idempotency key.

Requests are decoded twice: leniently by Litestar (for its OpenAPI document and first
checks), then strictly by :func:`strict_body`, so that ``"5"``, ``5.0`` or ``true`` is
never taken for the integer 5.
"""

from __future__ import annotations

import time
from typing import Any, TypeVar, cast

import msgspec
from litestar import Request
from litestar.connection.base import empty_receive, empty_send
from litestar.exceptions import ClientException
from litestar.types import Receive, ReceiveMessage, Scope, Send
from msgspec import Struct

from concert_core.domain import TokenInvalidError, ValidationError
from entrypoints.http.fields import MAX_CONCERT_ID

S = TypeVar("S", bound=Struct)

CLIENT_GONE = "concert.client_gone"
"""Scope key: set when the client disconnected before its request body was complete."""
REQUEST_STARTED = "concert.request_started"
"""Scope key: when the request's route began handling it (``time.perf_counter()``),
for the latency ``Metrics.before_send`` observes."""


def client_gone(scope: Scope) -> bool:
    """Whether the client left before its request body was complete: Litestar then
    raises a 500 ("client disconnected prematurely") that is no server error."""
    return bool(cast("dict[str, Any]", scope).get(CLIENT_GONE))


async def strict_body(request: Request[Any, Any, Any], data: S) -> S:
    """``data`` decoded again from the raw body, strictly: no type is coerced.

    Litestar has already checked the body leniently (it turns ``"5"`` into 5); this
    pass rejects whatever only that leniency let through, and a body that is not
    declared as JSON.
    """
    return strict_decode(request.headers.get("content-type"), await request.body(), type(data))


def strict_decode(content_type: str | None, body: bytes, kind: type[S]) -> S:
    """``body`` decoded as a ``kind``, strictly: VALIDATION_ERROR for a body declared as
    anything but JSON, one that is not JSON, or one that is not a ``kind`` without
    coercing a type."""
    if content_type is not None:
        media = content_type.split(";", 1)[0].strip().lower()
        if media != "application/json" and not media.endswith("+json"):
            raise ValidationError("the body must be JSON, sent as Content-Type: application/json")
    try:
        return msgspec.json.decode(body, type=kind, strict=True)
    except msgspec.ValidationError as error:
        raise ValidationError(f"invalid body: {error}") from None
    except (msgspec.DecodeError, UnicodeDecodeError, RecursionError):
        raise ValidationError("the body is not valid JSON") from None


class JsonRequest(Request[Any, Any, Any]):
    """The app's request class: a body msgspec cannot decode is a client error.

    msgspec raises ``UnicodeDecodeError`` for invalid UTF-8 inside a JSON string and
    ``RecursionError`` for absurd nesting; Litestar would let both through as a 500.
    A client that disconnects while its body is read is noted in the scope
    (:func:`client_gone`), so that the error it leads to is not taken for a bug.

    A matched route makes its request first, before its guards and handler: the first
    request made for a scope stamps :data:`REQUEST_STARTED` on it (a middleware doing
    so cost every route a second exception-handling layer around the handler).
    """

    def __init__(self, scope: Scope, receive: Receive = empty_receive, send: Send = empty_send):
        super().__init__(scope, receive, send)
        if REQUEST_STARTED not in scope:
            scope[REQUEST_STARTED] = time.perf_counter()  # type: ignore[literal-required]

        async def watched() -> ReceiveMessage:
            message = await receive()
            if message["type"] == "http.disconnect":
                scope[CLIENT_GONE] = True  # type: ignore[literal-required]
            return message

        self.receive = watched

    async def json(self) -> Any:
        try:
            return await super().json()
        except (UnicodeDecodeError, RecursionError):
            raise ClientException("the body is not valid JSON") from None


def parse_concert_id(raw: str) -> int:
    """A path's concert id: ASCII digits; the domain checks the range."""
    if not (raw.isascii() and raw.isdigit()) or len(raw) > len(str(MAX_CONCERT_ID)):
        raise ValidationError("concert_id must be a positive integer")
    return int(raw)


def raw_header(scope: Scope, name: bytes) -> str | None:
    """The first value of the header ``name`` (lower case, as ASGI servers give header
    names), read from the scope's raw list: Litestar's ``request.headers`` builds a
    mapping of them all first, a twentieth of a status poll's CPU."""
    for key, value in scope["headers"]:
        if key == name:
            return value.decode("latin-1")
    return None


def bearer_token(request: Request[Any, Any, Any]) -> str:
    """The queue token of ``Authorization: Bearer <token>``; TOKEN_INVALID without one."""
    return scope_bearer_token(request.scope)


def scope_bearer_token(scope: Scope) -> str:
    """:func:`bearer_token`, read from the request's scope."""
    header = raw_header(scope, b"authorization")
    if header is None:
        raise TokenInvalidError("send the queue token as Authorization: Bearer <token>")
    scheme, _, token = header.strip().partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token or " " in token:
        raise TokenInvalidError("the Authorization header must be Bearer <token>")
    return token


def idempotency_key_text(header: str | None) -> str | None:
    """The key as sent, without the surrounding whitespace HTTP says is not part of a
    header value (a proxy that trims it must not turn a retry into a new request)."""
    return None if header is None else header.strip(" \t")
