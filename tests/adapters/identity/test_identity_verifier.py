"""The identity verifier on its own (docs/contract.md §9): which tokens it takes, which
it refuses, the user id it derives, the keys it loads, and how often it reads a JWKS
(served over HTTP on 127.0.0.1 by a thread of the test's own)."""

from __future__ import annotations

import asyncio
import datetime as dt
import time
import uuid
from collections.abc import Iterator
from typing import Any

import jwt
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from cryptography.x509.oid import NameOID

from adapters.identity import (
    FixedKey,
    IdentityVerifier,
    JwksKeys,
    SigningKey,
    load_identity_key,
    user_id_of,
)
from concert_core.domain import IdentityInvalidError, ServiceUnavailableError
from identity_support import (
    AUDIENCE,
    ISSUER,
    SECRET,
    JwksServer,
    ProviderKeys,
    claims,
    hs256_with,
    mint,
    provider_keys,
    public_pem,
    serving_jwks,
    unsigned,
)


@pytest.fixture
def keys() -> ProviderKeys:
    return provider_keys()


def fixed(raw: str, **checks: Any) -> IdentityVerifier:
    return IdentityVerifier(FixedKey(load_identity_key(raw)), **checks)


class FakeMonotonic:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


# --- what is taken -------------------------------------------------------------------------


async def test_an_hs256_token_signed_with_the_shared_secret_is_taken() -> None:
    fan = uuid.uuid4()
    identity = await fixed(SECRET).verify(mint(claims(str(fan)), SECRET, "HS256"))
    assert identity.user_id == fan
    assert identity.subject == str(fan)


async def test_an_rs256_token_is_taken_with_the_rsa_public_pem(keys: ProviderKeys) -> None:
    fan = uuid.uuid4()
    verifier = fixed(keys.rsa_pem, issuer=ISSUER, audience=AUDIENCE)
    token = mint(claims(str(fan), iss=ISSUER, aud=AUDIENCE), keys.rsa, "RS256")
    assert (await verifier.verify(token)).user_id == fan


async def test_an_es256_token_is_taken_with_the_ec_public_pem(keys: ProviderKeys) -> None:
    fan = uuid.uuid4()
    token = mint(claims(str(fan)), keys.ec, "ES256")
    assert (await fixed(keys.ec_pem).verify(token)).user_id == fan


async def test_es256_and_rs256_tokens_are_taken_by_the_keys_of_a_jwks(keys: ProviderKeys) -> None:
    with serving_jwks([keys.ec_jwk("ec-1"), keys.rsa_jwk("rsa-1")]) as jwks:
        verifier = IdentityVerifier(JwksKeys(jwks.url), issuer=ISSUER)
        fan = uuid.uuid4()
        by_ec = mint(claims(str(fan), iss=ISSUER), keys.ec, "ES256", kid="ec-1")
        by_rsa = mint(claims(str(fan), iss=ISSUER), keys.rsa, "RS256", kid="rsa-1")
        assert (await verifier.verify(by_ec)).user_id == fan
        assert (await verifier.verify(by_rsa)).user_id == fan
        assert jwks.requests == 1


async def test_a_token_past_its_exp_by_less_than_the_leeway_is_taken() -> None:
    token = mint(claims(lifetime=-10), SECRET, "HS256")
    await fixed(SECRET).verify(token)


# --- the user id ---------------------------------------------------------------------------


def test_the_user_id_is_sub_when_sub_is_a_uuid_else_derived_from_iss_and_sub() -> None:
    fan = uuid.uuid4()
    assert user_id_of(str(fan), ISSUER) == fan
    assert user_id_of(str(fan).upper(), None) == fan
    assert user_id_of("auth0|12345", ISSUER) == uuid.uuid5(
        uuid.NAMESPACE_URL, ISSUER + "#auth0|12345"
    )
    assert user_id_of("auth0|12345", None) == uuid.uuid5(uuid.NAMESPACE_URL, "#auth0|12345")
    assert user_id_of("auth0|12345", "https://other/") != user_id_of("auth0|12345", ISSUER)
    # Every spelling of a UUID is that UUID: one UUID is one fan, however it is written.
    for spelling in (fan.hex, fan.hex.upper(), f"urn:uuid:{fan}", f"{{{fan}}}", f"{{{fan.hex}}}"):
        assert user_id_of(spelling, ISSUER) == fan
        assert user_id_of(spelling, None) == fan
    # Near misses are names, not UUIDs.
    for name in (str(fan)[:-1], f"{fan}0", f" x{fan}"):
        assert user_id_of(name, ISSUER) == uuid.uuid5(uuid.NAMESPACE_URL, ISSUER + "#" + name)


async def test_a_verified_sub_spelling_a_uuid_otherwise_is_that_uuid() -> None:
    fan = uuid.uuid4()
    token = mint(claims(f"urn:uuid:{str(fan).upper()}", iss=ISSUER), SECRET, "HS256")
    assert (await fixed(SECRET).verify(token)).user_id == fan


async def test_a_verified_non_uuid_sub_gets_its_derived_user_id() -> None:
    token = mint(claims("fan-42", iss=ISSUER), SECRET, "HS256")
    identity = await fixed(SECRET).verify(token)
    assert identity.user_id == uuid.uuid5(uuid.NAMESPACE_URL, ISSUER + "#fan-42")
    assert identity.issuer == ISSUER


# --- what is refused -----------------------------------------------------------------------


def _refusals(keys: ProviderKeys) -> dict[str, tuple[str, str]]:
    """Tokens each verifier must refuse: name -> (verifier's key, token)."""
    other_rsa = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    good = claims(iss=ISSUER, aud=AUDIENCE)
    return {
        "forged signature (HS256, another secret)": (
            SECRET,
            mint(good, "another-secret-of-the-same-length-xxxxxxxx", "HS256"),
        ),
        "forged signature (RS256, another key)": (keys.rsa_pem, mint(good, other_rsa, "RS256")),
        "tampered payload": (SECRET, _tampered(mint(good, SECRET, "HS256"))),
        "expired": (SECRET, mint(claims(lifetime=-120, iss=ISSUER, aud=AUDIENCE), SECRET, "HS256")),
        "no exp": (SECRET, mint(claims(exp=None, iss=ISSUER, aud=AUDIENCE), SECRET, "HS256")),
        "no sub": (SECRET, mint({k: v for k, v in good.items() if k != "sub"}, SECRET, "HS256")),
        "empty sub": (SECRET, mint(good | {"sub": ""}, SECRET, "HS256")),
        "sub not a string": (SECRET, hs256_with(good | {"sub": 42}, SECRET.encode())),
        "wrong issuer": (SECRET, mint(good | {"iss": "https://evil.test/"}, SECRET, "HS256")),
        "no issuer": (SECRET, mint({k: v for k, v in good.items() if k != "iss"}, SECRET, "HS256")),
        "issuer not a string": (SECRET, hs256_with(good | {"iss": 7}, SECRET.encode())),
        "wrong audience": (SECRET, mint(good | {"aud": "someone-else"}, SECRET, "HS256")),
        "not yet valid": (SECRET, mint(good | {"nbf": good["exp"] - 10}, SECRET, "HS256")),
        "alg none (shared secret)": (SECRET, unsigned(good)),
        "alg none (RSA key)": (keys.rsa_pem, unsigned(good)),
        "key confusion: HS256 signed with the RSA public PEM": (
            keys.rsa_pem,
            hs256_with(good, keys.rsa_pem.encode()),
        ),
        "key confusion: HS256 signed with the EC public PEM": (
            keys.ec_pem,
            hs256_with(good, keys.ec_pem.encode()),
        ),
        "RS256 token to an HS256 verifier": (SECRET, mint(good, keys.rsa, "RS256")),
        "ES256 token to an RS256 verifier": (keys.rsa_pem, mint(good, keys.ec, "ES256")),
        "HS384 with the right secret": (SECRET, mint(good, SECRET, "HS384")),
        "garbage": (SECRET, "not-a-jwt"),
        "three garbage parts": (SECRET, "a.b.c"),
        "empty": (SECRET, ""),
    }


def _tampered(token: str) -> str:
    header, _, signature = token.split(".")
    claims_ = jwt.decode(token, options={"verify_signature": False})
    other = mint(claims_ | {"sub": str(uuid.uuid4())}, "x" * 32, "HS256").split(".")[1]
    return f"{header}.{other}.{signature}"


async def test_every_bad_token_is_refused_as_identity_invalid(keys: ProviderKeys) -> None:
    refused = []
    for name, (key, token) in _refusals(keys).items():
        verifier = fixed(key, issuer=ISSUER, audience=AUDIENCE)
        try:
            await verifier.verify(token)
        except IdentityInvalidError:
            refused.append(name)
    assert refused == list(_refusals(keys))


async def test_the_audience_and_issuer_are_not_checked_when_unset() -> None:
    token = mint(claims(iss="https://any.test/", aud="anyone"), SECRET, "HS256")
    await fixed(SECRET).verify(token)
    with pytest.raises(IdentityInvalidError, match="iss"):  # but a name is a string
        await fixed(SECRET).verify(hs256_with(claims(iss=7), SECRET.encode()))


# --- the keys ------------------------------------------------------------------------------


def test_the_key_setting_picks_the_one_algorithm_by_the_keys_type(keys: ProviderKeys) -> None:
    assert load_identity_key(SECRET).algorithm == "HS256"
    assert load_identity_key(keys.rsa_pem).algorithm == "RS256"
    assert load_identity_key(keys.ec_pem).algorithm == "ES256"
    one_line = keys.rsa_pem.strip().replace("\n", "\\n")
    assert load_identity_key(one_line).algorithm == "RS256"
    assert load_identity_key(_certificate(keys.rsa)).algorithm == "RS256"


def _certificate(key: rsa.RSAPrivateKey) -> str:
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "id.example.test")])
    now = dt.datetime.now(dt.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(1)
        .not_valid_before(now)
        .not_valid_after(now + dt.timedelta(days=1))
        .sign(key, hashes.SHA256())
    )
    return certificate.public_bytes(serialization.Encoding.PEM).decode()


@pytest.mark.parametrize(
    ("what", "expected"),
    [
        ("short secret", "at least 32 bytes"),
        ("small RSA key", "at least 2048 bits"),
        ("P-384 key", "RSA or an EC P-256"),
        ("Ed25519 key", "RSA or an EC P-256"),
        ("private key", "PEM public key"),
        ("broken PEM", "PEM public key"),
    ],
)
def test_a_key_the_verifier_cannot_use_is_refused(
    keys: ProviderKeys, what: str, expected: str
) -> None:
    raw = {
        "short secret": "s" * 31,
        "small RSA key": lambda: public_pem(
            rsa.generate_private_key(public_exponent=65537, key_size=1024).public_key()
        ),
        "P-384 key": lambda: public_pem(ec.generate_private_key(ec.SECP384R1()).public_key()),
        "Ed25519 key": lambda: (
            ed25519.Ed25519PrivateKey.generate()
            .public_key()
            .public_bytes(
                serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
            )
            .decode()
        ),
        "private key": lambda: keys.ec.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        ).decode(),
        "broken PEM": "-----BEGIN PUBLIC KEY-----\nnot base64\n-----END PUBLIC KEY-----",
    }[what]
    with pytest.raises(ValueError, match=expected) as refusal:
        load_identity_key(raw() if callable(raw) else raw)
    assert "BEGIN" not in str(refusal.value).replace("(-----BEGIN PUBLIC KEY-----)", "")


# --- the JWKS ------------------------------------------------------------------------------


@pytest.fixture
def jwks(keys: ProviderKeys) -> Iterator[JwksServer]:
    with serving_jwks([keys.ec_jwk("ec-1")]) as served:
        yield served


async def test_an_unknown_kid_is_refused(keys: ProviderKeys, jwks: JwksServer) -> None:
    verifier = IdentityVerifier(JwksKeys(jwks.url))
    token = mint(claims(), keys.ec, "ES256", kid="ec-2")
    with pytest.raises(IdentityInvalidError, match="kid"):
        await verifier.verify(token)


async def test_a_token_without_kid_uses_the_sets_only_key(
    keys: ProviderKeys, jwks: JwksServer
) -> None:
    fan = uuid.uuid4()
    token = mint(claims(str(fan)), keys.ec, "ES256")
    assert (await IdentityVerifier(JwksKeys(jwks.url)).verify(token)).user_id == fan


async def test_key_confusion_with_a_jwks_key_is_refused(keys: ProviderKeys) -> None:
    with serving_jwks([keys.rsa_jwk("rsa-1")]) as served:
        verifier = IdentityVerifier(JwksKeys(served.url))
        forged = hs256_with(claims(), keys.rsa_pem.encode(), kid="rsa-1")
        with pytest.raises(IdentityInvalidError):
            await verifier.verify(forged)
        with pytest.raises(IdentityInvalidError):
            await verifier.verify(unsigned(claims()))


async def test_keys_that_are_not_for_signing_rs256_or_es256_are_skipped(keys: ProviderKeys) -> None:
    document = [
        keys.rsa_jwk("enc") | {"use": "enc"},
        keys.rsa_jwk("rs512") | {"alg": "RS512"},
        {"kty": "oct", "kid": "oct", "k": "c2VjcmV0LXNlY3JldC1zZWNyZXQtc2VjcmV0LXNlY3JldA"},
        keys.ec_jwk("ok"),
    ]
    with serving_jwks(document) as served:
        verifier = IdentityVerifier(JwksKeys(served.url))
        for kid, key, algorithm in (("enc", keys.rsa, "RS256"), ("rs512", keys.rsa, "RS512")):
            with pytest.raises(IdentityInvalidError):
                await verifier.verify(mint(claims(), key, algorithm, kid=kid))
        with pytest.raises(IdentityInvalidError):
            await verifier.verify(hs256_with(claims(), b"secret-" * 6, kid="oct"))
        await verifier.verify(mint(claims(), keys.ec, "ES256", kid="ok"))


async def test_fifty_verifications_at_once_read_the_jwks_once(
    keys: ProviderKeys, jwks: JwksServer
) -> None:
    jwks.delay = 0.2  # the read is still under way while all fifty arrive
    verifier = IdentityVerifier(JwksKeys(jwks.url))
    tokens = [mint(claims(), keys.ec, "ES256", kid="ec-1") for _ in range(50)]
    identities = await asyncio.gather(*(verifier.verify(t) for t in tokens))
    assert len({i.user_id for i in identities}) == 50
    assert jwks.requests == 1


async def test_unknown_kids_read_the_jwks_at_most_once_per_cooldown(
    keys: ProviderKeys, jwks: JwksServer
) -> None:
    clock = FakeMonotonic()
    verifier = IdentityVerifier(JwksKeys(jwks.url, monotonic=clock))
    good = mint(claims(), keys.ec, "ES256", kid="ec-1")
    await verifier.verify(good)
    assert jwks.requests == 1

    async def unknown(kid: str) -> None:
        with pytest.raises(IdentityInvalidError):
            await verifier.verify(mint(claims(), keys.ec, "ES256", kid=kid))

    await asyncio.gather(*(unknown(f"made-up-{n}") for n in range(50)))
    assert jwks.requests == 1  # within the cooldown: not read again
    clock.now += 31
    await asyncio.gather(*(unknown(f"made-up-{n}") for n in range(50)))
    assert jwks.requests == 2  # past it: one read for all fifty
    await verifier.verify(good)  # a known key: no read
    assert jwks.requests == 2


async def test_a_rotated_key_is_found_after_the_cooldown(
    keys: ProviderKeys, jwks: JwksServer
) -> None:
    clock = FakeMonotonic()
    verifier = IdentityVerifier(JwksKeys(jwks.url, monotonic=clock))
    await verifier.verify(mint(claims(), keys.ec, "ES256", kid="ec-1"))
    jwks.document = {"keys": [keys.ec_jwk("ec-1"), keys.rsa_jwk("rsa-2")]}
    rotated = mint(claims(), keys.rsa, "RS256", kid="rsa-2")
    with pytest.raises(IdentityInvalidError):
        await verifier.verify(rotated)
    clock.now += 30
    await verifier.verify(rotated)
    assert jwks.requests == 2


async def test_an_unreachable_jwks_is_503_for_keys_never_read(
    keys: ProviderKeys, jwks: JwksServer
) -> None:
    jwks.down = True
    clock = FakeMonotonic()
    verifier = IdentityVerifier(JwksKeys(jwks.url, monotonic=clock))
    token = mint(claims(), keys.ec, "ES256", kid="ec-1")
    with pytest.raises(ServiceUnavailableError):
        await verifier.verify(token)
    with pytest.raises(ServiceUnavailableError):
        await verifier.verify(token)
    assert jwks.requests == 1  # a failed read is retried after a few seconds, not at once
    jwks.down = False
    clock.now += 5
    await verifier.verify(token)
    assert jwks.requests == 2


async def test_keys_already_read_serve_while_the_jwks_is_unreachable(
    keys: ProviderKeys, jwks: JwksServer
) -> None:
    clock = FakeMonotonic()
    source = JwksKeys(jwks.url, monotonic=clock)
    verifier = IdentityVerifier(source)
    token = mint(claims(lifetime=3600), keys.ec, "ES256", kid="ec-1")
    await verifier.verify(token)
    jwks.down = True
    clock.now += 600  # past the lifespan: read again in the background, which fails
    await verifier.verify(token)
    assert source.pending_read is not None
    await source.pending_read
    assert jwks.requests == 2
    await verifier.verify(token)  # still served
    with pytest.raises(ServiceUnavailableError):  # an unknown key cannot be told from a new one
        await verifier.verify(mint(claims(), keys.ec, "ES256", kid="ec-9"))


async def test_a_hung_jwks_holds_up_no_token_whose_key_is_known(
    keys: ProviderKeys, jwks: JwksServer
) -> None:
    clock = FakeMonotonic()
    source = JwksKeys(jwks.url, monotonic=clock, timeout=1.0)
    verifier = IdentityVerifier(source)
    tokens = [mint(claims(lifetime=3600), keys.ec, "ES256", kid="ec-1") for _ in range(20)]
    await verifier.verify(tokens[0])
    jwks.delay = 3.0  # the provider hangs: every read runs into the timeout
    clock.now += 301  # past the lifespan

    async def timed(token: str) -> float:
        started = time.perf_counter()
        await verifier.verify(token)
        return time.perf_counter() - started

    took = await asyncio.gather(*(timed(t) for t in tokens))
    assert max(took) < 0.2, took  # answered from the keys held, not after the read
    refresh = source.pending_read
    assert refresh is not None and not refresh.done()  # one read, in the background
    assert source.reads == 2

    # A kid never seen waits for that same read, which times out: 503, as before.
    started = time.perf_counter()
    with pytest.raises(ServiceUnavailableError):
        await verifier.verify(mint(claims(), keys.ec, "ES256", kid="ec-9"))
    assert time.perf_counter() - started < 1.0 + 0.5
    assert refresh.done() and source.reads == 2

    # After the failure: known keys still answer at once, and the next read waits the
    # retry interval, then runs in the background again.
    assert max(await asyncio.gather(*(timed(t) for t in tokens))) < 0.2
    assert source.pending_read is None and source.reads == 2
    clock.now += 5
    assert max(await asyncio.gather(*(timed(t) for t in tokens))) < 0.2
    assert source.pending_read is not None and source.reads == 3
    await source.pending_read


async def test_a_rotated_key_appears_after_the_background_refresh(
    keys: ProviderKeys, jwks: JwksServer
) -> None:
    clock = FakeMonotonic()
    source = JwksKeys(jwks.url, monotonic=clock)
    verifier = IdentityVerifier(source)
    known = mint(claims(lifetime=3600), keys.ec, "ES256", kid="ec-1")
    await verifier.verify(known)
    jwks.document = {"keys": [keys.rsa_jwk("rsa-2")]}  # ec-1 retired, rsa-2 in
    clock.now += 301
    await verifier.verify(known)  # answered from the stale set, which is refreshed
    assert source.pending_read is not None
    await source.pending_read
    assert jwks.requests == 2
    await verifier.verify(mint(claims(), keys.rsa, "RS256", kid="rsa-2"))
    with pytest.raises(IdentityInvalidError, match="kid"):  # retired: no longer held
        await verifier.verify(known)
    assert jwks.requests == 2  # neither asked for another read (the cooldown)


async def test_a_jwks_that_is_not_a_key_set_is_a_failed_read(keys: ProviderKeys) -> None:
    with serving_jwks([]) as served:
        served.document = {"keys": "none"}
        verifier = IdentityVerifier(JwksKeys(served.url))
        with pytest.raises(ServiceUnavailableError):
            await verifier.verify(mint(claims(), keys.ec, "ES256", kid="ec-1"))


def test_a_fixed_key_signs_nothing_but_its_own_algorithm() -> None:
    assert SigningKey("HS256", b"x").algorithm == "HS256"
