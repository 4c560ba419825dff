"""The moving-window rule every rate limiter adapter keeps (docs/contract.md §9).

A key's log holds the instants (integer microseconds since the epoch) of the hits it
accepted. A hit at ``t`` counts against every window it falls in: while ``now - t`` is
under the window. A new hit is accepted only when fewer than ``limit`` hits are in
the window ending now, so no window of that length, wherever it starts, ever holds
more than ``limit`` accepted hits. A refused hit is not logged.

With several keys (an address and a fan), a hit is accepted only when every key has
room, and then it is logged under every key; otherwise nothing is logged.

The Redis script ``redis/scripts/rate_hit.lua`` and the PostgreSQL statement in
``sql/rate_limiter.py`` keep the same rule; this module is the reference the memory
and the statement-at-a-time SQL paths use.
"""

from __future__ import annotations

from collections.abc import Sequence


def in_window(log: Sequence[int], now_us: int, window_us: int) -> list[int]:
    """The hits of ``log`` still in the window ending at ``now_us``, oldest first."""
    since = now_us - window_us
    return sorted(hit for hit in log if hit > since)


def wait_for_room(live: Sequence[int], limit: int, now_us: int, window_us: int) -> int:
    """Microseconds until a key whose hits in the window are ``live`` (oldest first)
    has room for one more under ``limit``: 0 when it has room now.

    Room comes when the hit at ``len(live) - limit`` leaves the window; the ones before
    it leave sooner, and fewer than ``limit`` remain after it.
    """
    if limit < 1:
        raise ValueError("a limit is at least 1 (0 means no limit: no key)")
    if len(live) < limit:
        return 0
    return max(1, live[len(live) - limit] + window_us - now_us)
