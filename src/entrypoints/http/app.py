"""The Litestar application: routes, dependencies, errors, metrics and OpenAPI.

``create_app(settings)`` builds it; the container's resources (storage) are opened in
the app's lifespan and closed with it. Handlers get their use case through Litestar's
``Provide``, reading the ``ConcertService`` the lifespan put on ``app.state``.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from typing import Any

from litestar import Litestar, Response, Router
from litestar.datastructures import State
from litestar.di import Provide
from litestar.openapi import OpenAPIConfig
from litestar.openapi.spec import Components, SecurityScheme, Tag

from concert_core import ConcertService
from entrypoints.background import SWEEP_INTERVAL, repeat, reporting
from entrypoints.container import Container, opened, resolved
from entrypoints.http.controllers import (
    AdminConcertController,
    ConcertController,
    OpsController,
    PaymentController,
    QueueController,
    ReservationController,
    UserController,
)
from entrypoints.http.controllers.parameters import QUEUE_TOKEN_SCHEME
from entrypoints.http.decoding import JsonRequest
from entrypoints.http.errors import EXCEPTION_HANDLERS, problem_response
from entrypoints.http.hot_routes import HotRoutes
from entrypoints.http.identity import IDENTITY_STATE, require_identity
from entrypoints.http.metrics import Metrics
from entrypoints.http.operator_key import ADMIN_KEY_STATE, OPERATOR_KEY_SCHEME
from entrypoints.http.pages import OfflineSwaggerPlugin, pages_router, security_headers
from entrypoints.http.rate_limit import LIMITS_STATE, RequestRateLimitMiddleware
from entrypoints.rate_limits import WINDOW, ClientLimits
from entrypoints.settings import Settings

API_PREFIX = "/api/v1"
API_VERSION = "1.0.0"
MAX_BODY_BYTES = 64 * 1024
"""Every request body the API takes is a few hundred bytes; more is refused (413)."""

USE_CASES = (
    "issue_token",
    "queue_status",
    "leave_queue",
    "list_concerts",
    "list_dates",
    "list_seats",
    "hold_seat",
    "get_reservation",
    "release_hold",
    "charge_wallet",
    "get_balance",
    "pay",
    "payment_history",
    "add_concert",
    "add_concert_date",
    "change_sale",
    "report_concerts",
    "new_join_challenge",
)
"""The ``ConcertService`` attributes handlers may ask for by name."""

_DESCRIPTION = """\
Concert ticket reservations with a virtual waiting room.

1. `POST /api/v1/queue/tokens` gives a queue token (a JWT); send it as
   `Authorization: Bearer <token>`.
2. Poll `GET /api/v1/queue/status` (honour `poll_after_seconds` / `Retry-After`)
   until the token is `ACTIVE`.
3. Browse dates and seats, hold a seat, top up the wallet and pay: the token is then
   `EXPIRED`, and the seat is yours.

Every token and status reply carries the concert's `sale`: its phase, opening time and
the operator's message. Operators set concerts and their on-sales up under
`/api/v1/admin`, with the operator key as `Authorization: Bearer <key>`.

Errors are RFC 9457 problem details (`application/problem+json`) with a stable `code`.
Charges and payments honour an `Idempotency-Key` header.
"""


def create_app(
    settings: Settings,
    *,
    container: Container | None = None,
    background: bool = False,
    hot_routes: bool = True,
) -> Litestar:
    """The HTTP API over the service ``settings`` (or a ready ``container``) describes.

    ``background=True`` also runs the admission and expiry loops while the app lives
    (see :func:`_start_background`); with ``False`` nothing runs in the background.
    ``hot_routes=False`` leaves the poll and the join to their Litestar handlers
    (:mod:`entrypoints.http.hot_routes` answers them otherwise): the same replies,
    more slowly, for comparing the two.
    """
    if container is None:
        container = Container(settings=settings)
    metrics = Metrics()

    @contextlib.asynccontextmanager
    async def lifespan(app: Litestar) -> AsyncIterator[None]:
        async with opened(container) as (storage, service):
            app.state.storage = storage
            app.state.service = service
            app.state[ADMIN_KEY_STATE] = storage.admin_key
            app.state[LIMITS_STATE] = await resolved(container.limits())
            tasks = await _start_background(app) if background else []
            try:
                yield
            finally:
                await _stop(tasks)

    api = Router(
        API_PREFIX,
        route_handlers=[
            QueueController,
            ConcertController,
            ReservationController,
            PaymentController,
            UserController,
            AdminConcertController,
        ],
    )
    identity = container.identity()  # None when identity is off: no guard, no cost
    app = Litestar(
        route_handlers=[api, OpsController, pages_router()],
        lifespan=[lifespan],
        state=State({"metrics": metrics, "settings": settings, IDENTITY_STATE: identity}),
        guards=[require_identity] if identity is not None else [],
        dependencies=_dependencies(),
        exception_handlers=EXCEPTION_HANDLERS,
        # No middleware unless the all-routes limit is on: with one, Litestar wraps every
        # route in a second exception-handling layer (the request class stamps the
        # latency's start instead: decoding.JsonRequest).
        middleware=(
            [RequestRateLimitMiddleware()] if settings.rate_limit_requests_per_minute else []
        ),
        before_send=[metrics.before_send, security_headers],
        request_max_body_size=MAX_BODY_BYTES,
        openapi_config=_openapi_config(),
        request_class=JsonRequest,
        logging_config=None,  # the process (CLI, server) configures logging, not the app
    )
    if hot_routes:
        # In front of Litestar's router, inside its before_send hooks (metrics, headers).
        app.asgi_handler = HotRoutes(
            app, app.asgi_handler, prefix=API_PREFIX, max_body_bytes=MAX_BODY_BYTES
        )
    return app


async def _start_background(app: Litestar) -> list[asyncio.Task[None]]:
    """Start the admission and expiry loops for the app's lifetime (``background=True``);
    the lifespan cancels and awaits them on shutdown."""
    service: ConcertService = app.state.service
    metrics: Metrics = app.state.metrics
    admission = reporting(service.admit_waiting, metrics.admissions_made)
    limits: ClientLimits = app.state[LIMITS_STATE]
    return [
        asyncio.create_task(
            repeat("admission", admission, service.policy.admission_interval),
            name="admission loop",
        ),
        asyncio.create_task(
            repeat("expiry sweep", service.expire_lapsed, SWEEP_INTERVAL), name="expiry sweeper"
        ),
        asyncio.create_task(
            repeat("rate limit sweep", limits.sweep, WINDOW), name="rate limit sweeper"
        ),
    ]


async def _stop(tasks: list[asyncio.Task[None]]) -> None:
    for task in tasks:
        task.cancel()
    for task in tasks:
        with contextlib.suppress(asyncio.CancelledError):
            await task


def _dependencies() -> dict[str, Provide]:
    dependencies = {name: Provide(_use_case(name), sync_to_thread=False) for name in USE_CASES}
    dependencies.update(
        service=Provide(_from_state("service"), sync_to_thread=False),
        storage=Provide(_from_state("storage"), sync_to_thread=False),
        metrics=Provide(_from_state("metrics"), sync_to_thread=False),
        limits=Provide(_from_state(LIMITS_STATE), sync_to_thread=False),
    )
    return dependencies


def _use_case(name: str) -> Callable[[State], Any]:
    def provide(state: State) -> Any:
        service: ConcertService = state.service
        return getattr(service, name)

    provide.__name__ = f"provide_{name}"
    return provide


def _from_state(name: str) -> Callable[[State], Any]:
    def provide(state: State) -> Any:
        return state[name]

    provide.__name__ = f"provide_{name}"
    return provide


def _docs_not_found(response: Response[Any]) -> Response[Any]:
    """The docs router answers unknown paths with an HTML page; make it a problem."""
    if response.status_code == 404:
        return problem_response("NOT_FOUND", "no such resource")
    return response


def _openapi_config() -> OpenAPIConfig:
    return OpenAPIConfig(
        title="Concert reservations",
        version=API_VERSION,
        description=_DESCRIPTION,
        path="/schema",
        render_plugins=[
            # Served offline, from the service's own files (docs/decisions/0018).
            OfflineSwaggerPlugin(path=["/", "/swagger"]),
        ],
        openapi_router=Router(
            "/schema", route_handlers=[], include_in_schema=False, after_request=_docs_not_found
        ),
        components=Components(
            security_schemes={
                QUEUE_TOKEN_SCHEME: SecurityScheme(
                    type="http",
                    scheme="bearer",
                    bearer_format="JWT",
                    description="The queue token from POST /api/v1/queue/tokens.",
                ),
                OPERATOR_KEY_SCHEME: SecurityScheme(
                    type="http",
                    scheme="bearer",
                    description=(
                        "The operator key: CONCERT_ADMIN_KEY, or the one generated on the "
                        "first start (`concert admin key` prints it)."
                    ),
                ),
            }
        ),
        tags=[
            Tag(name="queue", description="The virtual waiting room."),
            Tag(name="concerts", description="Concerts, dates and seats."),
            Tag(name="reservations", description="Seat holds."),
            Tag(name="payments", description="Paying for holds."),
            Tag(name="wallet", description="Balances, charges and payment history."),
            Tag(name="operations", description="Health and metrics."),
            Tag(name="admin", description="Concerts and their on-sales, for operators."),
        ],
        use_handler_docstrings=False,
    )


__all__ = ["create_app"]
