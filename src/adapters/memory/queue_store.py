"""The waiting room in memory: exact FIFO by a global sequence, the pre-queue shuffled
at the opening, atomic per call."""

from __future__ import annotations

import bisect
import collections
import datetime as dt
import heapq

import attrs

from concert_core.domain import (
    ConcertId,
    IssueOutcome,
    QueuePlace,
    QueueStats,
    QueueToken,
    TokenId,
    TokenStatus,
    UserId,
)
from concert_core.domain.queue import settle
from concert_core.domain.sale import shuffle_key
from concert_core.policy import Policy

MINUTE = dt.timedelta(minutes=1)


class MemoryQueueStore:
    """Tokens, the waiting line and the active set.

    The line is a sorted list of slots per concert. A token's slot is its sequence
    number, except for the pre-queue: the opening deals the pre-queue's slots out again
    in the shuffled order, so the pre-queued stay ahead of every later arrival.
    Idle deadlines sit in a heap per concert (one entry per sighting; stale ones are
    skipped when popped), so a pass finds idle tokens without scanning the line.

    No method awaits, so each is one atomic step for every coroutine of the process.
    Stored objects are never handed out: callers get copies.
    """

    def __init__(self, policy: Policy) -> None:
        self._policy = policy
        self._sequence = 0
        self._tokens: dict[TokenId, QueueToken] = {}
        self._live: dict[tuple[UserId, ConcertId], TokenId] = {}
        self._line: dict[ConcertId, list[int]] = collections.defaultdict(list)
        self._by_slot: dict[int, TokenId] = {}
        self._slots: dict[TokenId, int] = {}
        """The slots the opening dealt out; any other token's slot is its sequence."""
        self._opened: dict[ConcertId, int] = {}
        """The seed each opened line was shuffled with."""
        self._active: dict[ConcertId, dict[TokenId, None]] = collections.defaultdict(dict)
        self._idle_deadlines: dict[ConcertId, list[tuple[dt.datetime, int]]] = (
            collections.defaultdict(list)
        )
        self._admissions: dict[ConcertId, collections.deque[tuple[dt.datetime, int]]] = (
            collections.defaultdict(collections.deque)
        )

    # -- helpers ------------------------------------------------------------------

    def _find(self, concert_id: ConcertId, token_id: TokenId) -> QueueToken | None:
        token = self._tokens.get(token_id)
        return token if token is not None and token.concert_id == concert_id else None

    def _status(self, token: QueueToken, now: dt.datetime) -> TokenStatus:
        return token.status_at(now, self._policy.idle_timeout)

    def _slot(self, token: QueueToken) -> int:
        return self._slots.get(token.token_id, token.sequence)

    def _leave_line(self, token: QueueToken) -> None:
        line = self._line[token.concert_id]
        slot = self._slot(token)
        index = bisect.bisect_left(line, slot)
        if index < len(line) and line[index] == slot:
            del line[index]
        del self._by_slot[slot]
        self._slots.pop(token.token_id, None)

    def _end(self, token: QueueToken) -> None:
        """Take a token out of the line or the active set and mark it EXPIRED."""
        if token.status is TokenStatus.WAITING:
            self._leave_line(token)
        elif token.status is TokenStatus.ACTIVE:
            self._active[token.concert_id].pop(token.token_id, None)
        if self._live.get((token.user_id, token.concert_id)) == token.token_id:
            del self._live[(token.user_id, token.concert_id)]
        token.expire()

    def _settle(self, token: QueueToken, now: dt.datetime) -> TokenStatus:
        """Apply time: a lapsed token is ended now. Returns its status at ``now``."""
        settled = settle(token, now, self._policy.idle_timeout)
        if settled.lapsed:
            self._end(token)
        return settled.status

    def _see(self, token: QueueToken, now: dt.datetime) -> None:
        """Record a sighting of a WAITING token: its idle deadline moves on."""
        token.see(now)
        deadline = token.last_seen_at + self._policy.idle_timeout
        heapq.heappush(self._idle_deadlines[token.concert_id], (deadline, self._slot(token)))

    def _place(self, token: QueueToken, status: TokenStatus, now: dt.datetime) -> QueuePlace:
        position = None
        if status is TokenStatus.WAITING:
            position = bisect.bisect_left(self._line[token.concert_id], self._slot(token)) + 1
        rate = self._admission_rate(token.concert_id, now)
        return QueuePlace(attrs.evolve(token), status, position, rate)

    # -- the port -----------------------------------------------------------------

    async def issue(
        self, user_id: UserId, concert_id: ConcertId, token_id: TokenId, now: dt.datetime
    ) -> IssueOutcome:
        existing_id = self._live.get((user_id, concert_id))
        if existing_id is not None:
            existing = self._tokens[existing_id]
            status = self._settle(existing, now)
            if status is not TokenStatus.EXPIRED:
                if status is TokenStatus.WAITING:
                    self._see(existing, now)
                return IssueOutcome(self._place(existing, status, now), created=False)
        if token_id in self._tokens:
            raise ValueError(f"token id {token_id} is taken")
        self._sequence += 1
        token = QueueToken.issue(token_id, user_id, concert_id, self._sequence, now)
        self._tokens[token_id] = token
        self._live[(user_id, concert_id)] = token_id
        self._line[concert_id].append(token.sequence)  # sequences only grow: stays sorted
        self._by_slot[token.sequence] = token_id
        self._see(token, now)
        return IssueOutcome(self._place(token, TokenStatus.WAITING, now), created=True)

    async def live_token(
        self, user_id: UserId, concert_id: ConcertId, now: dt.datetime
    ) -> QueueToken | None:
        token_id = self._live.get((user_id, concert_id))
        token = None if token_id is None else self._tokens[token_id]
        if token is None or self._status(token, now) is TokenStatus.EXPIRED:
            return None
        return attrs.evolve(token)

    async def look(
        self, concert_id: ConcertId, token_id: TokenId, now: dt.datetime
    ) -> QueuePlace | None:
        token = self._find(concert_id, token_id)
        if token is None:
            return None
        return self._place(token, self._status(token, now), now)

    async def poll(
        self, concert_id: ConcertId, token_id: TokenId, now: dt.datetime
    ) -> QueuePlace | None:
        token = self._find(concert_id, token_id)
        if token is None:
            return None
        status = self._settle(token, now)
        if status is TokenStatus.WAITING:
            self._see(token, now)
        return self._place(token, status, now)

    async def expire(
        self, concert_id: ConcertId, token_id: TokenId, now: dt.datetime
    ) -> QueueToken | None:
        token = self._find(concert_id, token_id)
        if token is None or self._settle(token, now) is TokenStatus.EXPIRED:
            return None
        before = attrs.evolve(token)
        self._end(token)
        return before

    async def extend_active(
        self, concert_id: ConcertId, token_id: TokenId, until: dt.datetime, now: dt.datetime
    ) -> bool:
        token = self._find(concert_id, token_id)
        if token is None or self._settle(token, now) is not TokenStatus.ACTIVE:
            return False
        if not token.may_hold_at(now):
            return False
        token.extend_for_hold(until, now)
        return True

    async def retract_hold(
        self,
        concert_id: ConcertId,
        token_id: TokenId,
        ended_until: dt.datetime,
        remaining_until: dt.datetime | None,
        now: dt.datetime,
    ) -> None:
        token = self._find(concert_id, token_id)
        if token is None or self._settle(token, now) is not TokenStatus.ACTIVE:
            return
        token.retract_hold(ended_until, remaining_until)
        self._settle(token, now)

    async def open(self, concert_id: ConcertId, seed: int, now: dt.datetime) -> int:
        if (opened := self._opened.get(concert_id)) is not None:
            return opened
        self._drop_idle(concert_id, now)
        line = self._line[concert_id]
        order = sorted((self._by_slot[s] for s in line), key=lambda t: shuffle_key(seed, t))
        deadlines = []
        for slot, token_id in zip(line, order, strict=True):
            self._by_slot[slot] = token_id
            self._slots[token_id] = slot
            token = self._tokens[token_id]
            deadlines.append((token.last_seen_at + self._policy.idle_timeout, slot))
        heapq.heapify(deadlines)
        self._idle_deadlines[concert_id] = deadlines
        self._opened[concert_id] = seed
        return seed

    def _drop_idle(
        self, concert_id: ConcertId, now: dt.datetime, limit: int | None = None
    ) -> list[QueueToken]:
        """End WAITING tokens idle past the timeout (up to ``limit``); return them as
        they were."""
        ended: list[QueueToken] = []
        deadlines = self._idle_deadlines[concert_id]
        while deadlines and deadlines[0][0] <= now and (limit is None or len(ended) < limit):
            _, slot = heapq.heappop(deadlines)
            token_id = self._by_slot.get(slot)
            if token_id is None:
                continue  # admitted or ended since
            token = self._tokens[token_id]
            before = attrs.evolve(token)
            if self._settle(token, now) is TokenStatus.EXPIRED:
                ended.append(before)
        return ended

    def _drop_ended_active(
        self, concert_id: ConcertId, now: dt.datetime, limit: int | None = None
    ) -> list[QueueToken]:
        ended: list[QueueToken] = []
        for token_id in list(self._active[concert_id]):
            if limit is not None and len(ended) >= limit:
                break
            token = self._tokens[token_id]
            before = attrs.evolve(token)
            if self._settle(token, now) is TokenStatus.EXPIRED:
                ended.append(before)
        return ended

    async def admit(
        self,
        concert_id: ConcertId,
        now: dt.datetime,
        *,
        capacity: int | None = None,
        per_minute: int | None = None,
        per_pass: int | None = None,
    ) -> list[QueueToken]:
        self._drop_ended_active(concert_id, now)
        self._drop_idle(concert_id, now)
        active = self._active[concert_id]
        free = (capacity or self._policy.active_capacity) - len(active)
        if per_minute is not None:
            free = min(free, per_minute - self._admitted_since(concert_id, now - MINUTE))
        if per_pass is not None:
            free = min(free, per_pass)
        line = self._line[concert_id]
        admitted: list[QueueToken] = []
        for slot in line[: max(free, 0)]:
            token = self._tokens[self._by_slot.pop(slot)]
            self._slots.pop(token.token_id, None)
            token.admit(now, self._policy.active_ttl)
            active[token.token_id] = None
            admitted.append(attrs.evolve(token))
        del line[: len(admitted)]
        if admitted:
            self._admissions[concert_id].append((now, len(admitted)))
        return admitted

    async def expire_lapsed(
        self, concert_id: ConcertId, now: dt.datetime, limit: int
    ) -> list[QueueToken]:
        ended = self._drop_ended_active(concert_id, now, limit)
        return ended + self._drop_idle(concert_id, now, limit - len(ended))

    async def end_waiting(self, concert_id: ConcertId, now: dt.datetime, limit: int) -> int:
        line = self._line[concert_id]
        ending = [self._tokens[self._by_slot[s]] for s in line[:limit]]
        for token in ending:
            self._end(token)
        return len(ending)

    async def stats(self, concert_id: ConcertId, now: dt.datetime) -> QueueStats:
        def live(token_id: TokenId) -> bool:
            return self._status(self._tokens[token_id], now) is not TokenStatus.EXPIRED

        waiting = sum(live(self._by_slot[s]) for s in self._line[concert_id])
        active = sum(live(t) for t in self._active[concert_id])
        return QueueStats(
            concert_id,
            waiting,
            active,
            admitted_last_minute=self._admitted_since(concert_id, now - MINUTE),
            shuffle_seed=self._opened.get(concert_id),
        )

    def _admitted_since(self, concert_id: ConcertId, since: dt.datetime) -> int:
        """Tokens admitted after ``since`` (within the records kept)."""
        keep_for = max(self._policy.admission_rate_window, MINUTE)
        events = self._admissions[concert_id]
        while events and events[0][0] < since - keep_for:
            events.popleft()
        return sum(n for at, n in events if at > since)

    def _admission_rate(self, concert_id: ConcertId, now: dt.datetime) -> float:
        window = self._policy.admission_rate_window
        return self._admitted_since(concert_id, now - window) / window.total_seconds()
