"""Who hears about a change to a vendor case: the recipients on each side and the notice.

Notices go through the notifications domain (in-app and e-mail via the outbox, in the
caller's transaction); signed webhooks are sent by the services that change a case.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from supportdesk import policy
from supportdesk.accounts.models import User
from supportdesk.escalation.documents import case_notice
from supportdesk.escalation.models import VendorCase
from supportdesk.extensions import db
from supportdesk.notifications import services as notifications
from supportdesk.notifications.models import NotificationEvent


def coordinators(case: VendorCase) -> list[User]:
    """The municipality's coordinators entitled for this vendor."""
    return list(
        db.session.scalars(policy.entitled_coordinators(case.vendor_id, case.municipality_id))
    )


def vendor_recipients(case: VendorCase) -> list[User]:
    """The assignee, or every active agent of the vendor while nobody has the case."""
    if case.assignee is not None and case.assignee.active:
        return [case.assignee]
    return list(db.session.scalars(policy.case_agents(case)))


def notify(
    recipients: Iterable[User],
    event: NotificationEvent,
    case: VendorCase,
    actor: User | None,
    extra: dict[str, Any] | None = None,
) -> None:
    notifications.notify(
        list(recipients),
        event,
        url=f"/cases/{case.number}",
        context=case_notice(case, **(extra or {})),
        actor=actor,
    )
