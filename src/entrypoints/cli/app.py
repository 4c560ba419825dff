"""``concert``: set up, seed, run the queue by hand, look at wallets, and serve.

Exit codes: 0 done; 1 the service refused (a domain error, or storage unreachable);
2 bad arguments or configuration. Errors are one line on standard error.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
import os
import socket
import sys
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine
from typing import Annotated, Any, NoReturn, TypeVar

import typer
from rich.console import Console
from rich.progress import Progress
from rich.table import Table

from concert_core import ConcertService
from concert_core.domain import DomainError, ServiceUnavailableError
from concert_core.use_cases import ChargeCommand, ScheduleConcertCommand, tiered_prices
from entrypoints.container import Container
from entrypoints.settings import Settings, SettingsError

_T = TypeVar("_T")

app = typer.Typer(
    name="concert",
    help="Operate the concert reservation service.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
db_app = typer.Typer(help="The database schema.", no_args_is_help=True)
queue_app = typer.Typer(help="The waiting rooms.", no_args_is_help=True)
wallet_app = typer.Typer(help="Users' wallets.", no_args_is_help=True)
app.add_typer(db_app, name="db")
app.add_typer(queue_app, name="queue")
app.add_typer(wallet_app, name="wallet")

out = Console(highlight=False)
err = Console(stderr=True, highlight=False)

DEMO_CONCERTS = (
    ("Winter Lights", "Olympic Hall"),
    ("Han River Nights", "KSPO Dome"),
    ("Spring Overture", "Seoul Arts Center"),
    ("Neon Harbour", "Busan Cinema Center"),
    ("Summer Static", "Incheon Munhak Stadium"),
)
DEMO_START = dt.date(2027, 3, 6)
"""The demo's first performance; a fixed day, so seeding again adds nothing."""


def fail(message: str, code: int = 1) -> NoReturn:
    err.print(f"error: {message}", markup=False, soft_wrap=True)
    raise typer.Exit(code)


def settings() -> Settings:
    try:
        config = Settings.from_env(os.environ)
    except SettingsError as error:
        fail(str(error), 2)
    return config


def run(work: Coroutine[Any, Any, _T]) -> _T:
    """Run a command's coroutine. Whatever stops it is one line on standard error: a
    domain error (exit 1, with the storage's own reason when it is unreachable), bad
    configuration (exit 2), or anything else the database said (exit 1)."""
    try:
        return asyncio.run(work)
    except ServiceUnavailableError as error:
        cause = f" ({_one_line(error.__cause__)})" if error.__cause__ else ""
        fail(f"{error.code}: {error.detail}{cause}")
    except DomainError as error:
        fail(f"{error.code}: {error.detail}")
    except SettingsError as error:
        fail(str(error), 2)
    except (typer.Exit, KeyboardInterrupt):
        raise
    except Exception as error:
        fail(f"{type(error).__name__}: {_one_line(error)}")


def _one_line(error: BaseException) -> str:
    text = str(getattr(error, "orig", None) or error).strip().splitlines()
    return text[0][:300] if text else type(error).__name__


@contextlib.asynccontextmanager
async def opened(config: Settings) -> AsyncIterator[tuple[ConcertService, Container]]:
    container = Container(settings=config)
    try:
        await container.init_resources()
        service = await container.service()
        yield service, container
    finally:
        await container.shutdown_resources()


def with_service(work: Callable[[ConcertService], Awaitable[_T]]) -> _T:
    config = settings()
    _require_usable_storage(config)

    async def go() -> _T:
        async with opened(config) as (service, _):
            return await work(service)

    return run(go())


def _require_usable_storage(config: Settings) -> None:
    """Refuse, in one line, a database that is not migrated or a Redis that refuses its
    settings; an unreachable one is left for the command to meet (and serve to ride
    out)."""
    if not config.in_memory:
        run(_require_migrated(config))
    if config.redis_url is not None:
        from adapters import redis

        if (reason := run(redis.refused_settings(config.redis_url))) is not None:
            fail(f"CONCERT_REDIS_URL: Redis refuses it: {reason}", 2)


async def _require_migrated(config: Settings) -> None:
    from adapters import sql

    engine = sql.create_engine(config.database_url)
    try:
        current = await sql.current_revision(engine)
    finally:
        await engine.dispose()
    if current != sql.head_revision():
        fail(
            f"the database at {config.database_url} is not migrated "
            f"(at {current or 'nothing'}): run `concert db upgrade`"
        )


# -- db -------------------------------------------------------------------------------


@db_app.command("upgrade")
def db_upgrade() -> None:
    """Create or migrate the schema to the latest revision (safe to run again)."""
    config = settings()
    if config.in_memory:
        out.print("in-memory storage has no schema to migrate")
        return
    from adapters import sql

    async def go() -> str | None:
        engine = sql.create_engine(config.database_url)
        try:
            await sql.upgrade(engine)
            return await sql.current_revision(engine)
        finally:
            await engine.dispose()

    revision = run(go())
    out.print(f"database at revision {revision}: {config.database_url}")


# -- seed -----------------------------------------------------------------------------


@app.command()
def seed(
    concerts: Annotated[int, typer.Option(min=1, max=len(DEMO_CONCERTS))] = 3,
    dates: Annotated[int, typer.Option(min=1, max=520, help="Weekly dates per concert.")] = 5,
    price: Annotated[
        int,
        typer.Option(min=1_000, max=5_000_000, help="Base price in won; seats vary by tier."),
    ] = 100_000,
) -> None:
    """Add demo concerts, each with weekly dates of 50 seats. Running it again adds nothing."""
    prices = tiered_prices(price)
    days = [DEMO_START + dt.timedelta(weeks=w) for w in range(dates)]

    async def work(service: ConcertService) -> tuple[int, int]:
        before = {c.concert_id for c in await service.list_concerts()}
        with Progress(console=out, transient=False) as progress:
            task = progress.add_task("seeding", total=concerts * dates)
            for title, venue in DEMO_CONCERTS[:concerts]:
                for day in days:
                    await service.schedule_concert(
                        ScheduleConcertCommand(title, venue, [day], prices)
                    )
                    progress.advance(task)
        after = await service.list_concerts()
        return len(after), len({c.concert_id for c in after} - before)

    total, added = with_service(work)
    out.print(f"{added} concerts added, {total} in all ({dates} dates of 50 seats each)")


# -- queue ----------------------------------------------------------------------------


@queue_app.command("admit")
def queue_admit(
    concert: Annotated[int | None, typer.Option(min=1, help="Only this concert.")] = None,
    loop: Annotated[bool, typer.Option(help="Keep admitting every admission interval.")] = False,
) -> None:
    """Admit waiting fans into free active places, in FIFO order."""

    async def work(service: ConcertService) -> None:
        while True:
            for admission in await service.admit_waiting(concert):
                if admission.admitted or not loop:
                    out.print(f"concert {admission.concert_id}: {admission.admitted} admitted")
            if not loop:
                return
            await asyncio.sleep(service.policy.admission_interval.total_seconds())

    with contextlib.suppress(KeyboardInterrupt):
        with_service(work)


@queue_app.command("stats")
def queue_stats(
    concert: Annotated[int | None, typer.Option(min=1, help="Only this concert.")] = None,
) -> None:
    """Waiting and active fans per concert."""

    async def work(service: ConcertService) -> None:
        table = Table("concert", "waiting", "active", "capacity")
        for stats in await service.queue_overview(concert):
            table.add_row(
                str(stats.concert_id),
                str(stats.waiting),
                str(stats.active),
                str(service.policy.active_capacity),
            )
        out.print(table)

    with_service(work)


@app.command()
def expire() -> None:
    """Release lapsed holds and expire timed-out tokens (correctness never waits for this)."""

    async def work(service: ConcertService) -> None:
        report = await service.expire_lapsed()
        out.print(f"{report.tokens_expired} tokens expired, {report.holds_released} holds released")

    with_service(work)


# -- wallet ---------------------------------------------------------------------------


@wallet_app.command("charge")
def wallet_charge(
    user: Annotated[str, typer.Argument(help="The user's UUID.")],
    amount: Annotated[str, typer.Argument(help="Won, 1 to 10,000,000.")],
) -> None:
    """Top up a user's wallet."""
    digits = amount.replace(",", "").replace("_", "")
    if not (digits.isascii() and digits.isdigit()):
        fail(f"VALIDATION_ERROR: amount {amount!r} is not a whole number of won", 2)
    won = int(digits)

    async def work(service: ConcertService) -> None:
        balance = await service.charge_wallet(ChargeCommand(user, won))
        out.print(f"{balance.user_id} balance {balance.balance:,} won")

    with_service(work)


@wallet_app.command("show")
def wallet_show(user: Annotated[str, typer.Argument(help="The user's UUID.")]) -> None:
    """A user's balance and payments."""

    async def work(service: ConcertService) -> None:
        balance = await service.get_balance(user)
        payments = await service.payment_history(user)
        out.print(f"{balance.user_id} balance {balance.balance:,} won")
        for payment in payments:
            seats = len(payment.reservation_ids)
            out.print(
                f"  {payment.paid_at:%Y-%m-%d %H:%M:%S} paid {payment.amount:,} won "
                f"for {seats} seat{'s' * (seats != 1)} ({payment.payment_id})"
            )

    with_service(work)


# -- serve ----------------------------------------------------------------------------


@app.command()
def serve(
    host: Annotated[str, typer.Option(help="Interface to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=1, max=65535)] = 8000,
    workers: Annotated[int, typer.Option(min=1, max=64, help="Server processes.")] = 1,
    access_log: Annotated[
        bool, typer.Option(help="Log every request (a line each, on standard output).")
    ] = True,
) -> None:
    """Serve the REST API (uvicorn), with admission and expiry loops in every process."""
    import uvicorn

    config = settings()
    if config.in_memory and workers > 1:
        fail("in-memory storage cannot be shared by several workers; use a database", 2)
    _require_usable_storage(config)
    with socket.socket() as probe:
        try:
            probe.bind((host, port))
        except OSError as error:
            fail(f"cannot listen on {host}:{port}: {error.strerror or error}")
    out.print(f"serving on http://{host}:{port}  (API docs: http://{host}:{port}/schema)")
    uvicorn.run(
        "entrypoints.serve:app_from_env",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        timeout_graceful_shutdown=10,
        log_level="info",
        access_log=access_log,
    )


@app.callback()
def _quiet_logs() -> None:
    # A command reports its own failures in one line; `serve` configures its own logs.
    logging.basicConfig(level=logging.ERROR, format="%(levelname)s %(name)s: %(message)s")


def main() -> None:
    try:
        app()
    except KeyboardInterrupt:
        sys.exit(130)
