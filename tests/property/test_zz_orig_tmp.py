"""The invariants of the whole service, driven through its use cases.

A Hypothesis state machine plays fans and operators against the in-memory adapters
with a clock it moves by hand: issuing tokens, polling, admitting, leaving, holding,
releasing, charging, paying, letting time pass and sweeping, one at a time or as a
crowd acting at once (its coroutines interleave at every port call). After every step
it checks what must never break:

- no seat SOLD or held (unexpired) by two users, and seat and reservation agree;
- ACTIVE tokens per concert never exceed the capacity;
- admission strictly in issue order: no WAITING token admitted after a later one;
- a user's live holds per concert stay within the limit;
- every balance >= 0 and equal to the sum of its ledger;
- money conserved: accepted charges = balances + payments;
- every SOLD seat has exactly one payment, and a payment's amount is its seats' prices.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import random
import uuid
from collections import defaultdict
from collections.abc import Callable, Coroutine
from functools import partial
from typing import Any, TypeVar

from hypothesis import event
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
)

from adapters.clock import ManualClock
from adapters.memory import (
    MemoryDatabase,
    MemoryIdempotencyStore,
    MemoryQueueStore,
    MemoryUnitOfWorkFactory,
)
from adapters.tokens import JwtTokenCodec
from concert_core import ConcertService, Policy
from concert_core.domain import (
    ConcertId,
    DomainError,
    HoldExpiredError,
    IdempotencyKeyReusedError,
    QueueToken,
    ReservationId,
    ReservationStatus,
    SeatStatus,
    TokenNotActiveError,
    TokenStatus,
    UserId,
    ValidationError,
)
from concert_core.use_cases import (
    ChargeCommand,
    HoldSeatCommand,
    IssueTokenCommand,
    PayCommand,
    ScheduleConcertCommand,
)
from support import Yielding, YieldingUnitOfWork

T = TypeVar("T")
DATE = dt.date(2026, 12, 24)
USERS = [UserId(uuid.UUID(int=n)) for n in range(1, 6)]
PRICES = tuple(10_000 * (1 + n % 3) for n in range(50))
SEATS = st.integers(min_value=1, max_value=4)  # few seats: contention is the point
KEYS = st.one_of(st.none(), st.sampled_from(["k1", "k2"]))


class RecordingQueueStore(MemoryQueueStore):
    """The memory store, logging every admission pass for the FIFO invariant."""

    def __init__(self, policy: Policy) -> None:
        super().__init__(policy)
        self.passes: list[tuple[ConcertId, list[QueueToken]]] = []

    async def admit(self, concert_id: ConcertId, now: dt.datetime) -> list[QueueToken]:
        admitted = await super().admit(concert_id, now)
        self.passes.append((concert_id, admitted))
        return admitted


class FanJourneyMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.loop = asyncio.Runner()
        self.clock = ManualClock()
        self.policy = Policy(
            active_capacity=2,
            active_ttl=dt.timedelta(seconds=60),
            hold_ttl=dt.timedelta(seconds=20),
            idle_timeout=dt.timedelta(seconds=30),
            max_holds_per_user=2,
            idempotency_lease=dt.timedelta(seconds=5),
        )
        self.db = MemoryDatabase()
        self.queue = RecordingQueueStore(self.policy)
        self.codec = JwtTokenCodec("state-machine-secret-" + "s" * 32)
        units = MemoryUnitOfWorkFactory(self.db)
        # Ports that yield at every call, a number of times drawn for each concurrent
        # step, so a crowd's coroutines interleave in ever different orders.
        self.shuffle = random.Random(0)

        def jitter() -> int:
            return self.shuffle.randint(0, 3)

        self.service = ConcertService.build(
            uow=lambda: YieldingUnitOfWork(units, jitter),
            queue=Yielding(self.queue, jitter),
            idempotency=Yielding(MemoryIdempotencyStore(self.policy), jitter),
            codec=self.codec,
            clock=Yielding(self.clock, jitter),
            policy=self.policy,
        )
        self.concerts = [self.run(self._schedule(title)) for title in ("Dawn", "Dusk")]
        self.tokens: dict[tuple[UserId, ConcertId], str] = {}
        self.charged = 0
        self.first_charges: dict[tuple[UserId, str], int] = {}
        self.admitted_up_to: dict[ConcertId, int] = defaultdict(int)
        self.checked_passes = 0
        self.walk_ins = 0

    @initialize()
    def fans_have_money_and_one_is_admitted(self) -> None:
        for user in USERS:
            self.charge(user, 50_000, None)
        self.issue(USERS[0], 0)
        self.admit(None)

    def run(self, coroutine: Coroutine[Any, Any, T]) -> T:
        return self.loop.run(coroutine)

    def teardown(self) -> None:
        self.loop.close()

    async def _schedule(self, title: str) -> ConcertId:
        concert = await self.service.schedule_concert(
            ScheduleConcertCommand(title, "Hall", [DATE], PRICES)
        )
        return concert.concert_id

    def now(self) -> dt.datetime:
        return self.run(self.clock.now())

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
            for t in self.queue._tokens.values()
            if t.status_at(now, self.policy.idle_timeout) is TokenStatus.ACTIVE
            and (t.user_id, t.concert_id) in self.tokens
        ]

    def _pick_token(self, data: st.DataObject) -> tuple[UserId, ConcertId]:
        """Mostly a token that is ACTIVE now (a journey can go on); sometimes any."""
        active = sorted(self._active_pairs())
        if active and data.draw(st.integers(0, 4)):
            return data.draw(st.sampled_from(active))
        return data.draw(st.sampled_from(sorted(self.tokens)))

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

    @precondition(lambda self: self.db.reservations)
    @rule(data=st.data())
    def release(self, data: st.DataObject) -> None:
        # Insertion order, not ids: ids are random, and replays must draw alike.
        reservation = data.draw(st.sampled_from(list(self.db.reservations.values())))
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

    @precondition(lambda self: self.tokens and self.db.reservations)
    @rule(data=st.data(), key=KEYS)
    def pay(self, data: st.DataObject, key: str | None) -> None:
        (user, concert) = self._pick_token(data)
        now = self.now()
        live = [
            r.reservation_id
            for r in self.db.reservations.values()
            if r.user_id == user and r.concert_id == concert and r.is_live_hold(now)
        ]
        anything = list(self.db.reservations)
        pool = live if live and data.draw(st.integers(0, 4)) else anything
        ids: list[ReservationId] = data.draw(
            st.lists(st.sampled_from(pool), min_size=1, max_size=3, unique=True)
        )
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
        self.shuffle = shuffle
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
        self.shuffle = shuffle
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
                live = [
                    r.reservation_id
                    for r in self.db.reservations.values()
                    if r.user_id == user and r.concert_id == concert and r.is_live_hold(now)
                ]
                if not live:
                    continue
                ids = data.draw(st.lists(st.sampled_from(live), min_size=1, unique=True))
                payment = PayCommand(token, ids, data.draw(KEYS))
                acts.append(partial(self.service.pay, payment))
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
        claims: dict[object, list[ReservationId]] = defaultdict(list)
        for r in self.db.reservations.values():
            if r.status is ReservationStatus.CONFIRMED or r.is_live_hold(now):
                claims[r.seat].append(r.reservation_id)
        for seat_key, ids in claims.items():
            assert len(ids) == 1, f"seat {seat_key} claimed by {ids}"
            seat = self.db.seats[seat_key]
            assert seat.reservation_id == ids[0]
            assert seat.status_at(now) is not SeatStatus.AVAILABLE
        for seat in self.db.seats.values():
            status = seat.status_at(now)
            if status is not SeatStatus.AVAILABLE:
                assert seat.reservation_id is not None
                reservation = self.db.reservations[seat.reservation_id]
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
        for concert in self.concerts:
            stats = self.run(self.queue.stats(concert, now))
            assert stats.active <= self.policy.active_capacity

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
        for concert in self.concerts:
            for token in self.queue._tokens.values():
                if token.concert_id != concert:
                    continue
                if token.status_at(now, self.policy.idle_timeout) is TokenStatus.WAITING:
                    assert token.sequence > self.admitted_up_to[concert], (
                        f"token {token.sequence} still waits behind admitted "
                        f"{self.admitted_up_to[concert]}"
                    )

    @invariant()
    def live_holds_stay_within_the_limit(self) -> None:
        now = self.now()
        holds: dict[tuple[UserId, ConcertId], int] = defaultdict(int)
        for r in self.db.reservations.values():
            if r.is_live_hold(now):
                holds[(r.user_id, r.concert_id)] += 1
        assert all(n <= self.policy.max_holds_per_user for n in holds.values())

    @invariant()
    def balances_are_never_negative_and_equal_their_ledger(self) -> None:
        for user in USERS:
            balance = self.db.wallets[user].balance if user in self.db.wallets else 0
            assert balance >= 0
            assert balance == sum(e.amount for e in self.db.ledger.get(user, ()))

    @invariant()
    def money_is_conserved(self) -> None:
        balances = sum(w.balance for w in self.db.wallets.values())
        paid = sum(p.amount for p in self.db.payments.values())
        assert self.charged == balances + paid

    @invariant()
    def every_sold_seat_has_exactly_one_payment_at_its_price(self) -> None:
        paid_for: dict[ReservationId, int] = defaultdict(int)
        for payment in self.db.payments.values():
            reservations = [self.db.reservations[r] for r in payment.reservation_ids]
            assert payment.amount == sum(r.price for r in reservations)
            for r in reservations:
                assert r.status is ReservationStatus.CONFIRMED
                assert r.price == self.db.seats[r.seat].price
                paid_for[r.reservation_id] += 1
        for seat in self.db.seats.values():
            if seat.status is SeatStatus.SOLD:
                assert seat.reservation_id is not None
                assert paid_for[seat.reservation_id] == 1
        assert all(n == 1 for n in paid_for.values())


TestFanJourney = FanJourneyMachine.TestCase
