"""Clients that open connections and never finish a request, run as a process of its own
(``python slow_clients.py HOST PORT COUNT SECONDS``); one process holds a few thousand
sockets, the most its open-file limit allows beside the others.

It connects ``COUNT`` sockets from ``SOURCE`` (``127.0.0.2`` by default: Linux routes
all of 127/8 to the loopback device, so the server sees another address than the real
fan's 127.0.0.1), ``CONNECTS_PER_SECOND`` a second; each sends, by turns, nothing,
half a request line, or a request head without its final blank line, and then waits.
For ``SECONDS`` it watches for the server to close them, then prints one line of JSON:

- ``opened``: connections established; ``refused``: connects that failed;
- ``closed``: connections the server closed, and ``lifetimes``: for a sample of them,
  how long they had been open when it did; ``held``: ``[opened, closed]`` (monotonic
  clock, which all processes share on Linux) of every one kept over ``HELD`` seconds;
- ``still_open_older_than``: for a few ages, how many are open at the end though open
  that long.
"""

from __future__ import annotations

import errno
import json
import selectors
import socket
import sys
import time

PAYLOADS = (b"", b"GET /api/v1/conce", b"GET /health HTTP/1.1\r\nHost: fan\r\nAccept: */*\r\n")
"""Nothing; half a request line; a head without the blank line that ends it."""
CONNECTING_AT_ONCE = 256
CONNECTS_PER_SECOND = 1_250
"""Each process's pace (four make 5,000 a second: 20,000 in four seconds). Unpaced,
the handshakes outran what a server starved of CPU accepts, and the kernel dropped
handshakes from its full accept queue, the fan's among them (a second's retransmit):
a connection flood is the firewall's to limit (decision 17); what is tested here is
that the connections a server has accepted cannot crowd the fan out."""
HELD = 3.0
"""A connection open this long was kept by the server, not just waiting in its accept
queue to be refused."""


def main(host: str, port: int, count: int, seconds: float, source: str) -> dict[str, object]:
    selector = selectors.DefaultSelector()
    opened_at: dict[socket.socket, float] = {}
    lifetimes: list[float] = []
    held: list[tuple[float, float]] = []
    refused = closed = started = 0
    connecting: set[socket.socket] = set()
    began = time.monotonic()
    end = began + seconds

    def close(sock: socket.socket) -> None:
        selector.unregister(sock)
        sock.close()

    while time.monotonic() < end:
        allowed = min(count, int((time.monotonic() - began) * CONNECTS_PER_SECOND) + 1)
        while started < allowed and len(connecting) < CONNECTING_AT_ONCE:
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            sock.setblocking(False)
            sock.bind((source, 0))
            code = sock.connect_ex((host, port))
            started += 1
            if code not in (0, errno.EINPROGRESS):
                refused += 1
                sock.close()
                continue
            connecting.add(sock)
            selector.register(sock, selectors.EVENT_WRITE, started % len(PAYLOADS))
        for key, events in selector.select(timeout=0.05):
            sock = key.fileobj
            assert isinstance(sock, socket.socket)
            if sock in connecting:
                connecting.discard(sock)
                if sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR) != 0:
                    refused += 1
                    close(sock)
                    continue
                opened_at[sock] = time.monotonic()
                try:
                    if payload := PAYLOADS[key.data]:
                        sock.send(payload)
                except OSError:
                    pass
                selector.modify(sock, selectors.EVENT_READ)
                continue
            if events & selectors.EVENT_READ:
                try:
                    data = sock.recv(4096)
                except OSError:
                    data = b""
                if not data:  # the server closed it (a FIN, or a reset)
                    closed += 1
                    now = time.monotonic()
                    if len(lifetimes) < 5_000:
                        lifetimes.append(now - opened_at[sock])
                    if now - opened_at[sock] > HELD:
                        held.append((opened_at[sock], now))
                    del opened_at[sock]
                    close(sock)
    now = time.monotonic()
    ages = (1.0, 6.5, 8.0)
    still_open = {str(age): sum(1 for t in opened_at.values() if now - t > age) for age in ages}
    held += [(t, now) for t in opened_at.values() if now - t > HELD]
    return {
        "opened": closed + len(opened_at),
        "refused": refused,
        "closed": closed,
        "lifetimes": lifetimes,
        "held": held,
        "still_open_older_than": still_open,
    }


if __name__ == "__main__":
    arguments = sys.argv[1:]
    source = arguments[4] if len(arguments) > 4 else "127.0.0.2"
    result = main(arguments[0], int(arguments[1]), int(arguments[2]), float(arguments[3]), source)
    print(json.dumps(result))
