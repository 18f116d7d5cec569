"""Cross-domain signals: upward reactions go through signals defined here; downward calls
stay plain calls."""

from __future__ import annotations

from blinker import Namespace

_signals = Namespace()

# An article was created, edited, published or archived (sender: the Article), sent in
# the transaction that changed it, after a flush. The search domain queues the index
# update in that same transaction (faq ← search: the FAQ does not know search).
article_changed = _signals.signal("article-changed")
