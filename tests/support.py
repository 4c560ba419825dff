"""Helpers shared by the test suites."""

from __future__ import annotations

import datetime as dt
import uuid

from concert_core import ConcertService
from concert_core.domain import Concert, ConcertId, UserId
from concert_core.use_cases import (
    IssuedToken,
    IssueTokenCommand,
    ScheduleConcertCommand,
    tiered_prices,
)

DATES = (dt.date(2026, 12, 24), dt.date(2026, 12, 25))
BASE_PRICE = 100_000


def new_user() -> UserId:
    return UserId(uuid.uuid4())


async def schedule(service: ConcertService, dates: tuple[dt.date, ...] = DATES) -> Concert:
    return await service.schedule_concert(
        ScheduleConcertCommand("Winter Lights", "Olympic Hall", dates, tiered_prices(BASE_PRICE))
    )


async def active_token(
    service: ConcertService, concert_id: ConcertId, user: UserId | None = None
) -> IssuedToken:
    """Issue a token and run admission passes until it is ACTIVE."""
    ticket = await service.issue_token(IssueTokenCommand(user or new_user(), concert_id))
    await service.admit_waiting(concert_id)
    status = await service.queue_status(ticket.token)
    assert status.status == "ACTIVE", status
    return ticket
