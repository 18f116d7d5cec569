"""A municipal administrator grants support entitlement until the vendor's maximum refuses."""

from __future__ import annotations

from sqlalchemy import func, select

from supportdesk.accounts.models import (
    Municipality,
    Role,
    SupportEntitlement,
    User,
    Vendor,
)
from tests.browser.helpers import DEMO_PASSWORD, axe_check, follow, sign_in, unique


def test_admin_grants_entitlements_until_the_ninth_is_refused(page, data):
    # aalborg starts below the vendors' minimum: 3 support-entitled coordinators each
    with data() as session:
        aalborg = session.scalar(select(Municipality).where(Municipality.slug == "aalborg"))
        vendor = session.scalar(select(Vendor).where(Vendor.slug == "netcompany"))
        vendor_name, maximum = vendor.name, vendor.max_entitled
        aalborg_id, vendor_id = aalborg.id, vendor.id
        entitled = session.scalar(
            select(func.count(SupportEntitlement.id)).where(
                SupportEntitlement.municipality_id == aalborg.id,
                SupportEntitlement.vendor_id == vendor.id,
            )
        )
        assert entitled < vendor.min_entitled
        template = session.scalar(select(User).where(User.email == "admin@aalborg.sd-demo.dk"))
        # coordinators enough to reach the maximum and try one more; one is made in the UI
        extra = maximum + 1 - entitled - 1
        names = [unique("Koordinator Nord ") for _ in range(extra)]
        for name in names:
            session.add(
                User(
                    email=f"{name.replace(' ', '.').lower()}@aalborg.sd-demo.dk",
                    name=name,
                    role=Role.coordinator,
                    municipality_id=aalborg.id,
                    password_hash=template.password_hash,
                    active=True,
                )
            )

    sign_in(page, "admin@aalborg.sd-demo.dk", DEMO_PASSWORD)
    follow(
        page,
        page.get_by_role("navigation", name="Hovedmenu")
        .get_by_role("link", name="Administration")
        .click,
    )
    axe_check(page, "admin-overview")
    assert page.locator(".warning-box", has_text=vendor_name).count() == 1

    # a new coordinator through the user form
    follow(
        page,
        page.get_by_role("navigation", name="Administration")
        .get_by_role("link", name="Brugere")
        .click,
    )
    axe_check(page, "admin-users")
    follow(page, page.get_by_role("link", name="Ny bruger").click)
    axe_check(page, "admin-user-form")
    ui_name = unique("Karen Koordinator ")
    page.get_by_label("E-mail").fill(f"{ui_name.replace(' ', '.').lower()}@aalborg.sd-demo.dk")
    page.get_by_label("Navn", exact=True).fill(ui_name)
    page.get_by_label("Rolle").select_option(label="Supportberettiget")
    # no password field: the new coordinator is invited by e-mail to choose one
    follow(page, page.get_by_role("button", name="Gem").click)
    assert page.locator(".flash-success", has_text=ui_name).is_visible()
    names.insert(0, ui_name)

    follow(
        page,
        page.get_by_role("navigation", name="Administration")
        .get_by_role("link", name="Supportberettigelse")
        .click,
    )
    axe_check(page, "admin-entitlements")
    for number, name in enumerate(names[:-1], start=entitled + 1):
        page.get_by_label("Supportberettiget", exact=True).select_option(label=name)
        page.get_by_label("Leverandør").select_option(label=vendor_name)
        follow(page, page.get_by_role("button", name="Giv berettigelse").click)
        assert page.locator(".flash-success", has_text=name).is_visible(), number
        heading = page.get_by_role("heading", name=f"{vendor_name} ({number}/{maximum})")
        assert heading.is_visible()
    # at the minimum and above, the under-minimum warning for this vendor is gone
    assert page.locator(".warning-box", has_text=vendor_name).count() == 0

    page.get_by_label("Supportberettiget", exact=True).select_option(label=names[-1])
    page.get_by_label("Leverandør").select_option(label=vendor_name)
    follow(page, page.get_by_role("button", name="Giv berettigelse").click)
    refusal = page.get_by_role("alert")
    assert f"{vendor_name} tillader højst {maximum} supportberettigede" in refusal.inner_text()
    axe_check(page, "admin-entitlement-refused")

    with data() as session:
        count = session.scalar(
            select(func.count(SupportEntitlement.id)).where(
                SupportEntitlement.municipality_id == aalborg_id,
                SupportEntitlement.vendor_id == vendor_id,
            )
        )
        assert count == maximum
