"""The HTTP connections a server process keeps open, bounded (docs/contract.md §9).

uvicorn's HTTP protocol arms its keep-alive timer only once a response is complete: a
connection that never sends a whole request (nothing at all, half a request line,
headers without the blank line that ends them, a head whose body never comes) is
kept for as long as the client likes, and enough of them exhaust the process's open
files. :class:`GuardedHttpProtocol` is uvicorn's httptools protocol with these bounds
added, per server process:

- a **head deadline**: from the moment a connection is accepted, and again from the end
  of each response, the next request head must be complete within
  ``CONCERT_HEADER_TIMEOUT_SECONDS``, or the connection is closed;
- a **body deadline**: once a head is complete, the request's body (at most 64 KiB here;
  none for most requests) must be complete within the same time again, or the
  connection is closed;
- a **bound per client address**: at most ``CONCERT_MAX_CONNECTIONS_PER_ADDRESS``
  connections open at once from one IPv4 address (or one IPv6 /64, which one client
  usually holds whole); one more is closed as soon as it is accepted.

It also sends a reply in one write where uvicorn makes two (the head, then the body: a
system call each, and a packet each for the client to take in): the writes a
connection makes in one turn of the event loop go out together at the end of it
(:class:`OneWritePerTurn`).

Why this and not another server: decision 17.
"""

from __future__ import annotations

import asyncio
import ipaddress
import logging
import resource
from collections import Counter
from typing import Any, ClassVar

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from entrypoints.settings import (
    DEFAULT_HEADER_TIMEOUT_SECONDS,
    DEFAULT_MAX_CONNECTIONS_PER_ADDRESS,
    Settings,
)

LISTEN_BACKLOG = 4096
"""The listening socket's queue of connections not yet accepted (uvicorn's default,
said here so it is a choice): deep enough for a burst of fans connecting at once; the
kernel caps it at ``net.core.somaxconn``."""

WARNING_INTERVAL_SECONDS = 60.0
"""A flood from one address is logged once a minute at most, not once a connection."""

_log = logging.getLogger(__name__)


class ConnectionLimits:
    """The two bounds, set once per server process from its settings (before the first
    connection is accepted), and the count of open connections per address."""

    header_timeout: ClassVar[float] = DEFAULT_HEADER_TIMEOUT_SECONDS
    max_per_address: ClassVar[int] = DEFAULT_MAX_CONNECTIONS_PER_ADDRESS
    """0: no bound (behind a reverse proxy every connection comes from the proxy)."""
    open_by_address: ClassVar[Counter[str]] = Counter()
    refused: ClassVar[int] = 0
    """Connections closed at once for their address's bound (for tests and logs)."""
    timed_out: ClassVar[int] = 0
    """Connections closed for a request head or body not complete in time."""
    next_warning: ClassVar[float] = 0.0

    @classmethod
    def configure(cls, settings: Settings) -> None:
        cls.header_timeout = settings.header_timeout_seconds
        cls.max_per_address = settings.max_connections_per_address


def address_key(host: str) -> str:
    """Whose connection this is: the IPv4 address, or the IPv6 /64 (an IPv4-mapped
    IPv6 address counts as its IPv4 one)."""
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return host  # a Unix socket's path, or something else unexpected: as it is
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            return str(address.ipv4_mapped)
        return str(ipaddress.IPv6Network((address, 64), strict=False))
    return str(address)


class OneWritePerTurn(asyncio.Transport):
    """A connection's transport whose writes of one event-loop turn go out as one.

    A reply's head and body are written one after the other in the same turn (its
    handler does not wait in between unless the connection is slow to drain, which
    flow control sees on the real transport): gathered, they cost one ``send`` instead
    of two. The data is written when the loop gets to the callback scheduled by the
    turn's first write (after the callbacks already scheduled, never later), or at
    once when the transport is closed; ``abort`` drops it with the connection."""

    def __init__(self, transport: asyncio.Transport, loop: asyncio.AbstractEventLoop) -> None:
        super().__init__()
        self._transport = transport
        self._loop = loop
        self._pending: list[bytes] | None = None

    def write(self, data: bytes | bytearray | memoryview) -> None:
        if not data:
            return
        chunk = data if isinstance(data, bytes) else bytes(data)
        if self._pending is None:
            self._pending = [chunk]
            self._loop.call_soon(self.flush)
        else:
            self._pending.append(chunk)

    def writelines(self, list_of_data: Any) -> None:
        for data in list_of_data:
            self.write(data)

    def flush(self) -> None:
        """Write what the turn gathered now."""
        pending, self._pending = self._pending, None
        if pending and not self._transport.is_closing():
            self._transport.write(pending[0] if len(pending) == 1 else b"".join(pending))

    def close(self) -> None:
        self.flush()
        self._transport.close()

    def write_eof(self) -> None:
        self.flush()
        self._transport.write_eof()

    def abort(self) -> None:
        self._pending = None
        self._transport.abort()

    def get_write_buffer_size(self) -> int:
        gathered = sum(map(len, self._pending)) if self._pending else 0
        return self._transport.get_write_buffer_size() + gathered

    def can_write_eof(self) -> bool:
        return self._transport.can_write_eof()

    def is_closing(self) -> bool:
        return self._transport.is_closing()

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return self._transport.get_extra_info(name, default)

    def set_protocol(self, protocol: asyncio.BaseProtocol) -> None:
        self._transport.set_protocol(protocol)

    def get_protocol(self) -> asyncio.BaseProtocol:
        return self._transport.get_protocol()

    def is_reading(self) -> bool:
        return self._transport.is_reading()

    def pause_reading(self) -> None:
        self._transport.pause_reading()

    def resume_reading(self) -> None:
        self._transport.resume_reading()

    def set_write_buffer_limits(self, high: int | None = None, low: int | None = None) -> None:
        self._transport.set_write_buffer_limits(high, low)

    def get_write_buffer_limits(self) -> tuple[int, int]:
        return self._transport.get_write_buffer_limits()


class GuardedHttpProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol with head and body deadlines and a bound per
    address, writing each reply at once (``OneWritePerTurn``)."""

    _address: str | None = None
    _head_deadline: asyncio.TimerHandle | None = None
    _body_deadline: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        limits = ConnectionLimits
        if self.client is not None:
            key = address_key(self.client[0])
            if 0 < limits.max_per_address <= limits.open_by_address[key]:
                limits.refused += 1
                if (now := self.loop.time()) >= limits.next_warning:
                    limits.next_warning = now + WARNING_INTERVAL_SECONDS
                    _log.warning(
                        "closing new connections from %s: %d open, the most one address may"
                        " hold (%d closed so far)",
                        key,
                        limits.max_per_address,
                        limits.refused,
                    )
                transport.abort()  # nothing was read and nothing is owed: free the file now
                return
            self._address = key
            limits.open_by_address[key] += 1
        self.transport = OneWritePerTurn(transport, self.loop)
        self._arm_head_deadline()

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm_head_deadline()
        self._disarm_body_deadline()
        if self._address is not None:
            counts = ConnectionLimits.open_by_address
            counts[self._address] -= 1
            if counts[self._address] <= 0:
                del counts[self._address]
            self._address = None
        super().connection_lost(exc)

    def on_headers_complete(self) -> None:
        self._disarm_head_deadline()
        if not (self.parser.should_upgrade() and self._should_upgrade()):
            # The body has the same time again (httptools calls on_message_complete at
            # once for a request without one, in the same parse).
            self._body_deadline = self.loop.call_later(
                ConnectionLimits.header_timeout, self._body_too_slow
            )
        super().on_headers_complete()

    def on_message_complete(self) -> None:
        self._disarm_body_deadline()
        super().on_message_complete()

    def on_response_complete(self) -> None:
        super().on_response_complete()
        # Waiting for the next request: its head has the same time to arrive (the
        # keep-alive timer, armed above, closes a connection that stays silent).
        if not self.transport.is_closing() and not self.pipeline:
            self._arm_head_deadline()

    def _arm_head_deadline(self) -> None:
        self._disarm_head_deadline()
        self._head_deadline = self.loop.call_later(
            ConnectionLimits.header_timeout, self._head_too_slow
        )

    def _disarm_head_deadline(self) -> None:
        if self._head_deadline is not None:
            self._head_deadline.cancel()
            self._head_deadline = None

    def _disarm_body_deadline(self) -> None:
        if self._body_deadline is not None:
            self._body_deadline.cancel()
            self._body_deadline = None

    def _body_too_slow(self) -> None:
        self._body_deadline = None
        if self.transport.is_closing():
            return
        if self.flow.read_paused:
            # Reading is paused by the server (a pipelined request waits its turn, or the
            # app has not taken the body read so far): not the client's delay.
            self._body_deadline = self.loop.call_later(
                ConnectionLimits.header_timeout, self._body_too_slow
            )
            return
        ConnectionLimits.timed_out += 1
        self.transport.abort()

    def _head_too_slow(self) -> None:
        self._head_deadline = None
        if self.transport.is_closing():
            return
        if self.cycle is not None and not self.cycle.response_complete:
            return  # a request is being answered: its head did arrive
        ConnectionLimits.timed_out += 1
        self.transport.abort()


def raise_open_file_limit() -> tuple[int, int]:
    """Raise this process's soft limit on open files to its hard limit (the processes it
    starts inherit it): every connection is a file. Returns the (soft, hard) in force."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != hard:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
            soft = hard
        except (ValueError, OSError) as error:  # pragma: no cover - a platform's refusal
            _log.warning("cannot raise the open file limit from %d to %d: %s", soft, hard, error)
    return soft, hard


def uvicorn_options() -> dict[str, Any]:
    """What ``concert serve`` gives uvicorn for the connections (docs/contract.md §9)."""
    return {
        "http": f"{GuardedHttpProtocol.__module__}:{GuardedHttpProtocol.__qualname__}",
        "backlog": LISTEN_BACKLOG,
    }
