"""``concert sale``: watch a concert's on-sale, and change it live (open, pause, resume,
capacity, admission rate, join challenge, message, close)."""

from __future__ import annotations

from typing import Annotated

import typer

from concert_core import ConcertService
from concert_core.use_cases import ChangeSaleCommand
from entrypoints.cli.arguments import CLEARED, Instant, optional_instant, whole_number
from entrypoints.cli.concerts import TIME_HELP, JsonOption
from entrypoints.cli.running import fail, reading_arguments, with_storage
from entrypoints.cli.views import print_concert, print_json
from entrypoints.container import Storage

sale_app = typer.Typer(help="Concerts' on-sales.", no_args_is_help=True)

ConcertArgument = Annotated[str, typer.Argument(metavar="ID", help="The concert's id.")]
CLEAR_HELP = "'none' clears it."


@sale_app.command("show")
def sale_show(concert: ConcertArgument, as_json: JsonOption = False) -> None:
    """A concert's sale, seats per date, line and revenue."""
    with reading_arguments():
        concert_id = whole_number(concert, "concert id", "7")
    _show(concert_id, {}, as_json)


@sale_app.command("set")
def sale_set(
    concert: ConcertArgument,
    opens_at: Annotated[
        str | None, typer.Option(help=f"When the sale opens. {TIME_HELP} {CLEAR_HELP}")
    ] = None,
    prequeue_opens_at: Annotated[
        str | None,
        typer.Option(help=f"When fans may start to join. {TIME_HELP} {CLEAR_HELP}"),
    ] = None,
    closes_at: Annotated[
        str | None, typer.Option(help=f"When the sale ends. {TIME_HELP} {CLEAR_HELP}")
    ] = None,
    pause: Annotated[bool, typer.Option("--pause", help="Stop admitting fans.")] = False,
    resume: Annotated[bool, typer.Option("--resume", help="Admit fans again.")] = False,
    capacity: Annotated[
        str | None,
        typer.Option(help="Active fans at most; 'default' for CONCERT_ACTIVE_CAPACITY."),
    ] = None,
    rate: Annotated[
        str | None, typer.Option(help=f"Fans admitted a minute, at most. {CLEAR_HELP}")
    ] = None,
    challenge: Annotated[
        bool | None,
        typer.Option("--challenge/--no-challenge", help="Require the join challenge."),
    ] = None,
    message: Annotated[
        str | None,
        typer.Option(help="Shown to every fan of the concert (500 characters); '' clears it."),
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """Change a concert's sale; settings left out keep their values. Every instance
    follows within one admission interval."""
    if pause and resume:
        fail("give --pause or --resume, not both", 2)
    with reading_arguments():
        concert_id = whole_number(concert, "concert id", "7")
        changes: dict[str, object] = {}
        for name, option, text in (
            ("opens_at", "--opens-at", opens_at),
            ("prequeue_opens_at", "--prequeue-opens-at", prequeue_opens_at),
            ("closes_at", "--closes-at", closes_at),
        ):
            if text is not None:
                changes[name] = optional_instant(text, option)
        if pause or resume:
            changes["paused"] = pause
        if capacity is not None:
            changes["capacity"] = (
                None if capacity.strip() == "default" else whole_number(capacity, "--capacity")
            )
        if rate is not None:
            changes["admission_per_minute"] = (
                None if rate.strip().lower() in CLEARED else whole_number(rate, "--rate")
            )
        if challenge is not None:
            changes["join_challenge"] = challenge
        if message is not None:
            changes["message"] = message
    if not changes:
        fail("nothing to change: give at least one setting (see --help)", 2)
    _show(concert_id, changes, as_json)


def _show(concert_id: int, changes: dict[str, object], as_json: bool) -> None:
    """Apply ``changes`` (times typed relative to the service's clock), then show."""

    async def work(storage: Storage, service: ConcertService) -> None:
        now = await storage.clock.now()
        if changes:
            resolved = {
                name: value.at(now) if isinstance(value, Instant) else value
                for name, value in changes.items()
            }
            await service.change_sale(ChangeSaleCommand(concert_id, resolved))
        [report] = await service.report_concerts(concert_id)
        if as_json:
            print_json(report)
        else:
            print_concert(report, now)

    with_storage(work)
