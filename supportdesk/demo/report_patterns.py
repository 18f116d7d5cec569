"""Demo data that makes the reports look like a real municipality's.

Tickets arrive on school days in working hours (most on Monday mornings, few on Friday
afternoons, hardly any at weekends, fewer in the autumn holiday), and one morning about
two and a half weeks ago Aula's login failed: a burst of login tickets, all linked to
the known issue the vendor published for it. The vendor case seed (demo/cases.py) adds
the SLA breaches.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import insert, select

from supportdesk.accounts.models import Category, System
from supportdesk.escalation.models import KnownIssue, KnownIssueTicket
from supportdesk.extensions import db, utcnow
from supportdesk.tickets.models import Ticket

TZ = ZoneInfo("Europe/Copenhagen")
# Monday .. Sunday
WEEKDAY_WEIGHTS = (1.35, 1.15, 1.05, 1.0, 0.7, 0.06, 0.08)
# Danish local hour -> weight (schools start at 8; the hotline closes at 16)
HOUR_WEIGHTS = {
    6: 0.2, 7: 0.9, 8: 1.6, 9: 1.5, 10: 1.3, 11: 1.1, 12: 0.8, 13: 1.0, 14: 0.9,
    15: 0.6, 16: 0.3, 17: 0.15, 18: 0.1, 19: 0.15, 20: 0.2, 21: 0.1,
}  # fmt: skip
AUTUMN_HOLIDAY_WEEK = 42
SPIKE_DAYS_AGO = 17
SPIKE_START = time(7, 30)
SPIKE_HOURS = 3
SPIKE_SHARE = 0.05
SPIKE_SYSTEM, SPIKE_CATEGORY = "aula", "login"
SPIKE_ISSUE = "Aula-login fejlede om morgenen"
SPIKE_DESCRIPTION = "Mellem kl. 7.30 og 10.30 kunne mange ikke logge ind i Aula. Fejlen er rettet."


def _day_weight(day: date) -> float:
    weight = WEEKDAY_WEIGHTS[day.weekday()]
    if day.isocalendar()[1] == AUTUMN_HOLIDAY_WEEK:
        weight *= 0.3
    return weight


def spike_window(now: datetime) -> tuple[datetime, datetime]:
    """The known issue's morning (UTC), on the school day SPIKE_DAYS_AGO days back."""
    day = now.astimezone(TZ).date() - timedelta(days=SPIKE_DAYS_AGO)
    while day.weekday() >= 5:
        day -= timedelta(days=1)
    start = datetime.combine(day, SPIKE_START, tzinfo=TZ).astimezone(UTC)
    return start, start + timedelta(hours=SPIKE_HOURS)


def ticket_times(rng: random.Random, now: datetime, days: int, count: int) -> list[datetime]:
    """`count` creation times over the last `days` days with a school's rhythm, sorted."""
    today = now.astimezone(TZ).date()
    calendar = [today - timedelta(days=n) for n in range(days)]
    weights = [_day_weight(d) for d in calendar]
    hours = list(HOUR_WEIGHTS)
    hour_weights = list(HOUR_WEIGHTS.values())
    spike_start, _spike_end = spike_window(now)
    times: list[datetime] = []
    for _ in range(count):
        if rng.random() < SPIKE_SHARE:
            moment = spike_start + timedelta(seconds=rng.uniform(0, SPIKE_HOURS * 3600))
        else:
            day = rng.choices(calendar, weights=weights)[0]
            hour = rng.choices(hours, weights=hour_weights)[0]
            local = datetime.combine(day, time(hour), tzinfo=TZ) + timedelta(
                seconds=rng.uniform(0, 3600)
            )
            moment = local.astimezone(UTC)
        # never in the future, and at least ten minutes old
        times.append(min(moment, now - timedelta(minutes=10)))
    return sorted(times)


def spike_topic(created: datetime, now: datetime, systems: list[System]):
    """(system, category) of a ticket written during the login failure, else None."""
    start, end = spike_window(now)
    if not start <= created < end:
        return None
    for system in systems:
        if system.slug == SPIKE_SYSTEM:
            category = next((c for c in system.categories if c.slug == SPIKE_CATEGORY), None)
            return system, category
    return None


def seed(ticket_count: int | None = None, echo: Callable[[str], None] = print) -> None:
    """Link the morning's login tickets to the known issue; idempotent."""
    now = utcnow()
    start, end = spike_window(now)
    system = db.session.scalar(select(System).where(System.slug == SPIKE_SYSTEM))
    if system is None:
        return
    issue = db.session.scalar(select(KnownIssue).where(KnownIssue.title == SPIKE_ISSUE))
    if issue is None:
        echo("Report patterns: no known issue for the login spike")
        return
    category_id = db.session.scalar(
        select(Category.id).where(Category.system_id == system.id, Category.slug == SPIKE_CATEGORY)
    )
    linked = select(KnownIssueTicket.ticket_id).where(KnownIssueTicket.known_issue_id == issue.id)
    rows = db.session.execute(
        select(Ticket.id, Ticket.municipality_id).where(
            Ticket.system_id == system.id,
            Ticket.category_id == category_id,
            Ticket.created_at >= start - timedelta(days=1),
            Ticket.created_at < end + timedelta(days=1),
            Ticket.id.not_in(linked),
        )
    ).all()
    if rows:
        db.session.execute(
            insert(KnownIssueTicket),
            [
                {
                    "known_issue_id": issue.id,
                    "ticket_id": ident,
                    "municipality_id": municipality_id,
                    "linked_at": end,
                }
                for ident, municipality_id in rows
            ],
        )
    echo(f"Report patterns: {len(rows)} login tickets linked to the known issue")
