"""How the operator's commands show concerts: readable tables, or with ``--json`` the
very concert view the admin API answers with (``GET /api/v1/admin/concerts/{id}``)."""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Sequence

import msgspec
from rich.table import Column, Table
from rich.text import Text

from concert_core.use_cases import ConcertReport
from entrypoints.cli.running import out
from entrypoints.http.admin_schemas import ConcertViewResponse


def print_json(reports: ConcertReport | Sequence[ConcertReport]) -> None:
    """The concert view (or a list of them) as the admin API writes it, indented."""
    if isinstance(reports, ConcertReport):
        body = msgspec.json.encode(ConcertViewResponse.of(reports))
    else:
        body = msgspec.json.encode([ConcertViewResponse.of(r) for r in reports])
    out.print(msgspec.json.format(body, indent=2).decode(), markup=False, soft_wrap=True)


def print_concert(report: ConcertReport, now: dt.datetime) -> None:
    """One concert: its sale, its dates' seats and its line."""
    concert, sale = report.concert, report.concert.sale
    out.print(
        f"concert {concert.concert_id}: {concert.title}, {concert.venue} ({report.phase})",
        markup=False,
        soft_wrap=True,
    )
    settings = Table("setting", "value", show_header=False)
    settings.add_row("phase", str(report.phase))
    settings.add_row("pre-queue opens", when(sale.prequeue_opens_at, now, "no pre-queue"))
    settings.add_row("opens", when(sale.opens_at, now, "at once"))
    settings.add_row("closes", when(sale.closes_at, now, "never"))
    settings.add_row("paused", "yes" if sale.paused else "no")
    default = "" if sale.capacity is not None else " (the default)"
    settings.add_row("capacity", f"{report.capacity:,} active at most{default}")
    rate = sale.admission_per_minute
    settings.add_row("admission rate", "no bound" if rate is None else f"{rate:,} a minute")
    settings.add_row("join challenge", "on" if sale.join_challenge else "off")
    settings.add_row("message", Text(sale.message or "none"))
    seed = report.queue.shuffle_seed
    settings.add_row("shuffle seed", "not drawn yet" if seed is None else str(seed))
    out.print(settings)
    dates = Table("date", "available", "held", "sold")
    for day in report.dates:
        dates.add_row(day.date.isoformat(), str(day.available), str(day.held), str(day.sold))
    out.print(dates)
    line = report.queue
    out.print(
        f"waiting {line.waiting:,} · active {line.active:,} of {report.capacity:,} · "
        f"admitted in the last minute {line.admitted_last_minute:,} · "
        f"revenue {report.revenue:,} won",
        markup=False,
        soft_wrap=True,
    )


def print_concerts(reports: Sequence[ConcertReport], now: dt.datetime) -> None:
    """Every concert, one row each (``sale show`` tells one in full)."""
    table = Table(
        Column("id", no_wrap=True),
        Column("concert", overflow="fold", ratio=1),
        Column("phase", no_wrap=True),
        Column("opens (UTC)", no_wrap=True),
        *(
            Column(h, no_wrap=True, justify="right", min_width=len(h))
            for h in ("sold", "waiting", "active")
        ),
    )
    for report in reports:
        concert, opens = report.concert, report.concert.sale.opens_at
        sold = sum(d.sold for d in report.dates)
        seats = sum(d.available + d.held + d.sold for d in report.dates)
        table.add_row(
            str(concert.concert_id),
            Text(f"{concert.title}, {concert.venue}"),  # their text, never markup
            str(report.phase),
            "-" if opens is None else f"{opens.astimezone(dt.UTC):%Y-%m-%d %H:%M}",
            f"{sold}/{seats}",
            f"{report.queue.waiting:,}",
            f"{report.queue.active:,}",
        )
    out.print(table)


def when(instant: dt.datetime | None, now: dt.datetime, unset: str) -> str:
    """``instant`` in UTC, and how far it is from ``now``; ``unset`` when None."""
    if instant is None:
        return unset
    stamp = instant.astimezone(dt.UTC).strftime("%Y-%m-%d %H:%M:%SZ")
    # Whole seconds: a time to come is "in 1m" until less than a minute is left.
    delta = (instant - now).total_seconds()
    seconds = math.ceil(delta) if delta > 0 else -math.floor(-delta)
    if seconds == 0:
        return f"{stamp} (now)"
    span = _span(abs(seconds))
    return f"{stamp} (in {span})" if seconds > 0 else f"{stamp} ({span} ago)"


def _span(seconds: int) -> str:
    days, rest = divmod(seconds, 86_400)
    hours, rest = divmod(rest, 3_600)
    minutes, secs = divmod(rest, 60)
    parts = [(days, "d"), (hours, "h"), (minutes, "m"), (secs, "s")]
    shown = [f"{n}{unit}" for n, unit in parts if n][:2]
    return " ".join(shown)
