"""Reading what an operator types: concert ids, won, counts, seat prices from a file, and
times. Each reader is strict (``1,0,0`` is no amount) and says what it wanted in one
line; the command then exits 2.

Times are RFC 3339 with an offset (``2026-12-01T20:00:00+09:00``), or, for an operator
at a terminal, relative to the service's clock: ``now``, ``+90s``, ``+2m``, ``+1h30m``,
``+1d``.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from pathlib import Path

from attrs import frozen

from concert_core.domain.values import SEATS_PER_DATE


class ArgumentError(ValueError):
    """What the operator typed cannot be read; the message says what was wanted."""


_DIGITS = re.compile(r"[0-9]+")
_RELATIVE = re.compile(r"\+(?:[0-9]+[smhd])+")
_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3_600, "d": 86_400}
_MAX_DIGITS = 19
"""More digits than any count or id the service takes: read no further."""
CLEARED = ("none", "null")
"""Words that clear a setting that may be unset (a time, the rate)."""


def whole_number(text: str, what: str, example: str = "50000") -> int:
    """``text`` as a whole number: ASCII digits only, no sign, separator or space."""
    if not _DIGITS.fullmatch(text) or len(text) > _MAX_DIGITS:
        raise ArgumentError(
            f"{what} {text!r} is not a whole number: write digits only, like {example}"
        )
    return int(text)


@frozen
class Instant:
    """A time as typed: fixed, or so many seconds from the service's ``now``."""

    fixed: dt.datetime | None = None
    after_seconds: int = 0

    def at(self, now: dt.datetime) -> dt.datetime:
        """The time meant, a relative one counted from ``now`` in whole seconds."""
        if self.fixed is not None:
            return self.fixed
        return now.replace(microsecond=0) + dt.timedelta(seconds=self.after_seconds)


def instant(text: str, what: str) -> Instant:
    """An RFC 3339 time with an offset, ``now``, or ``+`` a span (``+90s``, ``+2m``,
    ``+1h30m``, ``+1d``)."""
    spelled = text.strip()
    if spelled.lower() == "now":
        return Instant(after_seconds=0)
    if _RELATIVE.fullmatch(spelled):
        parts = re.findall(r"([0-9]+)([smhd])", spelled)
        seconds = sum(int(n) * _UNIT_SECONDS[unit] for n, unit in parts)
        if seconds > 366 * 86_400:
            raise ArgumentError(f"{what} {text!r} is more than a year away")
        return Instant(after_seconds=seconds)
    try:
        parsed = dt.datetime.fromisoformat(spelled)
    except ValueError:
        parsed = None
    if parsed is None or parsed.tzinfo is None:
        raise ArgumentError(
            f"{what} {text!r} is not a time: write RFC 3339 with an offset "
            "(2026-12-01T20:00:00+09:00), now, or +90s / +2m / +1h"
        )
    return Instant(fixed=parsed)


def optional_instant(text: str, what: str) -> Instant | None:
    """As :func:`instant`, or None for ``none``: the setting is cleared."""
    return None if text.strip().lower() in CLEARED else instant(text, what)


def seat_prices_file(path: Path) -> list[int]:
    """The 50 seat prices in ``path``: a JSON array of 50 integers, or 50 whole numbers
    separated by white space (one per line, say), seat 1 first."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise ArgumentError(f"cannot read --prices-file {str(path)!r}: {_reason(error)}") from None
    if text.lstrip().startswith("["):
        prices = _json_prices(text)
    else:
        prices = [whole_number(word, "a price in --prices-file") for word in text.split()]
    if len(prices) != SEATS_PER_DATE:
        raise ArgumentError(
            f"--prices-file {str(path)!r} lists {len(prices)} prices; a date has "
            f"{SEATS_PER_DATE} seats"
        )
    return prices


def _json_prices(text: str) -> list[int]:
    try:
        values = json.loads(text)
    except (ValueError, RecursionError):
        raise ArgumentError("--prices-file is not a JSON array of whole numbers") from None
    if not isinstance(values, list) or not all(
        type(v) is int and v >= 0 for v in values
    ):  # bool and float are no prices
        raise ArgumentError("--prices-file is not a JSON array of whole numbers")
    return values


def _reason(error: BaseException) -> str:
    return getattr(error, "strerror", None) or type(error).__name__
