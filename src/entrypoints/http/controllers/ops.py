"""Operations: health and metrics, at the root (outside ``/api/v1``)."""

from __future__ import annotations

import logging

from litestar import Controller, Response, get
from litestar.di import NamedDependency
from litestar.openapi.datastructures import ResponseSpec
from litestar.status_codes import HTTP_200_OK, HTTP_503_SERVICE_UNAVAILABLE

from concert_core import ConcertService
from entrypoints.container import Storage
from entrypoints.http.metrics import MEDIA_TYPE, Metrics
from entrypoints.http.schemas import HealthResponse

_log = logging.getLogger(__name__)


class OpsController(Controller):
    path = "/"
    tags = ("operations",)

    @get(
        "/health",
        summary="Health",
        description="200 when the database and the queue answer, 503 otherwise.",
        responses={
            HTTP_503_SERVICE_UNAVAILABLE: ResponseSpec(
                HealthResponse, description="A backend does not answer."
            )
        },
    )
    async def health(self, storage: NamedDependency[Storage]) -> Response[HealthResponse]:
        try:
            checks = await storage.health()
        except Exception:
            _log.warning("the health check failed", exc_info=True)
            checks = {}
        database, queue = checks.get("database", False), checks.get("queue", False)
        healthy = database and queue
        return Response(
            HealthResponse(
                status="ok" if healthy else "unavailable",
                database="ok" if database else "unavailable",
                queue="ok" if queue else "unavailable",
            ),
            status_code=HTTP_200_OK if healthy else HTTP_503_SERVICE_UNAVAILABLE,
        )

    @get(
        "/metrics",
        summary="Prometheus metrics",
        description="Request counts and latency, queue lengths, holds and sales.",
        media_type=MEDIA_TYPE,
    )
    async def metrics(
        self,
        metrics: NamedDependency[Metrics],
        service: NamedDependency[ConcertService],
    ) -> Response[bytes]:
        body = await metrics.render(service)
        return Response(body, media_type=MEDIA_TYPE)
