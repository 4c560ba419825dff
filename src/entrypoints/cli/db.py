"""``concert db``: the database schema."""

from __future__ import annotations

import typer

from entrypoints import storage_admin
from entrypoints.cli.running import out, read_settings, run

db_app = typer.Typer(help="The database schema.", no_args_is_help=True)


@db_app.command("upgrade")
def db_upgrade() -> None:
    """Create or migrate the schema to the latest revision (safe to run again)."""
    config = read_settings()
    if config.in_memory:
        out.print("in-memory storage has no schema to migrate")
        return
    revision = run(storage_admin.upgrade_schema(config))
    out.print(f"database at revision {revision}: {config.database_url}")
