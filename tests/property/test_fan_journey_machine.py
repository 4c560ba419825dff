"""The invariants of the whole service, driven through its use cases.

A Hypothesis state machine plays fans and operators against the service with a clock
it moves by hand: issuing tokens, polling, admitting, leaving, holding, releasing,
charging, paying, letting time pass and sweeping, one at a time or as a crowd acting
at once (its coroutines interleave at every port call); and running an on-sale
(docs/contract.md §8): one concert is set up with a pre-queue or a later opening, a
pause, a capacity and a rate drawn, the clock is moved to its opening, its operator
pauses, resumes, changes it and closes it, the box office sells what is left. Two
instances of the service share the storage, each with its own caches. After every
step it checks what must never break:

- no seat SOLD or held (unexpired) by two users, and seat and reservation agree;
- ACTIVE tokens per concert never exceed the highest capacity its sale has had;
- admission follows the line: the pre-queue, live at the opening, first, in the order
  the opening's seed gives, then issue order; no WAITING token admitted after a later one;
- admission keeps to the sale: none unless the sale is OPEN (not scheduled, pre-queued,
  paused, sold out or closed), none while the ACTIVE tokens fill the sale's capacity,
  and none past its rate (60 s windows, plus one pass's rounding);
- joining keeps to the phase: none before the pre-queue (SALE_NOT_OPEN), none once the
  sale is sold out or closed (SALE_CLOSED); the line opens once, with the reported seed;
- a turn ends in time: never ACTIVE past its base end plus the hold TTL, nor past its
  base end without a live hold; a change to the sale ends nobody's turn;
- a turn pays once: at most one payment per token;
- a user's live holds per concert stay within the limit;
- every balance >= 0 and equal to the sum of its ledger;
- money conserved: accepted charges = balances + payments;
- every SOLD seat has exactly one payment, and a payment's amount is its seats' prices.

The same machine runs on two storage families of backends.py: ``memory``, where the
invariants read the MemoryDatabase itself, and (fewer, shorter runs)
``postgres+redis``, where they read the tables, and where the crowds' interleavings
reach real transactions and scripts. On both, the queue's tokens are read through the
queue store's own ``look``, for every token it ever issued. What the invariants read
behind the ports is in journey_storage.py; the machine's account of each sale, which
they judge by, in journey_sales.py.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import math
import random
import uuid
from collections import Counter, defaultdict
from collections.abc import Callable, Coroutine, Iterator, Sequence
from functools import partial
from typing import Any, ClassVar, TypeVar

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
from journey_sales import (
    CAPACITIES,
    ENDED,
    JOINABLE,
    MINUTE,
    NOW,
    RATES,
    SALE_CHANGES,
    SaleModel,
    line_key,
)
from journey_storage import RecordingQueue, Stored, read_stored_rows, sell_at_the_box_office

import backends
from adapters.clock import ManualClock
from adapters.memory import MemoryDatabase
from adapters.tokens import JwtTokenCodec
from concert_core import ConcertService, Policy
from concert_core.domain import (
    ConcertId,
    DomainError,
    HoldExpiredError,
    IdempotencyKeyReusedError,
    Phase,
    QueueToken,
    Reservation,
    ReservationId,
    ReservationStatus,
    SaleClosedError,
    SaleNotOpenError,
    SaleSettings,
    SeatKey,
    SeatStatus,
    TokenId,
    TokenNotActiveError,
    TokenStatus,
    UserId,
    ValidationError,
)
from concert_core.ports import IdempotencyStore
from concert_core.use_cases import (
    AddConcertCommand,
    ChangeSaleCommand,
    ChargeCommand,
    HoldSeatCommand,
    IssuedToken,
    IssueTokenCommand,
    PayCommand,
    ScheduleConcertCommand,
    UnitOfWorkBoxOffice,
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
BOX_OFFICE = UserId(uuid.UUID(int=999))
"""Who buys, at the box office, every seat of the on-sale that is free (see the rule)."""
NEXT_MOMENT = 0
"""For ``let_time_pass``: as many seconds as the next moment a rule turns on is away."""


def pick(pool: Sequence[T], index: int) -> T:
    """The drawn one of ``pool``. An index drawn alike whatever the list, not a
    ``sampled_from`` of it: on PostgreSQL and Redis a race may end otherwise when
    Hypothesis replays the same draws, and the draws must not change with it."""
    return pool[index % len(pool)]


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
            # Two instances on one storage, each with its own caches of sales and
            # openings: most steps go through the first; admission passes through either.
            self.services = tuple(
                ConcertService.build(
                    uow_factory=units,
                    queue=Yielding(self.queue, jitter),
                    idempotency=Yielding(idempotency, jitter),
                    codec=self.codec,
                    clock=Yielding(self.clock, jitter),
                    policy=self.policy,
                    box_office=None  # a unit of work a call, through the units above
                    if isinstance(self.backend.box_office, UnitOfWorkBoxOffice)
                    else Yielding(self.backend.box_office, jitter),
                )
                for _ in range(2)
            )
            self.service = self.services[0]
            # Dawn is on sale at once (as every concert was before on-sales); Dusk,
            # the on-sale, is added by an initialize rule with the settings it draws.
            self.concerts = [self.run(self._schedule("Dawn"))]
        except BaseException:
            self.teardown()
            raise
        self.sales = SaleModel(self.policy)
        self.sales.set(self.concerts[0], SaleSettings())
        self.tokens: dict[tuple[UserId, ConcertId], str] = {}
        self.charged = 0
        self.first_charges: dict[tuple[UserId, str], int] = {}
        self.joins: list[tuple[ConcertId, dt.datetime, IssuedToken | DomainError]] = []
        """Every join the machine asked for, with when and how it ended."""
        self.checked_joins = 0
        self.admitted_up_to: dict[ConcertId, tuple[int, str, int]] = {}
        """The line place (``line_key``) of the last token admitted to each concert."""
        self.checked_passes = 0
        self.judged_passes = 0
        self.admitted: dict[ConcertId, list[TokenId]] = defaultdict(list)
        self.admissions: dict[ConcertId, list[tuple[dt.datetime, int]]] = defaultdict(list)
        self.reported_seeds: dict[ConcertId, int | None] = {}
        self.openings_judged: set[ConcertId] = set()
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
            # Read after every step (each runs at one instant): when it sold out.
            self.sales.note_sold_out(self.snapshot.seats.values(), self.now())
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
        self.admit(None, 0)

    @initialize(
        timeline=st.sampled_from(["open", "pre-queue", "pre-queue", "scheduled", "opens later"]),
        lead=st.sampled_from([10, 20, 40]),
        paused=st.sampled_from([False, False, True]),
        capacity=CAPACITIES,
        rate=RATES,
        early=st.integers(0, 6),
        seed=st.integers(0, 2**62),
    )
    def an_on_sale_is_set_up(
        self,
        timeline: str,
        lead: int,
        paused: bool,
        capacity: int | None,
        rate: int | None,
        early: int,
        seed: int,
    ) -> None:
        """Dusk: open at once, or (twice as likely) with a pre-queue open now (``lead``
        seconds before the opening: 40 is past the idle timeout, so pre-queued fans must
        poll), or with a pre-queue or an opening ``lead`` seconds away; paused or not,
        its capacity and its rate drawn. ``early`` fans try to join it at once. Its line
        will open with ``seed``."""
        now, ahead = self.now(), dt.timedelta(seconds=lead)
        times = {
            "open": {},
            "pre-queue": {"prequeue_opens_at": now, "opens_at": now + ahead},
            "scheduled": {"prequeue_opens_at": now + ahead, "opens_at": now + 2 * ahead},
            "opens later": {"opens_at": now + ahead},
        }[timeline]
        sale = times | {"paused": paused, "capacity": capacity, "admission_per_minute": rate}
        command = AddConcertCommand("Dusk", "Hall", [DATE], PRICES, sale=sale)
        concert = self.run(self.service.add_concert(command)).concert_id
        self.concerts.append(concert)
        self.queue.opening_seeds[concert] = seed
        self.sales.set(concert, SaleSettings(**sale))  # type: ignore[arg-type]
        for fan in self.walk_in(early):
            try:
                result: object = self.run(self.service.issue_token(IssueTokenCommand(fan, concert)))
            except DomainError as error:
                result = error
            if ticket := self.joined(concert, result):
                self.tokens[(fan, concert)] = ticket.token

    def walk_in(self, count: int) -> list[UserId]:
        """``count`` fans never seen before (with no money)."""
        fans = [UserId(uuid.UUID(int=1000 + self.walk_ins + n)) for n in range(count)]
        self.walk_ins += count
        return fans

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

    def joined(self, concert: ConcertId, result: object) -> IssuedToken | None:
        """Log a join's result for the invariants: the ticket, or None if the sale
        refused it (SALE_NOT_OPEN, SALE_CLOSED). Any other failure is raised."""
        if isinstance(result, SaleNotOpenError | SaleClosedError):
            self.joins.append((concert, self.now(), result))
            event(f"join: {result.code}")
            return None
        if isinstance(result, BaseException):
            raise result
        assert isinstance(result, IssuedToken)
        self.joins.append((concert, self.now(), result))
        return result

    @rule(user=st.sampled_from(USERS), which=st.integers(0, 1))
    def issue(self, user: UserId, which: int) -> None:
        concert = self.concerts[which]
        before = self.tokens.get((user, concert))
        try:
            result: object = self.run(self.service.issue_token(IssueTokenCommand(user, concert)))
        except DomainError as error:
            result = error
        ticket = self.joined(concert, result)
        if ticket is None:
            return
        claims = self.codec.decode(ticket.token)
        if before is not None and not ticket.created:
            assert claims == self.codec.decode(before), "a live token came back changed"
        self.tokens[(user, concert)] = ticket.token

    @precondition(lambda self: self.tokens)
    @rule(data=st.data())
    def poll(self, data: st.DataObject) -> None:
        (_, concert) = fan = data.draw(st.sampled_from(sorted(self.tokens)))
        view = self.run(self.service.queue_status(self.tokens[fan]))
        now, ceiling = self.now(), self.policy.idle_timeout.total_seconds() / 3
        assert 1 <= view.poll_after_seconds <= ceiling
        assert view.sale.phase in self.sales.phases(concert, now), "the fan is told another phase"
        if view.status is not TokenStatus.WAITING:
            return
        entry = self.sales.entry_phases(concert, now)
        assert entry - ENDED, "a WAITING token that polls a sale sold out or closed ends"
        if entry == {Phase.PREQUEUE}:
            assert view.position is None, "the pre-queue has no order before the opening"
            opens_at = self.sales.settings[concert].opens_at
            assert opens_at is not None
            until_open = max(1, math.ceil((opens_at - now).total_seconds()))
            assert view.poll_after_seconds <= until_open + 6, "polls long after the opening"
        elif entry == {Phase.OPEN}:
            assert view.position is not None and view.position >= 1

    @rule(which=st.one_of(st.none(), st.integers(0, 1)), instance=st.integers(0, 1))
    def admit(self, which: int | None, instance: int) -> None:
        concert = None if which is None else self.concerts[which]
        self.run(self.services[instance].admit_waiting(concert))

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
        reservations = [r for r in self.stored().reservations.values() if r.user_id != BOX_OFFICE]
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
        twice=st.booleans(),
        shuffle=st.randoms(use_true_random=False),
    )
    def pay(
        self,
        data: st.DataObject,
        key: str | None,
        mostly_live: int,
        picks: list[int],
        twice: bool,
        shuffle: random.Random,
    ) -> None:
        """Pay for some holds (mostly live ones of the fan's); or, ``twice``, if the
        fan's token has two live holds, pay for each at once (a turn pays once)."""
        (user, concert) = self._pick_token(data)
        now = self.now()
        turn = self.codec.decode(self.tokens[(user, concert)]).token_id
        mine = [r for r in self.stored().reservations.values() if r.is_live_hold(now)]
        mine = [r for r in mine if r.user_id == user and r.concert_id == concert]
        if twice and len(made := [r for r in mine if r.token_id == turn]) >= 2:
            self.interleave(shuffle)
            self.two_payments_at_once(self.tokens[(user, concert)], made[0], made[1])
            return
        live = [r.reservation_id for r in mine]
        anything = [r for r, x in self.stored().reservations.items() if x.user_id != BOX_OFFICE]
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

    def two_payments_at_once(self, token: str, *holds: Reservation) -> None:
        """One payment for each of ``holds``, sent at once with one token: at most one
        is recorded (the invariants see to that)."""
        commands = [PayCommand(token, [hold.reservation_id]) for hold in holds]

        async def together() -> list[Any]:
            payments = (self.service.pay(command) for command in commands)
            return await asyncio.gather(*payments, return_exceptions=True)

        for result in self.run(together()):
            if isinstance(result, BaseException):
                assert isinstance(result, DomainError), repr(result)
                assert result.code in {"TOKEN_NOT_ACTIVE", "HOLD_EXPIRED", "INSUFFICIENT_BALANCE"}
                event(f"two payments: {result.code}")
            else:
                event("two payments: paid")

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
        fans = self.walk_in(arrivals)

        async def together() -> list[Any]:
            return await asyncio.gather(
                *(self.service.issue_token(IssueTokenCommand(fan, concert)) for fan in fans),
                *(self.services[n % 2].admit_waiting(concert) for n in range(passes)),
                return_exceptions=True,
            )

        results = self.run(together())
        for fan, result in zip(fans, results, strict=False):
            ticket = self.joined(concert, result)
            if ticket is not None:
                self.tokens[(fan, concert)] = ticket.token
        for result in results[len(fans) :]:
            if isinstance(result, BaseException):
                raise result

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
            if n in issues and self.joined(issues[n][1], result) is None:
                continue
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

    @rule(seconds=st.sampled_from([1, 5, 19, 21, 31, 61, NEXT_MOMENT]))
    def let_time_pass(self, seconds: int) -> None:
        """``seconds`` pass; or, NEXT_MOMENT, time goes to the next moment a rule turns
        on: Dusk's next change of phase by the clock (its pre-queue, opening or closing)
        or the next base end of an ACTIVE turn (past which only its holds keep it)."""
        if seconds == NEXT_MOMENT:
            now = self.now()
            ends = [t.active_until for t in self.stored_tokens() if t.active_until]
            moments = [m for m in [self.sales.next_moment(self.concerts[1], now), *ends] if m]
            ahead = [moment - now for moment in moments if moment > now]
            seconds = math.ceil(min(ahead).total_seconds()) if ahead else 1
        self.clock.advance(seconds)

    @rule()
    def expire(self) -> None:
        self.run(self.service.expire_lapsed())

    # -- the on-sale's rules ----------------------------------------------------------

    @rule(changes=SALE_CHANGES)
    def the_operator_changes_the_sale(self, changes: dict[str, object]) -> None:
        now = self.now()
        self.change_sale({name: now if v == NOW else v for name, v in changes.items()})

    @rule(what=st.sampled_from(["pause", "close", "box office"]))
    def the_sale_stops_or_goes_on(self, what: str) -> None:
        """Dusk's operator pauses its sale (or resumes it, if paused), or closes it now
        (or reopens it, if closed); or every seat of Dusk's free now is sold at the box
        office."""
        settings, now = self.sales.settings[self.concerts[1]], self.now()
        if what == "pause":
            self.change_sale({"paused": not settings.paused})
        elif what == "close":
            closed = settings.closes_at is not None and settings.closes_at <= now
            self.change_sale({"closes_at": None if closed else now})
        else:
            self.the_box_office_sells_every_free_seat()

    def change_sale(self, changes: dict[str, object]) -> None:
        """Change Dusk's sale as the model says it may be; then let an admission interval
        pass (every instance reads the change by then) and run a pass: the turns that
        were ACTIVE, and would still be by the clock, still are (no change ends one)."""
        concert, now, interval = self.concerts[1], self.now(), self.policy.admission_interval
        expected = self.sales.changed(concert, changes, opened=concert in self.queue.openings)
        going_on = [
            token.token_id
            for token in self.stored_tokens()
            if token.concert_id == concert
            and token.status_at(now, self.policy.idle_timeout) is TokenStatus.ACTIVE
            and token.ends_at > now + interval
        ]
        try:
            self.run(self.service.change_sale(ChangeSaleCommand(concert, changes)))
        except ValidationError:
            assert expected is None, f"{changes} refused"
            event("sale: change refused")
            return
        assert expected is not None, f"{changes} taken"
        event(f"sale: {', '.join(sorted(changes))}")
        self.sales.set(concert, expected)
        self.clock.advance(interval)
        self.run(self.service.admit_waiting(concert))
        for token_id in going_on:
            place = self.loop.run(self.queue.look(concert, token_id, self.now()))
            assert place is not None and place.status is TokenStatus.ACTIVE, "a turn ended"

    def the_box_office_sells_every_free_seat(self) -> None:
        """Every seat of Dusk's that is free now is sold to one buyer, through storage:
        seats 5 to 50 are nobody else's, and once the fans' holds are gone, Dusk sells
        out. The buyer's charge counts as money taken."""
        concert, now = self.concerts[1], self.now()
        free = [
            seat
            for seat in self.stored().seats.values()
            if seat.key.concert_id == concert and seat.status_at(now) is SeatStatus.AVAILABLE
        ]
        if not free:
            return
        self.charged += self.run(sell_at_the_box_office(self.backend.uow, BOX_OFFICE, free, now))
        event("box office: sold")

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
            assert stats.active <= self.sales.highest_capacity(concert)
            assert active[concert] <= self.sales.highest_capacity(concert)

    def line_seed(self, concert: ConcertId) -> int | None:
        """The seed the concert's line was opened with, as its operator's report shows
        it (read once, through the second instance); None before the opening."""
        if concert not in self.queue.openings:
            return None
        if concert not in self.reported_seeds:
            report = self.loop.run(self.services[1].report_concerts(concert))
            self.reported_seeds[concert] = report[0].queue.shuffle_seed
        return self.reported_seeds[concert]

    def line_place(self, token: QueueToken) -> tuple[int, str, int]:
        seed = self.line_seed(token.concert_id)
        assert seed is not None, f"token {token.sequence} admitted before its line opened"
        return line_key(token, self.queue.openings[token.concert_id], seed)

    @invariant()
    def the_line_opens_once_with_the_reported_seed(self) -> None:
        for concert, opening in self.queue.openings.items():
            assert self.queue.seeds[concert] == {opening.seed}, "the line opened twice"
            if concert not in self.openings_judged:  # in the step it opened in
                self.openings_judged.add(concert)
                assert Phase.OPEN in self.sales.entry_phases(concert, opening.at), (
                    f"the line opened at {opening.at}, its sale not open"
                )
            assert self.line_seed(concert) == opening.seed

    @invariant()
    def admission_follows_the_line(self) -> None:
        now = self.now()
        for done in self.queue.passes[self.checked_passes :]:
            places = [self.line_place(token) for token in done.admitted]
            assert places == sorted(places), "a pass admitted out of line order"
            if places:
                last = self.admitted_up_to.get(done.concert_id)
                assert last is None or places[0] > last, "a later token went first"
                self.admitted_up_to[done.concert_id] = places[-1]
        self.checked_passes = len(self.queue.passes)
        for token in self.stored_tokens():
            last = self.admitted_up_to.get(token.concert_id)
            if last and token.status_at(now, self.policy.idle_timeout) is TokenStatus.WAITING:
                assert self.line_place(token) > last, (
                    f"token {token.sequence} still waits behind one admitted after it"
                )

    @invariant()
    def admission_keeps_to_the_sale(self) -> None:
        """No pass admits unless the sale is OPEN, beyond its capacity (counting the
        turns admitted earlier and ACTIVE still), or beyond its rate: none over the
        rate rounded for one pass, and none over the rate in any 60 s (counting every
        instance's passes), give or take one pass's rounding."""
        tokens = {token.token_id: token for token in self.stored_tokens()}
        for done in self.queue.passes[self.judged_passes :]:
            concert, at, count = done.concert_id, done.at, len(done.admitted)
            if count:
                phases = self.sales.phases(concert, at)
                assert Phase.OPEN in phases, f"admitted {count} while {set(phases)}"
                active = sum(
                    tokens[t].status_at(at, self.policy.idle_timeout) is TokenStatus.ACTIVE
                    for t in self.admitted[concert]
                )
                assert active + count <= self.sales.capacity(concert), (
                    f"admitted {count} with {active} ACTIVE of {self.sales.capacity(concert)}"
                )
                rate, per_pass = self.sales.rate(concert), self.sales.per_pass(concert)
                if rate is not None and per_pass is not None:
                    assert count <= per_pass, f"one pass admitted {count} of {rate} a minute"
                    log = self.admissions[concert]
                    minute = count + sum(n for when, n in log if when > at - MINUTE)
                    assert minute <= rate + per_pass, f"{minute} admitted in 60 s at {rate}"
            self.admissions[concert].append((at, count))
            self.admitted[concert].extend(token.token_id for token in done.admitted)
        self.judged_passes = len(self.queue.passes)

    @invariant()
    def joins_keep_to_the_phase(self) -> None:
        for concert, at, outcome in self.joins[self.checked_joins :]:
            phases = self.sales.entry_phases(concert, at)
            if isinstance(outcome, SaleNotOpenError):
                assert Phase.SCHEDULED in phases, f"SALE_NOT_OPEN while {set(phases)}"
            elif isinstance(outcome, SaleClosedError):
                assert outcome.phase in phases, f"SALE_CLOSED ({outcome.phase}) in {set(phases)}"
            else:
                assert phases & JOINABLE, f"joined while {set(phases)}"
        self.checked_joins = len(self.joins)

    @invariant()
    def a_turn_ends_in_time(self) -> None:
        """No token ACTIVE past its base end (its admission plus the active TTL) plus the
        hold TTL, nor past its base end without a live hold made under it."""
        now = self.now()
        holding = {r.token_id for r in self.stored().reservations.values() if r.is_live_hold(now)}
        for token in self.stored_tokens():
            if token.status_at(now, self.policy.idle_timeout) is not TokenStatus.ACTIVE:
                continue
            admitted_at = self.queue.admitted_at.get(token.token_id)
            assert admitted_at is not None, f"token {token.sequence} ACTIVE, never admitted"
            base_end = admitted_at + self.policy.active_ttl
            assert now < base_end + self.policy.hold_ttl, "a turn outlived its holds' limit"
            if now >= base_end:
                assert token.token_id in holding, "a turn past its base end holds nothing"

    @invariant()
    def a_turn_pays_once(self) -> None:
        turns = Counter(payment.token_id for payment in self.stored().payments.values())
        assert None not in turns, "a payment recorded without its turn"
        assert all(n == 1 for n in turns.values()), "a turn paid twice"

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
