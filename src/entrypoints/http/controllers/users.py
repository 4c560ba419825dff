"""Wallets and payment history, by user. No token: a user is just a UUID."""

from __future__ import annotations

from typing import Any

from litestar import Controller, Request, get, post
from litestar.di import NamedDependency
from litestar.params import JSONBody
from litestar.status_codes import HTTP_200_OK

from concert_core.use_cases import (
    Balance,
    ChargeCommand,
    GetBalance,
    Idempotent,
    PaymentHistory,
)
from entrypoints.http.controllers.parameters import IdempotencyKeyHeader, UserIdPath
from entrypoints.http.decoding import idempotency_key_text, strict_body
from entrypoints.http.errors import problem_responses
from entrypoints.http.identity import ACTS_FOR_FAN, IDENTIFIED
from entrypoints.http.schemas import BalanceResponse, ChargeRequest, PaymentRecordResponse


class UserController(Controller):
    path = "/users/{user_id:str}"
    tags = ("wallet",)
    opt = ACTS_FOR_FAN  # with identity on: the identity's own user id only

    @get(
        "/balance",
        summary="Get a balance",
        responses=problem_responses() | problem_responses(401, 403, examples=IDENTIFIED),
    )
    async def balance(
        self, get_balance: NamedDependency[GetBalance], user_id: UserIdPath
    ) -> BalanceResponse:
        return BalanceResponse.of(await get_balance(user_id))

    @post(
        "/balance/charge",
        summary="Top up a wallet",
        description=(
            "Adds 1 to 10,000,000 won; the balance never exceeds 10^12. With an "
            "`Idempotency-Key`, a retry gets the first result and changes nothing; a retry "
            "while the first is running is 409; the same key with another amount is 422."
        ),
        status_code=HTTP_200_OK,
        responses=problem_responses(409, 422, body=True)
        | problem_responses(401, 403, examples=IDENTIFIED),
    )
    async def charge(
        self,
        request: Request[Any, Any, Any],
        data: JSONBody[ChargeRequest],
        charge_wallet: NamedDependency[Idempotent[ChargeCommand, Balance]],
        user_id: UserIdPath,
        idempotency_key: IdempotencyKeyHeader = None,
    ) -> BalanceResponse:
        body = await strict_body(request, data)
        balance = await charge_wallet(
            ChargeCommand(user_id, body.amount, idempotency_key_text(idempotency_key))
        )
        return BalanceResponse.of(balance)

    @get(
        "/payments",
        summary="List a user's payments",
        description="Payment history, newest first.",
        responses=problem_responses() | problem_responses(401, 403, examples=IDENTIFIED),
    )
    async def payments(
        self, payment_history: NamedDependency[PaymentHistory], user_id: UserIdPath
    ) -> list[PaymentRecordResponse]:
        return [PaymentRecordResponse.of(p) for p in await payment_history(user_id)]
