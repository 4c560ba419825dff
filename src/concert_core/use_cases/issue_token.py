from __future__ import annotations

import datetime as dt
import uuid

from attrs import field, frozen

from concert_core.domain import (
    ChallengeFailedError,
    ConcertId,
    IssueOutcome,
    Phase,
    SaleClosedError,
    SaleNotOpenError,
    TokenId,
    UserId,
    ValidationError,
    values,
)
from concert_core.policy import Policy
from concert_core.ports import (
    Clock,
    JoinChallenges,
    ProofSpendingQueue,
    QueueStore,
    TokenCodec,
)
from concert_core.use_cases._sales import LineOpenings, SaleBook
from concert_core.use_cases._views import QueueView, queue_view

_PROOF_REFUSED = (
    "the join challenge proof is malformed, wrong, expired, for another concert or already used"
)


def _proof(value: object) -> str | None:
    if value is not None and not isinstance(value, str):
        raise ValidationError("proof must be a string")
    return value


@frozen
class IssueTokenCommand:
    user_id: UserId = field(converter=values.user_id)
    concert_id: ConcertId = field(converter=values.concert_id)
    proof: str | None = field(default=None, converter=_proof)
    """A solved join challenge, as the client sends it (docs/contract.md §9); needed
    only by a concert whose sale asks for one."""


@frozen
class IssuedToken:
    token: str
    created: bool
    """False when the user's live token was returned with its place unchanged."""
    view: QueueView


class IssueToken:
    """Enter a concert's waiting room.

    Rules:
    - the concert must exist (NOT_FOUND);
    - before the pre-queue (or the opening, without one) nobody may join
      (SALE_NOT_OPEN); a sold-out or closed sale takes no one (SALE_CLOSED); a paused
      sale takes joins as the phase it pauses;
    - when the sale asks for a join challenge, a user without a live token must bring
      a proof the challenges redeem (verified and spent, once for all instances), else
      CHALLENGE_FAILED and nothing changes; a re-join of a live token needs none, and
      a proof is spent only when a new token would be issued;
    - during the pre-queue a fan joins with no position: the opening draws the order;
    - a user with a WAITING or ACTIVE token for the concert gets that same token and
      place back (same id and sequence), and the request counts as a poll;
    - otherwise a new WAITING token takes the next global issue sequence number;
      once the sale is open the line is opened first, so nobody who joins after the
      opening is ahead of anybody pre-queued.
    """

    def __init__(
        self,
        sales: SaleBook,
        openings: LineOpenings,
        queue: QueueStore,
        codec: TokenCodec,
        clock: Clock,
        policy: Policy,
        challenges: JoinChallenges | None = None,
        proof_queue: ProofSpendingQueue | None = None,
    ) -> None:
        """``challenges`` None: no proof can be redeemed, so a concert whose sale asks
        for a join challenge takes re-joins only. ``proof_queue``: the queue store
        itself, when it can spend a proof the challenges verified in the operation
        that issues the token (one step instead of a look-up, a spend and an issue);
        None: the three steps, in turn."""
        self._challenges = challenges
        self._proof_queue = proof_queue if challenges is not None else None
        self._sales = sales
        self._openings = openings
        self._queue = queue
        self._codec = codec
        self._clock = clock
        self._policy = policy

    async def __call__(self, command: IssueTokenCommand) -> IssuedToken:
        now = await self._clock.now()
        sale = await self._sales.state(command.concert_id, now)
        entry = sale.entry_at(now)
        settings = sale.concert.sale
        if entry is Phase.SCHEDULED:
            raise SaleNotOpenError(
                f"concert {command.concert_id} is not on sale yet",
                opens_at=settings.opens_at,
                prequeue_opens_at=settings.prequeue_opens_at,
            )
        if entry.ended:
            raise SaleClosedError(
                f"concert {command.concert_id} is {entry.value.lower().replace('_', ' ')}",
                phase=entry,
            )
        if settings.join_challenge and self._proof_queue is not None:
            outcome = await self._issue_proved(self._proof_queue, command, entry, now)
        else:
            outcome = await self._issue(command, entry, settings.join_challenge, now)
        view = queue_view(outcome.place, sale, self._policy, now)
        return IssuedToken(self._codec.encode(outcome.place.token.claims), outcome.created, view)

    async def _issue(
        self, command: IssueTokenCommand, entry: Phase, join_challenge: bool, now: dt.datetime
    ) -> IssueOutcome:
        """The join in steps: the proof (if the sale asks for one) redeemed, then the
        token issued; a proof spent for a join that failed is given back."""
        spent = join_challenge and await self._check_proof(command, now)
        try:
            if entry is Phase.OPEN:
                await self._openings.ensure_open(command.concert_id, now)
            outcome = await self._queue.issue(
                command.user_id, command.concert_id, TokenId(uuid.uuid4()), now
            )
        except BaseException:
            if spent and self._challenges is not None and command.proof is not None:
                # The join failed (storage refused it): the proof paid for nothing.
                await self._challenges.give_back(command.proof, command.concert_id)
            raise
        return outcome

    async def _issue_proved(
        self,
        proof_queue: ProofSpendingQueue,
        command: IssueTokenCommand,
        entry: Phase,
        now: dt.datetime,
    ) -> IssueOutcome:
        """The join in one step of the queue store: the live token, or the proof
        (verified here first) spent and a new token issued; CHALLENGE_FAILED, with no
        token issued and no proof spent, for a user without a live token whose proof is
        missing, not good or spent. Nothing needs giving back: a join the store refuses
        spends nothing. The line is opened first (as any request finding the sale open
        may open it): that is the sale's own step, due whatever this join's outcome."""
        verified = None
        if command.proof is not None and self._challenges is not None:
            verified = self._challenges.verify(command.proof, command.concert_id, now)
        if entry is Phase.OPEN:
            await self._openings.ensure_open(command.concert_id, now)
        outcome = await proof_queue.issue_proved(
            command.user_id, command.concert_id, TokenId(uuid.uuid4()), verified, now
        )
        if outcome is not None:
            return outcome
        if command.proof is None:
            raise ChallengeFailedError()
        raise ChallengeFailedError(_PROOF_REFUSED)

    async def _check_proof(self, command: IssueTokenCommand, now: dt.datetime) -> bool:
        """Redeem the command's proof unless the user has a live token to get back;
        whether a proof was spent.

        The live token is looked up, then issued again, in two steps judged at the same
        ``now``: only a token ended by another request in between (the user leaving or
        paying at that moment) lets ``issue`` make a new one without a proof, and then
        for a user who had already joined once with one (docs/decisions/0015).
        """
        if await self._queue.live_token(command.user_id, command.concert_id, now) is not None:
            return False
        if command.proof is None:
            raise ChallengeFailedError()
        if self._challenges is None or not await self._challenges.redeem(
            command.proof, command.concert_id, now
        ):
            raise ChallengeFailedError(_PROOF_REFUSED)
        return True
