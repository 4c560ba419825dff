"""The all-routes limit: ``CONCERT_RATE_LIMIT_REQUESTS_PER_MINUTE`` requests per client
address in any 60 s (docs/contract.md §9).

Installed only when the setting is above 0, so it costs nothing when off. It runs on
every matched route but ``/health`` and ``/metrics`` (probes and scrapes come from the
operator's own machines, and must not be refused while the service is busy), before
the body is read; a refused request is 429 ``RATE_LIMITED`` through the app's error
table, and reaches no handler. An unknown path (404) never reaches it.
"""

from __future__ import annotations

from litestar.enums import ScopeType
from litestar.middleware import ASGIMiddleware
from litestar.types import ASGIApp, Receive, Scope, Send

from entrypoints.http.client_address import scope_address
from entrypoints.rate_limits import ClientLimits
from entrypoints.settings import Settings

LIMITS_STATE = "limits"
"""Where the lifespan puts the :class:`ClientLimits` on ``app.state``."""
REQUEST_COUNTED = "concert.request_counted"
"""Scope key: the request was counted against the all-routes limit already (by
``hot_routes``, which hands Litestar a request it began and finds unusual)."""


class RequestRateLimitMiddleware(ASGIMiddleware):
    scopes = (ScopeType.HTTP,)
    exclude_path_pattern = ("^/health$", "^/metrics$")

    async def handle(self, scope: Scope, receive: Receive, send: Send, next_app: ASGIApp) -> None:
        if scope.get(REQUEST_COUNTED):
            await next_app(scope, receive, send)
            return
        state = scope["litestar_app"].state
        limits: ClientLimits = state[LIMITS_STATE]
        settings: Settings = state["settings"]
        await limits.hit_request(scope_address(scope, settings.trusted_proxies))
        await next_app(scope, receive, send)
