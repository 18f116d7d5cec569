"""Dates and times: Danish time, one format per locale, one set of filters for every template."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, time
from pathlib import Path

import pytest
from flask import render_template_string
from flask_babel import force_locale

from supportdesk.dates import format_date, format_datetime, format_time

TEMPLATES = Path(__file__).resolve().parents[1] / "templates"
WINTER = datetime(2026, 12, 3, 13, 5, tzinfo=UTC)  # 14:05 in Copenhagen (CET)
SUMMER = datetime(2026, 7, 1, 22, 30, tzinfo=UTC)  # 00:30 the next day (CEST)


@pytest.mark.parametrize(
    ("locale", "moment", "expected"),
    [
        ("da", WINTER, "03.12.2026 kl. 14.05"),
        ("en", WINTER, "3 Dec 2026, 14:05"),
        ("da", SUMMER, "02.07.2026 kl. 00.30"),
        ("en", SUMMER, "2 Jul 2026, 00:30"),
        # SQLite gives naive values: they are UTC, as stored
        ("da", WINTER.replace(tzinfo=None), "03.12.2026 kl. 14.05"),
    ],
)
def test_one_format_per_locale_in_danish_time(app, locale, moment, expected):
    with app.test_request_context(), force_locale(locale):
        assert format_datetime(moment) == expected


def test_english_dates_are_not_us_dates(app):
    with app.test_request_context(), force_locale("en"):
        assert format_date(WINTER) == "3 Dec 2026"
        assert format_date(date(2026, 2, 1)) == "1 Feb 2026"
        assert "12/3" not in format_datetime(WINTER)
        assert "PM" not in format_datetime(WINTER)
    with app.test_request_context(), force_locale("da"):
        assert format_date(date(2026, 2, 1)) == "01.02.2026"


def test_times_are_danish_wall_clock(app):
    with app.test_request_context(), force_locale("en"):
        assert format_time(WINTER) == "14:05"
        assert format_time(time(8, 0)) == "08:00"  # business hours are kept as written
    with app.test_request_context(), force_locale("da"):
        assert format_time(WINTER) == "14.05"


def test_templates_use_the_house_filters_whatever_width_they_name(app):
    """Flask-Babel's filters answered 'short' and 'medium' differently (and in US style)."""
    source = (
        "{{ m|datetimeformat }}|{{ m|datetimeformat('short') }}|{{ m|datetimeformat('medium') }}"
        "|{{ m|dateformat }}|{{ iso|datetimeformat }}"
    )
    with app.test_request_context(), force_locale("en"):
        rendered = render_template_string(source, m=WINTER, iso=WINTER.isoformat())
    assert rendered == "|".join(["3 Dec 2026, 14:05"] * 3 + ["3 Dec 2026", "3 Dec 2026, 14:05"])


def test_no_template_formats_a_date_by_hand():
    """strftime gave "03-12-2026" beside Babel's "03.12.2026", and in UTC."""
    by_hand = [
        f"{path.relative_to(TEMPLATES)}:{number}"
        for path in sorted(TEMPLATES.rglob("*.*"))
        if path.suffix in (".html", ".txt")
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
        if re.search(r"strftime\(|format_datetime\(|format_date\(", line)
    ]
    assert by_hand == []


def test_machine_readable_time_carries_its_offset(app):
    """A naive UTC value in <time datetime> was read as local time by machines."""
    with app.test_request_context():
        rendered = render_template_string("{{ m|isotime }}", m=WINTER.replace(tzinfo=None))
    assert rendered == "2026-12-03T14:05+01:00"
