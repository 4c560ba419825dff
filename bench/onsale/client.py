"""The on-sale's HTTP client: one session spread round-robin over the instances, every
request retried on transport errors and 5xx, and counted per endpoint."""

from __future__ import annotations

import asyncio
import itertools
import json
import time
from collections import Counter
from typing import Any

import aiohttp

API = "/api/v1"
ENDPOINTS = ("issue", "status", "dates", "seats", "hold", "charge", "pay", "leave", "release")
MAX_ATTEMPTS = 20
"""Transport errors and 5xx replies are retried this many times, then the fan gives up."""


class FanGaveUp(Exception):
    """A fan met something it cannot handle; counted, never fatal to the run."""


class Client:
    """One aiohttp session spread round-robin over the instances, with lean bookkeeping:
    latency lists and status-code counters per endpoint, nothing logged per request."""

    def __init__(self, session: aiohttp.ClientSession, bases: list[str]) -> None:
        self._session = session
        self._bases = itertools.cycle(bases)
        self.latency: dict[str, list[float]] = {ep: [] for ep in ENDPOINTS}
        self.codes: dict[str, Counter[int]] = {ep: Counter() for ep in ENDPOINTS}
        self.transport_errors: Counter[str] = Counter()
        self.unexpected: Counter[str] = Counter()
        self.server_errors: Counter[str] = Counter()

    async def call(
        self,
        endpoint: str,
        method: str,
        path: str,
        *,
        token: str | None = None,
        body: Any = None,
        key: str | None = None,
        params: dict[str, str] | None = None,
    ) -> tuple[int, Any, float | None]:
        """Send one request (retried on transport errors and 5xx: every request this
        scenario sends is safe to repeat). Returns status, parsed body, Retry-After."""
        headers: dict[str, str] = {}
        if token is not None:
            headers["Authorization"] = f"Bearer {token}"
        if key is not None:
            headers["Idempotency-Key"] = key
        latency = self.latency[endpoint]
        codes = self.codes[endpoint]
        for attempt in range(1, MAX_ATTEMPTS + 1):
            url = next(self._bases) + path
            started = time.perf_counter()
            try:
                async with self._session.request(
                    method, url, json=body, headers=headers, params=params
                ) as resp:
                    raw = await resp.read()
                    status = resp.status
                    retry_after = resp.headers.get("Retry-After")
            except (aiohttp.ClientError, TimeoutError) as error:
                self.transport_errors[f"{endpoint} {type(error).__name__}"] += 1
                await asyncio.sleep(min(0.1 * attempt, 1.0))
                continue
            latency.append(time.perf_counter() - started)
            codes[status] += 1
            if status >= 500:
                self.server_errors[_problem(endpoint, status, raw)] += 1
                await asyncio.sleep(_seconds(retry_after) or min(0.2 * attempt, 2.0))
                continue
            parsed = json.loads(raw) if raw else None
            return status, parsed, _seconds(retry_after)
        raise FanGaveUp(f"{endpoint}: no answer after {MAX_ATTEMPTS} attempts")

    def note(self, endpoint: str, status: int, body: Any) -> None:
        """Count a reply the scenario did not expect (reported, not retried)."""
        self.unexpected[f"{endpoint} {status} {problem_code(body) or ''}".rstrip()] += 1


def problem_code(body: Any) -> str | None:
    """The ``code`` of a problem-details reply, if it is one."""
    return body.get("code") if isinstance(body, dict) else None


def _seconds(header: str | None) -> float | None:
    if not header:
        return None
    try:
        return max(0.0, float(header))
    except ValueError:
        return None


def _problem(endpoint: str, status: int, raw: bytes) -> str:
    """``endpoint status CODE: detail`` of an error reply, for the report."""
    try:
        body = json.loads(raw)
    except ValueError:
        return f"{endpoint} {status}: {raw[:200].decode(errors='replace')}"
    if not isinstance(body, dict):
        return f"{endpoint} {status}"
    return f"{endpoint} {status} {body.get('code')}: {body.get('detail')}"
