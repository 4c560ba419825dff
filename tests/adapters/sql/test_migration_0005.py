"""Migration 0005 (the seat row is the hold) on a database in use: every hold, sale,
payment, balance and ledger entry is still there and reads the same through the new
repositories; the holds still count, can be paid, lapse and be released; the
downgrade gives back the old table, row for row."""

from __future__ import annotations

import datetime as dt
import tempfile
import uuid
from collections.abc import AsyncIterator
from typing import Any

import asyncpg
import pytest
import sqlalchemy as sa
from alembic import command
from sqlalchemy import Connection
from sqlalchemy.ext.asyncio import AsyncEngine

import backends
from adapters import sql
from adapters.sql import tables as t
from adapters.sql.migrate import alembic_config
from adapters.sql.transactions import transaction
from concert_core.domain import (
    ConcertId,
    EntryKind,
    HoldLimitReachedError,
    Money,
    PaymentId,
    Reservation,
    ReservationId,
    ReservationStatus,
    SeatKey,
    SeatNo,
    SeatStatus,
    TokenId,
    UserId,
)
from concert_core.ports import HoldRequest, PaymentRequest
from services import POSTGRES_ADMIN_DSN, unavailable

T0 = dt.datetime(2026, 12, 1, 18, tzinfo=dt.UTC)
DATE = dt.date(2026, 12, 24)
CONCERT = ConcertId(1)
BEFORE = "0004"
HOLD_TTL = dt.timedelta(minutes=5)

old_reservations = sa.table(
    "reservations",
    sa.column("reservation_id", sa.Uuid()),
    sa.column("user_id", sa.Uuid()),
    sa.column("concert_id", sa.BigInteger()),
    sa.column("date", sa.Date()),
    sa.column("seat_no", sa.Integer()),
    sa.column("price", sa.BigInteger()),
    sa.column("status", sa.String()),
    sa.column("held_until", t.UtcDateTime()),
    sa.column("created_at", t.UtcDateTime()),
    sa.column("token_id", sa.Uuid()),
)
"""The reservations table as 0001-0004 made it."""

old_seats = sa.table(
    "seats",
    sa.column("concert_id", sa.BigInteger()),
    sa.column("date", sa.Date()),
    sa.column("seat_no", sa.Integer()),
    sa.column("price", sa.BigInteger()),
    sa.column("status", sa.String()),
    sa.column("holder", sa.Uuid()),
    sa.column("held_until", t.UtcDateTime()),
    sa.column("reservation_id", sa.Uuid()),
)
"""The seats table as 0001-0004 made it."""


@pytest.fixture(params=backends.params("sqlite", "postgres"))
async def empty_database(request: pytest.FixtureRequest) -> AsyncIterator[AsyncEngine]:
    """An engine on a database of its own, not migrated yet."""
    if request.param == "sqlite":
        with tempfile.TemporaryDirectory(prefix="concert-") as directory:
            engine = sql.create_engine(f"sqlite+aiosqlite:///{directory}/old.db")
            yield engine
            await engine.dispose()
        return
    name = f"concert_migration_{uuid.uuid4().hex[:12]}"
    try:
        admin = await asyncpg.connect(POSTGRES_ADMIN_DSN, timeout=5)
    except (OSError, asyncpg.PostgresError, TimeoutError) as error:
        unavailable("PostgreSQL", error)
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
        base = POSTGRES_ADMIN_DSN.rsplit("/", 1)[0].replace(
            "postgresql://", "postgresql+asyncpg://"
        )
        engine = sql.create_engine(f"{base}/{name}")
        yield engine
        await engine.dispose()
    finally:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()


async def downgrade(engine: AsyncEngine, revision: str) -> None:
    def run(connection: Connection) -> None:
        config = alembic_config()
        config.attributes["connection"] = connection
        command.downgrade(config, revision)

    async with transaction(engine) as connection:
        await connection.run_sync(run)


def at(seconds: int) -> dt.datetime:
    return T0 + dt.timedelta(seconds=seconds)


def new_id() -> uuid.UUID:
    return uuid.uuid4()


class InUse:
    """What a database in use held before 0005, written through the old schema."""

    def __init__(self) -> None:
        self.buyer, self.holder, self.lapser, self.leaver = (UserId(new_id()) for _ in range(4))
        self.newcomer = UserId(new_id())
        self.turn = TokenId(new_id())
        self.sold = self._reservation(1, self.buyer, "CONFIRMED", at(-60))
        self.live = [
            self._reservation(n, self.holder, "HELD", at(240), token=self.turn) for n in (2, 3)
        ]
        self.lapsed = self._reservation(4, self.lapser, "HELD", at(-1))
        self.released = self._reservation(5, self.leaver, "RELEASED", at(100))
        # Seat 6: the leaver's hold lapsed and was released when the newcomer took it.
        self.replaced = self._reservation(6, self.leaver, "RELEASED", at(-30))
        self.retaken = self._reservation(6, self.newcomer, "HELD", at(200))
        self.payment = PaymentId(new_id())

    @staticmethod
    def _reservation(
        seat_no: int,
        user: UserId,
        status: str,
        until: dt.datetime,
        token: TokenId | None = None,
    ) -> dict[str, Any]:
        return {
            "reservation_id": new_id(),
            "user_id": user,
            "concert_id": CONCERT,
            "date": DATE,
            "seat_no": seat_no,
            "price": 1_000 * seat_no,
            "status": status,
            "held_until": until,
            "created_at": until - HOLD_TTL,
            "token_id": token or new_id(),
        }

    @property
    def reservations(self) -> list[dict[str, Any]]:
        return [self.sold, *self.live, self.lapsed, self.released, self.replaced, self.retaken]

    def seat_rows(self) -> list[dict[str, Any]]:
        by_seat = {r["seat_no"]: r for r in self.reservations if r["status"] != "RELEASED"}
        rows = []
        for n in range(1, 51):
            row: dict[str, Any] = {
                "concert_id": CONCERT,
                "date": DATE,
                "seat_no": n,
                "price": 1_000 * n,
                "status": "AVAILABLE",
                "holder": None,
                "held_until": None,
                "reservation_id": None,
            }
            if (r := by_seat.get(n)) is not None:
                sold = r["status"] == "CONFIRMED"
                row |= {
                    "status": "SOLD" if sold else "HELD",
                    "holder": r["user_id"],
                    "held_until": None if sold else r["held_until"],
                    "reservation_id": r["reservation_id"],
                }
            rows.append(row)
        return rows


async def fill(engine: AsyncEngine) -> InUse:
    in_use = InUse()
    async with engine.begin() as c:
        concert = {"concert_id": CONCERT, "title": "Aurora", "venue": "Hall"}
        await c.execute(t.concerts.insert().values(concert))
        await c.execute(t.concert_dates.insert().values(concert_id=CONCERT, date=DATE))
        await c.execute(old_seats.insert(), in_use.seat_rows())
        await c.execute(old_reservations.insert(), in_use.reservations)
        for user, balance in ((in_use.buyer, 9_000), (in_use.holder, 50_000)):
            await c.execute(t.wallets.insert().values(user_id=user, balance=balance))
        entries = [
            (in_use.buyer, "CHARGE", 10_000, None),
            (in_use.holder, "CHARGE", 50_000, None),
            (in_use.buyer, "PAYMENT", -1_000, in_use.payment),
        ]
        for user, kind, amount, payment in entries:
            await c.execute(
                t.ledger.insert().values(
                    entry_id=payment or new_id(),
                    user_id=user,
                    kind=kind,
                    amount=amount,
                    at=T0,
                    payment_id=payment,
                )
            )
        await c.execute(
            t.payments.insert().values(
                payment_id=in_use.payment,
                user_id=in_use.buyer,
                concert_id=CONCERT,
                reservation_ids=[str(in_use.sold["reservation_id"])],
                amount=1_000,
                paid_at=at(-90),
                token_id=new_id(),
            )
        )
    return in_use


async def old_rows(engine: AsyncEngine) -> dict[str, list[tuple[Any, ...]]]:
    """Every row as the old schema's columns read it (the reservations table, or now the
    view of that name)."""
    tables = {
        "reservations": old_reservations,
        "seats": old_seats,
        "wallets": t.wallets,
        "ledger": t.ledger,
        "payments": t.payments,
    }
    stored = {}
    async with engine.connect() as c:
        for name, table in tables.items():
            rows = await c.execute(sa.select(*table.c))
            stored[name] = sorted(
                (tuple(str(v) if name == "payments" else v for v in row) for row in rows),
                key=repr,
            )
    return stored


def as_reservation(values: dict[str, Any]) -> Reservation:
    return Reservation(
        reservation_id=ReservationId(values["reservation_id"]),
        user_id=UserId(values["user_id"]),
        seat=SeatKey(CONCERT, DATE, SeatNo(values["seat_no"])),
        price=Money(values["price"]),
        status=ReservationStatus(values["status"]),
        held_until=values["held_until"],
        created_at=values["created_at"],
        token_id=TokenId(values["token_id"]),
    )


async def test_0005_keeps_every_hold_sale_payment_balance_and_ledger_entry(
    empty_database: AsyncEngine,
) -> None:
    engine = empty_database
    await sql.upgrade(engine, BEFORE)
    in_use = await fill(engine)
    before = await old_rows(engine)

    await sql.upgrade(engine)

    assert await sql.current_revision(engine) == sql.head_revision() == "0005"
    assert await old_rows(engine) == before  # the view lists the reservations as they were
    async with sql.SqlUnitOfWorkFactory(engine)() as uow:
        for values in in_use.reservations:
            stored = await uow.reservations.get(ReservationId(values["reservation_id"]))
            assert stored == as_reservation(values)
        seats = {s.key.seat_no: s for s in await uow.seats.list_seats(CONCERT, DATE)}
        live = await uow.reservations.live_holds_of_token(in_use.turn, T0)
        buyer = await uow.wallets.get(in_use.buyer)
        ledger = await uow.wallets.ledger(in_use.buyer)
        [paid] = await uow.payments.history(in_use.buyer)
        revenue = await uow.payments.revenue(CONCERT)
        counts = await uow.seats.seat_counts(CONCERT, T0)
    assert [r.reservation_id for r in live] == [r["reservation_id"] for r in in_use.live]
    for row in in_use.seat_rows():
        seat = seats[row["seat_no"]]
        assert (seat.status.value, seat.holder, seat.held_until, seat.reservation_id) == (
            row["status"],
            row["holder"],
            row["held_until"],
            row["reservation_id"],
        )
    assert seats[4].status_at(T0) is SeatStatus.AVAILABLE  # lapsed: free to take
    assert buyer.balance == 9_000
    assert [(e.kind, e.amount) for e in ledger] == [
        (EntryKind.CHARGE, 10_000),
        (EntryKind.PAYMENT, -1_000),
    ]
    assert paid.payment_id == in_use.payment and paid.amount == revenue == 1_000
    assert paid.reservation_ids == (in_use.sold["reservation_id"],)
    assert [(c.available, c.held, c.sold) for c in counts] == [(46, 3, 1)]

    await downgrade(engine, BEFORE)
    assert await sql.current_revision(engine) == BEFORE
    assert await old_rows(engine) == before


async def test_after_0005_the_holds_go_on_as_they_were(empty_database: AsyncEngine) -> None:
    engine = empty_database
    await sql.upgrade(engine, BEFORE)
    in_use = await fill(engine)
    await sql.upgrade(engine)
    units = sql.SqlUnitOfWorkFactory(engine)

    def request(user: UserId, seat_no: int, token: TokenId, max_holds: int = 2) -> HoldRequest:
        return HoldRequest(
            seat=SeatKey(CONCERT, DATE, SeatNo(seat_no)),
            user_id=user,
            token_id=token,
            reservation_id=ReservationId(new_id()),
            now=T0,
            until=T0 + HOLD_TTL,
            max_holds=max_holds,
        )

    # The holder's two live holds count against the limit (2) ...
    async with units() as uow:
        with pytest.raises(HoldLimitReachedError):
            await uow.seats.hold(request(in_use.holder, 10, in_use.turn))
    # ... and asking again for one of them gives it back.
    async with units() as uow:
        again = await uow.seats.hold(request(in_use.holder, 2, in_use.turn))
        await uow.commit()
    assert not again.created
    assert again.reservation.reservation_id == in_use.live[0]["reservation_id"]
    # The lapsed hold is free to take, and is then recorded RELEASED.
    async with units() as uow:
        taken = await uow.seats.hold(request(UserId(new_id()), 4, TokenId(new_id())))
        await uow.commit()
    assert taken.created
    async with units() as uow:
        lapsed = await uow.reservations.get(ReservationId(in_use.lapsed["reservation_id"]))
        assert lapsed is not None and lapsed.status is ReservationStatus.RELEASED
    # The holder pays for one hold; the turn's other hold is released with it.
    paid_id = PaymentId(new_id())
    first, second = (ReservationId(r["reservation_id"]) for r in in_use.live)
    async with units() as uow:
        outcome = await uow.payments.pay(
            PaymentRequest(paid_id, in_use.holder, CONCERT, in_use.turn, (first,), at(1))
        )
        await uow.commit()
    assert (outcome.payment.amount, outcome.balance) == (2_000, 48_000)
    async with units() as uow:
        bought = await uow.reservations.get(first)
        let_go = await uow.reservations.get(second)
        seats = await uow.seats.list_seats(CONCERT, DATE)
        # With both holds gone, the holder may hold again up to the limit.
        turn = TokenId(new_id())
        for seat_no in (20, 21):
            assert (await uow.seats.hold(request(in_use.holder, seat_no, turn))).created
        await uow.commit()
    assert bought is not None and bought.status is ReservationStatus.CONFIRMED
    assert let_go is not None and let_go.status is ReservationStatus.RELEASED
    assert seats[1].status is SeatStatus.SOLD and seats[2].status is SeatStatus.AVAILABLE
