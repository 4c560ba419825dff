"""The ``concert`` Typer app: its command groups and commands, and ``main``, the console
script. Each command lives in the module named for its job; ``running`` holds what they
share."""

from __future__ import annotations

import logging
import sys

import typer

from entrypoints.cli.admin import admin_app
from entrypoints.cli.concerts import concerts_app
from entrypoints.cli.db import db_app
from entrypoints.cli.queue import expire, queue_app
from entrypoints.cli.sale import sale_app
from entrypoints.cli.seed import seed
from entrypoints.cli.serve import serve
from entrypoints.cli.wallet import wallet_app

app = typer.Typer(
    name="concert",
    help="Operate the concert reservation service.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
app.add_typer(db_app, name="db")
app.add_typer(concerts_app, name="concerts")
app.add_typer(sale_app, name="sale")
app.add_typer(admin_app, name="admin")
app.add_typer(queue_app, name="queue")
app.add_typer(wallet_app, name="wallet")
app.command()(seed)
app.command()(expire)
app.command()(serve)


@app.callback()
def _quiet_logs() -> None:
    # A command reports its own failures in one line; `serve` configures its own logs.
    logging.basicConfig(level=logging.ERROR, format="%(levelname)s %(name)s: %(message)s")


def main() -> None:
    try:
        app()
    except KeyboardInterrupt:
        sys.exit(130)
