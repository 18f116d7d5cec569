"""The SLA worker job: warn at 80 %, report a breach at 100 %, once each per case and phase.

Registered with the outbox worker as the periodic job `sla_check` when this module is
imported (the escalation blueprint imports it).
"""

from __future__ import annotations

from datetime import datetime, timedelta

from flask_babel import lazy_gettext as _l
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from supportdesk import outbox
from supportdesk.accounts.models import Vendor
from supportdesk.escalation import notify
from supportdesk.escalation.models import OPEN_CASE_STATUSES, VendorCase
from supportdesk.escalation.sla_clock import refresh_sla, sla_view
from supportdesk.extensions import db, utcnow
from supportdesk.notifications.models import NotificationEvent
from supportdesk.tickets import history as ticket_history


def check_sla(now: datetime | None = None) -> int:
    """Refresh every open case's clock and announce what it newly crossed; returns how many."""
    now = now if now is not None else utcnow()
    cases = db.session.scalars(
        select(VendorCase)
        .where(VendorCase.status.in_(list(OPEN_CASE_STATUSES)))
        .options(
            selectinload(VendorCase.vendor).selectinload(Vendor.closed_days),
            selectinload(VendorCase.tickets),
        )
        .order_by(VendorCase.id)
    ).all()
    raised = 0
    for case in cases:
        for phase, level in refresh_sla(case, now):
            raised += 1
            _announce(case, phase, level)
    db.session.flush()
    return raised


def _announce(case: VendorCase, phase: str, level: str) -> None:
    """A line on every linked ticket, and a notice to both sides."""
    event = "sla_warning" if level == "warning" else "sla_breach"
    for ticket in case.tickets:
        ticket_history.add_system_event(ticket, None, event, {"case": case.number, "phase": phase})
    due_at = sla_view(case).due_at
    notify.notify(
        [*notify.vendor_recipients(case), *notify.coordinators(case)],
        NotificationEvent(event),
        case,
        None,
        extra={"phase": phase, "due_at": due_at.isoformat() if due_at else None},
    )


ticket_history.describe_as("sla_warning", _l("Vendor case %(case)s is close to its SLA deadline."))
ticket_history.describe_as("sla_breach", _l("Vendor case %(case)s has passed its SLA deadline."))


@outbox.periodic("sla_check", every=timedelta(minutes=5))
def _sla_job() -> int:
    return check_sla()
