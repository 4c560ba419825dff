"""Only an ACTIVE token of the same concert may list dates and seats, hold or pay."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable

import pytest

from concert_core import ConcertService
from concert_core.domain import (
    Concert,
    ConcertId,
    TokenInvalidError,
    TokenNotActiveError,
)
from concert_core.use_cases import (
    ChargeCommand,
    HoldSeatCommand,
    IssueTokenCommand,
    ListDatesQuery,
    ListSeatsQuery,
    PayCommand,
)
from support import DATES, active_token, hold, new_user, schedule, seat_status

Operation = Callable[[ConcertService, str, ConcertId], Awaitable[object]]


async def _list_dates(service: ConcertService, token: str, concert_id: ConcertId) -> object:
    return await service.list_dates(ListDatesQuery(token, concert_id))


async def _list_seats(service: ConcertService, token: str, concert_id: ConcertId) -> object:
    return await service.list_seats(ListSeatsQuery(token, concert_id, DATES[0]))


async def _hold(service: ConcertService, token: str, concert_id: ConcertId) -> object:
    return await service.hold_seat(HoldSeatCommand(token, concert_id, DATES[0], 1))


async def _pay(service: ConcertService, token: str, concert_id: ConcertId) -> object:
    return await service.pay(PayCommand(token, [uuid.uuid4()]))


OPERATIONS = pytest.mark.parametrize(
    "operation",
    [_list_dates, _list_seats, _hold, _pay],
    ids=["list_dates", "list_seats", "hold_seat", "pay"],
)


@OPERATIONS
async def test_a_waiting_token_is_refused_with_its_status_and_position(
    service: ConcertService, concert: Concert, operation: Operation
) -> None:
    await service.issue_token(IssueTokenCommand(new_user(), concert.concert_id))
    waiting = await service.issue_token(IssueTokenCommand(new_user(), concert.concert_id))
    with pytest.raises(TokenNotActiveError) as raised:
        await operation(service, waiting.token, concert.concert_id)
    assert raised.value.code == "TOKEN_NOT_ACTIVE"
    assert (raised.value.token_status, raised.value.position) == ("WAITING", 2)


@OPERATIONS
async def test_an_expired_token_is_refused(
    service: ConcertService, concert: Concert, operation: Operation
) -> None:
    ticket = await active_token(service, concert.concert_id)
    await service.leave_queue(ticket.token)
    with pytest.raises(TokenNotActiveError) as raised:
        await operation(service, ticket.token, concert.concert_id)
    assert (raised.value.token_status, raised.value.position) == ("EXPIRED", None)


@pytest.mark.parametrize(
    "operation", [_list_dates, _list_seats, _hold], ids=["list_dates", "list_seats", "hold_seat"]
)
async def test_an_active_token_of_another_concert_is_refused(
    service: ConcertService, concert: Concert, operation: Operation
) -> None:
    other = await schedule(service)
    ticket = await active_token(service, concert.concert_id)
    with pytest.raises(TokenNotActiveError) as raised:
        await operation(service, ticket.token, other.concert_id)
    assert (raised.value.token_status, raised.value.position) == ("ACTIVE", None)


@OPERATIONS
async def test_a_garbage_token_is_token_invalid(
    service: ConcertService, concert: Concert, operation: Operation
) -> None:
    with pytest.raises(TokenInvalidError) as raised:
        await operation(service, "garbage", concert.concert_id)
    assert raised.value.code == "TOKEN_INVALID"


async def test_a_refused_hold_leaves_the_seat_available(
    service: ConcertService, concert: Concert
) -> None:
    observer = await active_token(service, concert.concert_id)
    user = new_user()
    waiting = await service.issue_token(IssueTokenCommand(user, concert.concert_id))
    with pytest.raises(TokenNotActiveError):
        await hold(service, waiting.token, concert.concert_id, 1)
    assert await seat_status(service, observer.token, concert.concert_id, 1) == "AVAILABLE"


async def test_a_refused_payment_leaves_the_balance_and_the_hold_alone(
    service: ConcertService, concert: Concert
) -> None:
    user = new_user()
    ticket = await active_token(service, concert.concert_id, user)
    await service.charge_wallet(ChargeCommand(user, 1_000_000))
    reservation = await hold(service, ticket.token, concert.concert_id, 1)
    other = await schedule(service)
    elsewhere = await active_token(service, other.concert_id, user)
    with pytest.raises(TokenNotActiveError):
        await service.pay(PayCommand(elsewhere.token, [reservation.reservation_id]))
    assert (await service.get_balance(user)).balance == 1_000_000
    view = await service.get_reservation(ticket.token, reservation.reservation_id)
    assert view.status == "HELD"
