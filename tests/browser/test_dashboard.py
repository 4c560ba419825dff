"""The operator's dashboard at ``/admin`` (docs/contract.md §10), and the API docs
viewer loading with no internet."""

from __future__ import annotations

import re
import time
from typing import Any

from playwright.sync_api import expect

from browser.conftest import ADMIN_KEY, OpenPage, Site, accessible, fits, screenshot


def sign_in(page: Any, key: str = ADMIN_KEY) -> None:
    page.get_by_label("Operator key").fill(key)
    page.get_by_role("button", name="Sign in").click()


def card(page: Any, title: str) -> Any:
    return page.locator("article.admin-card").filter(
        has=page.get_by_role("heading", name=re.compile(re.escape(title)))
    )


def test_the_operator_signs_in_with_the_key_kept_in_the_tab_only(
    site: Site, open_page: OpenPage
) -> None:
    page = open_page("/admin", width=1100)
    accessible(page, "sign-in")
    sign_in(page, "not-the-key")
    expect(page.get_by_role("alert")).to_have_text("That is not the operator key.")
    sign_in(page)
    expect(page.get_by_role("heading", name="On-sales")).to_be_visible()
    assert page.evaluate("sessionStorage.getItem('concert.operatorKey')") == ADMIN_KEY
    assert page.evaluate("localStorage.getItem('concert.operatorKey')") is None
    assert ADMIN_KEY not in page.url
    page.reload()  # still signed in, in this tab
    expect(page.get_by_role("heading", name="On-sales")).to_be_visible()
    page.get_by_role("button", name="Sign out").click()
    expect(page.get_by_label("Operator key")).to_be_visible()
    assert page.evaluate("sessionStorage.getItem('concert.operatorKey')") is None


def test_the_operator_adds_a_concert_and_watches_it_refresh(
    site: Site, open_page: OpenPage
) -> None:
    page = open_page("/admin", width=1100, height=900)
    sign_in(page)
    page.get_by_label("Title").fill("Han River Nights")
    page.get_by_label("Venue").fill("KSPO Dome")
    page.get_by_role("button", name="Add the concert").click()
    added = card(page, "Han River Nights")
    expect(added).to_be_visible()
    expect(added.get_by_test_id("admin-phase")).to_have_text("On sale")
    expect(added.locator("tbody tr")).to_have_count(1)
    expect(added.locator("tbody tr td").first).to_have_text("50")
    concert_id = int(added.get_attribute("data-concert"))

    fan = site.join(concert_id)  # the line moves: the dashboard shows it without a reload
    fan.wait_active()
    date = site.admin.get(f"/api/v1/admin/concerts/{concert_id}").json()["dates"][0]["date"]
    fan.hold(date, 3)
    expect(added.get_by_test_id("admin-active")).to_have_text(re.compile(r"^1 / "), timeout=2_500)
    expect(added.get_by_test_id("admin-admitted")).to_have_text("1", timeout=2_500)
    expect(added.locator("tbody tr td").nth(1)).to_have_text("1", timeout=2_500)  # held
    fan.charge_and_pay()
    expect(added.get_by_test_id("admin-revenue")).not_to_have_text("0 won", timeout=2_500)
    expect(added.locator("tbody tr td").nth(2)).to_have_text("1", timeout=2_500)  # sold

    added.get_by_label("Capacity").fill("7")
    added.get_by_label("Admissions per minute").fill("120")
    added.get_by_label("Message shown to fans").fill("Two tickets per fan.")
    added.get_by_role("button", name=re.compile("Save settings")).click()
    expect(added.get_by_test_id("admin-message")).to_have_text("Two tickets per fan.")
    view = site.admin.get(f"/api/v1/admin/concerts/{concert_id}").json()["sale"]
    assert (view["capacity"], view["admission_per_minute"], view["message"]) == (
        7,
        120,
        "Two tickets per fan.",
    )
    accessible(page, "dashboard")
    screenshot(page, "dashboard")

    page.once("dialog", lambda dialog: dialog.accept())
    added.get_by_role("button", name=re.compile("Close the sale")).click()
    expect(added.get_by_test_id("admin-phase")).to_have_text("Closed")


def test_a_pause_and_a_resume_reach_the_fans_page_within_the_poll_hint(
    site: Site, open_page: OpenPage
) -> None:
    concert = site.create_concert("Pause Me", capacity=1)
    blocker = site.join(concert["concert_id"])
    blocker.wait_active()
    fan_page = open_page("/")
    fan_page.get_by_role("button", name=re.compile("Join.*Pause Me")).click()
    expect(fan_page.get_by_test_id("position")).to_have_text("1")
    hint = site.join(
        concert["concert_id"], fan_page.evaluate("localStorage.getItem('concert.user')")
    ).status()["poll_after_seconds"]
    within = (hint + 2) * 1000  # the hint, plus one admission interval and some slack

    admin = open_page("/admin", width=1100)
    sign_in(admin)
    paused_card = card(admin, "Pause Me")
    started = time.monotonic()
    paused_card.get_by_role("button", name=re.compile("^Pause")).click()
    expect(paused_card.get_by_test_id("admin-phase")).to_have_text("Paused")
    expect(fan_page.get_by_test_id("phase")).to_have_text("Paused", timeout=within)
    expect(fan_page.locator("#phase-explain")).to_contain_text("paused")

    blocker.leave()  # a place frees, but nobody is let in while paused
    fan_page.wait_for_timeout(1_500)
    expect(fan_page.get_by_test_id("position")).to_have_text("1")

    paused_card.get_by_role("button", name=re.compile("^Resume")).click()
    expect(fan_page.get_by_test_id("turn-remaining")).to_be_visible(timeout=within)
    assert time.monotonic() - started < 30


def test_the_dashboard_fits_a_phone(site: Site, open_page: OpenPage) -> None:
    site.create_concert("Narrow")
    page = open_page("/admin")
    sign_in(page)
    expect(card(page, "Narrow")).to_be_visible()
    fits(page, "dashboard")


def test_the_api_docs_load_from_the_service_alone(site: Site, open_page: OpenPage) -> None:
    page = open_page("/schema", width=1100)
    expect(page.get_by_text("Concert reservations").first).to_be_visible()
    expect(page.get_by_text("/api/v1/queue/tokens").first).to_be_visible()
    # open_page's teardown fails the test if the viewer fetched anything from elsewhere
