"""``concert admin key``: the operator key the admin routes need."""

from __future__ import annotations

import typer

from concert_core import ConcertService
from entrypoints.cli.running import err, out, read_settings, with_storage
from entrypoints.container import Storage

admin_app = typer.Typer(help="The operator's access.", no_args_is_help=True)


@admin_app.command("key")
def admin_key() -> None:
    """Print the operator key: send it as Authorization: Bearer <key> to /api/v1/admin.
    It is CONCERT_ADMIN_KEY, or the key generated on the first start and stored in the
    database."""

    async def work(storage: Storage, _: ConcertService) -> str:
        return storage.admin_key

    key = with_storage(work)
    if read_settings().in_memory:
        err.print(
            "note: in-memory storage makes a new key for every process; this one is only "
            "this command's. Set CONCERT_ADMIN_KEY to give a server a known key.",
            markup=False,
            soft_wrap=True,
        )
    out.print(key, markup=False, soft_wrap=True, highlight=False)
