"""The fan's page at ``/`` (docs/contract.md §10): the whole journey in English and in
Korean, the pre-queue opening, a sold-out sale, polling that stops in a hidden tab,
keyboard only, 375 px wide, and no serious accessibility violation on any view."""

from __future__ import annotations

import datetime as dt
import re
import time
from typing import Any

import pytest
from playwright.sync_api import expect

from browser.conftest import OpenPage, Site, accessible, fits, now, screenshot

WORDS = {
    "en": {
        "join": "Join",
        "pay": "Pay",
        "seat": r"^Seat 7, ",
        "topup": "Top up",
        "waiting": "On sale",
        "switch": "한국어",
    },
    "ko": {
        "join": "참여",
        "pay": "결제",
        "seat": r"^7번 좌석, ",
        "topup": "충전",
        "waiting": "판매 중",
        "switch": "English",
    },
}


def join_button(page: Any, title: str, word: str) -> Any:
    return page.get_by_role("button", name=re.compile(f"{word}.*{re.escape(title)}"))


def user_of(page: Any) -> str:
    user: str = page.evaluate("localStorage.getItem('concert.user')")
    return user


@pytest.mark.parametrize("language", ["en", "ko"])
def test_a_fan_goes_from_the_list_to_a_receipt(
    site: Site, open_page: OpenPage, language: str
) -> None:
    words = WORDS[language]
    title = {"en": "Winter Lights", "ko": "봄의 서곡"}[language]
    concert = site.create_concert(title, capacity=1, message="Doors open at 18:00.")
    blocker = site.join(concert["concert_id"])  # holds the one place: the page must wait
    blocker.wait_active()

    page = open_page("/", language=language)
    expect(page.locator("html")).to_have_attribute("lang", language)
    join = join_button(page, title, words["join"])
    expect(join).to_be_visible()
    accessible(page, "concert list")
    fits(page, "concert list")
    join.click()

    # Waiting: position 1 behind the blocker, with the sale's phase and message.
    expect(page.get_by_test_id("position")).to_have_text("1")
    expect(page.get_by_test_id("phase")).to_have_text(words["waiting"])
    expect(page.get_by_test_id("estimated-wait")).not_to_be_empty()
    expect(page.get_by_role("progressbar")).to_be_visible()
    expect(page.get_by_text("Doors open at 18:00.")).to_be_visible()
    expect(page.get_by_test_id("last-updated")).not_to_be_empty()
    accessible(page, "waiting room")
    fits(page, "waiting room")
    if language == "en":
        screenshot(page, "waiting-room")

    blocker.leave()
    # Admitted within a poll: the turn's clock, the dates, the seat map.
    expect(page.get_by_test_id("turn-remaining")).to_have_text(re.compile(r"^\d+:\d\d$"))
    seat = page.get_by_role("button", name=re.compile(words["seat"]))
    expect(seat).to_be_enabled()
    seats = page.locator("#seat-map button")
    expect(seats).to_have_count(50)
    accessible(page, "seat map")
    fits(page, "seat map")

    seat.click()
    expect(page.get_by_test_id("hold-countdown")).to_have_text(re.compile(r"^[45]:\d\d$"))
    expect(seat).to_be_disabled()  # held by this fan now
    pay = page.get_by_role("button", name=re.compile(words["pay"]))
    expect(pay).to_be_enabled()
    if language == "en":
        screenshot(page, "seat-map")

    # Paying with an empty wallet is a sentence, not JSON.
    pay.click()
    alert = page.get_by_role("alert")
    expect(alert).to_be_visible()
    expect(alert).not_to_contain_text("{")
    expect(alert).not_to_contain_text("INSUFFICIENT_BALANCE")

    page.get_by_role("button", name=words["topup"]).click()
    expect(page.get_by_test_id("balance")).not_to_have_text(re.compile(r"^0"))
    accessible(page, "seat held, wallet topped up")
    pay.click()

    receipt = page.get_by_test_id("receipt")
    expect(receipt).to_be_visible()
    [payment] = site.payments(user_of(page))
    expect(receipt).to_contain_text(payment["payment_id"])
    accessible(page, "receipt")
    fits(page, "receipt")


def test_the_language_switch_changes_the_page_and_html_lang(
    site: Site, open_page: OpenPage
) -> None:
    site.create_concert("Switching")
    page = open_page("/", language="en")
    expect(join_button(page, "Switching", "Join")).to_be_visible()
    page.get_by_role("button", name=re.compile("한국어")).click()
    expect(page.locator("html")).to_have_attribute("lang", "ko")
    expect(join_button(page, "Switching", "참여")).to_be_visible()
    page.reload()  # the choice is kept
    expect(page.locator("html")).to_have_attribute("lang", "ko")
    expect(join_button(page, "Switching", "참여")).to_be_visible()


def test_a_pre_queued_fan_sees_the_countdown_then_the_opening(
    site: Site, open_page: OpenPage
) -> None:
    opens = now() + dt.timedelta(seconds=6)
    site.create_concert("Pre-queue", prequeue_opens_at=now(), opens_at=opens)
    page = open_page("/")
    join_button(page, "Pre-queue", "Join").click()
    expect(page.get_by_test_id("phase")).to_have_text("Pre-queue")
    expect(page.get_by_test_id("countdown")).to_have_text(re.compile(r"^0:0[0-6]$"))
    expect(page.get_by_test_id("position")).to_have_text("drawn at the opening")
    accessible(page, "pre-queue")
    # The opening draws the order; a place frees at once (capacity 5): admitted.
    expect(page.get_by_test_id("turn-remaining")).to_be_visible(timeout=20_000)


def test_a_sold_out_sale_is_said_plainly(site: Site, open_page: OpenPage) -> None:
    concert = site.create_concert("Sell-out", prices=[1_000] * 50, capacity=20)
    concert_id, date = concert["concert_id"], concert["dates"][0]["date"]
    buyers = [site.join(concert_id) for _ in range(12)]  # 48 seats, 4 a turn
    for number, buyer in enumerate(buyers):
        buyer.wait_active()
        for seat in range(number * 4 + 1, number * 4 + 5):
            buyer.hold(date, seat)
        buyer.charge_and_pay()
    site.change_sale(concert_id, capacity=1)
    last = site.join(concert_id)
    last.wait_active()
    last.hold(date, 49)
    last.hold(date, 50)

    page = open_page("/")
    join_button(page, "Sell-out", "Join").click()
    expect(page.get_by_test_id("position")).to_have_text("1")
    last.charge_and_pay()  # the last seats: sold out
    expect(page.get_by_test_id("phase")).to_have_text("Sold out", timeout=10_000)
    expect(page.locator("#phase-explain")).to_contain_text("Every seat is sold.")
    accessible(page, "sold out")

    page.get_by_role("button", name="Back to concerts").click()
    join = join_button(page, "Sell-out", "Join")
    expect(join).to_be_disabled()


def hide(page: Any, hidden: bool) -> None:
    state = "hidden" if hidden else "visible"
    page.evaluate(
        """(state) => {
            const define = (name, value) =>
                Object.defineProperty(document, name, {value, configurable: true});
            define('visibilityState', state);
            define('hidden', state === 'hidden');
            document.dispatchEvent(new Event('visibilitychange'));
        }""",
        state,
    )


def test_polling_stops_while_the_tab_is_hidden_and_resumes_on_return(
    site: Site, open_page: OpenPage
) -> None:
    concert = site.create_concert("Hidden tab", capacity=1)
    blocker = site.join(concert["concert_id"])
    blocker.wait_active()
    page = open_page("/")
    polls: list[float] = []
    hints: list[tuple[float, int]] = []  # when each WAITING reply came, and its hint
    page.on(
        "request",
        lambda request: polls.append(time.monotonic()) if "/queue/status" in request.url else None,
    )

    def heard(response: Any) -> None:
        after = response.headers.get("retry-after")
        if "/queue/status" in response.url and after is not None:
            hints.append((time.monotonic(), int(after)))

    page.on("response", heard)
    join_button(page, "Hidden tab", "Join").click()
    expect(page.get_by_test_id("position")).to_have_text("1")
    page.wait_for_timeout(4_500)
    assert len(polls) >= 3  # the hint near the front is a second or two
    # Each poll comes when the reply before it said (poll_after_seconds, sent as
    # Retry-After too): not sooner, and not much later.
    for replied, hint in hints[:-1]:
        following = min((t for t in polls if t > replied), default=None)
        assert following is not None
        assert hint - 0.1 <= following - replied <= hint + 1.0, (hint, following - replied)

    hide(page, True)
    page.wait_for_timeout(300)  # a request already on its way may land
    while_hidden = len(polls)
    page.wait_for_timeout(4_000)
    assert len(polls) == while_hidden

    hide(page, False)
    page.wait_for_timeout(500)
    assert len(polls) > while_hidden  # at once on return, not at the next tick
    blocker.leave()
    expect(page.get_by_test_id("turn-remaining")).to_be_visible()


def tab_to(page: Any, test: str, presses: int = 120) -> None:
    """Press Tab until the focused element passes ``test`` (a JS predicate on it)."""
    for _ in range(presses):
        page.keyboard.press("Tab")
        if page.evaluate(f"(e => {test})(document.activeElement)"):
            return
    raise AssertionError(f"no focusable element passes {test}")


def test_a_fan_chooses_a_seat_and_pays_with_the_keyboard_alone(
    site: Site, open_page: OpenPage
) -> None:
    site.create_concert("Keyboard")
    page = open_page("/")
    expect(join_button(page, "Keyboard", "Join")).to_be_visible()
    tab_to(page, "e.textContent.includes('Keyboard') && e.tagName === 'BUTTON'")
    page.keyboard.press("Enter")
    expect(page.get_by_test_id("turn-remaining")).to_be_visible()
    expect(page.locator("#seat-map button")).to_have_count(50)

    tab_to(page, "(e.getAttribute('aria-label') || '').startsWith('Seat 12,')")
    page.keyboard.press("Enter")
    expect(page.get_by_test_id("hold-countdown")).to_be_visible()

    tab_to(page, "e.id === 'topup-amount'")
    page.keyboard.press("Enter")  # submits the top-up form with the amount it suggests
    expect(page.get_by_test_id("balance")).not_to_have_text(re.compile(r"^0"))
    tab_to(page, "e.id === 'pay'")
    page.keyboard.press("Enter")
    expect(page.get_by_test_id("receipt")).to_be_visible()
    expect(page.get_by_test_id("receipt")).to_contain_text("seat 12")


def test_a_join_challenge_is_solved_in_the_background_with_visible_progress(
    site: Site, open_page: OpenPage
) -> None:
    concert = site.create_concert("Challenged", join_challenge=True)
    offered = site.api.get(f"/api/v1/queue/challenge?concert_id={concert['concert_id']}")
    if offered.status_code == 404:
        pytest.skip("this service has no join challenge route yet")
    assert offered.status_code == 200, offered.text
    page = open_page("/")
    asked: list[str] = []
    page.on("request", lambda request: asked.append(f"{request.method} {request.url}"))
    join_button(page, "Challenged", "Join").click()
    expect(page.get_by_test_id("turn-remaining")).to_be_visible(timeout=20_000)
    assert any("GET" in a and "/queue/challenge?concert_id=" in a for a in asked)
    assert sum("POST" in a and "/queue/tokens" in a for a in asked) == 2  # refused, then proven
    progress = page.locator("#challenge-bar")
    assert progress.get_attribute("role") == "progressbar"
    assert progress.get_attribute("aria-valuenow") == "100"


def test_joining_before_the_sale_opens_is_told_in_a_sentence(
    site: Site, open_page: OpenPage
) -> None:
    site.create_concert("Later", opens_at=now() + dt.timedelta(days=1))
    page = open_page("/", language="ko")
    join_button(page, "Later", "참여").click()
    alert = page.get_by_role("alert")
    expect(alert).to_contain_text("아직 판매가 시작되지 않았습니다")
    expect(alert).not_to_contain_text("SALE_NOT_OPEN")
    expect(alert).not_to_contain_text("{")
    accessible(page, "an error on the list")
