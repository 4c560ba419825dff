"""Prometheus metrics: what one app counts, and the text ``/metrics`` answers with.

Counted by the server processes (per route, per concert):

- ``concert_http_requests_total{route, method, status}``: every response, by route
  template (``unmatched`` for a path no route knows); not the reply to a client that
  left before its body was complete, which is never sent;
- ``concert_http_request_duration_seconds{route, method}``: latency of matched routes;
- ``concert_holds_total``, ``concert_payments_total``, ``concert_seats_sold_total``:
  counted by the controllers when a hold or a payment succeeds;
- ``concert_sale_joins_total{concert_id}``: tokens issued that were new (a fan's live
  token handed back again is not a join);
- ``concert_sale_admissions_total{concert_id}``: fans the admission passes let in;
- ``concert_sale_waiting_ended_total{concert_id}``: WAITING tokens the passes ended
  because the sale sold out or closed.

Read from storage when scraped (:class:`SaleGauges`): ``concert_sale_phase{concert_id,
phase}`` (1 for the phase the sale is in, 0 for the others), ``concert_queue_waiting``
and ``concert_queue_active{concert_id}``, ``concert_sale_capacity{concert_id}``,
``concert_sale_seats{concert_id, state}`` (available, held, sold over all dates) and
``concert_queue_stats_up``.

**Several worker processes.** ``concert serve --workers N`` sets
``PROMETHEUS_MULTIPROC_DIR`` to a private directory before the workers start;
prometheus-client then keeps every counter and histogram value in per-process files
there, and a scrape answered by any worker merges them all
(``MultiProcessCollector``), so a counter reads the same whichever worker answers. The
gauges need no merging and live in no such file: the worker that answers reads them
from the storage every worker shares. So nothing here has a ``multiprocess_mode`` to
choose, and a worker that exits leaves no live gauge to mark dead (its counts stay in
the totals, as a counter's must). Without the variable (one process, or the apps tests
build in-process), each app counts on a registry of its own.
"""

from __future__ import annotations

import logging
import os
import time
from collections import OrderedDict
from collections.abc import Iterable, Sequence
from typing import Any, cast

from litestar import Request
from litestar.enums import ScopeType
from litestar.types import Message, Scope
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
)
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.multiprocess import MultiProcessCollector

from concert_core import ConcertService
from concert_core.domain import ConcertId, Phase
from concert_core.use_cases import Admission, ConcertReport, IssuedToken
from entrypoints.http.decoding import REQUEST_STARTED, client_gone

MEDIA_TYPE = CONTENT_TYPE_LATEST.removesuffix("; charset=utf-8")
"""Prometheus' text format; Litestar adds the charset of a text/ type itself."""
MULTIPROCESS_DIR_VARIABLES = ("PROMETHEUS_MULTIPROC_DIR", "prometheus_multiproc_dir")
"""prometheus-client's own variable (and the spelling it still honours): set, the
library keeps every value in per-process files in that directory."""
_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
_REMEMBERED_PAYMENTS = 10_000
_log = logging.getLogger(__name__)


class SaleGauges:
    """Each concert's sale as storage has it, refreshed before each scrape."""

    def __init__(self) -> None:
        self._reports: Sequence[ConcertReport] = ()
        self._up = 0.0

    async def refresh(self, service: ConcertService) -> None:
        try:
            self._reports = await service.report_concerts()
            self._up = 1.0
        except Exception:
            # A scrape during an outage still answers: the gauges say the stats are stale.
            _log.warning("the sales could not be read for /metrics", exc_info=True)
            self._up = 0.0

    def describe(self) -> Iterable[Metric]:
        return ()

    def collect(self) -> Iterable[Metric]:
        by_concert = ["concert_id"]
        phase = GaugeMetricFamily(
            "concert_sale_phase",
            "1 for the phase each concert's sale is in, 0 for the others.",
            labels=["concert_id", "phase"],
        )
        waiting = GaugeMetricFamily(
            "concert_queue_waiting", "WAITING tokens per concert.", labels=by_concert
        )
        active = GaugeMetricFamily(
            "concert_queue_active", "ACTIVE tokens per concert.", labels=by_concert
        )
        capacity = GaugeMetricFamily(
            "concert_sale_capacity", "ACTIVE tokens each sale allows at once.", labels=by_concert
        )
        seats = GaugeMetricFamily(
            "concert_sale_seats",
            "Seats per concert (all its dates) by state.",
            labels=["concert_id", "state"],
        )
        for report in self._reports:
            cid = str(report.concert.concert_id)
            for each in Phase:
                phase.add_metric([cid, each.value], 1.0 if each is report.phase else 0.0)
            waiting.add_metric([cid], report.queue.waiting)
            active.add_metric([cid], report.queue.active)
            capacity.add_metric([cid], report.capacity)
            seats.add_metric([cid, "available"], sum(d.available for d in report.dates))
            seats.add_metric([cid, "held"], sum(d.held for d in report.dates))
            seats.add_metric([cid, "sold"], sum(d.sold for d in report.dates))
        up = GaugeMetricFamily(
            "concert_queue_stats_up", "1 if the sales were read from storage at this scrape."
        )
        up.add_metric([], self._up)
        return [phase, waiting, active, capacity, seats, up]


class Metrics:
    """One app's metrics and the registry a scrape reads."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        own: CollectorRegistry | None = self.registry
        if any(os.environ.get(name) for name in MULTIPROCESS_DIR_VARIABLES):
            # Every process's files, merged; this process's counters are among them,
            # so they are registered nowhere else (that would export them twice).
            MultiProcessCollector(self.registry)  # type: ignore[no-untyped-call]
            own = None
        self.requests = Counter(
            "concert_http_requests",
            "HTTP responses by route template, method and status.",
            ["route", "method", "status"],
            registry=own,
        )
        self.latency = Histogram(
            "concert_http_request_duration_seconds",
            "Time to answer a request, by route template and method.",
            ["route", "method"],
            registry=own,
        )
        self.holds = Counter("concert_holds", "Seat holds made.", registry=own)
        self.payments = Counter("concert_payments", "Payments made.", registry=own)
        self.seats_sold = Counter("concert_seats_sold", "Seats sold by payments.", registry=own)
        self.joins = Counter(
            "concert_sale_joins",
            "Fans who joined a concert's waiting room (a new token).",
            ["concert_id"],
            registry=own,
        )
        self.admissions = Counter(
            "concert_sale_admissions",
            "Fans let in by admission passes, per concert.",
            ["concert_id"],
            registry=own,
        )
        self.waiting_ended = Counter(
            "concert_sale_waiting_ended",
            "WAITING tokens ended because the sale sold out or closed, per concert.",
            ["concert_id"],
            registry=own,
        )
        self.sales = SaleGauges()
        self.registry.register(self.sales)
        self._counted_payments: OrderedDict[object, None] = OrderedDict()
        # Each label set's child, looked up once: ``labels()`` takes a lock and builds
        # a key on every call, a visible share of a cheap request.
        self._request_counters: dict[tuple[str, str, str], Counter] = {}
        self._latencies: dict[tuple[str, str], Histogram] = {}
        self._per_concert: dict[tuple[Counter, ConcertId], Counter] = {}

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

    def token_issued(self, issued: IssuedToken) -> None:
        """Count a join: a new token, not a fan's live token handed back."""
        if issued.created:
            self._of_concert(self.joins, issued.view.concert_id).inc()

    def admissions_made(self, admissions: Iterable[Admission]) -> None:
        """Count what one admission pass did, concert by concert."""
        for admission in admissions:
            admitted = self._of_concert(self.admissions, admission.concert_id)
            ended = self._of_concert(self.waiting_ended, admission.concert_id)
            if admission.admitted:
                admitted.inc(admission.admitted)
            if admission.ended:
                ended.inc(admission.ended)

    async def render(self, service: ConcertService) -> bytes:
        await self.sales.refresh(service)
        return generate_latest(self.registry)

    async def before_send(self, message: Message, scope: Scope) -> None:
        """An app ``before_send`` hook: count every response, matched or not."""
        if message["type"] != "http.response.start" or scope["type"] != ScopeType.HTTP:
            return
        if client_gone(scope):
            return  # the client left mid-request: this reply is never sent
        http = cast("dict[str, Any]", scope)  # a view: typed dicts lack .get for extras
        route = http.get("path_template") or "unmatched"
        method = http["method"] if http["method"] in _METHODS else "OTHER"
        key = (route, method, str(message["status"]))
        counter = self._request_counters.get(key)
        if counter is None:
            counter = self._request_counters[key] = self.requests.labels(*key)
        counter.inc()
        started = http.get(REQUEST_STARTED)
        if isinstance(started, float) and route != "unmatched":
            latency = self._latencies.get(key[:2])
            if latency is None:
                latency = self._latencies[key[:2]] = self.latency.labels(route, method)
            latency.observe(time.perf_counter() - started)

    def _of_concert(self, counter: Counter, concert_id: ConcertId) -> Counter:
        """The concert's child of ``counter`` (created at zero the first time, so a
        rate over it starts from the concert's first pass, not its first admission)."""
        child = self._per_concert.get((counter, concert_id))
        if child is None:
            child = self._per_concert[counter, concert_id] = counter.labels(str(concert_id))
        return child


def app_metrics(request: Request[Any, Any, Any]) -> Metrics:
    """The app's metrics (read from its state, like the service the use cases come from)."""
    metrics: Metrics = request.app.state.metrics
    return metrics
