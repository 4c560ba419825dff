"""``concert concerts``: add a real concert with its dates, prices and sale times, and
list every concert with its sale."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from concert_core import ConcertService
from concert_core.use_cases import AddConcertCommand, prices_of
from entrypoints.cli.arguments import instant, seat_prices_file, whole_number
from entrypoints.cli.running import fail, reading_arguments, with_storage
from entrypoints.cli.views import print_concert, print_concerts, print_json
from entrypoints.container import Storage

concerts_app = typer.Typer(help="Concerts and their dates.", no_args_is_help=True)

TIME_HELP = "RFC 3339 with an offset (2026-12-01T20:00:00+09:00), now, or +90s / +2m / +1h."
JsonOption = Annotated[
    bool, typer.Option("--json", help="Print the concert view as JSON (as the admin API).")
]


@concerts_app.command("add")
def concerts_add(
    title: Annotated[str, typer.Option(help="The concert's title.")],
    venue: Annotated[str, typer.Option(help="Where it plays.")],
    date: Annotated[
        list[str],
        typer.Option("--date", help="A performance date, YYYY-MM-DD; repeat for each date."),
    ],
    price: Annotated[
        str | None,
        typer.Option(help="Base price in won (digits); seats are priced in tiers around it."),
    ] = None,
    prices_file: Annotated[
        Path | None,
        typer.Option(help="The 50 seats' prices, seat 1 first: a JSON array or one number a line."),
    ] = None,
    prequeue_opens_at: Annotated[
        str | None, typer.Option(help=f"When fans may start to join. {TIME_HELP}")
    ] = None,
    opens_at: Annotated[
        str | None, typer.Option(help=f"When the sale opens (default: at once). {TIME_HELP}")
    ] = None,
    closes_at: Annotated[
        str | None, typer.Option(help=f"When the sale ends (default: never). {TIME_HELP}")
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """Add a concert with its dates (50 seats each) and when its sale opens."""
    if (price is None) == (prices_file is None):
        fail("give either --price (a base price) or --prices-file (the 50 seats' prices)", 2)
    with reading_arguments():
        prices = prices_of(
            None if price is None else whole_number(price, "--price"),
            None if prices_file is None else seat_prices_file(prices_file),
        )
        times = {
            name: instant(text, option)
            for name, option, text in (
                ("prequeue_opens_at", "--prequeue-opens-at", prequeue_opens_at),
                ("opens_at", "--opens-at", opens_at),
                ("closes_at", "--closes-at", closes_at),
            )
            if text is not None
        }

    async def work(storage: Storage, service: ConcertService) -> None:
        now = await storage.clock.now()
        sale = {name: typed.at(now) for name, typed in times.items()}
        concert = await service.add_concert(
            AddConcertCommand(title=title, venue=venue, dates=date, prices=prices, sale=sale)
        )
        [report] = await service.report_concerts(concert.concert_id)
        if as_json:
            print_json(report)
        else:
            print_concert(report, now)

    with_storage(work)


@concerts_app.command("list")
def concerts_list(as_json: JsonOption = False) -> None:
    """Every concert: its phase, opening, seats sold, line and revenue."""

    async def work(storage: Storage, service: ConcertService) -> None:
        reports = await service.report_concerts()
        if as_json:
            print_json(reports)
        else:
            print_concerts(reports, await storage.clock.now())

    with_storage(work)
