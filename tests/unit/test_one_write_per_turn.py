"""A reply goes out in one write (entrypoints/connections.py, OneWritePerTurn): the
head and the body uvicorn writes one after the other are gathered for the turn."""

from __future__ import annotations

import asyncio
from typing import Any

from uvicorn.config import Config
from uvicorn.server import ServerState

from entrypoints.connections import ConnectionLimits, GuardedHttpProtocol, OneWritePerTurn


class RecordingTransport(asyncio.Transport):
    """A connection's far end that keeps what is written and what is done to it."""

    def __init__(self) -> None:
        super().__init__()
        self.events: list[Any] = []
        self.closing = False

    def write(self, data: Any) -> None:
        self.events.append(bytes(data))

    def close(self) -> None:
        self.events.append("close")
        self.closing = True

    def abort(self) -> None:
        self.events.append("abort")
        self.closing = True

    def is_closing(self) -> bool:
        return self.closing

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return {"peername": ("203.0.113.9", 50_000), "sockname": ("127.0.0.1", 8000)}.get(
            name, default
        )

    def pause_reading(self) -> None:
        pass

    def resume_reading(self) -> None:
        pass

    def get_write_buffer_size(self) -> int:
        return 0


async def test_the_writes_of_one_turn_go_out_as_one_after_it() -> None:
    far = RecordingTransport()
    transport = OneWritePerTurn(far, asyncio.get_running_loop())
    transport.write(b"head ")
    transport.write(bytearray(b"body"))
    assert far.events == []  # nothing before the turn ends
    await asyncio.sleep(0)
    assert far.events == [b"head body"]
    transport.write(b"next")
    await asyncio.sleep(0)
    assert far.events == [b"head body", b"next"]


async def test_closing_writes_what_was_gathered_first_and_aborting_drops_it() -> None:
    loop = asyncio.get_running_loop()
    closed, aborted = RecordingTransport(), RecordingTransport()
    for far in (closed, aborted):
        transport = OneWritePerTurn(far, loop)
        transport.write(b"bye")
        transport.close() if far is closed else transport.abort()
    await asyncio.sleep(0)
    assert closed.events == [b"bye", "close"]
    assert aborted.events == ["abort"]


async def app(scope: Any, receive: Any, send: Any) -> None:
    if scope["type"] != "http":
        return
    await send(
        {"type": "http.response.start", "status": 200, "headers": [(b"content-length", b"5")]}
    )
    await send({"type": "http.response.body", "body": b"hello", "more_body": False})


async def test_the_served_reply_is_one_write_with_its_head_and_body() -> None:
    config = Config(app=app, lifespan="off", log_level="warning")
    config.load()
    protocol = GuardedHttpProtocol(config=config, server_state=ServerState(), app_state={})
    far = RecordingTransport()
    protocol.connection_made(far)
    request = b"GET /x HTTP/1.1\r\nHost: a\r\n\r\n"
    try:
        for _ in range(2):  # and again on the same connection
            protocol.data_received(request)
            for _ in range(5):
                await asyncio.sleep(0)
        replies = [event for event in far.events if isinstance(event, bytes)]
        assert len(replies) == 2
        for reply in replies:
            assert reply.startswith(b"HTTP/1.1 200 OK\r\n")
            assert reply.endswith(b"content-length: 5\r\n\r\nhello")
    finally:
        protocol.connection_lost(None)
    assert not ConnectionLimits.open_by_address
