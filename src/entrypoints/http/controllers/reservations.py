"""Holds: a user's claim on one seat, until paid or released."""

from __future__ import annotations

from typing import Any

from litestar import Controller, Request, Response, delete, get, post
from litestar.di import NamedDependency
from litestar.openapi.datastructures import ResponseSpec
from litestar.params import JSONBody
from litestar.status_codes import HTTP_200_OK, HTTP_201_CREATED

from concert_core.use_cases import GetReservation, HoldSeat, HoldSeatCommand, ReleaseHold
from entrypoints.http.controllers.parameters import SECURED, ReservationIdPath
from entrypoints.http.decoding import bearer_token, strict_body
from entrypoints.http.errors import problem_responses
from entrypoints.http.metrics import app_metrics
from entrypoints.http.schemas import HoldSeatRequest, ReservationResponse


class ReservationController(Controller):
    path = "/reservations"
    tags = ("reservations",)

    @post(
        "/",
        summary="Hold a seat",
        description=(
            "Holds an AVAILABLE seat (or one whose hold lapsed) for the hold TTL: 201. "
            "Asking again for a seat one already holds returns that hold: 200. Needs an "
            "ACTIVE token for the concert; extends it to at least the hold's expiry."
        ),
        status_code=HTTP_201_CREATED,
        security=SECURED,
        responses={
            HTTP_200_OK: ResponseSpec(
                ReservationResponse, description="The caller's existing hold on the seat."
            ),
            **problem_responses(401, 403, 404, 409, body=True),
        },
    )
    async def hold(
        self,
        request: Request[Any, Any, Any],
        data: JSONBody[HoldSeatRequest],
        hold_seat: NamedDependency[HoldSeat],
    ) -> Response[ReservationResponse]:
        token = bearer_token(request)
        metrics = app_metrics(request)
        body = await strict_body(request, data)
        result = await hold_seat(HoldSeatCommand(token, body.concert_id, body.date, body.seat_no))
        if result.created:
            metrics.hold_made()
        return Response(
            ReservationResponse.of(result.reservation),
            status_code=HTTP_201_CREATED if result.created else HTTP_200_OK,
        )

    @get(
        "/{reservation_id:str}",
        summary="Get a reservation",
        description=(
            "The caller's own reservation; any token of the owner the queue knows will do "
            "(a buyer's token is EXPIRED after paying). A lapsed hold reads as RELEASED."
        ),
        security=SECURED,
        responses=problem_responses(401, 403, 404),
    )
    async def get_one(
        self,
        request: Request[Any, Any, Any],
        get_reservation: NamedDependency[GetReservation],
        reservation_id: ReservationIdPath,
    ) -> ReservationResponse:
        token = bearer_token(request)
        return ReservationResponse.of(await get_reservation(token, reservation_id))

    @delete(
        "/{reservation_id:str}",
        summary="Release a hold",
        description=(
            "Gives a hold up, freeing the seat at once. Needs the owner's ACTIVE token; "
            "releasing a lapsed or released hold changes nothing; a paid one is HOLD_EXPIRED."
        ),
        security=SECURED,
        responses=problem_responses(401, 403, 404, 410),
    )
    async def release(
        self,
        request: Request[Any, Any, Any],
        release_hold: NamedDependency[ReleaseHold],
        reservation_id: ReservationIdPath,
    ) -> None:
        token = bearer_token(request)
        await release_hold(token, reservation_id)
