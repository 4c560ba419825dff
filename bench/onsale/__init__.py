"""On-sale load test, reported like a public waiting-room load test.

A fresh PostgreSQL database and Redis namespace, one concert of ``dates`` dates x 50
seats, ``instances`` ``concert serve`` processes behind a client-side round robin, and
``fans`` simulated fans who arrive over a few seconds and each try to buy one seat:

    enter the queue -> poll (honouring ``poll_after_seconds`` / ``Retry-After``) until
    ACTIVE (re-entering if EXPIRED) -> list dates -> list a date's available seats ->
    hold one (another on 409 SEAT_UNAVAILABLE) -> charge the wallet with its price ->
    pay (with an Idempotency-Key, retried on 503 / 409 IN_PROGRESS).

A fan admitted after every seat is held or sold leaves the queue. The run stops as soon
as the database shows every seat SOLD; fans still waiting are cancelled. It then
audits the database (no seat sold twice, money conserved, each buyer debited once) and
reports client-side request counts, status codes and latency percentiles per endpoint,
the time to sell out, and the servers' CPU seconds (from ``/proc``) per ticket.

Reading the report:

- ``latency_ms`` is what the fans saw, from asking for a connection (one pool of
  ``CONNECTIONS`` over all instances) to the last byte; ``server_latency_ms`` is the
  servers' own mean per route (from ``/metrics``), so the gap is time queued outside the
  application. ``client_loop_lag_ms`` is how late the load generator's event loop ran:
  large values mean the client, which shares the machine, was short of CPU too.
- ``server_cpu_seconds`` is user + system time of the ``concert serve`` process groups
  while the fans run; ``database_cpu_seconds`` (this database's backends) and
  ``redis_cpu_seconds`` (the whole, shared Redis server) are beside it, not in it.
- ``seconds_to_sell_out`` runs from the first fan's arrival until a 0.25 s poll of the
  database sees every seat SOLD (``None`` if the time limit came first).
- ``fans`` counts outcomes: ``bought``, ``left_no_seats`` (admitted when every seat was
  held or sold), ``stopped_at_end`` (still in line when the run stopped),
  ``not_arrived``, ``gave_up`` (see ``unexpected_replies`` and ``transport_errors``).

Everything is torn down at the end: server processes, the database, the Redis keys;
server logs are kept (and their directory named) only if something went wrong.

    PYTHONPATH=src:. .venv/bin/python -m bench.onsale --fans 10000 --instances 2

Its modules: ``scenario`` (set-up, the run, tear-down), ``crowd`` (the fans), ``client``
(their HTTP client), ``servers`` (the processes), ``cpu`` and ``report`` (what is
measured), ``audit`` (what the database says happened).
"""

from __future__ import annotations

from bench.onsale.scenario import run_onsale

__all__ = ["run_onsale"]
