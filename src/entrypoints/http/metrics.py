"""Prometheus metrics, on a registry of the app's own (tests build many apps).

- ``concert_http_requests_total{route, method, status}``: every response, by route
  template (``unmatched`` for a path no route knows);
- ``concert_http_request_duration_seconds{route, method}``: latency of matched routes;
- ``concert_queue_waiting{concert_id}`` and ``concert_queue_active{concert_id}``: read
  from the queue store when scraped;
- ``concert_holds_total``, ``concert_payments_total``, ``concert_seats_sold_total``:
  counted by the controllers when a hold or a payment succeeds.
"""

from __future__ import annotations

import logging
import time
from collections import OrderedDict
from collections.abc import Iterable, Sequence
from typing import Any, cast

from litestar import Request
from litestar.enums import ScopeType
from litestar.middleware import ASGIMiddleware
from litestar.types import ASGIApp, Message, Receive, Scope, Send
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
)
from prometheus_client.core import GaugeMetricFamily, Metric

from concert_core import ConcertService
from concert_core.domain import QueueStats

MEDIA_TYPE = CONTENT_TYPE_LATEST.removesuffix("; charset=utf-8")
"""Prometheus' text format; Litestar adds the charset of a text/ type itself."""
_STARTED = "concert.metrics.started"
"""Scope key: when a matched route began handling the request."""
_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
_REMEMBERED_PAYMENTS = 10_000
_log = logging.getLogger(__name__)


class QueueGauges:
    """Waiting and active counts per concert, as last refreshed before a scrape."""

    def __init__(self) -> None:
        self._stats: Sequence[QueueStats] = ()
        self._up = 0.0

    async def refresh(self, service: ConcertService) -> None:
        try:
            self._stats = await service.queue_overview()
            self._up = 1.0
        except Exception:
            # A scrape during an outage still answers: the gauges say the stats are stale.
            _log.warning("queue stats could not be read for /metrics", exc_info=True)
            self._up = 0.0

    def describe(self) -> Iterable[Metric]:
        return ()

    def collect(self) -> Iterable[Metric]:
        waiting = GaugeMetricFamily(
            "concert_queue_waiting", "WAITING tokens per concert.", labels=["concert_id"]
        )
        active = GaugeMetricFamily(
            "concert_queue_active", "ACTIVE tokens per concert.", labels=["concert_id"]
        )
        for stats in self._stats:
            waiting.add_metric([str(stats.concert_id)], stats.waiting)
            active.add_metric([str(stats.concert_id)], stats.active)
        up = GaugeMetricFamily(
            "concert_queue_stats_up", "1 if the queue stats were read at this scrape."
        )
        up.add_metric([], self._up)
        return [waiting, active, up]


class Metrics:
    """One app's metrics and the registry they live in."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self.requests = Counter(
            "concert_http_requests",
            "HTTP responses by route template, method and status.",
            ["route", "method", "status"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "concert_http_request_duration_seconds",
            "Time to answer a request, by route template and method.",
            ["route", "method"],
            registry=self.registry,
        )
        self.holds = Counter("concert_holds", "Seat holds made.", registry=self.registry)
        self.payments = Counter("concert_payments", "Payments made.", registry=self.registry)
        self.seats_sold = Counter(
            "concert_seats_sold", "Seats sold by payments.", registry=self.registry
        )
        self.queue = QueueGauges()
        self.registry.register(self.queue)
        self._counted_payments: OrderedDict[object, None] = OrderedDict()
        # Each label set's child, looked up once: ``labels()`` takes a lock and builds
        # a key on every call, a visible share of a cheap request.
        self._request_counters: dict[tuple[str, str, str], Counter] = {}
        self._latencies: dict[tuple[str, str], Histogram] = {}

    def hold_made(self) -> None:
        self.holds.inc()

    def payment_made(self, payment_id: object, seats: int) -> None:
        """Count a payment once, though a retry with its idempotency key replays it."""
        if payment_id in self._counted_payments:
            return
        self._counted_payments[payment_id] = None
        if len(self._counted_payments) > _REMEMBERED_PAYMENTS:
            self._counted_payments.popitem(last=False)
        self.payments.inc()
        self.seats_sold.inc(seats)

    async def render(self, service: ConcertService) -> bytes:
        await self.queue.refresh(service)
        return generate_latest(self.registry)

    async def before_send(self, message: Message, scope: Scope) -> None:
        """An app ``before_send`` hook: count every response, matched or not."""
        if message["type"] != "http.response.start" or scope["type"] != ScopeType.HTTP:
            return
        http = cast("dict[str, Any]", scope)  # a view: typed dicts lack .get for extras
        route = http.get("path_template") or "unmatched"
        method = http["method"] if http["method"] in _METHODS else "OTHER"
        key = (route, method, str(message["status"]))
        counter = self._request_counters.get(key)
        if counter is None:
            counter = self._request_counters[key] = self.requests.labels(*key)
        counter.inc()
        started = http.get(_STARTED)
        if isinstance(started, float):
            latency = self._latencies.get(key[:2])
            if latency is None:
                latency = self._latencies[key[:2]] = self.latency.labels(route, method)
            latency.observe(time.perf_counter() - started)


def app_metrics(request: Request[Any, Any, Any]) -> Metrics:
    """The app's metrics (read from its state, like the service the use cases come from)."""
    metrics: Metrics = request.app.state.metrics
    return metrics


class TimingMiddleware(ASGIMiddleware):
    """Stamps when a matched route starts; ``Metrics.before_send`` observes the rest."""

    scopes = (ScopeType.HTTP,)

    async def handle(self, scope: Scope, receive: Receive, send: Send, next_app: ASGIApp) -> None:
        scope[_STARTED] = time.perf_counter()  # type: ignore[literal-required]
        await next_app(scope, receive, send)
