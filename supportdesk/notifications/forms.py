"""The e-mail preferences form: one checkbox per event type the user can meet."""

from __future__ import annotations

from collections.abc import Mapping

from flask_wtf import FlaskForm
from wtforms import BooleanField

from supportdesk.notifications.models import NotificationEvent
from supportdesk.notifications.services import EVENT_LABELS


def preferences_form(current: Mapping[NotificationEvent, bool], formdata=None) -> FlaskForm:
    """Built per user, because vendor staff and superusers see different events."""

    class PreferencesForm(FlaskForm):
        pass

    for event in current:
        setattr(PreferencesForm, event.value, BooleanField(EVENT_LABELS[event]))
    data = {event.value: enabled for event, enabled in current.items()}
    if formdata is None:
        return PreferencesForm(formdata=None, data=data)
    return PreferencesForm(formdata=formdata)
