"""The pages as HTTP serves them (docs/contract.md §10): language from Accept-Language,
security headers, nothing loaded from another host, no inline script, and catalogues
that have every string the scripts ask for. The pages' behaviour in a browser is
tests/browser's."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from html.parser import HTMLParser
from pathlib import Path

import pytest
from litestar.testing import TestClient

from entrypoints.http import create_app
from entrypoints.http.pages import STATIC_DIR, pick_language
from entrypoints.settings import MEMORY_URL, Settings

PAGES = ("/", "/admin", "/schema", "/schema/swagger")


@pytest.fixture(scope="module")
def client() -> Iterator[TestClient]:  # type: ignore[type-arg]
    with TestClient(create_app(Settings(database_url=MEMORY_URL))) as test_client:
        yield test_client


class _Loads(HTMLParser):
    """Every address a page loads (src, href) and every script element's attributes."""

    def __init__(self) -> None:
        super().__init__()
        self.addresses: list[str] = []
        self.scripts: list[dict[str, str | None]] = []
        self.lang: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        named = dict(attrs)
        if tag == "html":
            self.lang = named.get("lang")
        if tag == "script":
            self.scripts.append(named)
        for name in ("src", "href"):
            if named.get(name) and not (tag == "a" and name == "href"):
                self.addresses.append(str(named[name]))


def parsed(html: str) -> _Loads:
    loads = _Loads()
    loads.feed(html)
    return loads


@pytest.mark.parametrize(
    ("header", "language"),
    [
        (None, "en"),
        ("ko-KR,ko;q=0.9,en-US;q=0.8,en;q=0.7", "ko"),
        ("en-US,en;q=0.9,ko;q=0.8", "en"),
        ("fr-FR, ko;q=0.5", "ko"),
        ("de, fr;q=0.9", "en"),
        ("ko;q=0.2, en;q=0.3", "en"),
        ("ko;q=bad, en;q=0", "en"),
    ],
)
def test_the_language_is_the_supported_one_the_client_ranks_highest(
    header: str | None, language: str
) -> None:
    assert pick_language(header) == language


@pytest.mark.parametrize(("path", "title_key"), [("/", "app.title"), ("/admin", "admin.title")])
def test_a_page_is_served_in_the_language_of_accept_language(
    client: TestClient,  # type: ignore[type-arg]
    path: str,
    title_key: str,
) -> None:
    for header, language in (("ko-KR,ko;q=0.9", "ko"), ("en-GB", "en")):
        reply = client.get(path, headers={"Accept-Language": header})
        assert reply.status_code == 200
        assert reply.headers["content-type"].startswith("text/html")
        assert parsed(reply.text).lang == language
        title = json.loads((STATIC_DIR / "i18n" / f"{language}.json").read_text())[title_key]
        assert f"<title>{title}</title>" in reply.text


@pytest.mark.parametrize("path", [*PAGES, "/static/js/fan.js", "/api/v1/concerts", "/health"])
def test_every_response_carries_the_security_headers(
    client: TestClient,  # type: ignore[type-arg]
    path: str,
) -> None:
    reply = client.get(path)
    assert reply.status_code == 200, path
    policy = reply.headers["content-security-policy"]
    directives = dict(d.strip().split(" ", 1) for d in policy.split(";"))
    assert directives["script-src"] == "'self'"  # no inline script, no eval, no other host
    assert directives["frame-ancestors"] == "'none'"
    assert directives["connect-src"] == "'self'"
    assert reply.headers["x-content-type-options"] == "nosniff"
    assert reply.headers["x-frame-options"] == "DENY"


@pytest.mark.parametrize("path", PAGES)
def test_the_pages_and_the_api_docs_load_nothing_from_another_host_and_no_inline_script(
    client: TestClient,  # type: ignore[type-arg]
    path: str,
) -> None:
    reply = client.get(path)
    assert reply.status_code == 200
    loads = parsed(reply.text)
    assert loads.addresses, path
    for address in loads.addresses:
        assert address.startswith(("/", "data:")), (path, address)
        assert not address.startswith("//"), (path, address)
    assert "http://" not in reply.text and "https://" not in reply.text, path
    assert loads.scripts
    for script in loads.scripts:
        assert script.get("src", "").startswith("/static/"), (path, script)  # type: ignore[union-attr]
    for address in loads.addresses:
        if address.startswith("/static/"):
            assert client.get(address).status_code == 200, address


def test_the_docs_viewer_is_the_vendored_one_with_its_licence(
    client: TestClient,  # type: ignore[type-arg]
) -> None:
    vendor = STATIC_DIR / "vendor" / "swagger-ui"
    assert "Apache License" in (vendor / "LICENSE").read_text()
    reply = client.get("/static/vendor/swagger-ui/swagger-ui-bundle.js")
    assert reply.status_code == 200
    assert "SwaggerUIBundle" in reply.text[:2000]


def _own_files(suffix: str) -> list[Path]:
    return [p for p in STATIC_DIR.rglob(f"*{suffix}") if "vendor" not in p.parts]


def test_the_pages_own_files_name_no_other_host() -> None:
    files = _own_files(".js") + _own_files(".css") + _own_files(".html")
    assert len(files) >= 8
    for path in files:
        text = path.read_text()
        assert not re.search(r"https?://|//[a-z0-9.-]+\.[a-z]{2,}/", text), path


def test_the_catalogues_have_every_string_the_pages_ask_for() -> None:
    english = json.loads((STATIC_DIR / "i18n" / "en.json").read_text())
    korean = json.loads((STATIC_DIR / "i18n" / "ko.json").read_text())
    assert english.keys() == korean.keys()
    asked: set[str] = set()
    for path in _own_files(".js"):
        asked |= set(re.findall(r"\bt\(\s*\"([a-z_]+(?:\.[A-Za-z_]+)+)\"", path.read_text()))
    for path in _own_files(".html"):
        asked |= set(re.findall(r'data-i18n(?:-[a-z-]+)?="([^"]+)"', path.read_text()))
    assert len(asked) > 80
    assert asked - english.keys() == set()
    for phase in ("SCHEDULED", "PREQUEUE", "OPEN", "PAUSED", "SOLD_OUT", "CLOSED"):
        assert f"phase.{phase}" in english and f"explain.{phase}" in english
    for code in ("SEAT_UNAVAILABLE", "INSUFFICIENT_BALANCE", "TOKEN_NOT_ACTIVE", "SALE_CLOSED"):
        assert f"error.{code}" in english
    # The test hooks' words: "Join" / "Pay", 참여 / 결제.
    assert "Join" in english["list.join"] and "참여" in korean["list.join"]
    assert "Pay" in english["pay.button"] and "결제" in korean["pay.button"]
