"""The operator key guard: every admin route needs ``Authorization: Bearer <operator
key>`` (docs/contract.md §8).

The key is compared in constant time, and every refusal reads the same (missing,
malformed or wrong): a refusal tells a guesser nothing.
"""

from __future__ import annotations

import hmac
from typing import Any

from litestar.connection import ASGIConnection
from litestar.handlers.base import BaseRouteHandler

from concert_core.domain import DomainError

OPERATOR_KEY_SCHEME = "OperatorKey"
ADMIN_SECURED: list[dict[str, list[str]]] = [{OPERATOR_KEY_SCHEME: []}]
"""The ``security`` of an operation that needs the operator key."""
ADMIN_KEY_STATE = "admin_key"
"""Where the app's state keeps the operator key while storage is open."""


class AdminKeyInvalidError(DomainError):
    """An admin route was called without the operator key. Raised by the HTTP guard:
    the core knows nothing of operators' keys."""

    code = "ADMIN_KEY_INVALID"
    default_detail = "admin routes need the operator key, sent as Authorization: Bearer <key>"


def require_operator_key(
    connection: ASGIConnection[Any, Any, Any, Any], _: BaseRouteHandler
) -> None:
    """Let the request through only with the operator key (a Litestar guard)."""
    expected: str | None = connection.app.state.get(ADMIN_KEY_STATE)
    sent = _bearer(connection.headers.get("authorization"))
    if expected is None or sent is None:
        raise AdminKeyInvalidError
    # Headers arrive decoded as Latin-1, so these are the bytes the client sent.
    if not hmac.compare_digest(sent.encode("latin-1"), expected.encode()):
        raise AdminKeyInvalidError


def _bearer(header: str | None) -> str | None:
    if header is None:
        return None
    scheme, _, key = header.strip().partition(" ")
    key = key.strip()
    if scheme.lower() != "bearer" or not key:
        return None
    return key
