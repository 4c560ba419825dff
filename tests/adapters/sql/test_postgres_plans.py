"""PostgreSQL plans the payment's statement once: after its first runs on a connection,
the prepared statement's generic plan is chosen over planning it again for each
payment (decision 20: planning it cost more than running it)."""

from __future__ import annotations

import datetime as dt
import uuid

from sqlalchemy import text

import backends
from adapters import sql
from adapters.sql import SqlUnitOfWorkFactory
from concert_core.domain import (
    ConcertId,
    Money,
    PaymentId,
    ReservationId,
    SeatKey,
    SeatNo,
    TokenId,
    UserId,
)
from concert_core.ports import HoldRequest, PaymentRequest
from services import empty_postgres

pytestmark = backends.marks("postgres")

T0 = dt.datetime(2026, 1, 1, 12, tzinfo=dt.UTC)
DAY = dt.date(2026, 12, 24)
DATES = 100
"""A sale's worth of seats, as the planner sees them once analysed."""
PAYMENTS = 14
"""Seven of each count of seats: more than the five custom plans PostgreSQL makes
before weighing the generic one."""


async def test_the_payment_statement_is_run_on_its_generic_plan(postgres_url: str) -> None:
    async for emptied in empty_postgres(postgres_url):
        await emptied.dispose()
    engine = sql.create_engine(postgres_url, pool_size=1, max_overflow=0)
    uow = SqlUnitOfWorkFactory(engine)
    try:
        async with uow() as work:
            concert = await work.catalogue.add_concert("Winter Lights", "Olympic Hall")
            for week in range(DATES):
                day = DAY + dt.timedelta(weeks=week)
                await work.catalogue.add_date(concert.concert_id, day, [Money(100)] * 50)
            await work.commit()
        async with engine.begin() as connection:
            # Other fans' holds on the later dates, as a sale in progress has them.
            await connection.execute(
                text(
                    "UPDATE seats SET status = 'HELD', holder = gen_random_uuid(),"
                    " reservation_id = gen_random_uuid(), token_id = gen_random_uuid(),"
                    " held_until = :until, held_at = :now WHERE date > :day"
                ),
                {"until": T0 + dt.timedelta(minutes=5), "now": T0, "day": DAY},
            )
            await connection.execute(text("ANALYZE"))
        for n in range(1, PAYMENTS + 1):
            user, turn = UserId(uuid.uuid4()), TokenId(uuid.uuid4())
            rids = (ReservationId(uuid.uuid4()), ReservationId(uuid.uuid4()))
            async with uow() as work:
                await work.wallets.charge(user, Money(1_000), uuid.uuid4(), T0)
                for seat_no, rid in zip((2 * n - 1, 2 * n), rids, strict=True):
                    seat = SeatKey(ConcertId(concert.concert_id), DAY, SeatNo(seat_no))
                    hold = HoldRequest(
                        seat=seat,
                        user_id=user,
                        token_id=turn,
                        reservation_id=rid,
                        now=T0,
                        until=T0 + dt.timedelta(minutes=5),
                        max_holds=4,
                    )
                    assert (await work.seats.hold(hold)).created
                await work.commit()
            paid = rids[: 1 + n % 2]  # one seat or both: each count its own statement
            request = PaymentRequest(
                PaymentId(uuid.uuid4()), user, ConcertId(concert.concert_id), turn, paid, T0
            )
            async with uow() as work:
                outcome = await work.payments.pay(request)
                await work.commit()
            assert outcome.payment.amount == 100 * len(paid)
        async with engine.connect() as connection:
            plans = (
                await connection.execute(
                    text(
                        "SELECT generic_plans, custom_plans FROM pg_prepared_statements"
                        " WHERE statement LIKE '%WITH held' || ' AS%'"
                    )
                )
            ).all()
    finally:
        await engine.dispose()
    assert plans, "the payment's statement is prepared"
    # Five custom plans, then the generic one for every later run.
    assert all(generic == PAYMENTS // 2 - 5 and custom == 5 for generic, custom in plans), plans
