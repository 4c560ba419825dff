"""Errors as RFC 9457 problem details (``application/problem+json``).

One table, :data:`PROBLEMS`, maps every error code to its HTTP status and title: the
domain's codes (the error table of docs/contract.md §4) and the few the transport adds
(``METHOD_NOT_ALLOWED``, ``PAYLOAD_TOO_LARGE``, ``INTERNAL_ERROR``). Litestar's own
rejections (a body or parameter that does not parse, an unknown route) are turned into
the same problems, so no request, however malformed, gets anything else.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Mapping
from typing import Any

import msgspec
from attrs import frozen
from litestar import Request, Response
from litestar.exceptions import HTTPException, ValidationException
from litestar.openapi.datastructures import ResponseSpec
from litestar.openapi.spec import Example
from litestar.types import ExceptionHandlersMap

from concert_core.domain import (
    DomainError,
    SaleClosedError,
    SaleNotOpenError,
    TokenNotActiveError,
)
from entrypoints.http.decoding import client_gone
from entrypoints.http.schemas import Problem
from entrypoints.rate_limits import RateLimitedError

PROBLEM_MEDIA_TYPE = "application/problem+json"
RETRY_AFTER_UNAVAILABLE_SECONDS = 5
"""What a 503 asks a client to wait before trying again."""
RETRY_AFTER_IN_PROGRESS_SECONDS = 1
"""What a 409 IDEMPOTENCY_IN_PROGRESS asks a client to wait before retrying."""
_MAX_DETAIL = 500

_log = logging.getLogger(__name__)


@frozen
class ProblemType:
    status: int
    title: str


PROBLEMS: Mapping[str, ProblemType] = {
    "VALIDATION_ERROR": ProblemType(400, "Invalid request"),
    "TOKEN_INVALID": ProblemType(401, "Invalid queue token"),
    "ADMIN_KEY_INVALID": ProblemType(401, "Operator key required"),
    "IDENTITY_INVALID": ProblemType(401, "Identity token required"),
    "INSUFFICIENT_BALANCE": ProblemType(402, "Insufficient balance"),
    "TOKEN_NOT_ACTIVE": ProblemType(403, "Queue token not active"),
    "NOT_OWNER": ProblemType(403, "Not yours"),
    "CHALLENGE_FAILED": ProblemType(403, "Join challenge failed"),
    "NOT_FOUND": ProblemType(404, "Not found"),
    "METHOD_NOT_ALLOWED": ProblemType(405, "Method not allowed"),
    "SEAT_UNAVAILABLE": ProblemType(409, "Seat unavailable"),
    "HOLD_LIMIT_REACHED": ProblemType(409, "Hold limit reached"),
    "IDEMPOTENCY_IN_PROGRESS": ProblemType(409, "Request still in progress"),
    "DATE_EXISTS": ProblemType(409, "Date exists"),
    "SALE_NOT_OPEN": ProblemType(409, "Sale not open"),
    "HOLD_EXPIRED": ProblemType(410, "Hold expired"),
    "SALE_CLOSED": ProblemType(410, "Sale closed"),
    "PAYLOAD_TOO_LARGE": ProblemType(413, "Request body too large"),
    "IDEMPOTENCY_KEY_REUSED": ProblemType(422, "Idempotency key reused"),
    "RATE_LIMITED": ProblemType(429, "Too many requests"),
    "INTERNAL_ERROR": ProblemType(500, "Internal server error"),
    "SERVICE_UNAVAILABLE": ProblemType(503, "Service unavailable"),
}
"""Every error code the API answers with, and its HTTP status."""

_CODE_OF_HTTP_STATUS = {
    400: "VALIDATION_ERROR",
    404: "NOT_FOUND",
    405: "METHOD_NOT_ALLOWED",
    413: "PAYLOAD_TOO_LARGE",
}
"""Litestar's own rejections, by status."""


def type_uri(code: str) -> str:
    return "urn:concert:problem:" + code.lower().replace("_", "-")


def problem(code: str, detail: str, **extensions: Any) -> Problem:
    kind = PROBLEMS[code]
    return Problem(
        type=type_uri(code),
        title=kind.title,
        status=kind.status,
        detail=detail[:_MAX_DETAIL],
        code=code,
        **extensions,
    )


def problem_response(
    code: str, detail: str, *, headers: Mapping[str, str] | None = None, **extensions: Any
) -> Response[Problem]:
    body = problem(code, detail, **extensions)
    all_headers = dict(headers or {})
    if code == "SERVICE_UNAVAILABLE":
        all_headers.setdefault("Retry-After", str(RETRY_AFTER_UNAVAILABLE_SECONDS))
    elif code == "IDEMPOTENCY_IN_PROGRESS":
        all_headers.setdefault("Retry-After", str(RETRY_AFTER_IN_PROGRESS_SECONDS))
    elif code == "TOKEN_INVALID":
        all_headers.setdefault("WWW-Authenticate", 'Bearer realm="queue"')
    elif code == "ADMIN_KEY_INVALID":
        all_headers.setdefault("WWW-Authenticate", 'Bearer realm="admin"')
    elif code == "IDENTITY_INVALID":
        all_headers.setdefault("WWW-Authenticate", 'Bearer realm="identity"')
    return Response(
        body, status_code=body.status, media_type=PROBLEM_MEDIA_TYPE, headers=all_headers
    )


def domain_error_response(_: Request[Any, Any, Any], error: DomainError) -> Response[Problem]:
    if error.code not in PROBLEMS:
        _log.error("domain error %s has no HTTP status", error.code, exc_info=error)
        return problem_response("INTERNAL_ERROR", "the server failed to handle the request")
    if isinstance(error, TokenNotActiveError):
        return problem_response(
            error.code,
            error.detail,
            token_status=str(error.token_status),
            position=error.position,
        )
    if isinstance(error, SaleNotOpenError):
        return problem_response(
            error.code,
            error.detail,
            opens_at=error.opens_at,
            prequeue_opens_at=error.prequeue_opens_at,
        )
    if isinstance(error, SaleClosedError):
        return problem_response(error.code, error.detail, phase=str(error.phase))
    return problem_response(error.code, error.detail)


def rate_limited_response(_: Request[Any, Any, Any], error: RateLimitedError) -> Response[Problem]:
    """Over a rate limit (docs/contract.md §9): 429, and when a slot frees."""
    return problem_response(
        "RATE_LIMITED",
        "too many requests from this client; try again after Retry-After seconds",
        headers={"Retry-After": str(error.retry_after_seconds)},
    )


def http_error_response(request: Request[Any, Any, Any], error: HTTPException) -> Response[Problem]:
    """Litestar's own rejections: unparsable input, unknown route, wrong method, size."""
    code = _CODE_OF_HTTP_STATUS.get(error.status_code)
    if error.status_code >= 500 and client_gone(request.scope):
        # Litestar's "client disconnected prematurely": the client left mid-body (or
        # was closed for being too slow with it). No bug, and nobody to answer.
        _log.debug("%s %s: the client left before its body", request.method, request.url.path)
        return problem_response("VALIDATION_ERROR", "the request body was not complete")
    if code is None:
        if error.status_code >= 500:
            return unexpected_error_response(request, error)
        # Other client errors Litestar might raise: a problem of their own status.
        return _plain_problem(error)
    allow = {k.lower(): v for k, v in (error.headers or {}).items()}.get("allow")
    headers = {"Allow": allow} if allow else {}
    return problem_response(code, _detail(error), headers=headers)


def unexpected_error_response(
    request: Request[Any, Any, Any], error: Exception
) -> Response[Problem]:
    """The last resort: a bug. Logged in full; the client gets a problem, never a page."""
    _log.error("unhandled error in %s %s", request.method, request.url.path, exc_info=error)
    return problem_response("INTERNAL_ERROR", "the server failed to handle the request")


EXCEPTION_HANDLERS: ExceptionHandlersMap = {
    DomainError: domain_error_response,
    RateLimitedError: rate_limited_response,
    HTTPException: http_error_response,
    Exception: unexpected_error_response,
}


def _detail(error: HTTPException) -> str:
    if error.status_code == 404:
        return "no such resource"
    if error.status_code == 405:
        return "this resource does not support that method"
    if error.status_code == 413:
        return "the request body is too large"
    if isinstance(error, ValidationException) and isinstance(error.extra, list) and error.extra:
        parts = []
        for item in error.extra:
            if isinstance(item, dict):
                key, message = item.get("key"), item.get("message", "invalid")
                if key == "data" and message == "'data'":  # Litestar's word for no body
                    parts.append("a JSON body is required")
                elif key == "data":  # Litestar's name for the body as a whole
                    parts.append(f"the body: {message}")
                else:
                    parts.append(f"{key}: {message}" if key else str(message))
        if parts:
            return "invalid request: " + "; ".join(parts)
    return f"invalid request: {error.detail}" if error.detail else "invalid request"


def _plain_problem(error: HTTPException) -> Response[Problem]:
    body = Problem(
        type="about:blank",
        title=error.detail or "Client error",
        status=error.status_code,
        detail=(error.detail or "the request was refused")[:_MAX_DETAIL],
        code=f"HTTP_{error.status_code}",
    )
    return Response(
        body,
        status_code=error.status_code,
        media_type=PROBLEM_MEDIA_TYPE,
        headers=dict(error.headers or {}),
    )


# --- OpenAPI ------------------------------------------------------------------------------

_STATUS_DESCRIPTIONS = {
    400: "VALIDATION_ERROR: malformed body, parameter or header.",
    401: "TOKEN_INVALID: missing, malformed, forged or unknown queue token.",
    402: "INSUFFICIENT_BALANCE: the wallet holds less than the amount due.",
    403: "TOKEN_NOT_ACTIVE (with token_status and position) or NOT_OWNER.",
    404: "NOT_FOUND: unknown concert, date or reservation.",
    409: (
        "SEAT_UNAVAILABLE, HOLD_LIMIT_REACHED, IDEMPOTENCY_IN_PROGRESS, DATE_EXISTS, or "
        "SALE_NOT_OPEN (with opens_at and prequeue_opens_at)."
    ),
    410: (
        "HOLD_EXPIRED: the hold lapsed, was released or is already paid; or SALE_CLOSED "
        "(with phase): the sale is sold out or closed."
    ),
    413: "PAYLOAD_TOO_LARGE: the body is over the size limit.",
    422: "IDEMPOTENCY_KEY_REUSED: the key was first used with a different request.",
    429: "RATE_LIMITED: too many requests from this client address; see Retry-After.",
    500: "INTERNAL_ERROR: a bug; it is logged.",
    503: "SERVICE_UNAVAILABLE: storage or queue unreachable; see Retry-After.",
}
_EXAMPLE_CODE = {
    400: "VALIDATION_ERROR",
    401: "TOKEN_INVALID",
    402: "INSUFFICIENT_BALANCE",
    403: "TOKEN_NOT_ACTIVE",
    404: "NOT_FOUND",
    409: "SEAT_UNAVAILABLE",
    410: "HOLD_EXPIRED",
    413: "PAYLOAD_TOO_LARGE",
    422: "IDEMPOTENCY_KEY_REUSED",
    429: "RATE_LIMITED",
    500: "INTERNAL_ERROR",
    503: "SERVICE_UNAVAILABLE",
}
_EXAMPLE_MEMBERS: Mapping[str, dict[str, Any]] = {
    "TOKEN_NOT_ACTIVE": {"token_status": "WAITING", "position": 42},
    "SALE_NOT_OPEN": {
        "opens_at": dt.datetime(2026, 12, 1, 1, 0, tzinfo=dt.UTC),
        "prequeue_opens_at": dt.datetime(2026, 12, 1, 0, 50, tzinfo=dt.UTC),
    },
    "SALE_CLOSED": {"phase": "SOLD_OUT"},
}
_CODE_DESCRIPTIONS = {
    "ADMIN_KEY_INVALID": "ADMIN_KEY_INVALID: the operator key is missing or wrong.",
    "IDENTITY_INVALID": (
        "IDENTITY_INVALID (only when the service verifies identity): the identity "
        "provider's token is missing, forged, expired or for another issuer or audience."
    ),
    "NOT_OWNER": (
        "NOT_OWNER (only when the service verifies identity): the user id is not the one "
        "the identity token names."
    ),
    "CHALLENGE_FAILED": (
        "CHALLENGE_FAILED: the concert's sale asks for a join challenge, and the proof is "
        "missing, malformed, wrong, expired, for another concert or already used."
    ),
}
ALWAYS = (400, 500, 503)
"""Any operation may answer these."""


def problem_responses(
    *statuses: int,
    body: bool = False,
    admin: bool = False,
    examples: Mapping[int, str] | None = None,
) -> dict[int, ResponseSpec]:
    """OpenAPI entries for the problems an operation answers with (plus :data:`ALWAYS`,
    and 413 when it takes a ``body``). ``admin``: its 401 is ADMIN_KEY_INVALID;
    ``examples`` picks the code a status is shown with."""
    wanted = set(statuses) | set(ALWAYS) | ({413} if body else set())
    chosen = dict(_EXAMPLE_CODE) | ({401: "ADMIN_KEY_INVALID"} if admin else {})
    chosen |= examples or {}
    specs = {}
    for status in sorted(wanted):
        code = chosen[status]
        example = problem(
            code, "what went wrong, for a person to read", **_EXAMPLE_MEMBERS.get(code, {})
        )
        specs[status] = ResponseSpec(
            data_container=Problem,
            description=_CODE_DESCRIPTIONS.get(code, _STATUS_DESCRIPTIONS[status]),
            media_type=PROBLEM_MEDIA_TYPE,
            generate_examples=False,
            examples=[Example(summary=example.code, value=_as_dict(example))],
        )
    return specs


def _as_dict(body: Problem) -> dict[str, Any]:
    builtins: dict[str, Any] = msgspec.to_builtins(body)
    return builtins
