"""What the fan-journey machine reads behind the ports: the relational state (the
memory database itself, or the same read from PostgreSQL's tables), and a queue store
wrapped to record what it did (tokens issued, lines opened, admission passes)."""

from __future__ import annotations

import asyncio
import datetime as dt
import itertools
import uuid
from collections import defaultdict
from collections.abc import Mapping, Sequence
from typing import Any, Protocol

import attrs
from sqlalchemy import Row, select
from sqlalchemy.ext.asyncio import AsyncEngine

from adapters.sql import tables as t
from concert_core.domain import (
    ConcertId,
    EntryKind,
    IssueOutcome,
    LedgerEntry,
    Money,
    Payment,
    PaymentId,
    QueueToken,
    Reservation,
    ReservationId,
    ReservationStatus,
    Seat,
    SeatKey,
    SeatNo,
    SeatStatus,
    TokenId,
    UserId,
    Wallet,
)
from concert_core.ports import HoldRequest, QueueStore, UnitOfWorkFactory

# -- the relational state ---------------------------------------------------------------


class Stored(Protocol):
    """The relational state as the invariants read it: MemoryDatabase has this shape,
    and StoredRows is the same read from PostgreSQL. Reservations come in the order
    they were made, not by id (ids are random): a replay must draw from them alike."""

    @property
    def seats(self) -> Mapping[SeatKey, Seat]: ...
    @property
    def reservations(self) -> Mapping[ReservationId, Reservation]: ...
    @property
    def wallets(self) -> Mapping[UserId, Wallet]: ...
    @property
    def ledger(self) -> Mapping[UserId, Sequence[LedgerEntry]]: ...
    @property
    def payments(self) -> Mapping[PaymentId, Payment]: ...


@attrs.frozen
class StoredRows:
    seats: dict[SeatKey, Seat]
    reservations: dict[ReservationId, Reservation]
    wallets: dict[UserId, Wallet]
    ledger: dict[UserId, list[LedgerEntry]]
    payments: dict[PaymentId, Payment]


def seat_of(row: Row[Any]) -> Seat:
    return Seat(
        key=SeatKey(ConcertId(row.concert_id), row.date, SeatNo(row.seat_no)),
        price=Money(row.price),
        status=SeatStatus(row.status),
        holder=UserId(row.holder) if row.holder else None,
        held_until=row.held_until,
        reservation_id=ReservationId(row.reservation_id) if row.reservation_id else None,
    )


def reservation_of(row: Row[Any]) -> Reservation:
    return Reservation(
        reservation_id=ReservationId(row.reservation_id),
        user_id=UserId(row.user_id),
        seat=SeatKey(ConcertId(row.concert_id), row.date, SeatNo(row.seat_no)),
        price=Money(row.price),
        status=ReservationStatus(row.status),
        held_until=row.held_until,
        created_at=row.created_at,
        token_id=TokenId(row.token_id),
    )


def entry_of(row: Row[Any]) -> LedgerEntry:
    return LedgerEntry(
        entry_id=row.entry_id,
        user_id=UserId(row.user_id),
        kind=EntryKind(row.kind),
        amount=row.amount,
        at=row.at,
        payment_id=PaymentId(row.payment_id) if row.payment_id else None,
    )


def payment_of(row: Row[Any]) -> Payment:
    turn = row._mapping.get("token_id")  # the turn it was paid in (a turn pays once)
    return Payment(
        payment_id=PaymentId(row.payment_id),
        user_id=UserId(row.user_id),
        concert_id=ConcertId(row.concert_id),
        reservation_ids=tuple(ReservationId(uuid.UUID(r)) for r in row.reservation_ids),
        amount=Money(row.amount),
        paid_at=row.paid_at,
        token_id=TokenId(turn) if turn is not None else None,
    )


async def read_stored_rows(engine: AsyncEngine, seen: dict[ReservationId, int]) -> StoredRows:
    """Every seat, reservation, wallet, ledger entry and payment in the database, read
    from the tables in one transaction and mapped here (the ``*_of`` functions above).

    ``seen`` numbers the reservations in the order they were first read (kept by the
    caller from one read to the next); those first read together are ordered by when
    they were made, then by seat and owner, which leaves ties only between the random
    ids of one user's holds of one seat within one step.
    """
    s, r, ledger, p = t.seats.c, t.reservations.c, t.ledger.c, t.payments.c
    async with engine.connect() as connection:
        await connection.execution_options(isolation_level="REPEATABLE READ")
        async with connection.begin():
            seats = await connection.execute(
                select(t.seats).order_by(s.concert_id, s.date, s.seat_no)
            )
            reservations = await connection.execute(
                select(t.reservations).order_by(
                    r.created_at, r.concert_id, r.date, r.seat_no, r.user_id, r.token_id, r.status
                )
            )
            wallets = await connection.execute(select(t.wallets).order_by(t.wallets.c.user_id))
            entries = await connection.execute(select(t.ledger).order_by(ledger.serial))
            payments = await connection.execute(select(t.payments).order_by(p.serial))
    held = [reservation_of(row) for row in reservations]
    for reservation in held:
        seen.setdefault(reservation.reservation_id, len(seen))
    by_user: dict[UserId, list[LedgerEntry]] = defaultdict(list)
    for entry in map(entry_of, entries):
        by_user[entry.user_id].append(entry)
    return StoredRows(
        seats={seat.key: seat for seat in map(seat_of, seats)},
        reservations={
            x.reservation_id: x for x in sorted(held, key=lambda x: seen[x.reservation_id])
        },
        wallets={UserId(w.user_id): Wallet(UserId(w.user_id), Money(w.balance)) for w in wallets},
        ledger=dict(by_user),
        payments={payment.payment_id: payment for payment in map(payment_of, payments)},
    )


async def sell_at_the_box_office(
    units: UnitOfWorkFactory, buyer: UserId, seats: Sequence[Seat], now: dt.datetime
) -> Money:
    """Sell ``seats`` (of one concert, free now) to ``buyer`` as one payment would, in
    one transaction and one turn, after charging the buyer their price; return it."""
    concert = seats[0].key.concert_id
    price, turn, paid = Money(sum(s.price for s in seats)), TokenId(uuid.uuid4()), uuid.uuid4()
    async with units() as uow:
        await uow.wallets.charge(buyer, price, uuid.uuid4(), now)
        held = []
        for seat in seats:
            request = HoldRequest(
                seat=seat.key,
                user_id=buyer,
                token_id=turn,
                reservation_id=ReservationId(uuid.uuid4()),
                now=now,
                until=now + dt.timedelta(minutes=1),
                max_holds=len(seats),
            )
            held.append((await uow.seats.hold(request)).reservation.reservation_id)
        await uow.reservations.confirm(buyer, held, now)
        await uow.wallets.debit(buyer, price, paid, PaymentId(paid), now)
        await uow.payments.add(
            Payment(PaymentId(paid), buyer, concert, tuple(held), price, now, turn)
        )
        await uow.commit()
    return price


# -- the waiting room, recorded -----------------------------------------------------------


@attrs.frozen
class Pass:
    """One admission pass: its concert, the instant it was judged at, whom it admitted."""

    concert_id: ConcertId
    at: dt.datetime
    admitted: tuple[QueueToken, ...]


@attrs.frozen
class Opening:
    """A line's opening, as the first call to return from ``open`` saw it."""

    seed: int
    at: dt.datetime
    prequeued: frozenset[TokenId]
    """The concert's tokens issued before it: the pre-queue (those of them still live
    were shuffled; the others had ended and are nowhere in the line)."""


class RecordingQueue:
    """A queue store (any family's) that logs its admission passes in the order they
    ran, the tokens it issued and the lines it opened, and reads back every token it
    ever issued through its own ``look``.

    It also takes the chance out of a line's order, so that Hypothesis replays a run
    alike: new tokens get ids counted up (not the use case's random ones), and a line
    opens with the seed set in ``opening_seeds`` (not the use case's random one).
    """

    def __init__(self, inner: QueueStore) -> None:
        self._inner = inner
        self._token_ids = itertools.count(1 << 96)
        self.opening_seeds: dict[ConcertId, int] = {}
        self.passes: list[Pass] = []
        self.admitted_at: dict[TokenId, dt.datetime] = {}
        """When each token was admitted (its turn's base end is that plus the active TTL)."""
        self.issued: dict[tuple[ConcertId, TokenId], None] = {}
        """Every token it issued (a dict: kept in the order issued, without repeats)."""
        self.openings: dict[ConcertId, Opening] = {}
        self.seeds: dict[ConcertId, set[int]] = defaultdict(set)
        """Every seed ``open`` returned for each concert (one, if it opens once for all)."""
        self._one_pass_at_a_time = asyncio.Lock()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)

    async def issue(
        self, user_id: UserId, concert_id: ConcertId, token_id: TokenId, now: dt.datetime
    ) -> IssueOutcome:
        token_id = TokenId(uuid.UUID(int=next(self._token_ids)))
        outcome = await self._inner.issue(user_id, concert_id, token_id, now)
        self.issued[(concert_id, outcome.place.token.token_id)] = None
        return outcome

    async def open(self, concert_id: ConcertId, seed: int, now: dt.datetime) -> int:
        # A use case opens a line only once the sale is open by the clock, and every
        # token issued at or after that instant is issued after an ``open`` returned:
        # the tokens recorded before the first return are exactly the pre-queue's.
        seed = self.opening_seeds.get(concert_id, 0)
        opened_with = await self._inner.open(concert_id, seed, now)
        if concert_id not in self.openings:
            prequeued = frozenset(token for concert, token in self.issued if concert == concert_id)
            self.openings[concert_id] = Opening(opened_with, now, prequeued)
        self.seeds[concert_id].add(opened_with)
        return opened_with

    async def admit(
        self, concert_id: ConcertId, now: dt.datetime, **limits: Any
    ) -> list[QueueToken]:
        # Redis runs each pass (a script) whole, but the replies of passes sent at once
        # on two connections may come back in either order: the log must keep the
        # order they ran in, so passes go one at a time (issues still interleave). In
        # memory a pass never waits, so the lock is never contended.
        async with self._one_pass_at_a_time:
            admitted = await self._inner.admit(concert_id, now, **limits)
            self.passes.append(Pass(concert_id, now, tuple(admitted)))
            for token in admitted:
                self.admitted_at[token.token_id] = now
        return admitted

    async def read_tokens(self, now: dt.datetime) -> list[QueueToken]:
        """Every token it issued, as it keeps it now (a look records no poll)."""
        places = await asyncio.gather(
            *(self._inner.look(concert, token, now) for concert, token in self.issued)
        )
        return [place.token for place in places if place is not None]
