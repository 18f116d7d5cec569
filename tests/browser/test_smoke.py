"""The shell and the pages no flow visits: each passes axe; the skip link works by keyboard."""

from __future__ import annotations

import pytest

from tests.browser.helpers import DEMO_PASSWORD, axe_check, sign_in


def test_front_and_login_pages_are_accessible(page):
    page.goto("/")
    axe_check(page, "front-page-anonymous")
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.className") == "skip-link"
    page.keyboard.press("Enter")
    assert page.evaluate("document.activeElement.id") == "main"
    page.goto("/status")
    axe_check(page, "status-page-anonymous")
    sign_in(page, "koordinator1@esbjerg.sd-demo.dk", DEMO_PASSWORD, check="login")
    axe_check(page, "front-page-coordinator")


@pytest.mark.parametrize(
    ("email", "pages"),
    [
        (
            "koordinator1@esbjerg.sd-demo.dk",
            ["/cases", "/known-issues", "/notifications", "/account"],
        ),
        ("redaktor@netcompany.sd-demo.dk", ["/faq/manage", "/known-issues"]),
        (
            "admin@esbjerg.sd-demo.dk",
            [
                "/admin/routing",
                "/admin/institutions",
                "/admin/security-log",
                "/admin/access-log",
                "/admin/personal-data",
                "/admin/two-factor",
                "/account",
                "/account/2fa",
                "/password/reset",
            ],
        ),
    ],
)
def test_other_main_pages_are_accessible(page, email, pages):
    sign_in(page, email, DEMO_PASSWORD)
    for path in pages:
        response = page.goto(path)
        assert response.status == 200, path
        axe_check(page, f"{email.split('@')[0]}-{path}")
