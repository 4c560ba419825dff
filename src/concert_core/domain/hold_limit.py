"""The hold limit: how many live holds one fan may have in one concert. Every seat
repository counts the fan's live holds its own way and asks this rule."""

from __future__ import annotations

from concert_core.domain.errors import HoldLimitReachedError


def check_hold_limit(live_holds: int, max_holds: int) -> None:
    """Refuse another hold when the fan's live holds in the concert reach ``max_holds``
    (HoldLimitReachedError)."""
    if live_holds >= max_holds:
        raise HoldLimitReachedError(f"a user holds at most {max_holds} seats per concert")
