"""The parameters and headers the controllers declare, as the OpenAPI document shows
them: path parameters, the ``Idempotency-Key`` header, the queue-token security and the
``Retry-After`` reply header.

Path parameters arrive as strings and are validated by the domain's own converters (or
``entrypoints.http.decoding``), so a bad one is a 400 VALIDATION_ERROR problem (not a
404 for a route that "does not match"); their OpenAPI schema still says what they are.
"""

from __future__ import annotations

from typing import Annotated

from litestar.datastructures import ResponseHeader
from litestar.openapi.spec import OpenAPIFormat, OpenAPIType
from litestar.params import HeaderParameter, PathParameter, QueryParameter

from entrypoints.http.fields import MAX_CONCERT_ID

QUEUE_TOKEN_SCHEME = "QueueToken"
SECURED: list[dict[str, list[str]]] = [{QUEUE_TOKEN_SCHEME: []}]
"""The ``security`` of an operation that needs ``Authorization: Bearer <queue token>``."""

_CONCERT_ID = {
    "description": "The concert's id (a positive integer).",
    "schema_extra": {
        "type": OpenAPIType.INTEGER,
        "minimum": 1,
        "maximum": MAX_CONCERT_ID,
        "examples": [1],
    },
}
ConcertIdPath = Annotated[str, PathParameter(**_CONCERT_ID)]
ConcertIdQuery = Annotated[str, QueryParameter(**_CONCERT_ID)]
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
