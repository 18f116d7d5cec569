"""Escalation forms: shape only (required, length, choices); rules live in services."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import (
    BooleanField,
    DateTimeLocalField,
    HiddenField,
    SelectField,
    SelectMultipleField,
    StringField,
)
from wtforms.validators import DataRequired, Length, Optional
from wtforms.widgets import CheckboxInput, ListWidget

from supportdesk.escalation.models import KNOWN_ISSUE_STATUS_LABELS, KnownIssueStatus
from supportdesk.tickets.forms import priority_field, text_box


class MultiCheckboxField(SelectMultipleField):
    """A list of checkboxes, usable without JavaScript."""

    widget = ListWidget(prefix_label=False)
    option_widget = CheckboxInput()


SENSITIVE_HINT = _l(
    "CPR and phone numbers are masked before the vendor sees them. Tick only if the vendor "
    "needs them; your confirmation is logged."
)


class EscalateForm(FlaskForm):
    case = SelectField(_l("Vendor case"), choices=[], validators=[Optional()])
    summary = text_box(
        _l("Summary for the vendor"),
        _l(
            "What is wrong, who is affected and what has been tried. The requester's contact "
            "details and internal notes are never sent."
        ),
        required=_l("Write a summary for the vendor."),
    )
    priority = priority_field()
    share_description = BooleanField(_l("Share the ticket's description"))
    share_entries = MultiCheckboxField(_l("Replies to share"), choices=[], coerce=int)
    share_attachments = MultiCheckboxField(_l("Attachments to share"), choices=[], coerce=int)
    confirm_sensitive = BooleanField(
        _l("Send CPR and phone numbers unmasked"), description=SENSITIVE_HINT
    )


class MessageForm(FlaskForm):
    body = text_box(_l("Message"), required=_l("Write a message."))
    confirm_sensitive = BooleanField(
        _l("Send CPR and phone numbers unmasked"), description=SENSITIVE_HINT
    )


class CaseStatusForm(FlaskForm):
    status = SelectField(_l("Status"), choices=[], validators=[DataRequired()])


class AssignCaseForm(FlaskForm):
    assignee = SelectField(_l("Assigned to"), choices=[], validators=[Optional()])


class CaseDetailsForm(FlaskForm):
    vendor_reference = StringField(
        _l("Your reference"),
        validators=[Optional(), Length(max=60)],
        description=_l("The case number in your own servicedesk system."),
    )
    priority = priority_field()
    version = HiddenField()


class RelayForm(FlaskForm):
    body = text_box(
        _l("Answer to the reporters"),
        _l(
            "Each reporter reads exactly this on their ticket and in their e-mail. "
            "Edit the vendor's text first: remove anything meant for staff only."
        ),
        required=_l("Write a message."),
    )
    tickets = MultiCheckboxField(_l("Send on these tickets"), choices=[], coerce=int)
    # the vendor message being relayed (marked relayed when sent)
    message = HiddenField()


class KeepInternalForm(FlaskForm):
    """The other choice on a vendor message: it stays with the municipal staff."""


class ResolveTicketsForm(FlaskForm):
    tickets = MultiCheckboxField(_l("Tickets to resolve"), choices=[], coerce=int)


class LinkKnownIssueForm(FlaskForm):
    known_issue = SelectField(_l("Known issue"), choices=[], validators=[Optional()])


class KnownIssueForm(FlaskForm):
    system = SelectField(
        _l("System"), choices=[], validators=[DataRequired(_l("Choose a system."))]
    )
    title = StringField(
        _l("Title"), validators=[DataRequired(_l("Write a title.")), Length(max=200)]
    )
    description = text_box(
        _l("Description"),
        _l("What users notice, and a workaround if there is one. Markdown is allowed."),
    )
    status = SelectField(_l("Status"), choices=[])
    started_at = DateTimeLocalField(_l("Started"), format="%Y-%m-%dT%H:%M", validators=[Optional()])
    ended_at = DateTimeLocalField(_l("Ended"), format="%Y-%m-%dT%H:%M", validators=[Optional()])
    version = HiddenField()

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.status.choices = [
            (s.value, str(KNOWN_ISSUE_STATUS_LABELS[s])) for s in KnownIssueStatus
        ]
