"""``make bench``: the ceilings, the endpoints, the scale curve and the on-sale, in one
run on PostgreSQL + Redis; writes ``bench/results/latest.json``, the latest tables of
``docs/benchmarks.md`` and a new entry of ``docs/benchmarks-history.md``.

Every figure that has a target is a ratio to a ceiling measured in the same run:
absolute numbers on a shared 2-core machine drift from run to run, ratios much less.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import time
from pathlib import Path
from typing import Any

from bench import log, report, wrk
from bench.endpoints import ENDPOINTS, bench_stores, measure_ceilings, measure_endpoints
from bench.scale import measure_scale
from bench.servers import ROOT

LOGS = ROOT / "bench" / "results" / "logs"


def only_endpoints(args: argparse.Namespace) -> None:
    """``--only``: the ceilings and the named endpoints, for working on one of them."""
    only = frozenset(args.only.split(","))
    if unknown := only - set(ENDPOINTS):
        raise SystemExit(f"unknown endpoints: {sorted(unknown)}")
    if "pay" in only:
        only |= {"hold"}
    LOGS.mkdir(parents=True, exist_ok=True)
    if args.profile:
        args.profile.mkdir(parents=True, exist_ok=True)
    with bench_stores(LOGS) as (namespace, database_url, ceiling_app):
        ceilings = measure_ceilings(ceiling_app, args.seconds)
        endpoints = measure_endpoints(
            database_url,
            namespace,
            args.seconds,
            LOGS,
            only=only,
            profile=args.profile,
            ceiling=ceiling_app,
        )
    for name, result in endpoints["results"].items():
        ceiling = endpoints["beside"][name]
        ratio = result.requests_per_second / ceiling.requests_per_second
        print(
            f"{name:>21}: {result.requests_per_second:8.1f} req/s, p50 {result.p50_ms:6.2f} ms,"
            f" p99 {result.p99_ms:6.2f} ms, {result.failures} failed;"
            f" / {ceiling.requests_per_second:.1f} = {ratio:.3f};"
            f" the service's CPU {endpoints['service_cpu_us'][name]} µs/req"
        )
        print(" " * 23 + f"CPU shares: {result.as_dict()['cpu_shares']}")
    costs = report.join_path(endpoints["results"], endpoints["beside"], endpoints["service_cpu_us"])
    for what, cost in costs.items():
        print(
            f"{what:>21}: ratio {cost['ratio']:.3f} vs {cost['ratio_without']:.3f} without: "
            f"{cost['change']:+.1%}; the service's CPU {cost['service_cpu_us']} µs per join "
            f"vs {cost['service_cpu_us_without']}"
        )
    for name, result in ceilings.items():
        print(
            f"{'ceiling ' + name:>21}: {result.requests_per_second:8.1f} req/s;"
            f" {result.as_dict()['cpu_shares']}"
        )
    if "seats" in endpoints["results"]:
        seats = endpoints["results"]["seats"].requests_per_second
        print(f"{'seats_vs_ping':>21}: {seats / ceilings['ping'].requests_per_second:.3f}")
    if "queue_status" in endpoints["results"]:
        polls = endpoints["results"]["queue_status"].requests_per_second
        print(
            f"{'waiting_fans_per_box':>21}: {report.waiting_fans_per_box(polls):,}"
            f" (each polling at its hint, {polls:,.0f} polls/s)"
        )


def whole_run(args: argparse.Namespace) -> None:
    """Everything, recorded: ``args.out`` and the docs' tables."""
    LOGS.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    record: dict[str, Any] = {
        "when": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "machine": report.machine(),
    }
    with bench_stores(LOGS) as (namespace, database_url, ceiling_app):
        ceilings = measure_ceilings(ceiling_app, args.seconds)
        endpoints = measure_endpoints(
            database_url, namespace, args.seconds, LOGS, ceiling=ceiling_app
        )
        scale = measure_scale(database_url, namespace, LOGS, args.line)
    onsale: dict[str, Any] | None = None
    if not args.skip_onsale:
        from bench.onsale import run_onsale

        log(f"on-sale: {args.fans:,} fans")
        onsale = asyncio.run(run_onsale(fans=args.fans))
    record |= report.figures(ceilings, endpoints, scale, onsale)
    record["seconds"] = round(time.monotonic() - started, 1)
    report.write(record, args.out)
    log(f"done in {record['seconds']} s: {args.out}")
    print(
        json.dumps(
            record["ratios"] | {k: record[k] for k in report.FIGURES_BESIDE_RATIOS},
            indent=2,
        )
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=float, default=10, help="per endpoint")
    parser.add_argument("--line", type=int, default=1_000_000, help="tokens for the scale curve")
    parser.add_argument("--fans", type=int, default=10_000, help="fans in the on-sale")
    parser.add_argument("--skip-onsale", action="store_true")
    parser.add_argument(
        "--only",
        help=f"comma-separated endpoints of {','.join(ENDPOINTS)}: the ceilings and these "
        "alone, printed, not recorded (pay needs hold, so hold runs too)",
    )
    parser.add_argument(
        "--profile", type=Path, help="with --only: py-spy samples the server into this folder"
    )
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "latest.json")
    args = parser.parse_args()
    wrk.require_wrk()
    if args.only:
        only_endpoints(args)
    else:
        whole_run(args)


if __name__ == "__main__":
    main()
