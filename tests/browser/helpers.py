"""Browser-test helpers: axe-core checks, screenshots, sign-in through the real form."""

from __future__ import annotations

import itertools
import json
import re
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pyotp
import pytest

from supportdesk.demo import DEMO_TOTP_SECRET

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = Path("/usr/bin/chromium")
AXE_JS = ROOT / "static" / "vendor" / "axe.min.js"
ARTIFACTS = ROOT / "test-artifacts"
SCREENSHOTS = ARTIFACTS / "screenshots"
AXE_LOG = ARTIFACTS / "axe-results.jsonl"
# WCAG 2.1 A and AA: what Danish public-sector web sites must meet.
AXE_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]
BLOCKING_IMPACTS = {"serious", "critical"}
DEMO_PASSWORD = "demo-password-2026"  # the demo seed's published password
_names = itertools.count(1)
# the last TOTP time step each person signed in with (codes are single use)
_USED_STEPS: dict[str, int] = {}


def _slug(name: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")


def format_violations(violations: list[dict[str, Any]]) -> str:
    lines = []
    for violation in violations:
        lines.append(f"[{violation['impact']}] {violation['id']}: {violation['help']}")
        for node in violation["nodes"][:5]:
            lines.append(f"    {' '.join(node['target'])}: {node['failureSummary']}")
    return "\n".join(lines)


def run_axe(page) -> list[dict[str, Any]]:
    """axe-core's WCAG 2.1 A/AA violations of the page as it is now."""
    if not AXE_JS.exists():
        pytest.fail(f"{AXE_JS} is missing: run `make browser-deps`", pytrace=False)
    page.wait_for_load_state("load")
    return page.evaluate(
        """async (tags) => {
            const result = await window.axe.run(document, {
                runOnly: {type: "tag", values: tags},
                resultTypes: ["violations"],
            });
            return result.violations.map(v => ({
                id: v.id, impact: v.impact, help: v.help,
                nodes: v.nodes.map(n => ({target: n.target, failureSummary: n.failureSummary})),
            }));
        }""",
        AXE_TAGS,
    )


def axe_check(page, name: str | None = None) -> list[dict[str, Any]]:
    """Screenshot the page (when named) and fail on serious/critical WCAG 2.1 AA violations.

    Minor and moderate findings are returned and logged to test-artifacts/axe-results.jsonl.
    """
    violations = run_axe(page)
    if name:
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(SCREENSHOTS / f"{_slug(name)}.png"), full_page=True)
    AXE_LOG.parent.mkdir(parents=True, exist_ok=True)
    with AXE_LOG.open("a", encoding="utf-8") as log:
        entry = {"page": name or page.url, "url": page.url, "violations": violations}
        log.write(json.dumps(entry, ensure_ascii=False) + "\n")
    blocking = [v for v in violations if v["impact"] in BLOCKING_IMPACTS]
    assert not blocking, f"axe on {name or page.url} ({page.url}):\n" + format_violations(blocking)
    return violations


def follow(page, action: Callable[..., Any], *args: Any) -> None:
    """Do what leads to another page and wait until that page has loaded.

    A click returns before the navigation it starts; waiting for "load" right after it
    could see the old page, so the navigation is awaited explicitly.
    """
    with page.expect_navigation(wait_until="load"):
        action(*args)


def totp_code(secret: str, email: str) -> str:
    """A code not used before for this person: a code works once (replay is refused), so a
    second sign-in within 30 seconds takes the next step's code (accepted for clock drift)
    or waits for it."""
    totp = pyotp.TOTP(secret)
    while True:
        step = totp.timecode(datetime.now(UTC))
        for candidate in (step, step + 1):
            if candidate > _USED_STEPS.get(email, -1):
                _USED_STEPS[email] = candidate
                return totp.generate_otp(candidate)
        time.sleep(1)


def sign_in(
    page, email: str, password: str, check: str | None = None, totp: str | None = None
) -> None:
    """Sign in through the real form, as a person would (with the code from the app when the
    account has two-factor sign-in: the demo's shared key unless `totp` names another)."""
    page.goto("/login")
    if check:
        axe_check(page, check)
    page.get_by_label("E-mail").fill(email)
    page.get_by_label("Adgangskode").fill(password)
    follow(page, page.locator("main").get_by_role("button", name="Log ind").click)
    if "/login/2fa" in page.url:
        page.get_by_label("Kode", exact=True).fill(totp_code(totp or DEMO_TOTP_SECRET, email))
        follow(page, page.locator("main").get_by_role("button", name="Fortsæt").click)
    assert "/login" not in page.url, f"sign-in as {email} failed: {page.url}"


def unique(prefix: str) -> str:
    return f"{prefix}{next(_names)}"
