"""The join challenge (docs/contract.md §9): the ALTCHA verifier on its own, then the
rule of IssueToken, on memory adapters.

Challenges are cheap here (``maxnumber`` 1,000), so a test solves one in about a
millisecond.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
import json
import urllib.parse
from typing import Any

import attrs
import pytest
from altcha.v1 import verify_solution
from hypothesis import given
from hypothesis import strategies as st

from adapters.challenge import AltchaJoinChallenges, hmac_key
from adapters.clock import ManualClock
from adapters.memory import MemoryQueueStore, MemorySpentProofs
from concert_core import ConcertService, Policy
from concert_core.domain import (
    ChallengeFailedError,
    Concert,
    ConcertId,
    NotFoundError,
    SaleNotOpenError,
    ServiceUnavailableError,
    ValidationError,
)
from concert_core.ports import JoinChallenge, ProofSpend, QueueStore
from concert_core.use_cases import (
    AddConcertCommand,
    ChangeSaleCommand,
    IssueTokenCommand,
    tiered_prices,
)
from support import DATES, TEST_SECRET, build_memory_service, new_user, solve_challenge

T0 = dt.datetime(2026, 12, 1, 9, 0, tzinfo=dt.UTC)
TTL = dt.timedelta(minutes=5)
CONCERT = ConcertId(7)
OTHER = ConcertId(8)


def challenges(spent: MemorySpentProofs | None = None) -> AltchaJoinChallenges:
    return AltchaJoinChallenges(
        TEST_SECRET,
        MemorySpentProofs() if spent is None else spent,
        max_number=1_000,
        ttl=TTL,
    )


def solved(made: JoinChallenge) -> str:
    return solve_challenge(attrs.asdict(made))


def decoded(proof: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(base64.b64decode(proof))
    return data


def encoded(solution: dict[str, Any]) -> str:
    return base64.b64encode(json.dumps(solution).encode()).decode()


# -- the challenge --------------------------------------------------------------------


def test_a_challenge_is_altcha_sha256_naming_its_concert_and_expiry() -> None:
    made = challenges().issue(CONCERT, T0)

    assert made.algorithm == "SHA-256"
    assert made.maxnumber == 1_000
    nonce, _, query = made.salt.partition("?")
    assert len(nonce) == 24
    assert urllib.parse.parse_qs(query) == {
        "expires": [str(int((T0 + TTL).timestamp()))],
        "concert": ["7"],
    }
    assert made.salt.endswith("&")
    assert len(made.challenge) == len(made.signature) == 64


def test_challenges_differ_and_are_signed_with_a_derived_key_not_the_secret() -> None:
    first, second = challenges().issue(CONCERT, T0), challenges().issue(CONCERT, T0)

    assert first.salt != second.salt
    key = hmac_key(TEST_SECRET)
    assert key != TEST_SECRET
    signed = hmac.new(key.encode(), first.challenge.encode(), hashlib.sha256).hexdigest()
    assert first.signature == signed
    with_secret = hmac.new(TEST_SECRET.encode(), first.challenge.encode(), hashlib.sha256)
    assert first.signature != with_secret.hexdigest()


def test_the_reference_implementation_accepts_our_solutions() -> None:
    made = challenges().issue(CONCERT, T0)

    assert verify_solution(solved(made), hmac_key(TEST_SECRET), check_expires=False) == (
        True,
        None,
    )


# -- redeeming ------------------------------------------------------------------------


async def test_a_good_proof_is_redeemed_once() -> None:
    spent = MemorySpentProofs()
    verifier = challenges(spent)
    proof = solved(verifier.issue(CONCERT, T0))

    assert await verifier.redeem(proof, CONCERT, T0 + dt.timedelta(seconds=1))
    assert not await verifier.redeem(proof, CONCERT, T0 + dt.timedelta(seconds=2))
    assert len(spent) == 1


async def test_verifying_names_the_spend_and_spends_nothing() -> None:
    spent = MemorySpentProofs()
    verifier = challenges(spent)
    made = verifier.issue(CONCERT, T0)
    proof = solved(made)

    spend = verifier.verify(proof, CONCERT, T0 + dt.timedelta(seconds=1))

    expires = dt.datetime.fromtimestamp(int((T0 + TTL).timestamp()), dt.UTC)
    assert spend == ProofSpend(CONCERT, made.challenge, expires)
    assert verifier.verify(proof, CONCERT, T0) == spend  # again: nothing was spent
    assert len(spent) == 0
    assert await verifier.redeem(proof, CONCERT, T0)
    assert verifier.verify(proof, CONCERT, T0) == spend  # spent or not, it is good
    assert verifier.verify(proof, OTHER, T0) is None
    assert verifier.verify(proof, CONCERT, expires) is None
    assert verifier.verify("not a proof", CONCERT, T0) is None


async def test_another_instance_sharing_the_store_refuses_a_spent_proof() -> None:
    spent = MemorySpentProofs()
    proof = solved(challenges(spent).issue(CONCERT, T0))

    assert await challenges(spent).redeem(proof, CONCERT, T0)
    assert not await challenges(spent).redeem(proof, CONCERT, T0)


async def test_a_wrong_number_is_refused_and_spends_nothing() -> None:
    spent = MemorySpentProofs()
    verifier = challenges(spent)
    proof = solved(verifier.issue(CONCERT, T0))
    solution = decoded(proof)
    wrong = encoded(solution | {"number": (solution["number"] + 1) % 1_001})

    assert not await verifier.redeem(wrong, CONCERT, T0)
    assert len(spent) == 0
    assert await verifier.redeem(proof, CONCERT, T0)


@pytest.mark.parametrize("field", ["signature", "challenge"])
async def test_a_tampered_signature_or_challenge_is_refused(field: str) -> None:
    verifier = challenges()
    solution = decoded(solved(verifier.issue(CONCERT, T0)))
    flipped = ("0" if solution[field][0] != "0" else "1") + solution[field][1:]

    assert not await verifier.redeem(encoded(solution | {field: flipped}), CONCERT, T0)


async def test_a_solution_of_a_forged_salt_is_refused() -> None:
    """A client re-hashing a salt it changed (a later expiry) cannot sign it."""
    verifier = challenges()
    solution = decoded(solved(verifier.issue(CONCERT, T0)))
    later = int((T0 + dt.timedelta(days=1)).timestamp())
    salt = solution["salt"].split("?")[0] + f"?expires={later}&concert=7&"
    forged = hashlib.sha256(f"{salt}{solution['number']}".encode()).hexdigest()

    proof = encoded(solution | {"salt": salt, "challenge": forged})

    assert not await verifier.redeem(proof, CONCERT, T0 + dt.timedelta(hours=1))


async def test_a_proof_signed_by_another_secret_is_refused() -> None:
    stranger = AltchaJoinChallenges(
        "another-secret-" + "y" * 32, MemorySpentProofs(), max_number=1_000, ttl=TTL
    )
    proof = solved(stranger.issue(CONCERT, T0))

    assert not await challenges().redeem(proof, CONCERT, T0)


async def test_a_proof_is_good_until_its_expiry() -> None:
    verifier = challenges()
    expires = dt.datetime.fromtimestamp(int((T0 + TTL).timestamp()), dt.UTC)
    late = solved(verifier.issue(CONCERT, T0))
    in_time = solved(verifier.issue(CONCERT, T0))

    assert not await verifier.redeem(late, CONCERT, expires)
    assert await verifier.redeem(in_time, CONCERT, expires - dt.timedelta(microseconds=1))


async def test_a_proof_for_another_concert_is_refused() -> None:
    verifier = challenges()
    proof = solved(verifier.issue(OTHER, T0))

    assert not await verifier.redeem(proof, CONCERT, T0)
    assert await verifier.redeem(proof, OTHER, T0)


def _proof_of(value: object) -> str:
    return base64.b64encode(json.dumps(value).encode()).decode()


MALFORMED = [
    "",
    "not base64!",
    "bm90IGpzb24=",  # "not json"
    base64.b64encode(b"\xff\xfe").decode(),
    _proof_of(["algorithm", "challenge", "number", "salt", "signature"]),
    _proof_of("algorithm challenge number salt signature"),
    _proof_of({"algorithm": "SHA-256"}),
    _proof_of(None),
    "é" * 10,
    "A" * 100_000,
]


@pytest.mark.parametrize("proof", MALFORMED, ids=range(len(MALFORMED)))
async def test_a_malformed_proof_is_refused_without_raising(proof: str) -> None:
    assert not await challenges().redeem(proof, CONCERT, T0)


@pytest.mark.parametrize(
    "change",
    [
        {"number": "5"},
        {"number": True},
        {"number": -1},
        {"number": 1.0},
        {"number": 10**4000},
        {"number": None},
        {"algorithm": "SHA-1"},
        {"algorithm": "sha-256"},
        {"salt": 5},
        {"salt": None},
        {"signature": ["x"]},
        {"challenge": {"a": 1}},
        {"salt": "abc"},
        {"salt": "abc?concert=7&"},
        {"salt": "abc?expires=99999999999999999999&concert=7&"},
        {"salt": "abc?expires=1&expires=99999999999&concert=7&"},
        {"salt": "abc?expires=99999999999&concert=7&concert=8&"},
    ],
    ids=repr,
)
async def test_a_solution_with_a_bad_field_is_refused_without_raising(
    change: dict[str, Any],
) -> None:
    verifier = challenges()
    solution = decoded(solved(verifier.issue(CONCERT, T0)))

    assert not await verifier.redeem(encoded(solution | change), CONCERT, T0)


@given(st.one_of(st.text(), st.binary().map(lambda b: base64.b64encode(b).decode())))
async def test_no_proof_whatever_makes_the_verifier_raise(proof: str) -> None:
    assert not await challenges().redeem(proof, CONCERT, T0)


async def test_a_widget_field_such_as_took_is_let_be() -> None:
    verifier = challenges()
    solution = decoded(solved(verifier.issue(CONCERT, T0)))

    assert await verifier.redeem(encoded(solution | {"took": 412}), CONCERT, T0)


async def test_spent_proofs_are_forgotten_only_after_their_expiry() -> None:
    spent = MemorySpentProofs()
    expires = T0 + TTL
    assert await spent.spend(CONCERT, "a" * 64, expires, T0)
    assert not await spent.spend(CONCERT, "a" * 64, expires, expires + dt.timedelta(seconds=59))
    assert await spent.spend(CONCERT, "b" * 64, expires, expires + dt.timedelta(minutes=2))
    assert len(spent) == 1  # "a" was forgotten, "b" is kept


# -- the rule of IssueToken -----------------------------------------------------------


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(T0)


@pytest.fixture
def spent() -> MemorySpentProofs:
    return MemorySpentProofs()


@pytest.fixture
def service(policy: Policy, clock: ManualClock, spent: MemorySpentProofs) -> ConcertService:
    return build_memory_service(policy, clock, challenges=challenges(spent)).service


async def add(service: ConcertService, **sale: object) -> Concert:
    return await service.add_concert(
        AddConcertCommand("Aurora", "Hall", [DATES[0]], tiered_prices(100_000), sale=sale)
    )


async def waiting(service: ConcertService, concert: Concert) -> int:
    [stats] = await service.queue_overview(concert.concert_id)
    return stats.waiting


async def proof_for(service: ConcertService, concert: Concert) -> str:
    return solved(await service.new_join_challenge(concert.concert_id))


async def test_with_the_challenge_on_a_join_needs_a_proof(service: ConcertService) -> None:
    concert = await add(service, join_challenge=True)

    with pytest.raises(ChallengeFailedError):
        await service.issue_token(IssueTokenCommand(new_user(), concert.concert_id))

    assert await waiting(service, concert) == 0


async def test_a_solved_challenge_lets_one_user_in_once(service: ConcertService) -> None:
    concert = await add(service, join_challenge=True)
    proof = await proof_for(service, concert)

    joined = await service.issue_token(IssueTokenCommand(new_user(), concert.concert_id, proof))
    with pytest.raises(ChallengeFailedError):
        await service.issue_token(IssueTokenCommand(new_user(), concert.concert_id, proof))

    assert joined.created
    assert await waiting(service, concert) == 1


async def test_a_rejoin_of_a_live_token_needs_no_proof_and_spends_none(
    service: ConcertService, spent: MemorySpentProofs
) -> None:
    concert = await add(service, join_challenge=True)
    user = new_user()
    first = await service.issue_token(
        IssueTokenCommand(user, concert.concert_id, await proof_for(service, concert))
    )
    unused = await proof_for(service, concert)

    again = await service.issue_token(IssueTokenCommand(user, concert.concert_id))
    with_proof = await service.issue_token(IssueTokenCommand(user, concert.concert_id, unused))

    assert not again.created and again.token == first.token
    assert not with_proof.created and with_proof.token == first.token
    assert len(spent) == 1
    assert (
        await service.issue_token(IssueTokenCommand(new_user(), concert.concert_id, unused))
    ).created


async def test_after_the_token_ends_a_new_join_needs_a_new_proof(
    service: ConcertService, clock: ManualClock, policy: Policy
) -> None:
    concert = await add(service, join_challenge=True)
    user = new_user()
    await service.issue_token(
        IssueTokenCommand(user, concert.concert_id, await proof_for(service, concert))
    )
    clock.advance(policy.idle_timeout)  # the token lapsed, unpolled

    with pytest.raises(ChallengeFailedError):
        await service.issue_token(IssueTokenCommand(user, concert.concert_id))
    rejoined = await service.issue_token(
        IssueTokenCommand(user, concert.concert_id, await proof_for(service, concert))
    )

    assert rejoined.created


async def test_a_proof_for_another_concert_does_not_open_this_one(
    service: ConcertService,
) -> None:
    concert = await add(service, join_challenge=True)
    other = await add(service, join_challenge=True)
    proof = await proof_for(service, other)

    with pytest.raises(ChallengeFailedError):
        await service.issue_token(IssueTokenCommand(new_user(), concert.concert_id, proof))

    assert await waiting(service, concert) == 0
    assert (
        await service.issue_token(IssueTokenCommand(new_user(), other.concert_id, proof))
    ).created


async def test_an_expired_proof_is_refused(service: ConcertService, clock: ManualClock) -> None:
    concert = await add(service, join_challenge=True)
    proof = await proof_for(service, concert)
    clock.advance(TTL)

    with pytest.raises(ChallengeFailedError):
        await service.issue_token(IssueTokenCommand(new_user(), concert.concert_id, proof))


async def test_a_join_refused_for_the_phase_spends_no_proof(
    service: ConcertService, clock: ManualClock
) -> None:
    concert = await add(service, join_challenge=True, opens_at=T0 + dt.timedelta(minutes=1))
    proof = await proof_for(service, concert)

    with pytest.raises(SaleNotOpenError):
        await service.issue_token(IssueTokenCommand(new_user(), concert.concert_id, proof))
    clock.advance(dt.timedelta(minutes=1))

    assert (
        await service.issue_token(IssueTokenCommand(new_user(), concert.concert_id, proof))
    ).created


async def test_with_the_challenge_off_a_proof_is_neither_needed_nor_read(
    service: ConcertService, spent: MemorySpentProofs
) -> None:
    concert = await add(service)
    proof = await proof_for(service, concert)

    plain = await service.issue_token(IssueTokenCommand(new_user(), concert.concert_id))
    garbage = await service.issue_token(IssueTokenCommand(new_user(), concert.concert_id, "?!"))
    with_proof = await service.issue_token(IssueTokenCommand(new_user(), concert.concert_id, proof))

    assert plain.created and garbage.created and with_proof.created
    assert len(spent) == 0


async def test_turning_the_challenge_on_applies_to_the_next_join(
    service: ConcertService,
) -> None:
    concert = await add(service)
    await service.change_sale(ChangeSaleCommand(concert.concert_id, {"join_challenge": True}))

    with pytest.raises(ChallengeFailedError):
        await service.issue_token(IssueTokenCommand(new_user(), concert.concert_id))


async def test_a_challenge_needs_a_concert_that_exists(service: ConcertService) -> None:
    with pytest.raises(NotFoundError):
        await service.new_join_challenge(999)
    with pytest.raises(ValidationError):
        await service.new_join_challenge(0)


async def test_without_challenges_a_challenge_concert_takes_rejoins_only(
    policy: Policy, clock: ManualClock
) -> None:
    service = build_memory_service(policy, clock).service
    concert = await add(service)
    user = new_user()
    first = await service.issue_token(IssueTokenCommand(user, concert.concert_id))
    await service.change_sale(ChangeSaleCommand(concert.concert_id, {"join_challenge": True}))

    again = await service.issue_token(IssueTokenCommand(user, concert.concert_id))
    with pytest.raises(ChallengeFailedError):
        await service.issue_token(IssueTokenCommand(new_user(), concert.concert_id, "x"))
    with pytest.raises(ChallengeFailedError):
        await service.new_join_challenge(concert.concert_id)

    assert again.token == first.token


@pytest.mark.parametrize("proof", [12, b"proof", ["x"]], ids=repr)
def test_a_proof_that_is_not_a_string_is_a_validation_error(proof: object) -> None:
    with pytest.raises(ValidationError):
        IssueTokenCommand(new_user(), 1, proof)  # type: ignore[arg-type]


class _RefusingOnce:
    """A queue store whose first issue fails as storage refusing would (503)."""

    def __init__(self, inner: QueueStore) -> None:
        self._inner = inner
        self.refused = False

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)

    async def issue(self, *args: Any, **kwargs: Any) -> Any:
        if not self.refused:
            self.refused = True
            raise ServiceUnavailableError("the queue refused")
        return await self._inner.issue(*args, **kwargs)


async def test_a_proof_whose_join_storage_refused_is_given_back(
    policy: Policy, clock: ManualClock, spent: MemorySpentProofs
) -> None:
    """A proof is spent only for a join that happens: when storage refuses the issue
    after the proof was redeemed, the fan may send the same proof again."""
    queue = _RefusingOnce(MemoryQueueStore(policy))
    service = build_memory_service(policy, clock, queue=queue, challenges=challenges(spent)).service
    concert = await add(service, join_challenge=True)
    proof = await proof_for(service, concert)

    with pytest.raises(ServiceUnavailableError):
        await service.issue_token(IssueTokenCommand(new_user(), concert.concert_id, proof))
    assert len(spent) == 0
    joined = await service.issue_token(IssueTokenCommand(new_user(), concert.concert_id, proof))

    assert joined.created
    assert len(spent) == 1
