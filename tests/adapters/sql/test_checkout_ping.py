"""A pooled PostgreSQL connection the server dropped while it sat idle is replaced as
the pool hands it out: the checkout ping (one plain statement) finds it dead. One
handed back a moment ago is not pinged (decision 27)."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine

import backends
from adapters import sql
from adapters.sql import engine as engine_module
from adapters.sql.engine import as_unavailable

pytestmark = backends.marks("postgres")


async def backend_pid(engine: AsyncEngine, *, keep: float = 0.0) -> int:
    """A backend's pid; ``keep`` holds the connection that long, so that concurrent
    callers each check out one of their own."""
    async with engine.connect() as connection:
        pid: int = (await connection.execute(text("SELECT pg_backend_pid()"))).scalar_one()
        await asyncio.sleep(keep)
    return pid


IDLE = 0.2
"""Seconds the tests leave a connection idle: twice the window they set."""


@pytest.fixture
def short_window(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(engine_module, "PING_AFTER_IDLE_SECONDS", IDLE / 2)


@pytest.fixture
def long_window(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(engine_module, "PING_AFTER_IDLE_SECONDS", 3600.0)


@pytest.mark.parametrize("ping", ["plain", "stock"])
@pytest.mark.usefixtures("short_window")
async def test_a_connection_killed_while_idle_is_replaced_at_checkout(
    postgres_url: str, ping: str
) -> None:
    engine = sql.create_engine(postgres_url, pool_size=1, ping=ping)  # type: ignore[arg-type]
    side = sql.create_engine(postgres_url, pool_size=1)
    try:
        first = await backend_pid(engine)
        assert await backend_pid(engine) == first  # the pool keeps its one connection
        async with side.connect() as connection:
            killed = await connection.execute(text(f"SELECT pg_terminate_backend({first}, 5000)"))
            assert killed.scalar_one() is True
        await asyncio.sleep(IDLE)  # past the window: "plain" pings it
        second = await backend_pid(engine)  # no error reaches the caller
        assert second != first
    finally:
        await engine.dispose()
        await side.dispose()


async def test_a_connection_handed_back_a_moment_ago_is_not_pinged(
    postgres_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The rule itself, seen through a ping that always fails (so a pinged connection is
    replaced, and its backend changes): within the window the same connection comes
    back unpinged; once it has sat idle past the window it is pinged."""
    monkeypatch.setattr(engine_module, "CHECKOUT_PING", "SELECT 1 / 0")
    monkeypatch.setattr(engine_module, "PING_AFTER_IDLE_SECONDS", 3600.0)
    engine = sql.create_engine(postgres_url, pool_size=1, ping="plain")
    try:
        first = await backend_pid(engine)  # just opened: not pinged
        assert await backend_pid(engine) == first  # back a moment ago: not pinged
        assert await backend_pid(engine) == first
        monkeypatch.setattr(engine_module, "PING_AFTER_IDLE_SECONDS", 0.0)
        assert await backend_pid(engine) != first  # idle past the window: pinged, replaced
    finally:
        await engine.dispose()


@pytest.mark.usefixtures("long_window")
async def test_connections_the_server_closed_are_replaced_unpinged(postgres_url: str) -> None:
    """A restart within the window: every pooled backend is ended right after use. The
    driver has seen each socket close, so each is replaced as the pool hands it out,
    without a ping and without an error reaching a caller."""
    engine = sql.create_engine(postgres_url, pool_size=3, ping="plain")
    side = sql.create_engine(postgres_url, pool_size=1)
    try:
        async with side.connect() as connection:  # opened before, so it is not killed
            await connection.execute(text("SELECT 1"))
            before = set(await asyncio.gather(*(backend_pid(engine, keep=0.05) for _ in range(3))))
            assert len(before) == 3  # the pool holds three connections
            killed = await connection.execute(
                text(
                    "SELECT pg_terminate_backend(pid, 5000) "
                    "FROM unnest(CAST(:pids AS int[])) AS pid"
                ),
                {"pids": sorted(before)},
            )
            assert killed.scalars().all() == [True, True, True]
        await asyncio.sleep(0.05)  # the driver reads the closed sockets
        after = [await backend_pid(engine) for _ in range(6)]  # no error reaches the caller
        assert not set(after) & before
    finally:
        await engine.dispose()
        await side.dispose()


async def test_without_a_ping_the_dead_connection_reaches_the_caller(postgres_url: str) -> None:
    """The control: what the ping spares a request (a reader that opts out retries)."""
    engine = sql.create_engine(postgres_url, pool_size=1, ping="off")
    side = sql.create_engine(postgres_url, pool_size=1)
    try:
        first = await backend_pid(engine)
        async with side.connect() as connection:
            await connection.execute(text(f"SELECT pg_terminate_backend({first}, 5000)"))
        with pytest.raises(DBAPIError):
            await backend_pid(engine)
    finally:
        await engine.dispose()
        await side.dispose()


async def test_a_server_that_drops_connections_after_login_is_a_503_not_a_500(
    postgres_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A proxy in front of PostgreSQL that, once told to, drops every connection at
    its first query (a server crash-looping after login): the pooled connection fails
    its ping, the fresh one its first statement, and the error is one the storage
    layer reads as 'unavailable' (503), never the pool's own 'tries exhausted'."""
    url = make_url(postgres_url)
    dropping = False
    links: set[asyncio.StreamWriter] = set()

    async def pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, up: bool) -> None:
        try:
            while data := await reader.read(65536):
                if up and dropping and data[:1] in (b"Q", b"P"):
                    for link in list(links):
                        link.close()
                    return
                writer.write(data)
                await writer.drain()
        except OSError:
            pass
        finally:
            writer.close()

    async def relay(client_r: asyncio.StreamReader, client_w: asyncio.StreamWriter) -> None:
        server_r, server_w = await asyncio.open_connection(url.host, url.port or 5432)
        links.update({client_w, server_w})
        await asyncio.gather(pipe(client_r, server_w, True), pipe(server_r, client_w, False))

    monkeypatch.setattr(engine_module, "PING_AFTER_IDLE_SECONDS", 0.0)  # every checkout
    proxy = await asyncio.start_server(relay, "127.0.0.1", 0)
    port = proxy.sockets[0].getsockname()[1]
    engine = sql.create_engine(
        url.set(host="127.0.0.1", port=port).render_as_string(hide_password=False), pool_size=1
    )
    try:
        assert await backend_pid(engine) > 0  # pooled, through the proxy
        dropping = True
        try:
            await backend_pid(engine)
        except Exception as error:
            assert as_unavailable(error) is not None, repr(error)
        else:
            pytest.fail("a connection dropped at its first query answered")
    finally:
        await engine.dispose()
        proxy.close()
        for link in list(links):
            link.close()
