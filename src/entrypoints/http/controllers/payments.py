"""Payments for held seats, from the wallet."""

from __future__ import annotations

from typing import Any

from litestar import Controller, Request, post
from litestar.di import NamedDependency
from litestar.params import JSONBody
from litestar.status_codes import HTTP_201_CREATED

from concert_core.use_cases import Idempotent, PayCommand, PaymentReceipt
from entrypoints.http.controllers.parameters import SECURED, IdempotencyKeyHeader
from entrypoints.http.decoding import bearer_token, idempotency_key_text, strict_body
from entrypoints.http.errors import problem_responses
from entrypoints.http.metrics import app_metrics
from entrypoints.http.schemas import PaymentResponse, PayRequest


class PaymentController(Controller):
    path = "/payments"
    tags = ("payments",)

    @post(
        "/",
        summary="Pay for held seats",
        description=(
            "Pays for one or more of the caller's live holds, all or nothing; the queue "
            "token is EXPIRED afterwards. With an `Idempotency-Key`, a retry gets the first "
            "receipt back (even though the token has expired), a retry while the first is "
            "running is 409, and the same key with other reservations is 422."
        ),
        status_code=HTTP_201_CREATED,
        security=SECURED,
        responses=problem_responses(401, 402, 403, 404, 409, 410, 422, body=True),
    )
    async def pay(
        self,
        request: Request[Any, Any, Any],
        data: JSONBody[PayRequest],
        pay: NamedDependency[Idempotent[PayCommand, PaymentReceipt]],
        idempotency_key: IdempotencyKeyHeader = None,
    ) -> PaymentResponse:
        token = bearer_token(request)
        metrics = app_metrics(request)
        body = await strict_body(request, data)
        receipt = await pay(
            PayCommand(token, tuple(body.reservation_ids), idempotency_key_text(idempotency_key))
        )
        metrics.payment_made(receipt.payment_id, len(receipt.reservation_ids))
        return PaymentResponse.of(receipt)
