"""``python -m bench.onsale``: the on-sale scenario from the command line, its report
printed as JSON."""

from __future__ import annotations

import argparse
import asyncio
import json
import signal
import sys
from typing import Any

from bench import onsale


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.onsale", description=onsale.__doc__)
    parser.add_argument("--fans", type=int, default=10_000)
    parser.add_argument("--instances", type=int, default=2)
    parser.add_argument("--capacity", type=int, default=200)
    parser.add_argument("--dates", type=int, default=10)
    parser.add_argument("--time-limit", type=float, default=420.0)
    args = parser.parse_args(argv)

    async def work() -> dict[str, Any]:
        # SIGTERM, like Ctrl-C, cancels the run, so that it still tears everything down.
        task = asyncio.current_task()
        assert task is not None
        asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, task.cancel)
        return await onsale.run_onsale(
            fans=args.fans,
            instances=args.instances,
            capacity=args.capacity,
            dates=args.dates,
            time_limit=args.time_limit,
        )

    try:
        import uvloop
    except ImportError:
        loop_factory = None
    else:
        loop_factory = uvloop.new_event_loop
    try:
        with asyncio.Runner(loop_factory=loop_factory) as runner:
            result = runner.run(work())
    except (KeyboardInterrupt, asyncio.CancelledError):
        print("bench.onsale: interrupted (torn down)", file=sys.stderr)
        sys.exit(130)
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
