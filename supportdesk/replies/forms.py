"""Canned reply forms: shape only."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import StringField, TextAreaField
from wtforms.validators import DataRequired, Length


class CannedReplyForm(FlaskForm):
    title = StringField(_l("Title"), validators=[DataRequired(), Length(max=120)])
    body = TextAreaField(
        _l("Reply"),
        validators=[DataRequired(), Length(max=5000)],
        description=_l(
            "You can use {reporter} (the reporter's name), {ticket} (the ticket number) and "
            "{institution} (the institution); they are filled in when the reply is inserted."
        ),
    )
