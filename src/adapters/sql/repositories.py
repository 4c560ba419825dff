"""SQL repositories over one connection in a transaction (the unit of work's).

Every guarded change is a conditional statement whose condition storage checks at the
moment of the write (``UPDATE ... WHERE <still true>``), with a constraint behind it as
the backstop. Lock order, wherever seats and reservations are both written: seats
first, in key order, then reservations.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any
from uuid import UUID

from sqlalchemy import (
    Integer,
    Row,
    and_,
    bindparam,
    cast,
    exc,
    func,
    or_,
    select,
    text,
    tuple_,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.sql.dml import Insert

from adapters.sql import tables as t
from adapters.sql.engine import is_postgres
from concert_core.domain import (
    Concert,
    ConcertId,
    DateAvailability,
    EntryKind,
    HoldExpiredError,
    IdempotencyInProgressError,
    InsufficientBalanceError,
    LedgerEntry,
    Money,
    NotFoundError,
    Payment,
    PaymentId,
    Reservation,
    ReservationId,
    ReservationStatus,
    Seat,
    SeatKey,
    SeatNo,
    SeatStatus,
    SeatUnavailableError,
    TokenId,
    UserId,
    ValidationError,
    Wallet,
)
from concert_core.domain.hold_limit import check_hold_limit
from concert_core.domain.seating import seats_for_date
from concert_core.domain.values import MAX_BALANCE
from concert_core.ports import HoldOutcome, HoldRequest


def insert_ignoring_conflicts(connection: AsyncConnection, table: t.Table) -> Insert:
    """``INSERT ... ON CONFLICT DO NOTHING`` in the connection's dialect."""
    if is_postgres(connection):
        return postgresql.insert(table).on_conflict_do_nothing()
    return sqlite.insert(table).on_conflict_do_nothing()


async def advisory_lock(connection: AsyncConnection, *keys: int, shared: bool = False) -> None:
    """A PostgreSQL transaction-scoped advisory lock (SQLite's write lock covers it)."""
    if not is_postgres(connection):
        return
    lock = func.pg_advisory_xact_lock_shared if shared else func.pg_advisory_xact_lock
    await connection.execute(select(lock(*keys)))


def _uuid_lock_key(value: UUID) -> int:
    """A 32-bit lock key from a UUID (collisions only make two users wait for each other)."""
    return int.from_bytes(value.bytes[:4], "big", signed=True)


class _Repository:
    def __init__(self, connection: AsyncConnection) -> None:
        self._c = connection

    def _atomically(self) -> Any:
        """A savepoint: a method that raises after writing leaves the transaction as it
        found it, so the caller may still commit what it did before."""
        return self._c.begin_nested()


# -- catalogue ----------------------------------------------------------------------


class SqlCatalogueRepository(_Repository):
    async def add_concert(self, title: str, venue: str) -> Concert:
        result = await self._c.execute(
            t.concerts.insert().values(title=title, venue=venue).returning(t.concerts.c.concert_id)
        )
        return Concert(ConcertId(result.scalar_one()), title, venue)

    async def get_concert(self, concert_id: ConcertId) -> Concert | None:
        row = (
            await self._c.execute(select(t.concerts).where(t.concerts.c.concert_id == concert_id))
        ).first()
        return Concert(ConcertId(row.concert_id), row.title, row.venue) if row else None

    async def list_concerts(self) -> list[Concert]:
        rows = await self._c.execute(select(t.concerts).order_by(t.concerts.c.concert_id))
        return [Concert(ConcertId(r.concert_id), r.title, r.venue) for r in rows]

    async def add_date(self, concert_id: ConcertId, date: dt.date, prices: Sequence[Money]) -> bool:
        if await self.get_concert(concert_id) is None:
            raise NotFoundError(f"concert {concert_id} does not exist")
        new_seats = seats_for_date(concert_id, date, list(prices))
        added = await self._c.execute(
            insert_ignoring_conflicts(self._c, t.concert_dates).values(
                concert_id=concert_id, date=date
            )
        )
        if added.rowcount != 1:
            return False
        await self._c.execute(
            t.seats.insert(),
            [
                {
                    "concert_id": concert_id,
                    "date": date,
                    "seat_no": s.key.seat_no,
                    "price": s.price,
                    "status": SeatStatus.AVAILABLE.value,
                }
                for s in new_seats
            ],
        )
        return True

    async def list_dates(self, concert_id: ConcertId) -> list[dt.date]:
        rows = await self._c.execute(
            select(t.concert_dates.c.date)
            .where(t.concert_dates.c.concert_id == concert_id)
            .order_by(t.concert_dates.c.date)
        )
        return list(rows.scalars())


# -- seats and reservations -----------------------------------------------------------


def _seat(row: Row[Any]) -> Seat:
    return Seat(
        key=SeatKey(ConcertId(row.concert_id), row.date, SeatNo(row.seat_no)),
        price=Money(row.price),
        status=SeatStatus(row.status),
        holder=UserId(row.holder) if row.holder else None,
        held_until=row.held_until,
        reservation_id=ReservationId(row.reservation_id) if row.reservation_id else None,
    )


def _reservation(row: Row[Any]) -> Reservation:
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


def _seat_is(key: SeatKey) -> Any:
    return and_(
        t.seats.c.concert_id == key.concert_id,
        t.seats.c.date == key.date,
        t.seats.c.seat_no == key.seat_no,
    )


def _live_hold(now: dt.datetime) -> Any:
    r = t.reservations.c
    return and_(r.status == ReservationStatus.HELD.value, r.held_until > now)


_HELD = SeatStatus.HELD.value
_FREE_SEAT = {
    "status": SeatStatus.AVAILABLE.value,
    "holder": None,
    "held_until": None,
    "reservation_id": None,
}


async def _free_seat(c: AsyncConnection, key: SeatKey, reservation_id: UUID) -> None:
    """Free the seat if this reservation still holds it (a lock on the seat row)."""
    await c.execute(
        update(t.seats)
        .where(_seat_is(key), t.seats.c.reservation_id == reservation_id, t.seats.c.status == _HELD)
        .values(_FREE_SEAT)
    )


async def _mark_released(c: AsyncConnection, reservation_id: UUID, *condition: Any) -> bool:
    r = t.reservations.c
    result = await c.execute(
        update(t.reservations)
        .where(
            r.reservation_id == reservation_id, r.status == ReservationStatus.HELD.value, *condition
        )
        .values(status=ReservationStatus.RELEASED.value)
    )
    return bool(result.rowcount == 1)


_SEAT_KEY = and_(
    t.seats.c.concert_id == bindparam("concert_id"),
    t.seats.c.date == bindparam("date"),
    t.seats.c.seat_no == bindparam("seat_no"),
)
_SEAT = select(t.seats).where(_SEAT_KEY)
"""The seat row (SQLite: every transaction begins IMMEDIATE, holding the one write
lock, so no row lock is needed)."""
_LOCK_SEAT_FOR_HOLD = (
    select(
        t.seats,
        func.pg_advisory_xact_lock(
            cast(bindparam("user_key"), Integer), cast(bindparam("concert_key"), Integer)
        ),
    )
    .where(_SEAT_KEY)
    .with_for_update(of=t.seats)
)
"""PostgreSQL, one round trip: the seat row, locked, and the lock that serialises one
fan's holds in one concert (so two of them cannot both see room under the limit).
Every hold takes the two locks in this one statement, so always in one order."""
_HOLD_POSTGRES = text(
    """
WITH live AS (
    SELECT count(*) AS n FROM reservations
    WHERE user_id = :user_id AND concert_id = :concert_id
      AND status = 'HELD' AND held_until > :now
), taken AS (
    UPDATE seats
    SET status = 'HELD', holder = :user_id, held_until = :until,
        reservation_id = :reservation_id
    WHERE concert_id = :concert_id AND date = :date AND seat_no = :seat_no
      AND (status = 'AVAILABLE' OR (status = 'HELD' AND held_until <= :now))
      AND (SELECT n FROM live) < :max_holds
    RETURNING price
), released AS (
    UPDATE reservations SET status = 'RELEASED'
    WHERE reservation_id = :previous AND status = 'HELD' AND held_until <= :now
      AND EXISTS (SELECT FROM taken)
    RETURNING reservation_id
), added AS (
    INSERT INTO reservations
        (reservation_id, user_id, concert_id, date, seat_no, price, status,
         held_until, created_at, token_id)
    SELECT CAST(:reservation_id AS uuid), CAST(:user_id AS uuid),
           CAST(:concert_id AS bigint), CAST(:date AS date), CAST(:seat_no AS integer),
           price, 'HELD', CAST(:until AS timestamptz), CAST(:now AS timestamptz),
           CAST(:token_id AS uuid)
    FROM taken, (SELECT count(*) FROM released) AS first_released
)
SELECT (SELECT n FROM live) AS live, (SELECT count(*) FROM taken) AS taken
"""
).bindparams(
    bindparam("now", type_=t.UtcDateTime()),
    bindparam("until", type_=t.UtcDateTime()),
)
"""PostgreSQL: the rest of a new hold in one statement (see ``_take_postgres``). The
statements of a WITH run in no set order, so ``added`` reads ``released``: the lapsed
hold leaves the live-seat index before the new one enters it."""


class SqlSeatRepository(_Repository):
    async def list_seats(self, concert_id: ConcertId, date: dt.date) -> list[Seat]:
        rows = await self._c.execute(
            select(t.seats)
            .where(t.seats.c.concert_id == concert_id, t.seats.c.date == date)
            .order_by(t.seats.c.seat_no)
        )
        return [_seat(r) for r in rows]

    async def available_dates(
        self, concert_id: ConcertId, now: dt.datetime
    ) -> list[DateAvailability]:
        s = t.seats.c
        free = or_(
            s.status == SeatStatus.AVAILABLE.value, and_(s.status == _HELD, s.held_until <= now)
        )
        rows = await self._c.execute(
            select(s.date, func.count().label("free"))
            .where(s.concert_id == concert_id, free)
            .group_by(s.date)
            .order_by(s.date)
        )
        return [DateAvailability(r.date, r.free) for r in rows if r.free > 0]

    async def hold(self, request: HoldRequest) -> HoldOutcome:
        # No savepoint: every refusal below comes before the first write.
        c, key, now = self._c, request.seat, request.now
        postgres = is_postgres(c)
        locking = _LOCK_SEAT_FOR_HOLD if postgres else _SEAT
        params = {"concert_id": key.concert_id, "date": key.date, "seat_no": key.seat_no}
        if postgres:
            params |= {"user_key": _uuid_lock_key(request.user_id), "concert_key": key.concert_id}
        row = (await c.execute(locking, params)).first()
        if row is None:
            raise NotFoundError(f"concert {key.concert_id} has no seat {key.seat_no} on {key.date}")
        stored = _seat(row)
        if stored.is_held_by(request.user_id, now) and stored.reservation_id:
            r = t.reservations.c
            await c.execute(
                update(t.reservations)
                .where(r.reservation_id == stored.reservation_id, r.token_id != request.token_id)
                .values(token_id=request.token_id)
            )
            mine = await SqlReservationRepository(c).get(stored.reservation_id)
            assert mine is not None
            return HoldOutcome(mine, created=False)
        seat = _seat(row)
        seat.hold(request.user_id, request.reservation_id, now, request.until)  # or raise
        reservation = Reservation.hold(
            request.reservation_id,
            request.user_id,
            key,
            seat.price,
            now,
            request.until,
            request.token_id,
        )
        if postgres:
            await self._take_postgres(request, stored.reservation_id)
        else:
            await self._take(request, stored.reservation_id, seat.price)
        return HoldOutcome(reservation, created=True)

    async def _take_postgres(self, request: HoldRequest, previous: UUID | None) -> None:
        """Count, take, release the lapsed hold and record the new one: one statement,
        judged after the seat row and the user's advisory lock are held (its snapshot is
        taken after them), and writing nothing unless it takes the seat."""
        key = request.seat
        outcome = (
            await self._c.execute(
                _HOLD_POSTGRES,
                {
                    "concert_id": key.concert_id,
                    "date": key.date,
                    "seat_no": key.seat_no,
                    "user_id": request.user_id,
                    "token_id": request.token_id,
                    "reservation_id": request.reservation_id,
                    "previous": previous,
                    "now": request.now,
                    "until": request.until,
                    "max_holds": request.max_holds,
                },
            )
        ).one()
        check_hold_limit(outcome.live, request.max_holds)
        if outcome.taken != 1:
            raise SeatUnavailableError(f"seat {key.seat_no} on {key.date} is taken")

    async def _take(self, request: HoldRequest, previous: UUID | None, price: Money) -> None:
        """As ``_take_postgres``, a statement at a time (SQLite: the write lock, held from
        ``BEGIN IMMEDIATE``, serialises holds)."""
        c, key, now = self._c, request.seat, request.now
        r = t.reservations.c
        live = (
            await c.execute(
                select(func.count())
                .select_from(t.reservations)
                .where(
                    r.user_id == request.user_id, r.concert_id == key.concert_id, _live_hold(now)
                )
            )
        ).scalar_one()
        check_hold_limit(live, request.max_holds)
        s = t.seats.c
        taken = await c.execute(
            update(t.seats)
            .where(
                _seat_is(key),
                or_(
                    s.status == SeatStatus.AVAILABLE.value,
                    and_(s.status == _HELD, s.held_until <= now),
                ),
            )
            .values(
                status=_HELD,
                holder=request.user_id,
                held_until=request.until,
                reservation_id=request.reservation_id,
            )
        )
        if taken.rowcount != 1:
            raise SeatUnavailableError(f"seat {key.seat_no} on {key.date} is taken")
        if previous is not None:
            await _mark_released(c, previous, r.held_until <= now)
        await c.execute(
            t.reservations.insert().values(
                reservation_id=request.reservation_id,
                user_id=request.user_id,
                concert_id=key.concert_id,
                date=key.date,
                seat_no=key.seat_no,
                price=price,
                status=ReservationStatus.HELD.value,
                held_until=request.until,
                created_at=now,
                token_id=request.token_id,
            )
        )


def _lapsed(reservations: Sequence[Reservation]) -> HoldExpiredError:
    if len(reservations) == 1:
        return HoldExpiredError(
            f"the hold on reservation {reservations[0].reservation_id} has lapsed"
        )
    return HoldExpiredError("a hold among these reservations has lapsed")


class SqlReservationRepository(_Repository):
    async def get(self, reservation_id: ReservationId) -> Reservation | None:
        row = (
            await self._c.execute(
                select(t.reservations).where(t.reservations.c.reservation_id == reservation_id)
            )
        ).first()
        return _reservation(row) if row else None

    async def _owned(self, reservation_id: ReservationId, user: UserId) -> Reservation:
        found = await self.get(reservation_id)
        if found is None:
            raise NotFoundError(f"reservation {reservation_id} does not exist")
        found.check_owner(user)
        return found

    async def _release(self, reservation: Reservation, *condition: Any) -> bool:
        """Release a hold if it is still HELD (and meets ``condition``), then free its
        seat. The seat row is locked first (the lock order), so a concurrent hold that
        moves this reservation to another token is either seen or waited for."""
        await self._c.execute(
            select(t.seats.c.seat_no).where(_seat_is(reservation.seat)).with_for_update()
        )
        if not await _mark_released(self._c, reservation.reservation_id, *condition):
            return False
        await _free_seat(self._c, reservation.seat, reservation.reservation_id)
        return True

    async def release(
        self, reservation_id: ReservationId, user_id: UserId, now: dt.datetime
    ) -> Reservation:
        reservation = await self._owned(reservation_id, user_id)
        if reservation.status is ReservationStatus.HELD:
            await self._release(reservation)
        after = await self._owned(reservation_id, user_id)
        if after.status is ReservationStatus.CONFIRMED:
            raise HoldExpiredError("a paid reservation has no hold to release")
        return after

    async def release_holds_of_token(self, token_id: TokenId, now: dt.datetime) -> int:
        r = t.reservations.c
        rows = await self._c.execute(
            select(t.reservations)
            .where(r.token_id == token_id, r.status == ReservationStatus.HELD.value)
            .order_by(r.concert_id, r.date, r.seat_no)
        )
        released = 0
        for reservation in [_reservation(row) for row in rows]:
            # Only if the hold still belongs to this token: the fan's next turn may have
            # taken it over meanwhile (HoldRequest from a later token).
            released += await self._release(reservation, r.token_id == token_id)
        return released

    async def confirm(
        self, user_id: UserId, reservation_ids: Sequence[ReservationId], now: dt.datetime
    ) -> list[Reservation]:
        # No savepoint: every refusal comes before the first write (see below).
        r, s = t.reservations.c, t.seats.c
        rows = await self._c.execute(
            select(t.reservations).where(r.reservation_id.in_(list(reservation_ids)))
        )
        by_id = {ReservationId(row.reservation_id): _reservation(row) for row in rows}
        found = []
        for rid in reservation_ids:
            reservation = by_id.get(rid)
            if reservation is None:
                raise NotFoundError(f"reservation {rid} does not exist")
            reservation.check_owner(user_id)
            found.append(reservation)
        for reservation in found:  # every one is checked before any is written
            reservation.confirm(user_id, now)
        keys = sorted(found, key=lambda x: x.seat)
        seat_keys = tuple_(s.concert_id, s.date, s.seat_no).in_(
            [(x.seat.concert_id, x.seat.date, x.seat.seat_no) for x in keys]
        )
        still_held = and_(
            seat_keys,
            s.reservation_id.in_([x.reservation_id for x in keys]),
            s.status == _HELD,
            s.held_until > now,
        )
        if len(found) > 1:
            # Lock the seats in key order and check them all before writing any.
            locked = await self._c.execute(
                select(s.seat_no)
                .where(still_held)
                .order_by(s.concert_id, s.date, s.seat_no)
                .with_for_update()
            )
            if len(locked.all()) != len(found):
                raise _lapsed(found)
        # One seat: this conditional write is its own check, and writes nothing if it fails.
        sold = await self._c.execute(
            update(t.seats).where(still_held).values(status=SeatStatus.SOLD.value, held_until=None)
        )
        if sold.rowcount != len(found):
            raise _lapsed(found)
        # The seats were still held by these reservations under their row locks, and a
        # reservation leaves HELD only under its seat's lock: these all match.
        marked = await self._c.execute(
            update(t.reservations)
            .where(r.reservation_id.in_([x.reservation_id for x in found]), _live_hold(now))
            .values(status=ReservationStatus.CONFIRMED.value)
        )
        if marked.rowcount != len(found):
            raise _lapsed(found)
        return found

    async def release_lapsed(self, now: dt.datetime, limit: int) -> int:
        r = t.reservations.c
        query = (
            select(t.reservations)
            .where(r.status == ReservationStatus.HELD.value, r.held_until <= now)
            .order_by(r.held_until)
            .limit(limit)
        )
        # No lock here: reservations are locked only after their seat (the lock order);
        # every statement below re-checks that the hold is still lapsed.
        lapsed = [_reservation(row) for row in await self._c.execute(query)]
        released = 0
        for reservation in sorted(lapsed, key=lambda x: x.seat):
            s = t.seats.c
            await self._c.execute(
                update(t.seats)
                .where(
                    _seat_is(reservation.seat),
                    s.reservation_id == reservation.reservation_id,
                    s.status == _HELD,
                    s.held_until <= now,
                )
                .values(_FREE_SEAT)
            )
            released += await _mark_released(
                self._c, reservation.reservation_id, r.held_until <= now
            )
        return released


# -- money --------------------------------------------------------------------------


def _entry(row: Row[Any]) -> LedgerEntry:
    return LedgerEntry(
        entry_id=row.entry_id,
        user_id=UserId(row.user_id),
        kind=EntryKind(row.kind),
        amount=row.amount,
        at=row.at,
        payment_id=PaymentId(row.payment_id) if row.payment_id else None,
    )


class SqlWalletRepository(_Repository):
    async def get(self, user_id: UserId) -> Wallet:
        balance = (
            await self._c.execute(select(t.wallets.c.balance).where(t.wallets.c.user_id == user_id))
        ).scalar_one_or_none()
        return Wallet(user_id, Money(balance or 0))

    async def _open(self, user_id: UserId) -> None:
        await self._c.execute(
            insert_ignoring_conflicts(self._c, t.wallets).values(user_id=user_id, balance=0)
        )

    async def _ledger(
        self,
        user_id: UserId,
        kind: EntryKind,
        amount: int,
        entry_id: UUID,
        now: dt.datetime,
        payment_id: PaymentId | None = None,
    ) -> bool:
        """Insert a ledger entry; False if one with ``entry_id`` exists already."""
        result = await self._c.execute(
            insert_ignoring_conflicts(self._c, t.ledger).values(
                entry_id=entry_id,
                user_id=user_id,
                kind=kind.value,
                amount=amount,
                at=now,
                payment_id=payment_id,
            )
        )
        return bool(result.rowcount == 1)

    async def charge(
        self, user_id: UserId, amount: Money, entry_id: UUID, now: dt.datetime
    ) -> Wallet:
        Wallet(user_id).charge(amount, entry_id, now)  # the amount's own rules, or raise
        async with self._atomically():
            return await self._charge(user_id, amount, entry_id, now)

    async def _charge(
        self, user_id: UserId, amount: Money, entry_id: UUID, now: dt.datetime
    ) -> Wallet:
        await self._open(user_id)
        if not await self._ledger(user_id, EntryKind.CHARGE, amount, entry_id, now):
            return await self.get(user_id)  # this very charge is already in the ledger
        w = t.wallets.c
        balance = (
            await self._c.execute(
                update(t.wallets)
                .where(w.user_id == user_id, w.balance + amount <= MAX_BALANCE)
                .values(balance=w.balance + amount)
                .returning(w.balance)
            )
        ).scalar_one_or_none()
        if balance is None:
            raise ValidationError(f"a balance cannot exceed {MAX_BALANCE:,} won")
        return Wallet(user_id, Money(balance))

    async def debit(
        self,
        user_id: UserId,
        amount: Money,
        entry_id: UUID,
        payment_id: PaymentId,
        now: dt.datetime,
    ) -> Wallet:
        if amount < 0:
            raise ValidationError("a debit cannot be negative")
        if amount == 0 or not is_postgres(self._c):
            async with self._atomically():
                return await self._debit(user_id, amount, entry_id, payment_id, now)
        # PostgreSQL, a positive amount: one statement, no savepoint; it writes nothing
        # unless it debits (a wallet that does not exist cannot cover a positive amount,
        # so none is opened).
        params = {
            "user_id": user_id,
            "amount": amount,
            "entry_id": entry_id,
            "payment_id": payment_id,
            "now": now,
        }
        try:
            outcome = (await self._c.execute(_DEBIT_POSTGRES, params)).one()
        except exc.IntegrityError as error:
            # The same entry, committed by another transaction after this statement's
            # snapshot: this one wrote nothing, and its transaction must roll back.
            if "uq_ledger_entry_id" in str(error.orig):
                raise IdempotencyInProgressError(f"ledger entry {entry_id} exists") from error
            raise
        if outcome.earlier:
            raise IdempotencyInProgressError(f"ledger entry {entry_id} exists already")
        if outcome.balance is None:
            raise InsufficientBalanceError(
                f"balance {outcome.current or 0:,} won is below the {amount:,} won due"
            )
        return Wallet(user_id, Money(outcome.balance))

    async def _debit(
        self,
        user_id: UserId,
        amount: Money,
        entry_id: UUID,
        payment_id: PaymentId,
        now: dt.datetime,
    ) -> Wallet:
        await self._open(user_id)
        if not await self._ledger(user_id, EntryKind.PAYMENT, -amount, entry_id, now, payment_id):
            raise IdempotencyInProgressError(f"ledger entry {entry_id} exists already")
        w = t.wallets.c
        balance = (
            await self._c.execute(
                update(t.wallets)
                .where(w.user_id == user_id, w.balance >= amount)
                .values(balance=w.balance - amount)
                .returning(w.balance)
            )
        ).scalar_one_or_none()
        if balance is None:
            current = await self.get(user_id)
            raise InsufficientBalanceError(
                f"balance {current.balance:,} won is below the {amount:,} won due"
            )
        return Wallet(user_id, Money(balance))

    async def ledger(self, user_id: UserId) -> list[LedgerEntry]:
        rows = await self._c.execute(
            select(t.ledger).where(t.ledger.c.user_id == user_id).order_by(t.ledger.c.serial)
        )
        return [_entry(r) for r in rows]


_DEBIT_POSTGRES = text(
    """
WITH earlier AS (
    SELECT EXISTS (SELECT FROM ledger WHERE entry_id = :entry_id) AS found
), debited AS (
    UPDATE wallets SET balance = balance - :amount
    WHERE user_id = :user_id AND balance >= :amount AND NOT (SELECT found FROM earlier)
    RETURNING balance
), entered AS (
    INSERT INTO ledger (entry_id, user_id, kind, amount, at, payment_id)
    SELECT CAST(:entry_id AS uuid), CAST(:user_id AS uuid), 'PAYMENT',
           -CAST(:amount AS bigint), CAST(:now AS timestamptz), CAST(:payment_id AS uuid)
    FROM debited
)
SELECT (SELECT found FROM earlier) AS earlier, (SELECT balance FROM debited) AS balance,
       (SELECT balance FROM wallets WHERE user_id = :user_id) AS current
"""
).bindparams(bindparam("now", type_=t.UtcDateTime()))
"""PostgreSQL: a positive debit and its ledger entry in one statement (``current`` is
the balance before it, for the refusal's message)."""


def _payment(row: Row[Any]) -> Payment:
    return Payment(
        payment_id=PaymentId(row.payment_id),
        user_id=UserId(row.user_id),
        concert_id=ConcertId(row.concert_id),
        reservation_ids=tuple(ReservationId(UUID(r)) for r in row.reservation_ids),
        amount=Money(row.amount),
        paid_at=row.paid_at,
    )


class SqlPaymentRepository(_Repository):
    async def add(self, payment: Payment) -> None:
        result = await self._c.execute(
            insert_ignoring_conflicts(self._c, t.payments).values(
                payment_id=payment.payment_id,
                user_id=payment.user_id,
                concert_id=payment.concert_id,
                reservation_ids=[str(r) for r in payment.reservation_ids],
                amount=payment.amount,
                paid_at=payment.paid_at,
            )
        )
        if result.rowcount != 1:
            raise IdempotencyInProgressError(f"payment {payment.payment_id} exists already")

    async def get(self, payment_id: PaymentId) -> Payment | None:
        row = (
            await self._c.execute(select(t.payments).where(t.payments.c.payment_id == payment_id))
        ).first()
        return _payment(row) if row else None

    async def history(self, user_id: UserId) -> list[Payment]:
        rows = await self._c.execute(
            select(t.payments)
            .where(t.payments.c.user_id == user_id)
            .order_by(t.payments.c.serial.desc())
        )
        return [_payment(r) for r in rows]
