"""Solved join challenges for the judged join, ``queue_issue``: fetched from the
service (GET /queue/challenge, many at a time) and solved here, as a client would.

The service serving them runs with a small ``CONCERT_CHALLENGE_MAX_NUMBER`` so that
tens of thousands are solved in seconds; its check of a proof does not depend on it
(one SHA-256 of the salt and the number, one HMAC of the challenge, one ``SET NX``).
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import hashlib
import json
import math
import uuid
from pathlib import Path

from bench import api

LATEST = Path(__file__).resolve().parent / "results" / "latest.json"
MARGIN = 1.5
"""Proofs prepared per join the last run's issue rate predicts for the run."""
FALLBACK_RATE = 3_000.0
"""Joins per second assumed when there is no last run to go by."""


def proofs_needed(seconds: float) -> int:
    """Enough proofs for a run of ``seconds``: the last recorded rate of the plain join
    (no guarded join is faster), else of ``queue_issue`` (the plain join itself before
    issue 16), times the seconds, with a margin."""
    rate = FALLBACK_RATE
    with contextlib.suppress(OSError, ValueError, KeyError, TypeError):
        endpoints = json.loads(LATEST.read_text())["endpoints"]
        last = endpoints.get("queue_issue_plain") or endpoints["queue_issue"]
        rate = float(last["requests_per_second"])
    return math.ceil(rate * seconds * MARGIN)


def solve(challenge: dict[str, object]) -> str:
    """The ``proof`` for ``challenge``: the number ``n`` with ``sha256(salt + str(n))``
    equal to it, tried from 0; base64 of the JSON solution."""
    salt = str(challenge["salt"])
    target = bytes.fromhex(str(challenge["challenge"]))
    base = hashlib.sha256(salt.encode())
    for number in range(int(str(challenge["maxnumber"])) + 1):
        attempt = base.copy()
        attempt.update(str(number).encode())
        if attempt.digest() == target:
            solution = {
                "algorithm": challenge["algorithm"],
                "challenge": challenge["challenge"],
                "number": number,
                "salt": salt,
                "signature": challenge["signature"],
            }
            return base64.b64encode(json.dumps(solution).encode()).decode()
    raise ValueError("the challenge has no solution up to its maxnumber")


async def proof_lines(api_base: str, concert: int, count: int) -> list[str]:
    """``count`` lines ``user_id proof``: a new fan each, with a proof of its own."""
    async with api.session() as session:
        challenges = await api.join_challenges(session, api_base, concert, count)
    return [f"{uuid.uuid4()} {solve(challenge)}" for challenge in challenges]


def prepare(api_base: str, concert: int, count: int) -> list[str]:
    return asyncio.run(proof_lines(api_base, concert, count))
