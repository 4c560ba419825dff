"""The waiting room in Redis: one Lua script per operation, each atomic and one round trip.

Every key of a concert carries its hash tag ``{concert:ID}``, so a concert lives in one
Redis Cluster slot and every script touches one slot only. The keys, what each holds and
the arguments every script takes are laid out once, at the head of
``scripts/queue_common.lua``, which is prepended to each queue script: a position is a
prefix sum in a Fenwick tree kept in one string, the tokens' records are fixed-width
slices of another, and idle tokens are found by heartbeat buckets
(``docs/decisions/0019-redis-waiting-room-layout.md``).

Every rule is judged by the caller's ``now``, passed to the scripts as integer
microseconds since the epoch; Redis's ``TIME`` is never read. Key TTLs only collect
garbage: each write keeps all the concert's keys alive for the longest rule plus a
margin.

A join to a sale asking for a join challenge is one call as well (``issue_proved``):
the fan's live token, else the proof spent (``SET NX`` of the key ``RedisSpentProofs``
spends it under) and a token issued, in the issue script.

The calls a stampede makes (issue, look, poll, live token, extend, expire) are shared: those of one
concert that arrive in one event-loop turn go as one script call (``Coalescer``), whose
script takes the items in turn, each judged at its own caller's ``now``, as separate
calls would be.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Sequence
from typing import Any

import redis.asyncio as aioredis
from redis import exceptions as redis_errors

from adapters.redis.coalescer import Coalescer
from adapters.redis.packing import (
    each_item,
    microseconds,
    microseconds_in,
    milliseconds_rounded_up,
    place_from_reply,
    token_from_row,
)
from adapters.redis.scripts import KEY_TTL_MARGIN, ScriptLibrary, check_client, run_script
from adapters.redis.spent_proofs import spent_proof_key, spent_proof_ttl
from concert_core.domain import (
    ConcertId,
    IssueOutcome,
    QueuePlace,
    QueueStats,
    QueueToken,
    TokenId,
    UserId,
)
from concert_core.policy import Policy
from concert_core.ports import ProofSpend

_log = logging.getLogger(__name__)

ENDED_KEPT_FOR = dt.timedelta(hours=1)
"""How long an ended token is still known (``look`` says EXPIRED, not unknown)."""
BATCH = 5_000
"""The most tokens one script ends (a script blocks the server while it runs)."""
_KEY_NAMES = ("meta", "ids", "users", "recs", "fen", "beats", "active", "adm", "ended", "line")
"""A concert's keys, in the order the scripts take them (``queue_common.lua``)."""

_IssueItem = tuple[bytes, bytes, str, int, dt.datetime]
"""One issue of a shared call: user id, token id, the spend (``""`` none asked, ``"-"``
asked with no proof, else the proof's key), the proof key's TTL (ms), now."""


class RedisQueueStore:
    """The QueueStore port on Redis (one script per operation; see the module doc)."""

    _SCRIPTS = (
        *("place", "expire", "extend_active", "retract_hold", "live_token"),
        *("issue", "open", "admit", "end_waiting", "expire_lapsed", "stats"),
    )
    """The calls of a fan's turn, then those that grow, sweep or count the line: the
    functions of one library headed by ``queue_common`` and ``queue_passes``."""
    _LAYOUT = "v2"
    """Names this layout's keys apart from the earlier one's (a line is drained before
    an upgrade; the earlier keys are never read, but for an opened line's seed)."""

    def __init__(
        self, client: aioredis.Redis, policy: Policy, *, namespace: str = "concert"
    ) -> None:
        check_client(client)
        self._client = client
        self._policy = policy
        self._namespace = namespace
        library = ScriptLibrary(
            client,
            self._SCRIPTS,
            prelude=("queue_common", "queue_passes"),
        )
        self._library = library
        self._scripts = {name: library.function(name) for name in library.names}
        longest = max(
            policy.idle_timeout,
            policy.active_ttl,
            policy.admission_rate_window,
            ENDED_KEPT_FOR,
        )
        self._key_ttl = longest + KEY_TTL_MARGIN
        # The arguments after ``now`` that every script takes, worked out once (the
        # policy is frozen), and each concert's key names: a poll built them anew.
        self._policy_args = (
            microseconds_in(policy.idle_timeout),
            microseconds_in(policy.active_ttl),
            microseconds_in(policy.admission_rate_window),
            milliseconds_rounded_up(self._key_ttl),
            microseconds_in(ENDED_KEPT_FOR),
            BATCH,
        )
        self._key_names: dict[ConcertId, tuple[str, ...]] = {}
        # Concurrent calls of one kind for one concert share a script call; each item
        # carries its caller's now, and the script judges it by that.
        self._issues: Coalescer[ConcertId, _IssueItem, Any] = Coalescer(self._issue_many)
        self._places: Coalescer[tuple[ConcertId, bool], tuple[bytes, dt.datetime], Any] = Coalescer(
            self._place_many
        )
        self._extensions: Coalescer[ConcertId, tuple[bytes, dt.datetime, dt.datetime], Any] = (
            Coalescer(self._extend_many)
        )
        self._expiries: Coalescer[ConcertId, tuple[bytes, dt.datetime], Any] = Coalescer(
            self._expire_many
        )
        self._live: Coalescer[ConcertId, tuple[bytes, dt.datetime], Any] = Coalescer(
            self._live_many
        )

    async def prepare(self) -> None:
        """Load the scripts' library now (at start-up), so that the first calls need not
        (calls that find it missing together may otherwise be applied in another order
        than they were made); a Redis that cannot be reached yet is left to them."""
        try:
            await self._library.load()
        except (redis_errors.RedisError, OSError) as error:
            _log.warning("queue scripts not loaded at start-up: %r", error)

    def keys(self, concert_id: ConcertId) -> list[str]:
        """The concert's keys, in the order the scripts take them (the heartbeat
        buckets' bitmaps, ``<prefix>beat:<n>``, are named by the scripts)."""
        return list(self._keys_of(concert_id))

    def _keys_of(self, concert_id: ConcertId) -> tuple[str, ...]:
        keys = self._key_names.get(concert_id)
        if keys is None:
            base = f"{self._namespace}:{{concert:{int(concert_id)}}}:{self._LAYOUT}"
            keys = tuple(f"{base}:{name}" for name in _KEY_NAMES)
            if len(self._key_names) < 4096:  # a process serves a few concerts at a time
                self._key_names[concert_id] = keys
        return keys

    def _earlier_meta(self, concert_id: ConcertId) -> str:
        """The earlier layout's meta hash, read only for the seed of an opened line."""
        return f"{self._namespace}:{{concert:{int(concert_id)}}}:meta"

    async def _run(
        self,
        name: str,
        concert_id: ConcertId,
        now: dt.datetime,
        *args: bytes | str | int,
        key_ttl: dt.timedelta | None = None,
        earlier: bool = False,
        extra_keys: Sequence[str] = (),
    ) -> Any:
        """One call of script ``name``: the arguments every queue script takes first
        (``now``, the policy's times, the key TTL, ...), then ``args``; ``earlier``
        adds the earlier layout's meta key (for the seed), ``extra_keys`` come after
        the concert's own (keys of its slot the script is told of by index)."""
        common = self._policy_args
        if key_ttl is not None:
            common = (*common[:3], milliseconds_rounded_up(key_ttl), *common[4:])
        keys: Sequence[str] = self._keys_of(concert_id)
        if earlier:
            keys = (*keys, self._earlier_meta(concert_id))
        if extra_keys:
            if earlier:  # the proof keys' indices count from the eleventh key
                raise ValueError("extra keys go after the concert's own ten only")
            keys = (*keys, *extra_keys)
        return await run_script(self._scripts[name], keys, (microseconds(now), *common, *args))

    async def _run_items(
        self,
        name: str,
        concert_id: ConcertId,
        items: Sequence[tuple[Any, ...]],
        *head: int,
        key_ttl: dt.timedelta | None = None,
        extra_keys: Sequence[str] = (),
    ) -> list[Any]:
        """One shared script call: ``head``, then each item's fields in order (instants
        as microseconds; every item ends with its caller's now). One reply per item."""
        args = [
            microseconds(field) if isinstance(field, dt.datetime) else field
            for item in items
            for field in item
        ]
        latest = max(item[-1] for item in items)
        reply = await self._run(
            name, concert_id, latest, *head, *args, key_ttl=key_ttl, extra_keys=extra_keys
        )
        return each_item(reply)

    # -- the port -----------------------------------------------------------------

    async def issue(
        self, user_id: UserId, concert_id: ConcertId, token_id: TokenId, now: dt.datetime
    ) -> IssueOutcome:
        reply = await self._issues.submit(concert_id, (user_id.bytes, token_id.bytes, "", 0, now))
        return self._issued(concert_id, token_id, reply)

    async def issue_proved(
        self,
        user_id: UserId,
        concert_id: ConcertId,
        token_id: TokenId,
        proof: ProofSpend | None,
        now: dt.datetime,
    ) -> IssueOutcome | None:
        """The ProofSpendingQueue port: the proof's key (``RedisSpentProofs``'s, in
        this store's namespace) is set only if absent, by the issue's own script call,
        after the user is found to have no live token and before the token is made."""
        if proof is None:
            spend, ttl = "-", 0
        else:
            if proof.concert_id != concert_id:
                raise ValueError("the proof is for another concert")
            spend = spent_proof_key(self._namespace, concert_id, proof.solution)
            ttl = spent_proof_ttl(proof.expires_at, now)
        item = (user_id.bytes, token_id.bytes, spend, ttl, now)
        reply = await self._issues.submit(concert_id, item)
        if reply[0] == -2:
            return None
        return self._issued(concert_id, token_id, reply)

    def _issued(self, concert_id: ConcertId, token_id: TokenId, reply: Any) -> IssueOutcome:
        created = reply[0]
        if created < 0:
            raise ValueError(f"token id {token_id} is taken")
        place = place_from_reply(concert_id, reply[1:], self._policy.admission_rate_window)
        return IssueOutcome(place, created=created == 1)

    async def _issue_many(self, concert_id: ConcertId, items: list[_IssueItem]) -> list[Any]:
        # A proof's key goes among the script's keys (all of one slot): the item names
        # it by its index there. "" is a plain issue, "-" a proved one with no proof.
        proof_keys: list[str] = []
        named: list[tuple[bytes, bytes, str | int, int, dt.datetime]] = []
        for uid, tid, spend, ttl, now in items:
            if spend in ("", "-"):
                named.append((uid, tid, spend, ttl, now))
            else:
                proof_keys.append(spend)
                named.append((uid, tid, len(_KEY_NAMES) + len(proof_keys), ttl, now))
        return await self._run_items("issue", concert_id, named, extra_keys=proof_keys)

    async def live_token(
        self, user_id: UserId, concert_id: ConcertId, now: dt.datetime
    ) -> QueueToken | None:
        reply = await self._live.submit(concert_id, (user_id.bytes, now))
        if not reply:
            return None
        return token_from_row(concert_id, reply[0])

    async def _live_many(
        self, concert_id: ConcertId, items: list[tuple[bytes, dt.datetime]]
    ) -> list[Any]:
        return await self._run_items("live_token", concert_id, items)

    async def look(
        self, concert_id: ConcertId, token_id: TokenId, now: dt.datetime
    ) -> QueuePlace | None:
        return await self._place(concert_id, token_id, now, poll=False)

    async def poll(
        self, concert_id: ConcertId, token_id: TokenId, now: dt.datetime
    ) -> QueuePlace | None:
        return await self._place(concert_id, token_id, now, poll=True)

    async def _place(
        self, concert_id: ConcertId, token_id: TokenId, now: dt.datetime, *, poll: bool
    ) -> QueuePlace | None:
        reply = await self._places.submit((concert_id, poll), (token_id.bytes, now))
        if not reply:
            return None
        return place_from_reply(concert_id, reply, self._policy.admission_rate_window)

    async def _place_many(
        self, key: tuple[ConcertId, bool], items: list[tuple[bytes, dt.datetime]]
    ) -> list[Any]:
        concert_id, poll = key
        return await self._run_items("place", concert_id, items, int(poll))

    async def expire(
        self, concert_id: ConcertId, token_id: TokenId, now: dt.datetime
    ) -> QueueToken | None:
        row = await self._expiries.submit(concert_id, (token_id.bytes, now))
        return token_from_row(concert_id, row) if row else None

    async def _expire_many(
        self, concert_id: ConcertId, items: list[tuple[bytes, dt.datetime]]
    ) -> list[Any]:
        return await self._run_items("expire", concert_id, items)

    async def extend_active(
        self, concert_id: ConcertId, token_id: TokenId, until: dt.datetime, now: dt.datetime
    ) -> bool:
        return bool(await self._extensions.submit(concert_id, (token_id.bytes, until, now)))

    async def _extend_many(
        self, concert_id: ConcertId, items: list[tuple[bytes, dt.datetime, dt.datetime]]
    ) -> list[Any]:
        # The keys must outlive the tokens, however far the holds push them.
        key_ttl = max(self._key_ttl, *(until - now + KEY_TTL_MARGIN for _, until, now in items))
        return await self._run_items("extend_active", concert_id, items, key_ttl=key_ttl)

    async def retract_hold(
        self,
        concert_id: ConcertId,
        token_id: TokenId,
        ended_until: dt.datetime,
        remaining_until: dt.datetime | None,
        now: dt.datetime,
    ) -> None:
        remaining = "" if remaining_until is None else microseconds(remaining_until)
        await self._run(
            "retract_hold", concert_id, now, token_id.bytes, microseconds(ended_until), remaining
        )

    async def open(self, concert_id: ConcertId, seed: int, now: dt.datetime) -> int:
        if type(seed) is not int:
            raise TypeError(f"the seed must be an int, not {type(seed).__name__}")
        # The seed goes as its decimal text: the script hashes it as shuffle_key does.
        return int(await self._run("open", concert_id, now, str(seed), earlier=True))

    async def admit(
        self,
        concert_id: ConcertId,
        now: dt.datetime,
        *,
        capacity: int | None = None,
        per_minute: int | None = None,
        per_pass: int | None = None,
    ) -> list[QueueToken]:
        limits = (
            capacity or self._policy.active_capacity,
            "" if per_minute is None else per_minute,
            "" if per_pass is None else per_pass,
        )
        while True:
            # Each run ends at most BATCH lapsed tokens; it admits only once none are
            # left, so an idle token never gets in and none stays in line past the pass.
            reply = await self._run("admit", concert_id, now, *limits)
            if reply[0] == 1:
                return [token_from_row(concert_id, row) for row in reply[1:]]

    async def end_waiting(self, concert_id: ConcertId, now: dt.datetime, limit: int) -> int:
        ended = 0
        while ended < limit:
            batch = min(limit - ended, BATCH)
            count = int(await self._run("end_waiting", concert_id, now, batch))
            ended += count
            if count < batch:
                break
        return ended

    async def expire_lapsed(
        self, concert_id: ConcertId, now: dt.datetime, limit: int
    ) -> list[QueueToken]:
        ended: list[QueueToken] = []
        while len(ended) < limit:
            batch = min(limit - len(ended), BATCH)
            rows = await self._run("expire_lapsed", concert_id, now, batch)
            ended.extend(token_from_row(concert_id, row) for row in rows)
            if len(rows) < batch:
                break
        return ended

    async def stats(self, concert_id: ConcertId, now: dt.datetime) -> QueueStats:
        waiting, active, last_minute, seed = await self._run("stats", concert_id, now, earlier=True)
        return QueueStats(
            concert_id,
            waiting,
            active,
            admitted_last_minute=last_minute,
            shuffle_seed=int(seed) if seed else None,
        )
