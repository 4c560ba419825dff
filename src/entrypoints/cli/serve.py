"""``concert serve``: the REST API in uvicorn worker processes."""

from __future__ import annotations

import contextlib
import ipaddress
import os
import socket
import tempfile
from collections.abc import Iterator
from typing import Annotated

import typer

from entrypoints.cli.running import err, fail, out, read_settings, require_usable_storage


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

    from entrypoints.connections import raise_open_file_limit, uvicorn_options

    config = read_settings()
    if config.in_memory and workers > 1:
        fail("in-memory storage cannot be shared by several workers; use a database", 2)
    require_usable_storage(config)
    if not config.identity_on and not is_loopback(host):
        err.print(
            f"warning: listening on {host} with verified identity off "
            "(CONCERT_IDENTITY_KEY and CONCERT_IDENTITY_JWKS_URL unset): user ids are "
            "taken on trust, so anyone who can reach the service can join the line and "
            "spend wallets in any user's name",
            markup=False,
            soft_wrap=True,
        )
    if config.identity_jwks_url is not None and config.identity_audience is None:
        err.print(
            "warning: verified identity by a JWKS with no CONCERT_IDENTITY_AUDIENCE: the "
            "provider's tokens for any application it serves will be taken; set the "
            "audience your identity provider issues fans' tokens for",
            markup=False,
            soft_wrap=True,
        )
    with socket.socket() as probe:
        try:
            probe.bind((host, port))
        except OSError as error:
            fail(f"cannot listen on {host}:{port}: {error.strerror or error}")
    raise_open_file_limit()  # every connection is a file; the workers inherit the limit
    out.print(f"serving on http://{host}:{port}  (API docs: http://{host}:{port}/schema)")
    out.print(f"fans: http://{host}:{port}/   operators' dashboard: http://{host}:{port}/admin")
    with metrics_shared_by(workers):
        uvicorn.run(
            "entrypoints.serve:app_from_env",
            factory=True,
            host=host,
            port=port,
            workers=workers,
            timeout_graceful_shutdown=10,
            log_level="info",
            access_log=access_log,
            **uvicorn_options(),
        )


def is_loopback(host: str) -> bool:
    """Whether ``host`` is only reachable from this machine (``localhost``, 127.0.0.0/8, ::1)."""
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


_MULTIPROCESS_DIR_VARIABLES = ("PROMETHEUS_MULTIPROC_DIR", "prometheus_multiproc_dir")
"""prometheus-client's variable, and the lower-case spelling it still honours (as
``entrypoints.http.metrics`` has them: not imported from there, as that would import
prometheus-client here, before the variable is settled)."""


@contextlib.contextmanager
def metrics_shared_by(workers: int) -> Iterator[None]:
    """Several workers count into one set of metrics: prometheus-client's multiprocess
    mode, in a fresh directory of this server's own (files of an earlier run, or of
    another server, would be counted in), removed when the server stops. The variable
    is set here, before uvicorn spawns the workers, so each of them starts with it
    (prometheus-client reads it when first imported). One process needs no merging and
    counts in memory: any inherited variable is dropped."""
    saved = {
        name: os.environ.pop(name) for name in _MULTIPROCESS_DIR_VARIABLES if name in os.environ
    }
    try:
        if workers == 1:
            yield
            return
        with tempfile.TemporaryDirectory(prefix="concert-metrics-") as directory:
            os.environ[_MULTIPROCESS_DIR_VARIABLES[0]] = directory
            try:
                yield
            finally:
                del os.environ[_MULTIPROCESS_DIR_VARIABLES[0]]
    finally:
        os.environ.update(saved)
