"""The pages in a real browser: Debian's Chromium through Playwright, against a real
``concert serve`` process (one per test module, SQLite, short intervals).

Every page a test opens records every request it makes; a test fails if any went to a
host other than the service. ``CONCERT_SCREENSHOTS=1`` also saves the README's
pictures to docs/images (``make screenshots``).
"""

from __future__ import annotations

import datetime as dt
import os
import signal
import subprocess
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from integration.conftest import CONCERT, free_port, wait_until_up
from services import require_chromium

ADMIN_KEY = "browser-tests-operator-key-0123456789abcdef"
IMAGES = Path(__file__).resolve().parents[2] / "docs" / "images"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-background-networking", "--disable-component-update"]
SERIOUS = ("serious", "critical")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    here = Path(__file__).parent
    for item in items:
        if here in Path(str(item.fspath)).parents:
            item.add_marker(pytest.mark.browser)


@dataclass
class Site:
    """The running service, and the API calls tests make around the pages."""

    base: str
    api: httpx.Client
    admin: httpx.Client

    def create_concert(self, title: str, **sale: Any) -> dict[str, Any]:
        body: dict[str, Any] = {
            "title": title,
            "venue": "Test Hall",
            "dates": [performance_date()],
            "price": 100_000,
        }
        if "prices" in sale:
            body.pop("price")
            body["prices"] = sale.pop("prices")
        if sale:
            body["sale"] = {k: _rfc3339(v) for k, v in sale.items()}
        reply = self.admin.post("/api/v1/admin/concerts", json=body)
        assert reply.status_code == 201, reply.text
        concert: dict[str, Any] = reply.json()
        return concert

    def change_sale(self, concert_id: int, **changes: Any) -> dict[str, Any]:
        reply = self.admin.patch(
            f"/api/v1/admin/concerts/{concert_id}/sale",
            json={k: _rfc3339(v) for k, v in changes.items()},
        )
        assert reply.status_code == 200, reply.text
        view: dict[str, Any] = reply.json()
        return view

    def join(self, concert_id: int, user_id: str | None = None) -> Fan:
        user = user_id or str(uuid.uuid4())
        reply = self.api.post(
            "/api/v1/queue/tokens", json={"user_id": user, "concert_id": concert_id}
        )
        assert reply.status_code in (200, 201), reply.text
        return Fan(self, user, concert_id, reply.json()["token"])

    def payments(self, user_id: str) -> list[dict[str, Any]]:
        reply = self.api.get(f"/api/v1/users/{user_id}/payments")
        assert reply.status_code == 200, reply.text
        found: list[dict[str, Any]] = reply.json()
        return found


@dataclass
class Fan:
    """A fan driven through the API, beside the one in the browser."""

    site: Site
    user_id: str
    concert_id: int
    token: str
    holds: list[str] = field(default_factory=list)

    @property
    def _auth(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}

    def status(self) -> dict[str, Any]:
        reply = self.site.api.get("/api/v1/queue/status", headers=self._auth)
        assert reply.status_code == 200, reply.text
        found: dict[str, Any] = reply.json()
        return found

    def wait_active(self, seconds: float = 10) -> None:
        deadline = time.monotonic() + seconds
        while self.status()["status"] != "ACTIVE":
            assert time.monotonic() < deadline, "the API fan was not admitted"
            time.sleep(0.1)

    def hold(self, date: str, seat_no: int) -> None:
        reply = self.site.api.post(
            "/api/v1/reservations",
            json={"concert_id": self.concert_id, "date": date, "seat_no": seat_no},
            headers=self._auth,
        )
        assert reply.status_code in (200, 201), reply.text
        self.holds.append(reply.json()["reservation_id"])

    def charge_and_pay(self) -> None:
        charged = self.site.api.post(
            f"/api/v1/users/{self.user_id}/balance/charge", json={"amount": 10_000_000}
        )
        assert charged.status_code == 200, charged.text
        paid = self.site.api.post(
            "/api/v1/payments", json={"reservation_ids": self.holds}, headers=self._auth
        )
        assert paid.status_code == 201, paid.text

    def leave(self) -> None:
        reply = self.site.api.delete("/api/v1/queue/tokens/me", headers=self._auth)
        assert reply.status_code == 204, reply.text


def performance_date() -> str:
    return (dt.date.today() + dt.timedelta(days=30)).isoformat()


def _rfc3339(value: Any) -> Any:
    return value.isoformat() if isinstance(value, dt.datetime) else value


def now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    """``concert serve`` on a free port: a fresh SQLite file, admission every 0.2 s."""
    require_chromium()
    directory = tmp_path_factory.mktemp("site")
    env = {
        **os.environ,
        "CONCERT_DATABASE_URL": f"sqlite+aiosqlite:///{directory}/pages.db",
        "CONCERT_ADMIN_KEY": ADMIN_KEY,
        "CONCERT_ACTIVE_CAPACITY": "5",
        "CONCERT_ADMISSION_INTERVAL_SECONDS": "0.2",
        "CONCERT_RATE_LIMIT_JOINS_PER_MINUTE": "0",
        "PYTHONPATH": os.pathsep.join(
            str(Path(__file__).resolve().parents[2] / part) for part in ("src", "tests")
        ),
    }
    subprocess.run([*CONCERT, "db", "upgrade"], env=env, check=True, capture_output=True)
    port = free_port()
    process = subprocess.Popen(
        [*CONCERT, "serve", "--port", str(port), "--no-access-log"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        wait_until_up(base, process)
        with (
            httpx.Client(base_url=base, timeout=10) as api,
            httpx.Client(
                base_url=base, timeout=10, headers={"Authorization": f"Bearer {ADMIN_KEY}"}
            ) as admin,
        ):
            yield Site(base, api, admin)
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """Chromium for one module. Not for the session: while Playwright's sync API is
    started, this thread counts as inside its event loop, and the tests run after these
    (the CLI's ``asyncio.run``, pytest-asyncio's loops) could not start theirs."""
    executable = require_chromium()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
        try:
            yield launched
        finally:
            launched.close()


OpenPage = Callable[..., Any]


@pytest.fixture
def open_page(browser: Any, site: Site) -> Iterator[OpenPage]:
    """Open a page of the service in a fresh browser profile; every request any of the
    test's pages makes is recorded, and must go to the service alone."""
    contexts: list[Any] = []
    requests: list[str] = []
    errors: list[str] = []

    def open_(path: str = "/", *, language: str = "en", width: int = 375, height: int = 800) -> Any:
        context = browser.new_context(
            viewport={"width": width, "height": height},
            locale="ko-KR" if language == "ko" else "en-US",
            extra_http_headers={
                "Accept-Language": "ko-KR,ko;q=0.9,en;q=0.5" if language == "ko" else "en-US,en"
            },
        )
        contexts.append(context)
        context.on("request", lambda request: requests.append(request.url))
        page = context.new_page()
        page.on("pageerror", lambda error: errors.append(str(error)))
        page.set_default_timeout(10_000)
        page.goto(site.base + path)
        return page

    yield open_
    for context in contexts:
        context.close()
    foreign = [url for url in requests if not url.startswith(site.base + "/")]
    assert requests or not contexts, "no request was recorded"
    assert foreign == [], f"requests to other hosts: {foreign}"
    assert errors == [], f"script errors: {errors}"


def accessible(page: Any, view: str) -> None:
    """No axe-core violation of serious or critical impact on the page as it stands."""
    from axe_playwright_python.sync_playwright import Axe

    results = Axe().run(page)
    bad = [v for v in results.response["violations"] if v.get("impact") in SERIOUS]
    summary = [
        f"{v['id']} ({v['impact']}): {v['help']} at {[n['target'] for n in v['nodes']][:3]}"
        for v in bad
    ]
    assert bad == [], f"{view}: {summary}"


def fits(page: Any, view: str, width: int = 375) -> None:
    """Nothing scrolls sideways at the viewport's width."""
    scroll = page.evaluate("document.documentElement.scrollWidth")
    assert scroll <= width, f"{view}: {scroll}px wide at a {width}px viewport"


def screenshot(page: Any, name: str) -> None:
    """The README's pictures, when CONCERT_SCREENSHOTS=1."""
    if os.environ.get("CONCERT_SCREENSHOTS") == "1":
        IMAGES.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(IMAGES / f"{name}.png"), full_page=True)
