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
from adapters.sql.engine import PING_AFTER_IDLE_SECONDS, as_unavailable

pytestmark = backends.marks("postgres")


async def backend_pid(engine: AsyncEngine) -> int:
    async with engine.connect() as connection:
        pid: int = (await connection.execute(text("SELECT pg_backend_pid()"))).scalar_one()
    return pid


@pytest.mark.parametrize("ping", ["plain", "stock"])
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
        await asyncio.sleep(PING_AFTER_IDLE_SECONDS + 0.1)  # idle: "plain" pings it now
        second = await backend_pid(engine)  # no error reaches the caller
        assert second != first
    finally:
        await engine.dispose()
        await side.dispose()


async def test_a_connection_handed_back_a_moment_ago_is_not_pinged(postgres_url: str) -> None:
    """Under load every checkout follows a statement by milliseconds: it goes out
    unpinged, so a connection killed within the window fails its own statement (the
    caller's 503), as one just opened would; the pool then pings nothing twice."""
    engine = sql.create_engine(postgres_url, pool_size=1, ping="plain")
    side = sql.create_engine(postgres_url, pool_size=1)
    try:
        first = await backend_pid(engine)
        assert await backend_pid(engine) == first
        async with side.connect() as connection:
            await connection.execute(text(f"SELECT pg_terminate_backend({first}, 5000)"))
        with pytest.raises(DBAPIError) as caught:
            await backend_pid(engine)
        assert as_unavailable(caught.value) is not None, repr(caught.value)
        assert await backend_pid(engine) != first  # the pool replaced it after the error
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
    postgres_url: str,
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
