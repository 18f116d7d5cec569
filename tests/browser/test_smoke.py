"""The shell every page shares: sign-in page and front page pass axe, keyboard skip link works."""

from __future__ import annotations

from tests.browser.helpers import DEMO_PASSWORD, axe_check, sign_in


def test_front_and_login_pages_are_accessible(page):
    page.goto("/")
    axe_check(page, "front-page-anonymous")
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.className") == "skip-link"
    page.keyboard.press("Enter")
    assert page.evaluate("document.activeElement.id") == "main"
    sign_in(page, "koordinator1@esbjerg.sd-demo.dk", DEMO_PASSWORD, check="login")
    axe_check(page, "front-page-coordinator")
