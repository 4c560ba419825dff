"""The on-sale's pre-queue: the sale is scheduled to open a few seconds into the fans'
arrival, paused across its opening, and resumed once every pre-queued fan has seen its
place; what the fans saw then says whether the opening was fair.

While the sale is paused nobody is admitted, so the places fans see are the line as the
opening drew it, with later arrivals behind: the pre-queued hold exactly the places
1..P, each later arrival a place after P, and a pre-queued fan's place does not follow
its arrival (a rank correlation near 0).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import math
from typing import Any

from attrs import define, field

OPENS_AFTER_RAMP_SHARE = 0.6
"""The sale opens when this share of the ramp has passed: the rest arrive after."""
PAUSED_AFTER_OPENING = dt.timedelta(seconds=8)
"""Pre-queued fans poll again within 6 s of the opening (their hint's spread)."""


@define
class PrequeueRecord:
    """What each fan saw while the sale was paused around its opening."""

    resumed: bool = False
    joined_before_opening: dict[int, bool] = field(factory=dict)
    """Fan number -> whether its join was answered with no place (the pre-queue)."""
    places: dict[int, int] = field(factory=dict)
    """Fan number -> the first place it saw while the sale was still paused."""

    def joined(self, fan: int, reply: dict[str, Any]) -> None:
        if fan in self.joined_before_opening:
            return  # a re-entry: only a fan's first join says when it came
        self.joined_before_opening[fan] = reply.get("position") is None
        self.saw(fan, reply)

    def saw(self, fan: int, reply: dict[str, Any]) -> None:
        position = reply.get("position")
        if self.resumed or position is None or fan in self.places:
            return
        if reply.get("sale", {}).get("phase") == "PAUSED":
            self.places[fan] = int(position)

    def report(self) -> dict[str, Any]:
        early = sorted(f for f, pre in self.joined_before_opening.items() if pre)
        late = sorted(f for f, pre in self.joined_before_opening.items() if not pre)
        early_places = [self.places[f] for f in early if f in self.places]
        late_places = [self.places[f] for f in late if f in self.places]
        count = len(early)
        return {
            "prequeued_fans": count,
            "prequeued_places_seen": len(early_places),
            "prequeued_places_within_1_to_n": len(set(early_places)) == len(early_places)
            and all(1 <= p <= count for p in early_places),
            "later_arrivals_seen": len(late_places),
            "later_arrivals_ahead_of_a_prequeued_fan": sum(p <= count for p in late_places),
            "arrival_place_rank_correlation": _spearman(
                [f for f in early if f in self.places], early_places
            ),
            "first_tenth_mean_place_share": _first_tenth_share(early, self.places, count),
        }


def _spearman(arrivals: list[int], places: list[int]) -> float | None:
    """Spearman's rank correlation of arrival order and place (no ties in either)."""
    n = len(places)
    if n < 3:
        return None
    rank_arrival = {f: r for r, f in enumerate(sorted(arrivals))}
    rank_place = {p: r for r, p in enumerate(sorted(places))}
    d2 = sum((rank_arrival[f] - rank_place[p]) ** 2 for f, p in zip(arrivals, places, strict=True))
    return round(1 - 6 * d2 / (n * (n * n - 1)), 4)


def _first_tenth_share(early: list[int], places: dict[int, int], count: int) -> float | None:
    """The first tenth of arrivals' mean place as a share of the pre-queue (0.5 when
    arriving first is no advantage; near 0.05 for a FIFO line)."""
    first = [places[f] for f in early[: max(1, math.ceil(count / 10))] if f in places]
    if not first or not count:
        return None
    return round(sum(first) / len(first) / count, 3)


class Sale:
    """The concert's sale, set through the operator's API."""

    def __init__(self, session: Any, base: str, concert_id: int, admin_key: str) -> None:
        self._session = session
        self._url = f"{base}/api/v1/admin/concerts/{concert_id}/sale"
        self._headers = {"Authorization": f"Bearer {admin_key}"}

    async def change(self, **settings: Any) -> None:
        async with self._session.patch(self._url, json=settings, headers=self._headers) as reply:
            if reply.status != 200:
                raise RuntimeError(f"the sale refused {settings}: {await reply.text()}")

    async def schedule(self, opens_in_seconds: float) -> dt.datetime:
        """Move the pre-queued sale's opening to ``opens_in_seconds`` ahead, paused
        across it; returns the opening's instant."""
        opens_at = dt.datetime.now(dt.UTC) + dt.timedelta(seconds=opens_in_seconds)
        await self.change(opens_at=opens_at.isoformat(), paused=True)
        return opens_at

    async def resume_after(self, at: dt.datetime, record: PrequeueRecord) -> None:
        await asyncio.sleep(max(0.0, (at - dt.datetime.now(dt.UTC)).total_seconds()))
        record.resumed = True  # places seen from now on may have moved up
        await self.change(paused=False)
