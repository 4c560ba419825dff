"""What the controllers share: path parameters, the bearer token, OpenAPI bits.

Path parameters arrive as strings and are validated by the domain's own converters,
so a bad one is a 400 VALIDATION_ERROR problem (not a 404 for a route that "does not
match"); their OpenAPI schema still says what they are.
"""

from __future__ import annotations

from typing import Annotated, Any

from litestar import Request
from litestar.datastructures import ResponseHeader
from litestar.openapi.spec import OpenAPIFormat, OpenAPIType
from litestar.params import HeaderParameter, PathParameter

from concert_core.domain import TokenInvalidError, ValidationError
from entrypoints.http.metrics import Metrics
from entrypoints.http.schemas import MAX_CONCERT_ID

QUEUE_TOKEN_SCHEME = "QueueToken"
SECURED: list[dict[str, list[str]]] = [{QUEUE_TOKEN_SCHEME: []}]
"""The ``security`` of an operation that needs ``Authorization: Bearer <queue token>``."""

ConcertIdPath = Annotated[
    str,
    PathParameter(
        description="The concert's id (a positive integer).",
        schema_extra={
            "type": OpenAPIType.INTEGER,
            "minimum": 1,
            "maximum": MAX_CONCERT_ID,
            "examples": [1],
        },
    ),
]
DatePath = Annotated[
    str,
    PathParameter(
        description="A performance date, YYYY-MM-DD.",
        schema_extra={"format": OpenAPIFormat.DATE, "examples": ["2026-12-24"]},
    ),
]
ReservationIdPath = Annotated[
    str,
    PathParameter(
        description="The reservation's UUID.",
        schema_extra={"format": OpenAPIFormat.UUID},
    ),
]
UserIdPath = Annotated[
    str,
    PathParameter(description="The user's UUID.", schema_extra={"format": OpenAPIFormat.UUID}),
]
IdempotencyKeyHeader = Annotated[
    str | None,
    HeaderParameter(
        name="Idempotency-Key",
        required=False,
        min_length=1,
        max_length=255,
        description=(
            "1 to 255 printable ASCII characters. A retry with the same key gets the first "
            "result and changes nothing; kept at least 24 hours, per user."
        ),
    ),
]

RETRY_AFTER_WHILE_WAITING = ResponseHeader(
    name="Retry-After",
    documentation_only=True,
    value="1",  # documents the header as text: delay-seconds (RFC 9110)
    required=False,
    description="While the token is WAITING: seconds to wait before polling again.",
)


def parse_concert_id(raw: str) -> int:
    """A path's concert id: ASCII digits; the domain checks the range."""
    if not (raw.isascii() and raw.isdigit()) or len(raw) > len(str(MAX_CONCERT_ID)):
        raise ValidationError("concert_id must be a positive integer")
    return int(raw)


def bearer_token(request: Request[Any, Any, Any]) -> str:
    """The queue token of ``Authorization: Bearer <token>``; TOKEN_INVALID without one."""
    header = request.headers.get("authorization")
    if header is None:
        raise TokenInvalidError("send the queue token as Authorization: Bearer <token>")
    scheme, _, token = header.strip().partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token or " " in token:
        raise TokenInvalidError("the Authorization header must be Bearer <token>")
    return token


def app_metrics(request: Request[Any, Any, Any]) -> Metrics:
    """The app's metrics (read from its state, like the service the use cases come from)."""
    metrics: Metrics = request.app.state.metrics
    return metrics


def idempotency_key_text(header: str | None) -> str | None:
    """The key as sent, without the surrounding whitespace HTTP says is not part of a
    header value (a proxy that trims it must not turn a retry into a new request)."""
    return None if header is None else header.strip(" \t")
