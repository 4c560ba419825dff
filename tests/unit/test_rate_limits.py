"""Rate limits' pure parts (docs/contract.md §9): the client address behind proxies, the
moving window's arithmetic, the settings, the keys an address counts by."""

from __future__ import annotations

import datetime as dt
import ipaddress
import uuid

import pytest

from adapters.clock import ManualClock
from adapters.memory import MemoryRateLimiter
from adapters.rate_window import in_window, wait_for_room
from entrypoints.http.client_address import UNKNOWN, client_address, parse_address
from entrypoints.rate_limits import ClientLimits, RateLimitedError, address_key
from entrypoints.settings import Settings, SettingsError

PROXIES = (ipaddress.ip_network("10.0.0.0/8"), ipaddress.ip_network("2001:db8:f::/48"))


@pytest.mark.parametrize(
    ("peer", "header", "expected"),
    [
        # An untrusted peer is the client, whatever it sends.
        ("203.0.113.9", ["198.51.100.1"], "203.0.113.9"),
        ("203.0.113.9", [], "203.0.113.9"),
        # From a trusted proxy: the right-most untrusted entry.
        ("10.0.0.1", ["198.51.100.1"], "198.51.100.1"),
        ("10.0.0.1", ["198.51.100.1, 10.0.0.2"], "198.51.100.1"),
        ("10.0.0.1", ["1.1.1.1, 198.51.100.1, 10.0.0.2"], "198.51.100.1"),
        # Several headers read as one list, in order.
        ("10.0.0.1", ["1.1.1.1", "198.51.100.1", "10.0.0.3"], "198.51.100.1"),
        # What lies left of the client is the client's own to write: ignored.
        ("10.0.0.1", ["garbage, 198.51.100.1"], "198.51.100.1"),
        ("10.0.0.1", ["unknown, , 198.51.100.1, 10.0.0.2"], "198.51.100.1"),
        # A bad entry the proxies wrote, or nothing at all: the peer.
        ("10.0.0.1", ["198.51.100.1, garbage"], "10.0.0.1"),
        ("10.0.0.1", ["198.51.100.1, 10.0.0.2, unknown"], "10.0.0.1"),
        ("10.0.0.1", ["198.51.100.1,"], "10.0.0.1"),
        ("10.0.0.1", [""], "10.0.0.1"),
        ("10.0.0.1", [], "10.0.0.1"),
        ("10.0.0.1", ["1.2.3.4.5"], "10.0.0.1"),
        ("10.0.0.1", ["999.1.1.1"], "10.0.0.1"),
        # Every entry a trusted proxy: the left-most.
        ("10.0.0.1", ["10.0.0.7, 10.0.0.2"], "10.0.0.7"),
        # Ports, brackets, IPv6, IPv4-mapped IPv6.
        ("10.0.0.1", ["198.51.100.1:4711"], "198.51.100.1"),
        ("10.0.0.1", ["[2001:db8::1]:443"], "2001:db8::1"),
        ("10.0.0.1", [" 2001:DB8::1 "], "2001:db8::1"),
        ("2001:db8:f::1", ["198.51.100.1"], "198.51.100.1"),
        ("::ffff:10.0.0.1", ["198.51.100.1"], "198.51.100.1"),
        ("10.0.0.1", ["::ffff:198.51.100.1"], "198.51.100.1"),
        ("::ffff:203.0.113.9", ["198.51.100.1"], "203.0.113.9"),
        # A peer that is no address (a Unix socket, a test transport).
        (None, ["198.51.100.1"], UNKNOWN),
        ("", [], UNKNOWN),
        ("testclient", ["198.51.100.1"], "testclient"),
    ],
)
def test_client_address(peer: str | None, header: list[str], expected: str) -> None:
    assert client_address(peer, header, PROXIES) == expected


def test_without_trusted_proxies_the_header_is_never_read() -> None:
    assert client_address("10.0.0.1", ["198.51.100.1"], ()) == "10.0.0.1"
    assert client_address("127.0.0.1", ["198.51.100.1"], ()) == "127.0.0.1"


def test_a_trusted_peer_of_another_ip_version_is_not_trusted() -> None:
    v4_only = (ipaddress.ip_network("0.0.0.0/0"),)
    assert client_address("2001:db8::1", ["198.51.100.1"], v4_only) == "2001:db8::1"


@pytest.mark.parametrize("text", ["", "1.2.3", "::g", "[1.2.3.4]", "1.2.3.4:", "a:b:c"])
def test_parse_address_refuses_what_is_not_an_address(text: str) -> None:
    assert parse_address(text) is None


def test_an_ipv6_client_counts_by_its_64() -> None:
    assert address_key("2001:db8:1:2:aaaa::1") == address_key("2001:db8:1:2:bbbb::9")
    assert address_key("2001:db8:1:2::1") == "2001:db8:1:2::/64"
    assert address_key("2001:db8:1:3::1") != address_key("2001:db8:1:2::1")
    assert address_key("192.0.2.7") == "192.0.2.7"
    assert address_key(UNKNOWN) == UNKNOWN


def test_the_window_keeps_hits_younger_than_the_window() -> None:
    assert in_window([5, 100, 40, 41], now_us=100, window_us=60) == [41, 100]
    assert in_window([], now_us=100, window_us=60) == []


@pytest.mark.parametrize(
    ("live", "limit", "wait"),
    [
        ([], 1, 0),
        ([10, 20], 3, 0),
        ([10, 20, 30], 3, 10 + 60 - 65),  # the oldest leaves at 70: 5 from now
        ([10, 20, 30, 40], 3, 20 + 60 - 65),  # over (a lowered limit): two must leave
        ([64, 65], 2, 64 + 60 - 65),
    ],
)
def test_wait_for_room(live: list[int], limit: int, wait: int) -> None:
    assert wait_for_room(live, limit, now_us=65, window_us=60) == wait


def test_wait_for_room_is_never_zero_when_full_and_refuses_limit_zero() -> None:
    assert wait_for_room([5], 1, now_us=65, window_us=60) == 1  # leaving this instant
    with pytest.raises(ValueError, match="at least 1"):
        wait_for_room([], 0, now_us=0, window_us=60)


@pytest.mark.parametrize(
    ("seconds", "header"), [(0.000001, 1), (0.5, 1), (1.0, 1), (1.2, 2), (59.9, 60)]
)
def test_retry_after_is_whole_seconds_rounded_up_at_least_one(seconds: float, header: int) -> None:
    assert RateLimitedError(dt.timedelta(seconds=seconds)).retry_after_seconds == header


def test_settings_defaults_and_reading() -> None:
    default = Settings.from_env({})
    assert default.rate_limit_joins_per_minute == 60
    assert default.rate_limit_joins_per_fan_per_minute == 10
    assert default.rate_limit_requests_per_minute == 0
    assert default.trusted_proxies == ()
    read = Settings.from_env(
        {
            "CONCERT_RATE_LIMIT_JOINS_PER_MINUTE": "0",
            "CONCERT_RATE_LIMIT_JOINS_PER_FAN_PER_MINUTE": "3",
            "CONCERT_RATE_LIMIT_REQUESTS_PER_MINUTE": "600",
            "CONCERT_TRUSTED_PROXIES": " 10.0.0.0/8, 192.0.2.7 ,::1,",
        }
    )
    assert read.rate_limit_joins_per_minute == 0
    assert read.rate_limit_joins_per_fan_per_minute == 3
    assert read.rate_limit_requests_per_minute == 600
    assert [str(n) for n in read.trusted_proxies] == ["10.0.0.0/8", "192.0.2.7/32", "::1/128"]


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("RATE_LIMIT_JOINS_PER_MINUTE", "-1"),
        ("RATE_LIMIT_JOINS_PER_MINUTE", "1.5"),
        ("RATE_LIMIT_JOINS_PER_MINUTE", "1000001"),
        ("RATE_LIMIT_REQUESTS_PER_MINUTE", "lots"),
        ("RATE_LIMIT_JOINS_PER_FAN_PER_MINUTE", "١٠"),
        ("TRUSTED_PROXIES", "10.0.0.1/8"),  # host bits set: a typo, not a network
        ("TRUSTED_PROXIES", "proxy.example"),
        ("TRUSTED_PROXIES", "10.0.0.0/33"),
    ],
)
def test_settings_refuse_bad_values_naming_the_variable(name: str, value: str) -> None:
    with pytest.raises(SettingsError, match=f"CONCERT_{name}"):
        Settings.from_env({f"CONCERT_{name}": value})


async def test_a_verified_fan_is_limited_as_well_as_the_address() -> None:
    """``hit_join(address, user_id)``: the hook identity switches on; both must have room,
    and a refusal by either counts against neither."""

    clock = ManualClock()
    limits = ClientLimits(
        MemoryRateLimiter(),
        clock,
        joins_per_minute=3,
        joins_per_fan_per_minute=1,
        requests_per_minute=0,
    )
    fan, other = uuid.uuid4(), uuid.uuid4()
    await limits.hit_join("192.0.2.7", fan)
    with pytest.raises(RateLimitedError):
        await limits.hit_join("192.0.2.8", fan)  # another address, the same fan
    await limits.hit_join("192.0.2.7", other)
    await limits.hit_join("192.0.2.7")  # an unverified join: the address alone
    with pytest.raises(RateLimitedError) as refused:
        await limits.hit_join("192.0.2.7", uuid.uuid4())
    assert refused.value.retry_after_seconds == 60
    await limits.hit_request("192.0.2.7")  # the all-routes limit is off: free


async def test_no_limit_on_asks_storage_nothing() -> None:

    class Refusing:
        async def hit(self, *_: object) -> dt.timedelta | None:
            raise AssertionError("asked")

        async def sweep(self, *_: object) -> int:
            return 0

    limits = ClientLimits(
        Refusing(),
        ManualClock(),
        joins_per_minute=0,
        joins_per_fan_per_minute=0,
        requests_per_minute=0,
    )
    await limits.hit_join("192.0.2.7", uuid.uuid4())
    await limits.hit_request("192.0.2.7")


async def test_retry_after_never_exceeds_the_window_when_other_hits_are_a_moment_later() -> None:
    """Another instance's hits can reach storage first stamped a moment after this
    request's now: from this request's instant the slot frees a little over a window
    away, and the header still says at most the window's 60 s."""
    clock = ManualClock()
    limiter = MemoryRateLimiter()
    limits = ClientLimits(
        limiter, clock, joins_per_minute=2, joins_per_fan_per_minute=0, requests_per_minute=0
    )
    key = f"join:ip:{address_key('192.0.2.7')}"
    later = await clock.now() + dt.timedelta(milliseconds=700)
    assert await limiter.hit([(key, 2)], dt.timedelta(seconds=60), later) is None
    assert await limiter.hit([(key, 2)], dt.timedelta(seconds=60), later) is None
    with pytest.raises(RateLimitedError) as refused:
        await limits.hit_join("192.0.2.7")
    assert refused.value.retry_after_seconds == 60
