"""Webhook forms (shape only: required, length, choices); the service checks the URL."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from wtforms import StringField
from wtforms.validators import DataRequired, Length

from supportdesk.accounts.forms import REQUIRED
from supportdesk.admin.forms import AdminForm
from supportdesk.escalation.forms import MultiCheckboxField


class WebhookForm(AdminForm):
    name = StringField(
        _l("Name"),
        validators=[DataRequired(REQUIRED), Length(max=120)],
        description=_l("For yourselves, e.g. the name of the tool that receives the events."),
    )
    url = StringField(
        _l("Receiver address (URL)"),
        validators=[DataRequired(REQUIRED), Length(max=500)],
        description=_l("Must start with https://. Each event is sent there as signed JSON."),
    )
    events = MultiCheckboxField(
        _l("Events"), validators=[DataRequired(_l("Choose at least one event."))]
    )


class WebhookActionForm(AdminForm):
    """Buttons that change a webhook: only the CSRF token."""
