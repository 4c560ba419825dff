"""The fan-journey machine's own account of each concert's sale (docs/contract.md §8):
the settings as its operator set them and when its last seat was sold, and what they
allow at an instant; and the order its line must admit in.

The machine keeps this account itself rather than asking the service, so that a rule
the service forgot to apply shows as a difference. Two allowances, both of one
admission interval, follow the service's caches: each instance reads a concert's sale
at most once per interval, so a sale that just sold out may still be judged as it was;
the machine's rules that change a sale let an interval pass afterwards, so a change is
in force for every instance by the next step.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Iterable
from functools import partial

import attrs
from hypothesis import strategies as st
from journey_storage import Opening

from concert_core.domain import (
    ConcertId,
    Phase,
    QueueToken,
    SaleSettings,
    Seat,
    SeatStatus,
    ValidationError,
    shuffle_key,
)
from concert_core.policy import Policy

JOINABLE = frozenset({Phase.PREQUEUE, Phase.OPEN})
"""The phases a fan may join in (as joining sees them: a pause left out)."""
ENDED = frozenset({Phase.SOLD_OUT, Phase.CLOSED})
MINUTE = dt.timedelta(minutes=1)

CAPACITIES = st.sampled_from([None, 1, 2, 3])
RATES = st.sampled_from([None, 1, 2, 6])
NOW = "now"
"""In a drawn change to a sale: the machine's clock when the change is sent."""
SALE_CHANGES = st.fixed_dictionaries(
    {},
    optional={
        "paused": st.booleans(),
        "capacity": CAPACITIES,
        "admission_per_minute": RATES,
        "opens_at": st.just(NOW),
        "prequeue_opens_at": st.sampled_from([None, NOW]),
    },
)
"""A change an operator makes to a sale: any subset of the settings it may change
(closing has a rule of its own)."""


def phase_of(sale: SaleSettings, at: dt.datetime, *, sold_out: bool, paused_counts: bool) -> Phase:
    """The phase of ``sale`` at ``at``, as docs/contract.md §8's table has it (worked
    out here, not by the domain's ``SaleSettings.phase_at``: the judge of a rule is not
    the code that applies it)."""
    if sold_out:
        return Phase.SOLD_OUT
    if sale.closes_at is not None and at >= sale.closes_at:
        return Phase.CLOSED
    phase = Phase.OPEN
    if sale.opens_at is not None and at < sale.opens_at:
        prequeue = sale.prequeue_opens_at
        phase = Phase.PREQUEUE if prequeue is not None and at >= prequeue else Phase.SCHEDULED
    if paused_counts and sale.paused and phase in JOINABLE:
        return Phase.PAUSED
    return phase


class SaleModel:
    def __init__(self, policy: Policy) -> None:
        self._policy = policy
        self.settings: dict[ConcertId, SaleSettings] = {}
        self.sold_out_at: dict[ConcertId, dt.datetime] = {}
        """When the machine first saw every seat of the concert SOLD."""
        self._highest_capacity: dict[ConcertId, int] = {}

    def set(self, concert: ConcertId, settings: SaleSettings) -> None:
        self.settings[concert] = settings
        highest = max(self._highest_capacity.get(concert, 0), self.capacity(concert))
        self._highest_capacity[concert] = highest

    def changed(
        self, concert: ConcertId, changes: dict[str, object], *, opened: bool
    ) -> SaleSettings | None:
        """The settings ``changes`` make, or None if the operator must be refused: bad
        settings, or an opening or pre-queue moved once the line has opened."""
        current = self.settings[concert]
        try:
            changed = SaleSettings(**(attrs.asdict(current, recurse=False) | changes))
        except ValidationError:
            return None
        moves = (changed.opens_at, changed.prequeue_opens_at) != (
            current.opens_at,
            current.prequeue_opens_at,
        )
        return None if moves and opened else changed

    def note_sold_out(self, seats: Iterable[Seat], at: dt.datetime) -> None:
        """Note, for every concert with every one of ``seats`` SOLD, that it sold out by
        ``at`` (if it had not before)."""
        unsold = {seat.key.concert_id for seat in seats if seat.status is not SeatStatus.SOLD}
        for concert in self.settings.keys() - unsold:
            self.sold_out_at.setdefault(concert, at)

    # -- what the settings say at an instant ------------------------------------------

    def phases(self, concert: ConcertId, at: dt.datetime) -> frozenset[Phase]:
        """The phases the service may judge the sale to be in at ``at``: one, or two
        within an admission interval of its selling out."""
        return self._judged(concert, at, paused_counts=True)

    def entry_phases(self, concert: ConcertId, at: dt.datetime) -> frozenset[Phase]:
        """The same as joining sees it: a paused sale takes joins as the phase it pauses."""
        return self._judged(concert, at, paused_counts=False)

    def _judged(
        self, concert: ConcertId, at: dt.datetime, *, paused_counts: bool
    ) -> frozenset[Phase]:
        settings, sold_out_at = self.settings[concert], self.sold_out_at.get(concert)
        judge = partial(phase_of, settings, at, paused_counts=paused_counts)
        if sold_out_at is None:
            return frozenset({judge(sold_out=False)})
        if at >= sold_out_at + self._policy.admission_interval:
            return frozenset({judge(sold_out=True)})
        return frozenset({judge(sold_out=False), judge(sold_out=True)})

    def next_moment(self, concert: ConcertId, now: dt.datetime) -> dt.datetime | None:
        """The sale's next change of phase by the clock (pre-queue, opening, closing)."""
        settings = self.settings[concert]
        moments = (settings.prequeue_opens_at, settings.opens_at, settings.closes_at)
        return min((m for m in moments if m is not None and m > now), default=None)

    def capacity(self, concert: ConcertId) -> int:
        return self.settings[concert].capacity or self._policy.active_capacity

    def highest_capacity(self, concert: ConcertId) -> int:
        """The most ACTIVE tokens the concert may have: a lowered capacity ends nobody's
        turn, so those admitted under a higher one may outnumber it for a while."""
        return self._highest_capacity[concert]

    def rate(self, concert: ConcertId) -> int | None:
        return self.settings[concert].admission_per_minute

    def per_pass(self, concert: ConcertId) -> int | None:
        """The most one admission pass may admit under the rate: the minute's allowance
        spread over its passes, rounded up."""
        rate = self.rate(concert)
        if rate is None:
            return None
        return max(1, math.ceil(rate * self._policy.admission_interval.total_seconds() / 60))


def line_key(token: QueueToken, opening: Opening, seed: int) -> tuple[int, str, int]:
    """Where ``token`` stands in its concert's line: the pre-queue first, in the order
    ``shuffle_key`` gives with the seed drawn at the opening; then issue order."""
    if token.token_id in opening.prequeued:
        return (0, shuffle_key(seed, token.token_id), 0)
    return (1, "", token.sequence)
