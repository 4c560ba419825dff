"""The operator's routes: concerts, their dates and their on-sales (docs/contract.md §8).

Every route needs the operator key (``require_operator_key``) and answers with the
concert view. Handlers call use cases only; bad input is 400 and changes nothing.
"""

from __future__ import annotations

from typing import Any

from litestar import Controller, Request, get, patch, post
from litestar.di import NamedDependency
from litestar.params import JSONBody
from litestar.status_codes import HTTP_201_CREATED

from concert_core.domain import ConcertId
from concert_core.use_cases import (
    AddConcert,
    AddConcertCommand,
    AddConcertDate,
    AddConcertDateCommand,
    ChangeSale,
    ChangeSaleCommand,
    ReportConcerts,
    prices_of,
)
from entrypoints.http.admin_schemas import (
    ConcertViewResponse,
    NewConcertRequest,
    NewDateRequest,
    SaleSettingsRequest,
    given,
)
from entrypoints.http.controllers.parameters import ConcertIdPath
from entrypoints.http.decoding import parse_concert_id, strict_body
from entrypoints.http.errors import problem_responses
from entrypoints.http.operator_key import ADMIN_SECURED, require_operator_key


async def _view(
    report_concerts: ReportConcerts, concert_id: ConcertId | int
) -> ConcertViewResponse:
    [report] = await report_concerts(concert_id)
    return ConcertViewResponse.of(report)


class AdminConcertController(Controller):
    path = "/admin/concerts"
    tags = ("admin",)
    guards = [require_operator_key]  # noqa: RUF012  (Litestar reads the class attribute)
    security = ADMIN_SECURED

    @post(
        "/",
        summary="Add a concert",
        description=(
            "Adds a concert with its dates (50 seats each, priced from `price` in tiers or "
            "by `prices`) and, optionally, its sale settings; left out, the concert is on "
            "sale at once. Dates are not before today and do not repeat."
        ),
        status_code=HTTP_201_CREATED,
        responses=problem_responses(401, admin=True, body=True),
    )
    async def add(
        self,
        request: Request[Any, Any, Any],
        data: JSONBody[NewConcertRequest],
        add_concert: NamedDependency[AddConcert],
        report_concerts: NamedDependency[ReportConcerts],
    ) -> ConcertViewResponse:
        body = (await strict_body(request, data)).checked()
        concert = await add_concert(
            AddConcertCommand(
                title=body.title,
                venue=body.venue,
                dates=tuple(body.dates),
                prices=prices_of(given(body.price), given(body.prices)),
                sale=body.sale_changes(),
            )
        )
        return await _view(report_concerts, concert.concert_id)

    @get(
        "/",
        summary="List concerts with their sales",
        description="Every concert's view: seats per date, the sale, the line, the revenue.",
        responses=problem_responses(401, admin=True),
    )
    async def list_all(
        self, report_concerts: NamedDependency[ReportConcerts]
    ) -> list[ConcertViewResponse]:
        return [ConcertViewResponse.of(r) for r in await report_concerts()]

    @get(
        "/{concert_id:str}",
        summary="Watch a concert's sale",
        description="The concert view: seats per date, the sale and its phase, the line.",
        responses=problem_responses(401, 404, admin=True),
    )
    async def get_one(
        self, report_concerts: NamedDependency[ReportConcerts], concert_id: ConcertIdPath
    ) -> ConcertViewResponse:
        return await _view(report_concerts, parse_concert_id(concert_id))

    @post(
        "/{concert_id:str}/dates",
        summary="Add a date",
        description="Adds a performance date with 50 priced seats; 409 if the concert has it.",
        status_code=HTTP_201_CREATED,
        responses=problem_responses(401, 404, 409, admin=True, body=True),
    )
    async def add_date(
        self,
        request: Request[Any, Any, Any],
        data: JSONBody[NewDateRequest],
        add_concert_date: NamedDependency[AddConcertDate],
        report_concerts: NamedDependency[ReportConcerts],
        concert_id: ConcertIdPath,
    ) -> ConcertViewResponse:
        cid = parse_concert_id(concert_id)
        body = await strict_body(request, data)
        await add_concert_date(
            AddConcertDateCommand(cid, body.date, prices_of(given(body.price), given(body.prices)))
        )
        return await _view(report_concerts, cid)

    @patch(
        "/{concert_id:str}/sale",
        summary="Change a concert's sale",
        description=(
            "Changes any subset of the sale settings (open or close it, pause or resume, "
            "capacity, admission rate, join challenge, message); a setting left out keeps "
            "its value, `null` clears it. Every instance follows within one admission "
            "interval. Once the line has opened, its opening and pre-queue stay as they were."
        ),
        responses=problem_responses(401, 404, admin=True, body=True),
    )
    async def change_sale(
        self,
        request: Request[Any, Any, Any],
        data: JSONBody[SaleSettingsRequest],
        change_sale: NamedDependency[ChangeSale],
        report_concerts: NamedDependency[ReportConcerts],
        concert_id: ConcertIdPath,
    ) -> ConcertViewResponse:
        cid = parse_concert_id(concert_id)
        body = (await strict_body(request, data)).checked()
        await change_sale(ChangeSaleCommand(cid, body.changes()))
        return await _view(report_concerts, cid)
