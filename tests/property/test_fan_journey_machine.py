"""The invariants of the whole service, driven through its use cases.

A Hypothesis state machine plays fans and operators against the service with a clock
it moves by hand: issuing tokens, polling, admitting, leaving, holding, releasing,
charging, paying, letting time pass and sweeping, one at a time or as a crowd acting
at once (its coroutines interleave at every port call). After every step it checks
what must never break:

- no seat SOLD or held (unexpired) by two users, and seat and reservation agree;
- ACTIVE tokens per concert never exceed the capacity;
- admission strictly in issue order: no WAITING token admitted after a later one;
- a user's live holds per concert stay within the limit;
- every balance >= 0 and equal to the sum of its ledger;
- money conserved: accepted charges = balances + payments;
- every SOLD seat has exactly one payment, and a payment's amount is its seats' prices.

The same machine runs on two storage families of backends.py: ``memory``, where the
invariants read the MemoryDatabase itself, and (fewer, shorter runs)
``postgres+redis``, where they read the tables, and where the crowds' interleavings
reach real transactions and scripts. On both, the queue's tokens are read through the
queue store's own ``look``, for every token it ever issued.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import random
import uuid
from collections import defaultdict
from collections.abc import Callable, Coroutine, Iterator, Mapping, Sequence
from functools import partial
from typing import Any, ClassVar, Protocol, TypeVar

import attrs
import pytest
from hypothesis import event, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
)
from sqlalchemy import Row, select
from sqlalchemy.ext.asyncio import AsyncEngine

import backends
from adapters.clock import ManualClock
from adapters.memory import MemoryDatabase
from adapters.sql import tables as t
from adapters.tokens import JwtTokenCodec
from concert_core import ConcertService, Policy
from concert_core.domain import (
    ConcertId,
    DomainError,
    EntryKind,
    HoldExpiredError,
    IdempotencyKeyReusedError,
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
    TokenNotActiveError,
    TokenStatus,
    UserId,
    ValidationError,
    Wallet,
)
from concert_core.ports import IdempotencyStore, QueueStore
from concert_core.use_cases import (
    ChargeCommand,
    HoldSeatCommand,
    IssueTokenCommand,
    PayCommand,
    ScheduleConcertCommand,
)
from services import require_redis
from support import Yielding, YieldingUnitOfWork

T = TypeVar("T")
DATE = dt.date(2026, 12, 24)
USERS = [UserId(uuid.UUID(int=n)) for n in range(1, 6)]
PRICES = tuple(10_000 * (1 + n % 3) for n in range(50))
SEATS = st.integers(min_value=1, max_value=4)  # few seats: contention is the point
KEYS = st.one_of(st.none(), st.sampled_from(["k1", "k2"]))
PICK = st.integers(min_value=0, max_value=1023)
"""Which one of a list whose contents storage decides (see ``pick``)."""


def pick(pool: Sequence[T], index: int) -> T:
    """The drawn one of ``pool``. An index drawn alike whatever the list, not a
    ``sampled_from`` of it: on PostgreSQL and Redis a race may end otherwise when
    Hypothesis replays the same draws, and the draws must not change with it."""
    return pool[index % len(pool)]


# -- what the invariants read ---------------------------------------------------------


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
    return Payment(
        payment_id=PaymentId(row.payment_id),
        user_id=UserId(row.user_id),
        concert_id=ConcertId(row.concert_id),
        reservation_ids=tuple(ReservationId(uuid.UUID(r)) for r in row.reservation_ids),
        amount=Money(row.amount),
        paid_at=row.paid_at,
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


class RecordingQueue:
    """A queue store (any family's) that logs its admission passes in the order they
    ran, and reads back every token it ever issued through its own ``look``."""

    def __init__(self, inner: QueueStore) -> None:
        self._inner = inner
        self.passes: list[tuple[ConcertId, list[QueueToken]]] = []
        self.issued: dict[tuple[ConcertId, TokenId], None] = {}
        """Every token it issued (a dict: kept in the order issued, without repeats)."""
        self._one_pass_at_a_time = asyncio.Lock()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)

    async def issue(
        self, user_id: UserId, concert_id: ConcertId, token_id: TokenId, now: dt.datetime
    ) -> IssueOutcome:
        outcome = await self._inner.issue(user_id, concert_id, token_id, now)
        self.issued[(concert_id, outcome.place.token.token_id)] = None
        return outcome

    async def admit(
        self, concert_id: ConcertId, now: dt.datetime, **limits: Any
    ) -> list[QueueToken]:
        # Redis runs each pass (a script) whole, but the replies of passes sent at once
        # on two connections may come back in either order: the log must keep the
        # order they ran in, so passes go one at a time (issues still interleave). In
        # memory a pass never waits, so the lock is never contended.
        async with self._one_pass_at_a_time:
            admitted = await self._inner.admit(concert_id, now, **limits)
            self.passes.append((concert_id, admitted))
        return admitted

    async def read_tokens(self, now: dt.datetime) -> list[QueueToken]:
        """Every token it issued, as it keeps it now (a look records no poll)."""
        places = await asyncio.gather(
            *(self._inner.look(concert, token, now) for concert, token in self.issued)
        )
        return [place.token for place in places if place is not None]


# -- the machine ----------------------------------------------------------------------


class FanJourneyMachine(RuleBasedStateMachine):
    """On the in-memory adapters: the invariants read the MemoryDatabase itself."""

    family: ClassVar[str] = "memory"
    """The storage family of backends.py the machine runs on."""
    postgres_url: ClassVar[str | None] = None
    """The run's migrated database, for a family that needs one: the test case sets it
    (a machine takes no fixtures)."""

    def __init__(self) -> None:
        super().__init__()
        self.loop = asyncio.Runner()
        self.resources = contextlib.AsyncExitStack()
        self.clock = ManualClock()
        self.policy = Policy(
            active_capacity=2,
            active_ttl=dt.timedelta(seconds=60),
            hold_ttl=dt.timedelta(seconds=20),
            idle_timeout=dt.timedelta(seconds=30),
            max_holds_per_user=2,
            idempotency_lease=dt.timedelta(seconds=5),
        )
        self.codec = JwtTokenCodec("state-machine-secret-" + "s" * 32)
        # Ports that yield at every call, a number of times drawn for each concurrent
        # step, so a crowd's coroutines interleave in ever different orders.
        self.shuffle = random.Random(0)

        def jitter() -> int:
            return self.shuffle.randint(0, 3)

        try:
            units, self.queue, idempotency = self.open_storage(jitter)
            self.service = ConcertService.build(
                uow_factory=units,
                queue=Yielding(self.queue, jitter),
                idempotency=Yielding(idempotency, jitter),
                codec=self.codec,
                clock=Yielding(self.clock, jitter),
                policy=self.policy,
            )
            self.concerts = [self.run(self._schedule(title)) for title in ("Dawn", "Dusk")]
        except BaseException:
            self.teardown()
            raise
        self.tokens: dict[tuple[UserId, ConcertId], str] = {}
        self.charged = 0
        self.first_charges: dict[tuple[UserId, str], int] = {}
        self.admitted_up_to: dict[ConcertId, int] = defaultdict(int)
        self.checked_passes = 0
        self.walk_ins = 0

    def open_storage(
        self, jitter: Callable[[], int]
    ) -> tuple[Callable[[], Any], RecordingQueue, IdempotencyStore]:
        """The family's units of work, its queue store (recording) and its idempotency
        store, opened on the machine's loop and closed with ``self.resources``."""
        opening = backends.open_backend(self.family, self.policy, self._postgres_url)
        self.backend = self.loop.run(self.resources.enter_async_context(opening))
        # What storage holds, read once after a step: the next rule's preconditions
        # and every invariant share it (time passing changes no row or token).
        self.snapshot: Stored | None = None
        self.tokens_read: list[QueueToken] | None = None
        self.first_seen: dict[ReservationId, int] = {}
        units = self.backend.uow
        return (
            lambda: YieldingUnitOfWork(units, jitter),
            RecordingQueue(self.backend.queue),
            self.backend.idempotency,
        )

    def _postgres_url(self) -> str:
        url = self.postgres_url
        assert url is not None, f"the test case sets {type(self).__name__}.postgres_url"
        return url

    def stored(self) -> Stored:
        """Seats, reservations, wallets, ledger and payments as storage holds them now."""
        if self.snapshot is None:
            self.snapshot = self.read_stored()
        return self.snapshot

    def read_stored(self) -> Stored:
        database = self.backend.database
        if isinstance(database, MemoryDatabase):
            return database  # read as it is: the memory database is the state itself
        return self.loop.run(read_stored_rows(database, self.first_seen))

    def stored_tokens(self) -> list[QueueToken]:
        """Every token the queue store issued, as it keeps it now."""
        if self.tokens_read is None:
            self.tokens_read = self.loop.run(self.queue.read_tokens(self.now()))
        return self.tokens_read

    @initialize()
    def fans_have_money_and_one_is_admitted(self) -> None:
        for user in USERS:
            self.charge(user, 50_000, None)
        self.issue(USERS[0], 0)
        self.admit(None)

    def run(self, coroutine: Coroutine[Any, Any, T]) -> T:
        """Run a step's work (which may change what is stored)."""
        self.snapshot = self.tokens_read = None
        return self.loop.run(coroutine)

    def interleave(self, shuffle: random.Random) -> None:
        """Let ``shuffle`` say how many times each port call yields from now on (each of
        its values is a draw Hypothesis can shrink)."""
        self.shuffle = shuffle

    def teardown(self) -> None:
        try:
            self.loop.run(self.resources.aclose())
        finally:
            self.loop.close()

    async def _schedule(self, title: str) -> ConcertId:
        concert = await self.service.schedule_concert(
            ScheduleConcertCommand(title, "Hall", [DATE], PRICES)
        )
        return concert.concert_id

    def now(self) -> dt.datetime:
        return self.loop.run(self.clock.now())

    # -- rules ----------------------------------------------------------------------

    @rule(user=st.sampled_from(USERS), which=st.integers(0, 1))
    def issue(self, user: UserId, which: int) -> None:
        concert = self.concerts[which]
        before = self.tokens.get((user, concert))
        ticket = self.run(self.service.issue_token(IssueTokenCommand(user, concert)))
        claims = self.codec.decode(ticket.token)
        if before is not None and not ticket.created:
            assert claims == self.codec.decode(before), "a live token came back changed"
        self.tokens[(user, concert)] = ticket.token

    @precondition(lambda self: self.tokens)
    @rule(data=st.data())
    def poll(self, data: st.DataObject) -> None:
        token = self.tokens[data.draw(st.sampled_from(sorted(self.tokens)))]
        view = self.run(self.service.queue_status(token))
        assert 1 <= view.poll_after_seconds <= self.policy.idle_timeout.total_seconds() / 3
        if view.status is TokenStatus.WAITING:
            assert view.position is not None and view.position >= 1

    @rule(which=st.one_of(st.none(), st.integers(0, 1)))
    def admit(self, which: int | None) -> None:
        concert = None if which is None else self.concerts[which]
        self.run(self.service.admit_waiting(concert))

    @precondition(lambda self: self.tokens)
    @rule(data=st.data())
    def leave(self, data: st.DataObject) -> None:
        token = self.tokens[data.draw(st.sampled_from(sorted(self.tokens)))]
        with contextlib.suppress(TokenNotActiveError):
            self.run(self.service.leave_queue(token))

    def _active_pairs(self) -> list[tuple[UserId, ConcertId]]:
        now = self.now()
        return [
            (t.user_id, t.concert_id)
            for t in self.stored_tokens()
            if t.status_at(now, self.policy.idle_timeout) is TokenStatus.ACTIVE
            and (t.user_id, t.concert_id) in self.tokens
        ]

    def _pick_token(self, data: st.DataObject) -> tuple[UserId, ConcertId]:
        """Mostly a token that is ACTIVE now (a journey can go on); sometimes any."""
        active = sorted(self._active_pairs())
        mostly_active, index = data.draw(st.integers(0, 4)), data.draw(PICK)
        return pick(active if active and mostly_active else sorted(self.tokens), index)

    @precondition(lambda self: self.tokens)
    @rule(data=st.data(), seat=SEATS)
    def hold(self, data: st.DataObject, seat: int) -> None:
        (user, concert) = self._pick_token(data)
        token = self.tokens[(user, concert)]
        try:
            self.run(self.service.hold_seat(HoldSeatCommand(token, concert, DATE, seat)))
            event("hold: held")
        except DomainError as error:
            assert error.code in {"TOKEN_NOT_ACTIVE", "SEAT_UNAVAILABLE", "HOLD_LIMIT_REACHED"}
            event(f"hold: {error.code}")

    @rule(index=PICK)
    def release(self, index: int) -> None:
        # Insertion order, not ids: ids are random, and replays must draw alike.
        reservations = list(self.stored().reservations.values())
        if not reservations:
            return
        reservation = pick(reservations, index)
        token = self.tokens.get((reservation.user_id, reservation.concert_id))
        if token is None:
            return
        with contextlib.suppress(TokenNotActiveError, HoldExpiredError):
            self.run(self.service.release_hold(token, reservation.reservation_id))

    @rule(
        user=st.sampled_from(USERS),
        amount=st.sampled_from([1, 15_000, 40_000, 10_000_000, 0, 10_000_001]),
        key=KEYS,
    )
    def charge(self, user: UserId, amount: int, key: str | None) -> None:
        first = self.first_charges.get((user, key)) if key else None
        try:
            self.run(self.service.charge_wallet(ChargeCommand(user, amount, key)))
        except ValidationError:
            assert not 1 <= amount <= 10_000_000
            return
        except IdempotencyKeyReusedError:
            assert first is not None and first != amount
            return
        event("charge: replayed" if first is not None else "charge: charged")
        if first is None:
            self.charged += amount
            if key:
                self.first_charges[(user, key)] = amount
        else:
            assert first == amount

    @precondition(lambda self: self.tokens)
    @rule(
        data=st.data(),
        key=KEYS,
        mostly_live=st.integers(0, 4),
        picks=st.lists(PICK, min_size=1, max_size=3),
    )
    def pay(self, data: st.DataObject, key: str | None, mostly_live: int, picks: list[int]) -> None:
        (user, concert) = self._pick_token(data)
        now = self.now()
        live = [
            r.reservation_id
            for r in self.stored().reservations.values()
            if r.user_id == user and r.concert_id == concert and r.is_live_hold(now)
        ]
        anything = list(self.stored().reservations)
        pool = live if live and mostly_live else anything
        if not pool:
            return
        ids = list(dict.fromkeys(pick(pool, index) for index in picks))
        try:
            self.run(self.service.pay(PayCommand(self.tokens[(user, concert)], ids, key)))
            event("pay: paid")
        except DomainError as error:
            assert error.code in {
                "INSUFFICIENT_BALANCE",
                "HOLD_EXPIRED",
                "TOKEN_NOT_ACTIVE",
                "NOT_OWNER",
                "IDEMPOTENCY_KEY_REUSED",
            }, error
            event(f"pay: {error.code}")

    @rule(
        which=st.integers(0, 1),
        arrivals=st.integers(1, 4),
        passes=st.integers(2, 4),
        shuffle=st.randoms(use_true_random=False),
    )
    def a_burst_arrives_while_admission_passes_race(
        self, which: int, arrivals: int, passes: int, shuffle: random.Random
    ) -> None:
        """New fans rush in while several instances' admission loops fire at once."""
        self.interleave(shuffle)
        concert = self.concerts[which]
        fans = [UserId(uuid.UUID(int=1000 + self.walk_ins + n)) for n in range(arrivals)]
        self.walk_ins += arrivals

        async def together() -> list[Any]:
            return await asyncio.gather(
                *(self.service.issue_token(IssueTokenCommand(fan, concert)) for fan in fans),
                *(self.service.admit_waiting(concert) for _ in range(passes)),
            )

        results = self.run(together())
        for fan, ticket in zip(fans, results, strict=False):
            self.tokens[(fan, concert)] = ticket.token

    @precondition(lambda self: self.tokens)
    @rule(data=st.data(), size=st.integers(2, 6), shuffle=st.randoms(use_true_random=False))
    def a_crowd_acts_at_once(self, data: st.DataObject, size: int, shuffle: random.Random) -> None:
        self.interleave(shuffle)
        acts: list[Callable[[], Coroutine[Any, Any, Any]]] = []
        charges: dict[int, int] = {}
        issues: dict[int, tuple[UserId, ConcertId]] = {}
        now = self.now()
        for _ in range(size):
            act = data.draw(st.sampled_from(["hold", "pay", "charge", "admit", "leave", "issue"]))
            user, concert = self._pick_token(data)
            token = self.tokens[(user, concert)]
            if act == "hold":
                command = HoldSeatCommand(token, concert, DATE, data.draw(SEATS))
                acts.append(partial(self.service.hold_seat, command))
            elif act == "pay":
                picks, key = data.draw(st.lists(PICK, min_size=1, max_size=3)), data.draw(KEYS)
                live = [
                    r.reservation_id
                    for r in self.stored().reservations.values()
                    if r.user_id == user and r.concert_id == concert and r.is_live_hold(now)
                ]
                if not live:
                    continue
                ids = list(dict.fromkeys(pick(live, index) for index in picks))
                acts.append(partial(self.service.pay, PayCommand(token, ids, key)))
            elif act == "charge":
                amount = data.draw(st.sampled_from([1, 15_000, 40_000]))
                charges[len(acts)] = amount
                acts.append(partial(self.service.charge_wallet, ChargeCommand(user, amount)))
            elif act == "admit":
                acts.append(partial(self.service.admit_waiting, None))
            elif act == "leave":
                acts.append(partial(self.service.leave_queue, token))
            else:
                issues[len(acts)] = (user, concert)
                acts.append(partial(self.service.issue_token, IssueTokenCommand(user, concert)))

        async def together() -> list[Any]:
            return await asyncio.gather(*(act() for act in acts), return_exceptions=True)

        results = self.run(together())
        for n, result in enumerate(results):
            if isinstance(result, BaseException):
                assert isinstance(result, DomainError), repr(result)
                event(f"crowd: {result.code}")
                continue
            event("crowd: done")
            if n in charges:
                self.charged += charges[n]
            if n in issues:
                self._remember(issues[n], result.token)

    def _remember(self, fan: tuple[UserId, ConcertId], token: str) -> None:
        """Keep the fan's latest token. Issues gathered in one crowd finish in any
        order (one may return the old live token after another made a new one once a
        leave ended it), and a fan's later token always has the higher sequence."""
        known = self.tokens.get(fan)
        if known is None or self.codec.decode(token).sequence >= self.codec.decode(known).sequence:
            self.tokens[fan] = token

    @rule(seconds=st.sampled_from([1, 5, 19, 21, 31, 61]))
    def let_time_pass(self, seconds: int) -> None:
        self.clock.advance(seconds)

    @rule()
    def expire(self) -> None:
        self.run(self.service.expire_lapsed())

    # -- invariants -----------------------------------------------------------------

    @invariant()
    def no_seat_is_sold_or_held_twice(self) -> None:
        now = self.now()
        db = self.stored()
        claims: dict[SeatKey, list[ReservationId]] = defaultdict(list)
        for r in db.reservations.values():
            if r.status is ReservationStatus.CONFIRMED or r.is_live_hold(now):
                claims[r.seat].append(r.reservation_id)
        for seat_key, ids in claims.items():
            assert len(ids) == 1, f"seat {seat_key} claimed by {ids}"
            seat = db.seats[seat_key]
            assert seat.reservation_id == ids[0]
            assert seat.status_at(now) is not SeatStatus.AVAILABLE
        for seat in db.seats.values():
            status = seat.status_at(now)
            if status is not SeatStatus.AVAILABLE:
                assert seat.reservation_id is not None
                reservation = db.reservations[seat.reservation_id]
                assert reservation.user_id == seat.holder
                expected = (
                    ReservationStatus.CONFIRMED
                    if status is SeatStatus.SOLD
                    else ReservationStatus.HELD
                )
                assert reservation.status_at(now) is expected

    @invariant()
    def active_tokens_never_exceed_the_capacity(self) -> None:
        now = self.now()
        active: dict[ConcertId, int] = defaultdict(int)
        for token in self.stored_tokens():
            if token.status_at(now, self.policy.idle_timeout) is TokenStatus.ACTIVE:
                active[token.concert_id] += 1
        for concert in self.concerts:
            stats = self.loop.run(self.queue.stats(concert, now))  # reads only
            assert stats.active <= self.policy.active_capacity
            assert active[concert] <= self.policy.active_capacity

    @invariant()
    def admission_follows_the_issue_order(self) -> None:
        now = self.now()
        for concert, admitted in self.queue.passes[self.checked_passes :]:
            sequences = [t.sequence for t in admitted]
            assert sequences == sorted(sequences)
            if sequences:
                assert sequences[0] > self.admitted_up_to[concert], "a later token went first"
                self.admitted_up_to[concert] = sequences[-1]
        self.checked_passes = len(self.queue.passes)
        for token in self.stored_tokens():
            if token.status_at(now, self.policy.idle_timeout) is TokenStatus.WAITING:
                assert token.sequence > self.admitted_up_to[token.concert_id], (
                    f"token {token.sequence} still waits behind admitted "
                    f"{self.admitted_up_to[token.concert_id]}"
                )

    @invariant()
    def live_holds_stay_within_the_limit(self) -> None:
        now = self.now()
        holds: dict[tuple[UserId, ConcertId], int] = defaultdict(int)
        for r in self.stored().reservations.values():
            if r.is_live_hold(now):
                holds[(r.user_id, r.concert_id)] += 1
        assert all(n <= self.policy.max_holds_per_user for n in holds.values())

    @invariant()
    def balances_are_never_negative_and_equal_their_ledger(self) -> None:
        db = self.stored()
        for user in USERS:
            balance = db.wallets[user].balance if user in db.wallets else 0
            assert balance >= 0
            assert balance == sum(e.amount for e in db.ledger.get(user, ()))

    @invariant()
    def money_is_conserved(self) -> None:
        db = self.stored()
        balances = sum(w.balance for w in db.wallets.values())
        paid = sum(p.amount for p in db.payments.values())
        assert self.charged == balances + paid

    @invariant()
    def every_sold_seat_has_exactly_one_payment_at_its_price(self) -> None:
        db = self.stored()
        paid_for: dict[ReservationId, int] = defaultdict(int)
        for payment in db.payments.values():
            reservations = [db.reservations[r] for r in payment.reservation_ids]
            assert payment.amount == sum(r.price for r in reservations)
            for r in reservations:
                assert r.status is ReservationStatus.CONFIRMED
                assert r.price == db.seats[r.seat].price
                paid_for[r.reservation_id] += 1
        for seat in db.seats.values():
            if seat.status is SeatStatus.SOLD:
                assert seat.reservation_id is not None
                assert paid_for[seat.reservation_id] == 1
        assert all(n == 1 for n in paid_for.values())


TestFanJourney = FanJourneyMachine.TestCase


class FanJourneyOnPostgresAndRedis(FanJourneyMachine):
    """On PostgreSQL and Redis: each run starts from empty tables and a Redis namespace
    of its own (its keys deleted at teardown); the invariants read the rows.

    Engine and Redis client are made and closed on the machine's own loop.
    """

    family = "postgres+redis"

    def interleave(self, shuffle: random.Random) -> None:
        # One draw seeds the yields, not a draw per port call: here a race may end
        # otherwise on a replay, and a request that ends otherwise makes another number
        # of port calls; Hypothesis needs the same draws whatever the race did.
        self.shuffle = random.Random(shuffle.getrandbits(64))


_memory = FanJourneyMachine.TestCase.settings
POSTGRES_AND_REDIS = settings(
    FanJourneyOnPostgresAndRedis.TestCase.settings,
    max_examples=max(5, _memory.max_examples // 10),
    stateful_step_count=max(10, _memory.stateful_step_count * 2 // 3),
)
"""A tenth of the profile's runs, two thirds as long: here a step costs round trips."""


class TestFanJourneyOnPostgresAndRedis(FanJourneyOnPostgresAndRedis.TestCase):  # type: ignore[misc, valid-type]
    pytestmark = backends.marks(FanJourneyOnPostgresAndRedis.family)
    settings = POSTGRES_AND_REDIS

    @pytest.fixture(autouse=True)
    def _storage(self, postgres_url: str) -> Iterator[None]:
        require_redis()
        FanJourneyOnPostgresAndRedis.postgres_url = postgres_url
        yield
        FanJourneyOnPostgresAndRedis.postgres_url = None
