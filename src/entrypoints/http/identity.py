"""Verified identity on the routes that act in a fan's name (docs/contract.md §9).

When identity is on, ``create_app`` adds :func:`require_identity` as a guard of the
app; it acts only on the handlers marked with :data:`ACTS_FOR_FAN` (joining the line,
and every ``/users/{user_id}/...`` route): ``Authorization: Bearer <identity token>``
is verified (401 ``IDENTITY_INVALID`` without a good one), and a path ``{user_id}``
other than the identity's is 403 ``NOT_OWNER``. The joining handler compares its body's
``user_id`` with :func:`require_owner`. When identity is off the guard is not installed
and nothing here runs.

:func:`verified_user` gives the verified user id of a request, verifying the token at
most once per request (the result is kept on the request's state), so anything else
that needs it (a per-fan rate limit) may call it before or after the guard.
"""

from __future__ import annotations

import uuid
from typing import Any, Protocol

from litestar.connection import ASGIConnection
from litestar.handlers.base import BaseRouteHandler

from concert_core.domain import IdentityInvalidError, NotOwnerError
from concert_core.domain.values import user_id as parse_user_id

IDENTITY_STATE = "identity_verifier"
"""Where the app's state keeps the identity verifier (absent when identity is off)."""
ACTS_FOR_FAN = {"acts_for_fan": True}
"""The ``opt`` of a handler that acts in the name of a fan named by the request."""
_VERIFIED_STATE = "verified_user_id"
"""Where a request's state keeps its verified user id, once verified."""
IDENTIFIED = {401: "IDENTITY_INVALID", 403: "NOT_OWNER"}
"""The OpenAPI examples of a route that acts for a fan: its 401 and 403 when identity is on."""


class VerifiedIdentity(Protocol):
    @property
    def user_id(self) -> uuid.UUID: ...


class IdentityVerifier(Protocol):
    async def verify(self, token: str) -> VerifiedIdentity: ...


async def verified_user(connection: ASGIConnection[Any, Any, Any, Any]) -> uuid.UUID | None:
    """The user id the request's identity token proves, or None when identity is off.

    Raises ``IDENTITY_INVALID`` (401) when identity is on and the token is missing or
    not good, ``SERVICE_UNAVAILABLE`` when the provider's keys cannot be read."""
    verifier: IdentityVerifier | None = connection.app.state.get(IDENTITY_STATE)
    if verifier is None:
        return None
    state = connection.state
    known: uuid.UUID | None = state.get(_VERIFIED_STATE)
    if known is not None:
        return known
    token = _bearer(connection.headers.get("authorization"))
    verified = (await verifier.verify(token)).user_id
    state[_VERIFIED_STATE] = verified
    return verified


async def require_identity(
    connection: ASGIConnection[Any, Any, Any, Any], handler: BaseRouteHandler
) -> None:
    """The guard: on a handler marked :data:`ACTS_FOR_FAN`, a verified identity, and a
    path ``{user_id}`` (when there is one) that is the identity's."""
    if not handler.opt.get("acts_for_fan"):
        return
    verified = await verified_user(connection)
    raw = connection.path_params.get("user_id")
    if verified is not None and raw is not None and parse_user_id(raw) != verified:
        raise NotOwnerError("this user id is not the one your identity token names")


async def require_owner(connection: ASGIConnection[Any, Any, Any, Any], named: uuid.UUID) -> None:
    """A body's ``user_id`` must be the identity's, when identity is on (NOT_OWNER)."""
    verified = await verified_user(connection)
    if verified is not None and named != verified:
        raise NotOwnerError("user_id is not the one your identity token names")


def _bearer(header: str | None) -> str:
    if header is None:
        raise IdentityInvalidError
    scheme, _, token = header.strip().partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token or " " in token:
        raise IdentityInvalidError("the Authorization header must be Bearer <identity token>")
    return token
