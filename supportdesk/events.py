"""Cross-domain events: the one way a domain lets other domains react to its changes.

The rule: when a change in one domain should cause side effects in a domain that
depends on it (or in a sibling), the domain sends a signal defined here, e.g.
`events.ticket_created.send(ticket, actor=actor, shown_articles=[...])`, and the
other domain connects a listener to `events.<signal>`. So the sender never imports
its listeners and the arrows between domains keep pointing down.

Calls *down* the arrows are not events: a domain calls the lower domain it needs
directly (`notifications.notify(...)`, `outbox.enqueue(...)`).

Signals are sent inside the transaction that makes the change; listeners change and
flush, never commit, so their rows exist exactly when the change does.
"""

from __future__ import annotations

from blinker import Namespace

_signals = Namespace()

ticket_created = _signals.signal(
    "ticket-created",
    doc="A ticket was created and flushed. Sender: the ticket; "
    "keywords: `actor` (User), `shown_articles` (FAQ slugs suggested while it was written), "
    "`known_issue` (id of the known issue the hotline tied the call to, or None).",
)

# An article was created, edited, published or archived (sender: the Article), sent in
# the transaction that changed it, after a flush. The search domain queues the index
# update in that same transaction (faq ← search: the FAQ does not know search).
article_changed = _signals.signal("article-changed")

# A ticket's first answer or its end (resolved, closed, reopened) changed. Sender: the
# Ticket; keyword `what`: "response" (history.touch stamped `first_response_at`) or
# "resolution" (lifecycle.apply_status wrote the status and its times). The reports
# domain stores the business time each took on the ticket (reports/durations.py).
ticket_times_changed = _signals.signal("ticket-times-changed")
