"""The on-sale's report: what the client saw per endpoint (requests, status codes,
latency percentiles), the servers' own latency from ``/metrics``, the fans' outcomes,
and the report's keys in the order they are read."""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from typing import Any

import aiohttp

from bench.onsale.client import ENDPOINTS, Client
from bench.onsale.crowd import Crowd

LATENCY_METRIC = "concert_http_request_duration_seconds"
FIRST_KEYS = (
    "users",
    "instances",
    "capacity",
    "seats",
    "sold",
    "double_sold",
    "money_conserved",
    "every_buyer_debited_once",
    "seconds_to_sell_out",
    "server_cpu_seconds",
    "cpu_seconds_per_ticket",
    "client_cpu_seconds",
)
"""The report's headline, first; everything else follows in the order it was found."""


def headline_first(result: dict[str, Any]) -> dict[str, Any]:
    return {k: result[k] for k in FIRST_KEYS} | {
        k: v for k, v in result.items() if k not in FIRST_KEYS
    }


def percentiles(samples: list[float]) -> dict[str, float]:
    """p50, p99 and max of ``samples`` (seconds), in milliseconds."""
    if not samples:
        return {"p50": 0.0, "p99": 0.0, "max": 0.0}
    ordered = sorted(samples)

    def rank(q: float) -> float:
        return ordered[max(0, math.ceil(q * len(ordered)) - 1)] * 1000

    return {"p50": round(rank(0.50), 2), "p99": round(rank(0.99), 2), "max": round(rank(1.0), 2)}


def client_figures(client: Client, crowd: Crowd, server_latency: dict[str, Any]) -> dict[str, Any]:
    """Requests, latencies and status codes per endpoint as the client counted them,
    ``server_latency`` beside the client's, and the fans' outcomes."""
    requests = {ep: len(client.latency[ep]) for ep in ENDPOINTS}
    codes: Counter[int] = Counter()
    for counter in client.codes.values():
        codes.update(counter)
    return {
        "requests": {ep: n for ep, n in requests.items() if ep != "release" or n}
        | {"total": sum(requests.values())},
        "latency_ms": {
            ep: percentiles(client.latency[ep])
            for ep in ENDPOINTS
            if ep != "release" or client.latency[ep]
        },
        "server_latency_ms": server_latency,
        "status_codes": {str(code): n for code, n in sorted(codes.items())},
        "status_codes_by_endpoint": {
            ep: {str(code): n for code, n in sorted(client.codes[ep].items())}
            for ep in ENDPOINTS
            if client.codes[ep]
        },
        "server_errors": sum(n for code, n in codes.items() if code >= 500),
        "server_error_replies": dict(client.server_errors),
        "transport_errors": dict(client.transport_errors),
        "unexpected_replies": dict(client.unexpected),
        "fans": dict(crowd.outcomes)
        | {"re_entries": crowd.re_entries, "seat_conflicts": crowd.seat_conflicts},
    }


async def server_latency(session: aiohttp.ClientSession, bases: list[str]) -> dict[str, Any]:
    """Mean time in the server per route, from every instance's ``/metrics`` (the
    request-duration histogram's sum and count): beside the client's latencies, it
    tells time spent queued in the client from time spent answering."""
    sums: defaultdict[str, float] = defaultdict(float)
    counts: defaultdict[str, float] = defaultdict(float)
    for base in bases:
        try:
            async with session.get(f"{base}/metrics") as resp:
                text = await resp.text()
        except (aiohttp.ClientError, TimeoutError):
            continue
        for line in text.splitlines():
            name, _, rest = line.partition("{")
            if name not in (f"{LATENCY_METRIC}_sum", f"{LATENCY_METRIC}_count"):
                continue
            labels, _, value = rest.rpartition("} ")
            fields = {
                k: v.strip('"') for k, _, v in (item.partition("=") for item in labels.split(","))
            }
            route = f"{fields.get('method', '')} {fields.get('route', '')}"
            (sums if name.endswith("_sum") else counts)[route] += float(value)
    return {
        route: {"requests": int(n), "mean_ms": round(sums[route] / n * 1000, 2)}
        for route, n in sorted(counts.items())
        if n
    }
