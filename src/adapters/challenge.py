"""Join challenges in the ALTCHA format, made by the ``altcha`` package (the format's
reference implementation) and checked as its ``verify_solution`` checks them (signature
first, in constant time), and spent once in shared storage.

A challenge's salt is ``<24 hex digits>?expires=<unix seconds>&concert=<id>&``: the
expiry and the concert are inside what the signature covers (the challenge is the
SHA-256 of the salt and the number; the signature, an HMAC of the challenge), so a
client can change neither. The HMAC key is derived from the token secret every
instance shares, never the secret itself. A solution is spent under its challenge (a
salt has one solution) in a ``SpentProofs`` store of the storage family, until it
expires; after that, the expiry check refuses it.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import hashlib
import hmac
import re
import urllib.parse
from typing import Protocol

import msgspec
from altcha.v1 import SHA256, ChallengeOptions, PayloadType, create_challenge

from concert_core.domain import ConcertId
from concert_core.ports import JoinChallenge, ProofSpend

ALGORITHM = SHA256
DEFAULT_MAX_NUMBER = 50_000
"""The default cost: a browser tries 25,000 numbers on average, well under a second."""
DEFAULT_TTL = dt.timedelta(minutes=5)
"""How long a challenge may be solved and used, by default."""
MAX_PROOF_LENGTH = 2_048
"""A real proof is about 300 characters; anything much longer is refused unread."""
MAX_NUMBER_LIMIT = 10_000_000
"""The largest ``maxnumber`` a deployment may set, so the largest number a proof holds."""
SPENT_MARGIN = dt.timedelta(minutes=1)
"""How long past its expiry a spent proof is still remembered: a redeem that checked the
expiry just before it passed still finds the proof spent."""
_HMAC_KEY_LABEL = b"join-challenge"
_FIELDS = frozenset({"algorithm", "challenge", "number", "salt", "signature"})
_DIGITS = re.compile(r"[0-9]{1,11}")
"""An expiry in unix seconds: 11 digits reach past the year 5000."""
_HEX = re.compile(r"[0-9a-f]{64}")
_ISSUED_QUERY = re.compile(r"expires=(?P<expires>[0-9]{1,11})&concert=(?P<concert>[0-9]{1,20})&")
"""A salt's query as ``issue`` writes it; any other is read by ``parse_qs``, as before."""


class SpentProofs(Protocol):
    """Which solutions have been used: one atomic check-and-record for all instances."""

    async def spend(
        self, concert_id: ConcertId, challenge: str, expires_at: dt.datetime, now: dt.datetime
    ) -> bool:
        """Record the solution of ``challenge`` as used: True the first time, False for
        every later call of any instance. The record may be forgotten once ``now`` is
        past ``expires_at`` plus ``SPENT_MARGIN``."""
        ...

    async def forget(self, concert_id: ConcertId, challenge: str) -> None:
        """Unspend ``challenge``'s solution (its join failed after the spend)."""
        ...


def hmac_key(token_secret: str) -> str:
    """The challenges' signing key: HMAC-SHA256 of a fixed label under the token secret."""
    return hmac.new(token_secret.encode(), _HMAC_KEY_LABEL, hashlib.sha256).hexdigest()


class AltchaJoinChallenges:
    """The JoinChallenges port: ALTCHA (SHA-256) challenges, each solution good once."""

    def __init__(
        self,
        token_secret: str,
        spent: SpentProofs,
        *,
        max_number: int,
        ttl: dt.timedelta,
    ) -> None:
        if not 1 <= max_number <= MAX_NUMBER_LIMIT:
            raise ValueError(f"max_number must be from 1 to {MAX_NUMBER_LIMIT}")
        if ttl <= dt.timedelta(0):
            raise ValueError("ttl must be positive")
        self._key = hmac_key(token_secret)
        self._mac = hmac.new(self._key.encode(), digestmod=hashlib.sha256)
        """The key's HMAC state, copied for each proof instead of set up again."""
        self._spent = spent
        self._max_number = max_number
        self._ttl = ttl

    def issue(self, concert_id: ConcertId, now: dt.datetime) -> JoinChallenge:
        made = create_challenge(
            ChallengeOptions(
                algorithm=ALGORITHM,
                max_number=self._max_number,
                hmac_key=self._key,
                expires=now + self._ttl,
                params={"concert": str(concert_id)},
            )
        )
        return JoinChallenge(
            algorithm=made.algorithm,
            challenge=made.challenge,
            salt=made.salt,
            signature=made.signature,
            maxnumber=made.max_number,
        )

    def verify(self, proof: str, concert_id: ConcertId, now: dt.datetime) -> ProofSpend | None:
        payload = _payload(proof)
        if payload is None:
            return None
        expires_at = _salt_expiry(payload["salt"], concert_id)
        if expires_at is None or now >= expires_at:
            return None
        # The signature first, compared in constant time (``verify_solution`` uses
        # ``==``): only then is the rest of the solution worth checking.
        mac = self._mac.copy()
        mac.update(payload["challenge"].encode())
        if not hmac.compare_digest(mac.hexdigest(), payload["signature"]):
            return None
        if not _solves(payload):
            return None
        return ProofSpend(concert_id, payload["challenge"], expires_at)

    async def redeem(self, proof: str, concert_id: ConcertId, now: dt.datetime) -> bool:
        spend = self.verify(proof, concert_id, now)
        if spend is None:
            return False
        return await self._spent.spend(concert_id, spend.solution, spend.expires_at, now)

    async def give_back(self, proof: str, concert_id: ConcertId) -> None:
        payload = _payload(proof)
        if payload is not None:
            await self._spent.forget(concert_id, payload["challenge"])


def _solves(payload: PayloadType) -> bool:
    """Whether the number solves the challenge: ``verify_solution``'s check of a SHA-256
    solution whose signature is already known good (the signature is the HMAC of the
    challenge, so the challenge being the hash of the salt and the number is all that
    is left), without parsing the salt's parameters and computing the HMAC again."""
    salt = payload["salt"] if payload["salt"].endswith("&") else payload["salt"] + "&"
    solved = hashlib.sha256(f"{salt}{payload['number']}".encode()).hexdigest()
    return hmac.compare_digest(solved, payload["challenge"])


class _Solution(msgspec.Struct):
    """A proof's JSON object: the five fields checked, any others let be."""

    algorithm: str
    challenge: str
    number: int
    salt: str
    signature: str


def _payload(proof: str) -> PayloadType | None:
    """The solution in ``proof`` (base64 of a JSON object), checked field by field; None
    for anything else. ``verify_solution`` trusts the shape it is given."""
    if len(proof) > MAX_PROOF_LENGTH:
        return None
    try:
        # Strict: a number must be a JSON integer (not true, not 5.0), each text a string.
        data = msgspec.json.decode(base64.b64decode(proof, validate=True), type=_Solution)
    except (binascii.Error, ValueError, msgspec.DecodeError):  # msgspec.ValidationError too
        return None
    if not 0 <= data.number <= MAX_NUMBER_LIMIT or data.algorithm != ALGORITHM:
        return None
    if not _HEX.fullmatch(data.challenge):
        return None
    return PayloadType(
        algorithm=ALGORITHM,
        challenge=data.challenge,
        number=data.number,
        salt=data.salt,
        signature=data.signature,
    )


def _salt_expiry(salt: str, concert_id: ConcertId) -> dt.datetime | None:
    """When a salt naming ``concert_id`` (once) expires; None for another concert, or a
    salt without exactly one expiry and one concert."""
    _, separator, query = salt.partition("?")
    if not separator:
        return None
    issued = _ISSUED_QUERY.fullmatch(query)  # the form ``issue`` makes, read at once
    if issued is not None:
        expires, concert = [issued["expires"]], [issued["concert"]]
    else:
        params = urllib.parse.parse_qs(query, keep_blank_values=True)
        expires = params.get("expires", [])
        concert = params.get("concert", [])
    if len(expires) != 1 or concert != [str(concert_id)] or not _DIGITS.fullmatch(expires[0]):
        return None
    return dt.datetime.fromtimestamp(int(expires[0]), dt.UTC)
