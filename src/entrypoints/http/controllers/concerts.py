"""The catalogue: concerts, their dates and seats."""

from __future__ import annotations

from typing import Annotated, Any

from litestar import Controller, Request, get
from litestar.di import NamedDependency
from litestar.params import QueryParameter

from concert_core.use_cases import (
    ListConcerts,
    ListDates,
    ListDatesQuery,
    ListSeats,
    ListSeatsQuery,
)
from entrypoints.http.controllers.parameters import SECURED, ConcertIdPath, DatePath
from entrypoints.http.decoding import bearer_token, parse_concert_id
from entrypoints.http.errors import problem_responses
from entrypoints.http.schemas import ConcertResponse, DateResponse, SeatMapResponse


class ConcertController(Controller):
    path = "/concerts"
    tags = ("concerts",)

    @get("/", summary="List concerts", description="Every concert. Needs no token.")
    async def list_all(self, list_concerts: NamedDependency[ListConcerts]) -> list[ConcertResponse]:
        return [ConcertResponse.of(c) for c in await list_concerts()]

    @get(
        "/{concert_id:str}/dates",
        summary="List a concert's dates",
        description=(
            "The dates with at least one available seat, ascending. Needs an ACTIVE token "
            "for this concert."
        ),
        security=SECURED,
        responses=problem_responses(401, 403, 404),
    )
    async def dates(
        self,
        request: Request[Any, Any, Any],
        list_dates: NamedDependency[ListDates],
        concert_id: ConcertIdPath,
    ) -> list[DateResponse]:
        token = bearer_token(request)
        found = await list_dates(ListDatesQuery(token, parse_concert_id(concert_id)))
        return [DateResponse.of(d) for d in found]

    @get(
        "/{concert_id:str}/dates/{date:str}/seats",
        summary="List a date's seats",
        description=(
            "All 50 seats with state and price, or only the AVAILABLE ones with "
            "`available=true`. Needs an ACTIVE token for this concert."
        ),
        security=SECURED,
        responses=problem_responses(401, 403, 404),
    )
    async def seats(
        self,
        request: Request[Any, Any, Any],
        list_seats: NamedDependency[ListSeats],
        concert_id: ConcertIdPath,
        date: DatePath,
        available: Annotated[
            bool, QueryParameter(description="true: list only the AVAILABLE seats.")
        ] = False,
    ) -> SeatMapResponse:
        token = bearer_token(request)
        seat_map = await list_seats(
            ListSeatsQuery(token, parse_concert_id(concert_id), date, available)
        )
        return SeatMapResponse.of(seat_map)
