"""The benchmarks, and the progress line they print.

``make bench`` (``python -m bench.run``) measures each endpoint as a ratio to a
ceiling served beside it, the poll's latency at the back of a long line, and an
on-sale; it writes ``bench/results/latest.json``, the latest table of
``docs/benchmarks.md`` and a new entry of ``docs/benchmarks-history.md``.

- ``run``: the command line; ``endpoints``, ``scale``: what it measures;
  ``report``, ``markdown``: what it writes.
- ``ceilings``: the bare app the ratios are taken to; ``wrk``: one wrk run and its
  script; ``servers``, ``stores``, ``api``, ``cpu``: the processes, the databases and
  Redis namespaces, the set-up calls and the CPU accounting they share; ``proofs``:
  the solved join challenges the join-with-challenge figure sends.
- ``onsale``: the on-sale scenario (also ``python -m bench.onsale``).
- ``parts``, ``pg_cost``: one cost broken down (``python -m bench.parts``,
  ``python -m bench.pg_cost``).
"""

from __future__ import annotations

import time


def log(message: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", flush=True)
