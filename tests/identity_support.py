"""An identity provider of the tests' own: keys made here, tokens minted with them, and a
JWKS served over HTTP on 127.0.0.1 from a thread (docs/contract.md §9)."""

from __future__ import annotations

import base64
import contextlib
import functools
import hashlib
import hmac
import http.server
import json
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from jwt.algorithms import ECAlgorithm, RSAAlgorithm

SECRET = "identity-provider-shared-secret-" + "s" * 16
ISSUER = "https://id.example.test/"
AUDIENCE = "concert-reservation"


@dataclass(frozen=True)
class ProviderKeys:
    """One RSA and one EC P-256 key pair, and a shared secret."""

    rsa: rsa.RSAPrivateKey
    ec: ec.EllipticCurvePrivateKey
    secret: str = SECRET

    @classmethod
    def generate(cls) -> ProviderKeys:
        return cls(
            rsa=rsa.generate_private_key(public_exponent=65537, key_size=2048),
            ec=ec.generate_private_key(ec.SECP256R1()),
        )

    @property
    def rsa_pem(self) -> str:
        return public_pem(self.rsa.public_key())

    @property
    def ec_pem(self) -> str:
        return public_pem(self.ec.public_key())

    def rsa_jwk(self, kid: str) -> dict[str, Any]:
        jwk: dict[str, Any] = RSAAlgorithm.to_jwk(self.rsa.public_key(), as_dict=True)
        return jwk | {"kid": kid, "use": "sig"}

    def ec_jwk(self, kid: str) -> dict[str, Any]:
        jwk: dict[str, Any] = ECAlgorithm.to_jwk(self.ec.public_key(), as_dict=True)
        return jwk | {"kid": kid}


@functools.cache
def provider_keys() -> ProviderKeys:
    """The run's provider keys, made once (an RSA key takes a while to make)."""
    return ProviderKeys.generate()


def public_pem(key: rsa.RSAPublicKey | ec.EllipticCurvePublicKey) -> str:
    return key.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    ).decode()


def claims(sub: str | None = None, *, lifetime: float = 300, **more: Any) -> dict[str, Any]:
    """``sub`` (a fresh UUID unless given), ``exp`` ``lifetime`` seconds from now, and
    ``more`` (a value None leaves the claim out)."""
    payload: dict[str, Any] = {
        "sub": sub if sub is not None else str(uuid.uuid4()),
        "exp": int(time.time() + lifetime),
        "iat": int(time.time()),
    }
    payload.update(more)
    return {k: v for k, v in payload.items() if v is not None}


def mint(payload: dict[str, Any], key: Any, algorithm: str, kid: str | None = None) -> str:
    headers = {"kid": kid} if kid is not None else None
    return jwt.encode(payload, key, algorithm=algorithm, headers=headers)


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def unsigned(payload: dict[str, Any]) -> str:
    """``alg: none``: a token with no signature at all."""
    header = _b64(json.dumps({"alg": "none", "typ": "JWT"}).encode())
    return f"{header}.{_b64(json.dumps(payload).encode())}."


def hs256_with(payload: dict[str, Any], secret: bytes, kid: str | None = None) -> str:
    """HS256 over ``secret`` computed by hand: PyJWT refuses to sign with a PEM as an
    HMAC secret, which is exactly the key-confusion forgery."""
    header: dict[str, Any] = {"alg": "HS256", "typ": "JWT"} | ({"kid": kid} if kid else {})
    signing_input = f"{_b64(json.dumps(header).encode())}.{_b64(json.dumps(payload).encode())}"
    signature = hmac.new(secret, signing_input.encode(), hashlib.sha256).digest()
    return f"{signing_input}.{_b64(signature)}"


@dataclass
class JwksServer:
    """A JWKS document served at ``url``; ``requests`` counts the GETs, ``down`` makes
    it answer 503, ``delay`` holds each answer back that many seconds."""

    document: dict[str, Any]
    url: str = ""
    requests: int = 0
    down: bool = False
    delay: float = 0.0
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def count(self) -> None:
        with self._lock:
            self.requests += 1


@contextlib.contextmanager
def serving_jwks(keys: list[dict[str, Any]]) -> Iterator[JwksServer]:
    """A JWKS server on 127.0.0.1 (a free port) in a thread, for the block's duration."""
    state = JwksServer(document={"keys": keys})

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            state.count()
            if state.delay:
                time.sleep(state.delay)
            if state.down:
                self.send_error(503)
                return
            body = json.dumps(state.document).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    state.url = f"http://127.0.0.1:{server.server_address[1]}/.well-known/jwks.json"
    thread = threading.Thread(target=server.serve_forever, name="jwks", daemon=True)
    thread.start()
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()
        thread.join()
