"""A vendor agent is made to set up two-factor sign-in, then signs in with password and code."""

from __future__ import annotations

from datetime import UTC, datetime

import pyotp
from sqlalchemy import select

from supportdesk.accounts.models import Role, User, Vendor
from tests.browser.helpers import DEMO_PASSWORD, axe_check, follow, unique


def _password_step(page, email: str) -> None:
    page.goto("/login")
    page.get_by_label("E-mail").fill(email)
    page.get_by_label("Adgangskode").fill(DEMO_PASSWORD)
    follow(page, page.locator("main").get_by_role("button", name="Log ind").click)


def _code_step(page, code: str) -> None:
    page.get_by_label("Kode", exact=True).fill(code)
    follow(page, page.locator("main").get_by_role("button", name="Fortsæt").click)


def _sign_out(page) -> None:
    follow(
        page,
        page.get_by_role("navigation", name="Hovedmenu").get_by_role("button", name="Log ud").click,
    )


def test_vendor_agent_sets_up_two_factor_and_signs_in_with_a_code(page, data):
    email = f"{unique('agent')}@netcompany.sd-demo.dk"
    with data() as session:
        template = session.scalar(select(User).where(User.email == "agent@netcompany.sd-demo.dk"))
        vendor = session.scalar(select(Vendor).where(Vendor.slug == "netcompany"))
        session.add(
            User(
                email=email,
                name="Nina Ny Agent",
                role=Role.vendor_agent,
                vendor_id=vendor.id,
                password_hash=template.password_hash,
                active=True,
            )
        )

    _password_step(page, email)
    assert page.url.endswith("/account/2fa")
    axe_check(page, "two-factor-setup")
    # nothing else opens until it is set up
    page.goto("/cases")
    assert page.url.endswith("/account/2fa")

    # no camera: the key is typed into the authenticator app (pyotp stands in for it)
    secret = page.locator("code[data-totp-secret]").inner_text().strip()
    totp = pyotp.TOTP(secret)
    page.get_by_label("Kode fra appen").fill(totp.now())
    follow(page, page.get_by_role("button", name="Bekræft og slå til").click)
    assert page.get_by_role("heading", name="Gendannelseskoder").is_visible()
    assert page.locator(".recovery-codes li").count() == 10
    axe_check(page, "two-factor-recovery-codes")
    page.goto("/cases")
    assert page.url.endswith("/cases")
    _sign_out(page)

    _password_step(page, email)
    assert page.url.endswith("/login/2fa")
    axe_check(page, "two-factor-sign-in")
    _code_step(page, "000000")
    assert page.url.endswith("/login/2fa")
    assert page.get_by_text("Koden er forkert eller allerede brugt").is_visible()
    # the code used at set-up was this step's or the one before: the next step's is fresh
    step = totp.timecode(datetime.now(UTC))
    code = totp.generate_otp(step + 1)
    _code_step(page, code)
    assert "/login" not in page.url
    page.goto("/cases")
    assert page.url.endswith("/cases")
    _sign_out(page)

    # the same code again: a replay is refused
    _password_step(page, email)
    _code_step(page, code)
    assert page.url.endswith("/login/2fa")
    assert page.get_by_text("Koden er forkert eller allerede brugt").is_visible()
