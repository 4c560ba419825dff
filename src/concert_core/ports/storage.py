"""Relational storage: the repositories and the unit of work that makes them one
transaction."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from types import TracebackType
from typing import NamedTuple, Protocol, Self
from uuid import UUID

from attrs import frozen

from concert_core.domain.payment import Payment
from concert_core.domain.reservation import Reservation
from concert_core.domain.sale import SaleSettings
from concert_core.domain.seating import (
    Concert,
    DateAvailability,
    DateSeats,
    Seat,
    SeatKey,
    SeatStatus,
)
from concert_core.domain.values import (
    ConcertId,
    Money,
    PaymentId,
    ReservationId,
    SeatNo,
    TokenId,
    UserId,
)
from concert_core.domain.wallet import LedgerEntry, Wallet


class CatalogueRepository(Protocol):
    async def add_concert(
        self, title: str, venue: str, sale: SaleSettings | None = None
    ) -> Concert:
        """Store a new concert with its sale settings (None: the defaults); storage
        assigns its id."""
        ...

    async def change_sale(self, concert_id: ConcertId, sale: SaleSettings) -> bool:
        """Replace the concert's sale settings; False (and no change) if it does not
        exist."""
        ...

    async def get_concert(self, concert_id: ConcertId) -> Concert | None: ...

    async def list_concerts(self) -> list[Concert]:
        """All concerts, by id."""
        ...

    async def add_date(self, concert_id: ConcertId, date: dt.date, prices: Sequence[Money]) -> bool:
        """Add a performance date and its 50 seats; False (and no change) if it exists."""
        ...

    async def list_dates(self, concert_id: ConcertId) -> list[dt.date]:
        """The concert's performance dates, ascending."""
        ...


@frozen
class HoldRequest:
    seat: SeatKey
    user_id: UserId
    token_id: TokenId
    """The ACTIVE queue token the hold is made under."""
    reservation_id: ReservationId
    """The id the new reservation gets if this request creates one."""
    now: dt.datetime
    until: dt.datetime
    max_holds: int
    """The most live holds the user may have in this concert, this one included."""


@frozen
class HoldOutcome:
    reservation: Reservation
    created: bool
    """False when the user already held this seat and got that hold back."""


class SeatRepository(Protocol):
    async def list_seats(self, concert_id: ConcertId, date: dt.date) -> list[Seat]:
        """The date's seats by number (as stored: judge holds with ``Seat.status_at``)."""
        ...

    async def available_dates(
        self, concert_id: ConcertId, now: dt.datetime
    ) -> list[DateAvailability]:
        """Dates with at least one seat available at ``now``, ascending."""
        ...

    async def seat_counts(self, concert_id: ConcertId, now: dt.datetime) -> list[DateSeats]:
        """Per date of the concert, ascending: its seats available, held and sold at
        ``now`` (a lapsed hold counts as available)."""
        ...

    async def sold_out(self, concert_id: ConcertId) -> bool:
        """Whether the concert has seats and every one is SOLD (what ``seat_counts``
        says when no date has a seat available or held: a hold, live or lapsed, is
        not a sale). One answer, however many dates: the sale's state asks it every
        second while the line is served."""
        ...

    async def hold(self, request: HoldRequest) -> HoldOutcome:
        """Atomically hold a seat and record the reservation.

        Succeeds only if the seat is AVAILABLE or its hold has lapsed, and the user's
        live holds in the concert stay within ``max_holds``; if the user already holds
        the seat, returns that hold, moved to ``request.token_id`` (the turn now holding
        it). Raises NotFoundError (no such seat), SeatUnavailableError or
        HoldLimitReachedError, changing nothing.
        """
        ...


class ReservationRepository(Protocol):
    async def get(self, reservation_id: ReservationId) -> Reservation | None: ...

    async def release(
        self, reservation_id: ReservationId, user_id: UserId, now: dt.datetime
    ) -> Reservation:
        """Atomically release the owner's hold and free its seat.

        Releasing a hold that already lapsed or was released changes nothing. Raises
        NotFoundError, NotOwnerError, or HoldExpiredError for a paid reservation.
        """
        ...

    async def live_holds_of_token(self, token_id: TokenId, now: dt.datetime) -> list[Reservation]:
        """The holds made under the token that are live at ``now``."""
        ...

    async def release_holds_of_token(self, token_id: TokenId, now: dt.datetime) -> int:
        """Release every hold made under the token (it ended); return how many were
        marked RELEASED (holds that had lapsed but were still stored as HELD included).

        Holds made under the user's later tokens are left alone.
        """
        ...

    async def confirm(
        self, user_id: UserId, reservation_ids: Sequence[ReservationId], now: dt.datetime
    ) -> list[Reservation]:
        """Atomically mark the user's live holds CONFIRMED and their seats SOLD.

        All or nothing: raises NotFoundError, NotOwnerError or HoldExpiredError
        (lapsed, released or already paid) and changes nothing if any one fails.
        """
        ...

    async def release_lapsed(self, now: dt.datetime, limit: int) -> int:
        """Mark up to ``limit`` lapsed holds RELEASED and free their seats (cleanup only)."""
        ...


class WalletRepository(Protocol):
    async def get(self, user_id: UserId) -> Wallet:
        """The user's wallet; an unknown user has one with balance 0."""
        ...

    async def charge(
        self, user_id: UserId, amount: Money, entry_id: UUID, now: dt.datetime
    ) -> Wallet:
        """Atomically add to the balance and the ledger; ValidationError past the cap.

        If an entry ``entry_id`` already exists, change nothing and return the wallet as
        it is now: the entry's insert decides, so concurrent calls with one ``entry_id``
        add once (the backstop of keyed charges).
        """
        ...

    async def debit(
        self,
        user_id: UserId,
        amount: Money,
        entry_id: UUID,
        payment_id: PaymentId,
        now: dt.datetime,
    ) -> Wallet:
        """Atomically take from the balance (only if it covers the amount) and ledger it.

        Raises InsufficientBalanceError and changes nothing otherwise;
        IdempotencyInProgressError if an entry ``entry_id`` already exists (the same
        keyed request is being, or was, carried out by another run).
        """
        ...

    async def ledger(self, user_id: UserId) -> list[LedgerEntry]:
        """The user's entries in the order storage recorded them (a serial, not ``at``)."""
        ...


@frozen
class PaymentRequest:
    """A payment to make: the turn's holds named, paid from the fan's wallet."""

    payment_id: PaymentId
    """Also the id of the debit's ledger entry (a keyed retry derives the same one)."""
    user_id: UserId
    concert_id: ConcertId
    """The concert of the turn (the queue token) paying."""
    token_id: TokenId
    reservation_ids: tuple[ReservationId, ...]
    now: dt.datetime


@frozen
class PaymentOutcome:
    payment: Payment
    balance: Money
    """The wallet's balance right after the payment."""


class PaymentRepository(Protocol):
    async def pay(self, request: PaymentRequest) -> PaymentOutcome:
        """The whole payment as one atomic storage operation: every reservation must
        exist (NotFoundError), be the fan's (NotOwnerError), be of the turn's concert
        (TokenNotActiveError) and be a live hold (HoldExpiredError, also for a paid
        one); the balance must cover their prices (InsufficientBalanceError). Then the
        seats are SOLD, the reservations CONFIRMED, the wallet debited with its ledger
        entry, the payment recorded (IdempotencyInProgressError if its id or ledger
        entry exists; TokenNotActiveError if the turn paid already), and the turn's
        other holds released, together. On a refusal it leaves nothing of its own
        behind once the unit of work is left without committing (storage may have
        aborted the transaction already: do not commit after a refusal).
        """
        ...

    async def add(self, payment: Payment) -> None:
        """Record a payment. IdempotencyInProgressError if its id exists already;
        TokenNotActiveError if a payment was recorded under its token already (a turn
        pays once)."""
        ...

    async def revenue(self, concert_id: ConcertId) -> Money:
        """The sum of the concert's payments."""
        ...

    async def get(self, payment_id: PaymentId) -> Payment | None: ...

    async def history(self, user_id: UserId) -> list[Payment]:
        """The user's payments, the latest recorded first (by a serial, not ``paid_at``)."""
        ...


class UnitOfWork(Protocol):
    """One transaction over the relational ports: committed together or not at all.

    Leaving the block without ``commit()`` (or by an exception) rolls back.
    """

    @property
    def catalogue(self) -> CatalogueRepository: ...
    @property
    def seats(self) -> SeatRepository: ...
    @property
    def reservations(self) -> ReservationRepository: ...
    @property
    def wallets(self) -> WalletRepository: ...
    @property
    def payments(self) -> PaymentRepository: ...

    async def __aenter__(self) -> Self: ...

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None: ...

    async def commit(self) -> None: ...


class UnitOfWorkFactory(Protocol):
    def __call__(self) -> UnitOfWork: ...


class BoxOffice(Protocol):
    """The hot writes of a fan's turn, each one storage operation committed on its own,
    outside any unit of work: exactly what a unit of work holding that one call and
    its commit does (the same rules, refusals and atomicity), in as few round trips as
    storage allows (PostgreSQL: one autocommit statement)."""

    async def hold(self, request: HoldRequest) -> HoldOutcome:
        """``SeatRepository.hold``, committed."""
        ...

    async def pay(self, request: PaymentRequest) -> PaymentOutcome:
        """``PaymentRepository.pay``, committed."""
        ...

    async def release_holds_of_token(self, token_id: TokenId, now: dt.datetime) -> int:
        """``ReservationRepository.release_holds_of_token``, committed."""
        ...


class SeatLine(NamedTuple):
    """One seat of a date's seat map, as stored: what the seat list shows and the
    hold's end to judge it by (a HELD seat past ``held_until`` is AVAILABLE)."""

    seat_no: SeatNo
    status: SeatStatus
    price: Money
    held_until: dt.datetime | None


class SeatMapReader(Protocol):
    async def seat_lines(self, concert_id: ConcertId, date: dt.date) -> Sequence[SeatLine]:
        """The date's seats by number, as storage holds them when the call is made
        (empty: no such date). A read on its own, outside any unit of work: every hold
        and sale whose reply was sent before the call is in it."""
        ...
