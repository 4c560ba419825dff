"""Ports: what the core needs from the world, as async Protocols over domain types.

Atomicity lives behind these ports. Each mutating method is one atomic storage
operation whose conditions are checked by the storage itself at the moment of the
write (a conditional update, a constraint, a script): a use case never reads, awaits,
and then writes on the assumption that what it read still holds.

Time: every rule is judged by the ``now`` argument (taken from the one ``Clock`` all
instances share), never by storage's own clock; no SQL ``now()``, no Lua ``TIME``.
Expiry of storage keys (TTLs) may only collect garbage, with a margin past the rules.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from types import TracebackType
from typing import Protocol, Self
from uuid import UUID

from attrs import frozen

from concert_core.domain import (
    Concert,
    ConcertId,
    DateAvailability,
    DateSeats,
    IssueOutcome,
    LedgerEntry,
    Money,
    Payment,
    PaymentId,
    QueuePlace,
    QueueStats,
    QueueToken,
    Reservation,
    ReservationId,
    SaleSettings,
    Seat,
    SeatKey,
    TokenClaims,
    TokenId,
    UserId,
    Wallet,
)

JsonValue = str | int | float | bool | None | list["JsonValue"] | dict[str, "JsonValue"]


class Clock(Protocol):
    """The time every rule is judged by. Scaled deployments share one (the storage's)."""

    async def now(self) -> dt.datetime:
        """The current instant, timezone-aware."""
        ...


class TokenCodec(Protocol):
    """Signs and verifies queue token strings. Pure computation, so not async."""

    def encode(self, claims: TokenClaims) -> str: ...

    def decode(self, token: str) -> TokenClaims:
        """Raise TokenInvalidError for a malformed or forged token."""
        ...


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


class PaymentRepository(Protocol):
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


class QueueStore(Protocol):
    """The waiting room's shared state. Every method is one atomic operation.

    A store is built with the ``Policy`` whose idle timeout and active TTL it applies.
    Order comes only from an issue sequence shared by all instances, never from a
    clock. A WAITING token idle past the timeout, or an ACTIVE one past
    ``active_until``, is EXPIRED when looked at; an idle token leaves the line at the
    latest at the next admission or expiry pass, and is never admitted.
    """

    async def issue(
        self, user_id: UserId, concert_id: ConcertId, token_id: TokenId, now: dt.datetime
    ) -> IssueOutcome:
        """Return the user's live token for the concert (and see it), or issue one.

        A new token is WAITING, has the id ``token_id``, and takes a sequence number
        greater than that of every token already issued for this concert by any
        instance (gaps allowed; numbers compare within a concert). It is in the line
        once the call returns, so no admission can pass it by.
        """
        ...

    async def look(
        self, concert_id: ConcertId, token_id: TokenId, now: dt.datetime
    ) -> QueuePlace | None:
        """The token's state, position and its concert's admission rate at ``now``,
        without recording a poll."""
        ...

    async def poll(
        self, concert_id: ConcertId, token_id: TokenId, now: dt.datetime
    ) -> QueuePlace | None:
        """As ``look``, and record the poll (keeping a WAITING token's place)."""
        ...

    async def expire(
        self, concert_id: ConcertId, token_id: TokenId, now: dt.datetime
    ) -> QueueToken | None:
        """End a live token (leaving, paying). Returns it if it was live, else None."""
        ...

    async def extend_active(
        self, concert_id: ConcertId, token_id: TokenId, until: dt.datetime, now: dt.datetime
    ) -> bool:
        """Keep a token that may take a hold at ``now`` (ACTIVE, before its base end)
        alive until at least ``until`` (the hold's expiry); False, changing nothing,
        for any other token.

        A token that any mutating operation has judged lapsed is ended in storage by
        that operation (it stopped counting against the capacity), so no later call,
        even one carrying an earlier ``now``, can bring it back.
        """
        ...

    async def retract_hold(
        self,
        concert_id: ConcertId,
        token_id: TokenId,
        ended_until: dt.datetime,
        remaining_until: dt.datetime | None,
        now: dt.datetime,
    ) -> None:
        """A hold of the token that reached to ``ended_until`` was released: the token is
        kept past its base end only by its remaining holds (``remaining_until``, the
        latest one's expiry, or None), unless a later hold extended it meanwhile. A
        token past its base end with no hold left ends now."""
        ...

    async def open(self, concert_id: ConcertId, seed: int, now: dt.datetime) -> int:
        """Open the concert's line, once for all instances: the live WAITING tokens
        (the pre-queue) are put in the order of ``shuffle_key(seed, token_id)``, in the
        places their sequence numbers held, so all stay ahead of every later arrival;
        FIFO after that. Returns the seed the line was opened with (an earlier
        opening's, if there was one)."""
        ...

    async def admit(
        self,
        concert_id: ConcertId,
        now: dt.datetime,
        *,
        capacity: int | None = None,
        per_minute: int | None = None,
        per_pass: int | None = None,
    ) -> list[QueueToken]:
        """One admission pass: take idle WAITING tokens out of the line, then fill free
        active places with the earliest WAITING tokens, never exceeding ``capacity``
        (None: the policy's). With ``per_minute``, no 60 seconds admit more than that
        many (counting every pass of every instance); with ``per_pass``, this pass
        admits at most that many. Safe to run from many processes at once. Returns the
        tokens admitted, in line order."""
        ...

    async def end_waiting(self, concert_id: ConcertId, now: dt.datetime, limit: int) -> int:
        """End up to ``limit`` WAITING tokens of the concert (it sold out or closed);
        returns how many ended. ACTIVE tokens keep their turn."""
        ...

    async def expire_lapsed(
        self, concert_id: ConcertId, now: dt.datetime, limit: int
    ) -> list[QueueToken]:
        """End up to ``limit`` ACTIVE tokens past their time and idle WAITING tokens.

        Returns the tokens this call ended, as they were just before (so a caller can
        tell which were ACTIVE); tokens other operations ended already are not returned.
        """
        ...

    async def stats(self, concert_id: ConcertId, now: dt.datetime) -> QueueStats:
        """Live WAITING and ACTIVE tokens, admissions over the last minute, and the seed
        the line was opened with (None before the opening)."""
        ...


@frozen
class IdempotencyKey:
    """A client's key, scoped to its user and to one operation."""

    user_id: UserId
    operation: str
    key: str


class IdempotencyStore(Protocol):
    """First results of charges and payments, kept for the policy's retention time.

    A claim is named by the ``claim_id`` its ``begin`` was given: ``complete`` and
    ``abandon`` act only while that claim still holds the key, so a run that outlived
    its lease cannot touch the claim of the retry that took over.
    """

    async def begin(
        self, key: IdempotencyKey, fingerprint: str, claim_id: UUID, now: dt.datetime
    ) -> Mapping[str, JsonValue] | None:
        """Claim the key, or return the stored first result.

        None means the caller now runs the request and must ``complete`` or
        ``abandon``. Raises IdempotencyInProgressError while another claim's lease runs,
        IdempotencyKeyReusedError when the fingerprint differs from the first request's.
        """
        ...

    async def complete(
        self,
        key: IdempotencyKey,
        claim_id: UUID,
        result: Mapping[str, JsonValue],
        now: dt.datetime,
    ) -> None:
        """Keep ``result`` as the key's first result, if ``claim_id`` holds the key."""
        ...

    async def abandon(self, key: IdempotencyKey, claim_id: UUID) -> None:
        """Give the claim up (the request failed and changed nothing)."""
        ...
