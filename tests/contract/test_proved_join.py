"""A join to a sale asking for a join challenge (docs/contract.md §9), on every storage
family: a proof is spent only when a new token is issued, once for all instances, and a
refused join changes nothing. The Redis family does it in one script call of the queue
store (``ProofSpendingQueue``), the others in steps (look-up, spend, issue); where the
store can do both, both ways are checked.
"""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import AsyncIterator
from typing import Any

import attrs
import pytest

import backends
from adapters.challenge import AltchaJoinChallenges
from adapters.clock import ManualClock
from adapters.redis import RedisQueueStore
from adapters.tokens import JwtTokenCodec
from backends import Backend
from concert_core import ConcertService
from concert_core.domain import (
    ChallengeFailedError,
    Concert,
    ConcertId,
    ServiceUnavailableError,
    TokenId,
)
from concert_core.policy import Policy
from concert_core.ports import ProofSpend
from concert_core.use_cases import AddConcertCommand, IssueTokenCommand, tiered_prices
from contract.helpers import D1, T0, at, new_user
from support import TEST_SECRET, solve_challenge

TTL = dt.timedelta(minutes=5)
RACERS = 12


@attrs.define
class Joins:
    """Two instances (services) on one family's storage, with the join challenge on."""

    backend: Backend
    services: tuple[ConcertService, ConcertService]
    challenges: AltchaJoinChallenges
    clock: ManualClock
    concert: Concert
    one_call: bool
    """Whether the queue store spends the proof in its issue (else: in steps)."""

    @property
    def concert_id(self) -> ConcertId:
        return self.concert.concert_id

    async def proof(self) -> str:
        made = await self.services[0].new_join_challenge(self.concert_id)
        return solve_challenge(attrs.asdict(made))

    async def join(self, user: Any, proof: str | None, instance: int = 0) -> Any:
        command = IssueTokenCommand(user, self.concert_id, proof)
        return await self.services[instance].issue_token(command)

    async def waiting(self) -> int:
        [stats] = await self.services[0].queue_overview(self.concert_id)
        return stats.waiting

    async def spent(self, proof: str) -> bool:
        """Whether ``proof`` was spent (spending it if it was not)."""
        return not await self.challenges.redeem(proof, self.concert_id, await self.clock.now())


def _ways(backend_name: str) -> list[str]:
    return ["steps", "one call"] if "redis" in backend_name else ["steps"]


@pytest.fixture(
    params=[
        pytest.param((family.values[0], way), marks=family.marks, id=f"{family.id}-{way}")
        for family in backends.params()
        for way in _ways(str(family.values[0]))
    ]
)
async def joins(request: pytest.FixtureRequest, policy: Policy) -> AsyncIterator[Joins]:
    name, way = request.param
    postgres_url = backends.postgres_url_of(request)
    async with backends.open_backend(name, policy, postgres_url) as backend:
        clock = ManualClock(T0)
        proof_queue = None
        if way == "one call":
            assert isinstance(backend.queue, RedisQueueStore)
            proof_queue = backend.queue
        challenges = AltchaJoinChallenges(
            TEST_SECRET, backend.spent_proofs, max_number=1_000, ttl=TTL
        )
        services = tuple(
            ConcertService.build(
                uow_factory=backend.uow,
                queue=backend.queue,
                idempotency=backend.idempotency,
                codec=JwtTokenCodec(TEST_SECRET),
                clock=clock,
                policy=policy,
                challenges=challenges,
                proof_queue=proof_queue,
            )
            for _ in range(2)
        )
        concert = await services[0].add_concert(
            AddConcertCommand(
                "Aurora", "Hall", [D1], tiered_prices(100_000), sale={"join_challenge": True}
            )
        )
        yield Joins(
            backend, (services[0], services[1]), challenges, clock, concert, proof_queue is not None
        )


async def test_of_joins_racing_with_one_proof_exactly_one_gets_a_token(joins: Joins) -> None:
    proof = await joins.proof()

    results = await asyncio.gather(
        *(joins.join(new_user(), proof, instance=i % 2) for i in range(RACERS)),
        return_exceptions=True,
    )

    created = [r for r in results if not isinstance(r, BaseException) and r.created]
    refused = [r for r in results if isinstance(r, ChallengeFailedError)]
    assert len(created) == 1
    assert len(refused) == RACERS - 1
    assert await joins.waiting() == 1


async def test_one_user_racing_with_several_proofs_spends_one_and_has_one_token(
    joins: Joins,
) -> None:
    user = new_user()
    proofs = [await joins.proof() for _ in range(4)]

    results = await asyncio.gather(*(joins.join(user, proof) for proof in proofs))

    assert len({r.token for r in results}) == 1
    assert [r.created for r in results].count(True) == 1
    assert await joins.waiting() == 1
    if joins.one_call:
        # In one call, a join finding the token the first one made spends nothing.
        assert [await joins.spent(proof) for proof in proofs].count(True) == 1


async def test_a_rejoin_with_a_live_token_spends_nothing(joins: Joins) -> None:
    user = new_user()
    first = await joins.join(user, await joins.proof())
    unused = await joins.proof()
    joins.clock.advance(dt.timedelta(seconds=5))

    again = await joins.join(user, unused, instance=1)
    bare = await joins.join(user, None)
    garbage = await joins.join(user, "not a proof")

    for rejoin in (again, bare, garbage):
        assert not rejoin.created
        assert rejoin.token == first.token
    assert not await joins.spent(unused)
    assert await joins.waiting() == 1


async def test_a_spent_proof_is_refused_and_changes_nothing(joins: Joins) -> None:
    proof = await joins.proof()
    await joins.join(new_user(), proof)
    late = new_user()

    with pytest.raises(ChallengeFailedError):
        await joins.join(late, proof, instance=1)

    assert await joins.waiting() == 1
    queue = joins.backend.queue
    assert await queue.live_token(late, joins.concert_id, await joins.clock.now()) is None
    # The fan may still join with a proof of its own.
    assert (await joins.join(late, await joins.proof())).created


async def test_a_join_without_a_proof_or_with_a_bad_one_is_refused_and_spends_nothing(
    joins: Joins,
) -> None:
    proof = await joins.proof()
    other = joins.challenges.issue(ConcertId(joins.concert_id + 1000), T0)
    elsewhere = solve_challenge(attrs.asdict(other))

    for sent in (None, "not a proof", elsewhere):
        with pytest.raises(ChallengeFailedError):
            await joins.join(new_user(), sent)
    assert await joins.waiting() == 0
    assert not await joins.spent(proof)


async def test_after_the_token_ends_the_proof_it_was_issued_for_is_still_spent(
    joins: Joins, policy: Policy
) -> None:
    user = new_user()
    proof = await joins.proof()
    await joins.join(user, proof)
    joins.clock.advance(policy.idle_timeout)  # the token lapsed, unpolled

    with pytest.raises(ChallengeFailedError):
        await joins.join(user, proof)
    assert (await joins.join(user, await joins.proof())).created


# -- the Redis store's one call ---------------------------------------------------------


@pytest.fixture(params=backends.params("postgres+redis"))
async def redis_queue(
    request: pytest.FixtureRequest, policy: Policy
) -> AsyncIterator[tuple[RedisQueueStore, Backend]]:
    postgres_url = backends.postgres_url_of(request)
    async with backends.open_backend(request.param, policy, postgres_url) as backend:
        assert isinstance(backend.queue, RedisQueueStore)
        yield backend.queue, backend


C1 = ConcertId(1)


def _spend(n: int, concert_id: ConcertId = C1) -> ProofSpend:
    return ProofSpend(concert_id, f"{n:064x}", T0 + TTL)


async def test_redis_plain_and_proved_issues_of_one_turn_share_one_call(
    redis_queue: tuple[RedisQueueStore, Backend],
) -> None:
    queue, backend = redis_queue
    calls = 0
    script = queue._scripts["issue"]

    async def counted(keys: Any, args: Any) -> Any:
        nonlocal calls
        calls += 1
        return await script(keys, args)

    queue._scripts["issue"] = counted  # type: ignore[assignment]
    users = [new_user() for _ in range(5)]
    tokens = [TokenId(new_user()) for _ in range(5)]
    outcomes = await asyncio.gather(
        queue.issue(users[0], C1, tokens[0], at(1)),
        queue.issue_proved(users[1], C1, tokens[1], _spend(1), at(1)),
        queue.issue_proved(users[2], C1, tokens[2], _spend(1), at(1)),  # spent just before
        queue.issue_proved(users[3], C1, tokens[3], None, at(1)),  # no live token, no proof
        queue.issue_proved(users[0], C1, tokens[4], _spend(2), at(1)),  # live: spends nothing
    )

    assert calls == 1
    first, proved, twice, bare, live = outcomes
    assert first is not None and first.created
    assert proved is not None and proved.created
    assert twice is None and bare is None
    assert live is not None and not live.created
    assert live.place.token.token_id == first.place.token.token_id
    assert await backend.spent_proofs.spend(C1, _spend(2).solution, T0 + TTL, at(2))
    assert not await backend.spent_proofs.spend(C1, _spend(1).solution, T0 + TTL, at(2))
    assert await queue.live_token(users[2], C1, at(2)) is None
    assert await queue.live_token(users[3], C1, at(2)) is None


async def test_redis_a_proved_issue_refused_for_a_taken_token_id_spends_nothing(
    redis_queue: tuple[RedisQueueStore, Backend],
) -> None:
    queue, backend = redis_queue
    token = TokenId(new_user())
    await queue.issue(new_user(), C1, token, at(1))

    with pytest.raises(ValueError, match="taken"):
        await queue.issue_proved(new_user(), C1, token, _spend(3), at(2))

    assert await backend.spent_proofs.spend(C1, _spend(3).solution, T0 + TTL, at(3))


async def test_redis_a_spend_is_kept_until_its_expiry_and_the_margin(
    redis_queue: tuple[RedisQueueStore, Backend],
) -> None:
    queue, backend = redis_queue
    assert await queue.issue_proved(new_user(), C1, TokenId(new_user()), _spend(4), at(1))

    key = backend.spent_proofs.key_name(C1, _spend(4).solution)  # type: ignore[attr-defined]
    client = queue._client
    ttl_ms = await client.pttl(key)
    expected = (T0 + TTL - at(1) + dt.timedelta(minutes=1)).total_seconds() * 1000
    assert expected - 5_000 < ttl_ms <= expected


async def test_redis_a_proof_for_another_concert_is_not_taken(
    redis_queue: tuple[RedisQueueStore, Backend],
) -> None:
    queue, _ = redis_queue
    with pytest.raises(ValueError, match="another concert"):
        await queue.issue_proved(
            new_user(), C1, TokenId(new_user()), _spend(5, ConcertId(2)), at(1)
        )


async def test_redis_an_issue_that_fails_halfway_leaves_its_proof_unspent(
    redis_queue: tuple[RedisQueueStore, Backend],
) -> None:
    queue, backend = redis_queue
    client = queue._client
    meta = queue.keys(C1)[0]
    await client.set(meta, "not a hash")  # the issue's counter cannot be taken
    try:
        with pytest.raises(ServiceUnavailableError):
            await queue.issue_proved(new_user(), C1, TokenId(new_user()), _spend(6), at(1))
    finally:
        await client.delete(meta)

    joined = await queue.issue_proved(new_user(), C1, TokenId(new_user()), _spend(6), at(2))
    assert joined is not None and joined.created  # the same proof, not spent before
    assert not await backend.spent_proofs.spend(C1, _spend(6).solution, T0 + TTL, at(3))
