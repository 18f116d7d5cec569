"""Ticket forms: shape only (required, length, choices); rules live in services."""

from __future__ import annotations

from typing import Any

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from flask_wtf.file import MultipleFileField
from wtforms import (
    BooleanField,
    HiddenField,
    IntegerField,
    SelectField,
    SelectMultipleField,
    StringField,
    TextAreaField,
)
from wtforms.validators import DataRequired, Email, InputRequired, Length, Optional

from supportdesk.tickets.models import (
    PRIORITY_LABELS,
    SOURCE_LABELS,
    STATUS_LABELS,
    Priority,
    TicketSource,
)


def priority_choices() -> list[tuple[str, str]]:
    return [(p.value, str(PRIORITY_LABELS[p])) for p in Priority]


def text_box(label: str, description: str = "", *, required: str | None = None) -> TextAreaField:
    """A text of up to 20,000 characters; `required` is what to say when it is left empty."""
    needed = [DataRequired(required)] if required else []
    return TextAreaField(label, validators=[*needed, Length(max=20000)], description=description)


def priority_field(**kwargs: Any) -> SelectField:
    """The priority select; its labels are in the language of the request that builds the form."""
    return SelectField(_l("Priority"), choices=priority_choices, **kwargs)


class TicketForm(FlaskForm):
    """Ny henvendelse. `topic` is "c<category id>" or "s<system id>" (System - Kategori)."""

    topic = SelectField(
        _l("System and category"),
        validators=[DataRequired(_l("Choose a system and category."))],
        choices=[],
        validate_choice=True,
    )
    subject = StringField(
        _l("Subject"),
        validators=[DataRequired(_l("Write a short subject.")), Length(max=200)],
        description=_l("One line, e.g. “Parents cannot log in to Aula”."),
    )
    description = text_box(
        _l("Description"),
        _l(
            "What happened, what did you expect, and who is affected? "
            "Do not write CPR numbers. Markdown is allowed."
        ),
        required=_l("Describe the problem."),
    )
    priority = priority_field(default=Priority.normal.value)
    institution = SelectField(_l("Institution"), choices=[], validators=[Optional()])
    attachments = MultipleFileField(
        _l("Attachments"),
        description=_l("PDF, images, Word, Excel or text files."),
    )


class HotlineForm(TicketForm):
    """Fast intake of a phone call."""

    requester_name = StringField(
        _l("Caller's name"),
        validators=[DataRequired(_l("Write the caller's name.")), Length(max=120)],
    )
    requester_phone = StringField(_l("Caller's phone"), validators=[Optional(), Length(max=40)])
    requester_email = StringField(
        _l("Caller's e-mail"),
        validators=[Optional(), Email(_l("Write a valid e-mail address.")), Length(max=254)],
    )
    institution_lookup = StringField(
        _l("Institution (name or number)"),
        validators=[DataRequired(_l("Write the institution's name or number.")), Length(max=160)],
        description=_l("Start typing the name, or write the institution number."),
    )
    # the known issue the call is about (radio buttons in the known-issue banner)
    known_issue = IntegerField(_l("Known issue"), validators=[Optional()])
    solved = BooleanField(
        _l("Solved on the phone"),
        description=_l("The ticket is logged as resolved with the answer below."),
    )
    answer = text_box(
        _l("The answer you gave the caller"),
        _l(
            "Needed when solved on the phone. The caller gets it by e-mail if they gave an "
            "address; write nothing that only staff may read."
        ),
    )


class EntryForm(FlaskForm):
    body = text_box(_l("Message"), _l("Markdown is allowed."))
    internal = BooleanField(_l("Internal note (only municipal staff can see it)"))
    attachments = MultipleFileField(_l("Attachments"))


class StatusForm(FlaskForm):
    status = SelectField(_l("Status"), choices=[])
    version = IntegerField(validators=[InputRequired()])


class AssignForm(FlaskForm):
    assignee = SelectField(_l("Assignee"), choices=[])
    version = IntegerField(validators=[InputRequired()])


class PriorityForm(FlaskForm):
    priority = priority_field()
    version = IntegerField(validators=[InputRequired()])


class HandlingForm(FlaskForm):
    """The ticket page's one side form: status, assignee and priority, one button."""

    status = SelectField(_l("Status"), choices=[])
    assignee = SelectField(_l("Assignee"), choices=[])
    priority = priority_field()
    version = IntegerField(validators=[InputRequired()])


class MergeForm(FlaskForm):
    into = StringField(
        _l("Merge into ticket"),
        validators=[DataRequired(), Length(max=24)],
        description=_l("The number of the ticket about the same problem, e.g. ESB-2026-000123."),
    )


class SurveyForm(FlaskForm):
    score = SelectField(
        _l("Did you get help?"),
        choices=[
            ("", ""),
            ("5", _l("5 - yes, fully")),
            ("4", _l("4")),
            ("3", _l("3 - partly")),
            ("2", _l("2")),
            ("1", _l("1 - not at all")),
        ],
        validators=[DataRequired()],
    )
    comment = TextAreaField(_l("Comment (optional)"), validators=[Length(max=2000)])


class SavedViewForm(FlaskForm):
    name = StringField(_l("Name of the view"), validators=[DataRequired(), Length(max=80)])
    query = HiddenField()


class ReopenForm(FlaskForm):
    version = IntegerField(validators=[InputRequired()])


class BulkForm(FlaskForm):
    tickets = SelectMultipleField(_l("Tickets"), choices=[], validate_choice=False)
    action = SelectField(
        _l("Action"),
        choices=[("assign", _l("Assign to")), ("status", _l("Change status to"))],
    )
    assignee = SelectField(_l("Assignee"), choices=[], validate_choice=False)
    status = SelectField(
        _l("Status"),
        choices=[(s.value, label) for s, label in STATUS_LABELS.items()],
        validate_choice=False,
    )
    next = HiddenField()


class RoutingRuleForm(FlaskForm):
    name = StringField(_l("Name"), validators=[DataRequired(), Length(max=120)])
    system = SelectField(_l("System"), choices=[], validators=[Optional()])
    category = SelectField(
        _l("Category"),
        choices=[],
        validators=[Optional()],
        description=_l("Only with a system; the category must belong to it."),
    )
    institution_type = SelectField(_l("Institution type"), choices=[], validators=[Optional()])
    source = SelectField(
        _l("Source"),
        choices=[("", _l("Any"))] + [(s.value, SOURCE_LABELS[s]) for s in TicketSource],
        validators=[Optional()],
    )
    queue = SelectField(_l("Queue"), choices=[], validators=[Optional()])
    assignee = SelectField(_l("Assignee"), choices=[], validators=[Optional()])
    active = BooleanField(_l("Active"), default=True)


class QueueForm(FlaskForm):
    name = StringField(_l("Queue name"), validators=[DataRequired(), Length(max=120)])
    is_hotline = BooleanField(_l("This is the hotline's queue"))


class MoveRuleForm(FlaskForm):
    direction = SelectField(choices=[("up", "up"), ("down", "down")])
