"""``concert serve``: the REST API in uvicorn worker processes."""

from __future__ import annotations

import socket
from typing import Annotated

import typer

from entrypoints.cli.running import fail, out, read_settings, require_usable_storage


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

    config = read_settings()
    if config.in_memory and workers > 1:
        fail("in-memory storage cannot be shared by several workers; use a database", 2)
    require_usable_storage(config)
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
