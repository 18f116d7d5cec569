"""The CPR warning while a ticket or reply is written (DESIGN §3.9), with the one detector.

The writer chooses: remove the numbers, or keep them (the case cannot be solved
without). Until they choose, the form comes back with the warning; with JavaScript
the same warning appears while they type (/api/v1/sensitive/check).
"""

from __future__ import annotations

from collections.abc import Sequence

from flask import g
from flask_wtf import FlaskForm

from supportdesk.sensitive import has_cpr, remove_cpr

CHOICE_FIELD = "cpr_choice"
REMOVE, KEEP = "remove", "keep"


def screen_cpr(form: FlaskForm, names: Sequence[str], choice: str | None) -> list[str]:
    """Apply the writer's choice to the named fields; the fields still waiting for one.

    The page shows the warning (`g.cpr_warning`) while the list is not empty.
    """
    found = [name for name in names if has_cpr(form[name].data)]
    if not found or choice == KEEP:
        return []
    if choice == REMOVE:
        for name in found:
            form[name].data = remove_cpr(form[name].data or "")
        return []
    g.cpr_warning = found
    return found
