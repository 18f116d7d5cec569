"""FAQ forms: shape only (required, length, choices); rules live in services."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import HiddenField, RadioField, SelectField, StringField, TextAreaField
from wtforms.validators import DataRequired, Length, Optional, Regexp

from supportdesk.faq.models import Audience

AUDIENCE_LABELS = {
    Audience.public: _l("Public (parents, no sign-in)"),
    Audience.first_level: _l("First level (all municipal users)"),
    Audience.municipal: _l("Local guide (one municipality)"),
    Audience.vendor_internal: _l("Vendor internal"),
}

STATE_LABELS = {
    "draft": _l("Draft"),
    "review": _l("In review"),
    "published": _l("Published"),
    "archived": _l("Archived"),
}

# An article version's `action` (what happened) as a history line shows it.
ACTION_LABELS = {
    "create": _l("Created"),
    "edit": _l("Edited"),
    "import": _l("Imported from a file"),
    "draft": _l("Moved back to draft"),
    "review": _l("Sent to review"),
    "published": _l("Published"),
    "archived": _l("Archived"),
}


class ArticleForm(FlaskForm):
    title = StringField(_l("Title"), validators=[DataRequired(), Length(max=200)])
    slug = StringField(
        _l("Address (slug)"),
        description=_l("Lower-case letters, digits and hyphens, e.g. log-ind-med-mitid."),
        validators=[
            Optional(),
            Length(min=2, max=119),
            Regexp(
                r"^[a-z0-9][a-z0-9-]*$", message=_l("Use lower-case letters, digits and hyphens.")
            ),
        ],
    )
    placement = SelectField(_l("System and category"), validators=[DataRequired()])
    audience = SelectField(
        _l("Audience"), choices=[(a.value, label) for a, label in AUDIENCE_LABELS.items()]
    )
    municipality = SelectField(_l("Municipality"), validators=[Optional()], choices=[])
    tags = StringField(
        _l("Tags"),
        description=_l("Comma-separated words people search for."),
        validators=[Length(max=500)],
    )
    related = StringField(
        _l("Related articles"),
        description=_l("Comma-separated slugs of related articles."),
        validators=[Length(max=1000)],
    )
    body = TextAreaField(_l("Text (Markdown)"), validators=[DataRequired(), Length(max=50000)])


class StateForm(FlaskForm):
    target = HiddenField(validators=[DataRequired()])


class FeedbackForm(FlaskForm):
    helpful = RadioField(
        _l("Was the article helpful?"),
        choices=[("yes", _l("Yes")), ("no", _l("No"))],
        validators=[DataRequired(message=_l("Choose yes or no."))],
    )
    comment = TextAreaField(
        _l("Comment (optional)"),
        description=_l("Do not write names or CPR numbers."),
        validators=[Optional(), Length(max=1000)],
    )


class SolvedForm(FlaskForm):
    next = HiddenField()
