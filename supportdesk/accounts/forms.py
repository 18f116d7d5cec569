"""Sign-in, profile and user/institution administration forms (shape only)."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import BooleanField, EmailField, PasswordField, SelectField, StringField
from wtforms.validators import DataRequired, Email, Length, Optional

from supportdesk.accounts.models import InstitutionType, Role

REQUIRED = _l("This field is required.")

ROLE_LABELS = {
    Role.superuser: _l("Superuser"),
    Role.hotline: _l("Hotline staff"),
    Role.coordinator: _l("Support-entitled coordinator"),
    Role.municipal_admin: _l("Municipal administrator"),
    Role.vendor_agent: _l("Servicedesk agent"),
    Role.vendor_editor: _l("FAQ editor"),
    Role.admin: _l("System administrator"),
}
INSTITUTION_TYPE_LABELS = {
    InstitutionType.skole: _l("School"),
    InstitutionType.dagtilbud: _l("Daycare"),
    InstitutionType.sfo: _l("After-school care (SFO)"),
    InstitutionType.klub: _l("Youth club"),
    InstitutionType.dagpleje: _l("Childminding (dagpleje)"),
}
LOCALE_CHOICES = [("da", "Dansk"), ("en", "English")]


class LoginForm(FlaskForm):
    email = EmailField(_l("E-mail"), validators=[DataRequired(REQUIRED), Length(max=254)])
    password = PasswordField(_l("Password"), validators=[DataRequired(REQUIRED)])


class ProfileForm(FlaskForm):
    locale = SelectField(_l("Language"), choices=LOCALE_CHOICES)


class PasswordForm(FlaskForm):
    current = PasswordField(_l("Current password"), validators=[DataRequired(REQUIRED)])
    new = PasswordField(
        _l("New password"),
        validators=[DataRequired(REQUIRED), Length(min=10, message=_l("At least 10 characters."))],
    )


class TokenForm(FlaskForm):
    name = StringField(_l("Token name"), validators=[DataRequired(REQUIRED), Length(max=80)])


class UserForm(FlaskForm):
    email = EmailField(
        _l("E-mail"),
        validators=[
            DataRequired(REQUIRED),
            Email(_l("Enter a valid e-mail address.")),
            Length(max=254),
        ],
    )
    name = StringField(_l("Name"), validators=[DataRequired(REQUIRED), Length(max=120)])
    role = SelectField(_l("Role"), validators=[DataRequired(REQUIRED)])
    institution = SelectField(_l("Institution"), validators=[Optional()])
    municipality = SelectField(_l("Municipality"), validators=[Optional()])
    vendor = SelectField(_l("Vendor"), validators=[Optional()])
    locale = SelectField(_l("Language"), choices=LOCALE_CHOICES)
    password = PasswordField(
        _l("Password"),
        description=_l("At least 10 characters. Leave empty to keep the current password."),
        validators=[Optional(), Length(min=10, message=_l("At least 10 characters."))],
    )
    active = BooleanField(_l("Active"), default=True)


class InstitutionForm(FlaskForm):
    number = StringField(
        _l("Institution number"), validators=[DataRequired(REQUIRED), Length(max=12)]
    )
    name = StringField(_l("Name"), validators=[DataRequired(REQUIRED), Length(max=160)])
    type = SelectField(
        _l("Type"), choices=[(t.value, label) for t, label in INSTITUTION_TYPE_LABELS.items()]
    )
    active = BooleanField(_l("Active"), default=True)


class EntitlementForm(FlaskForm):
    user = SelectField(_l("Coordinator"), validators=[DataRequired(REQUIRED)])
    vendor = SelectField(_l("Vendor"), validators=[DataRequired(REQUIRED)])


class TwoFactorForm(FlaskForm):
    code = StringField(
        _l("Code"),
        description=_l("The six digits from your authenticator app, or a recovery code."),
        validators=[DataRequired(REQUIRED), Length(max=20)],
    )


class TwoFactorSetupForm(FlaskForm):
    code = StringField(
        _l("Code from the app"),
        description=_l("Type the six digits the app shows for supportdesk."),
        validators=[DataRequired(REQUIRED), Length(max=20)],
    )


class ConfirmForm(FlaskForm):
    """Step-up: the password, or a code for users with two-factor sign-in."""

    password = PasswordField(_l("Password"), validators=[Optional(), Length(max=1000)])
    code = StringField(
        _l("Or a code from your authenticator app"), validators=[Optional(), Length(max=20)]
    )


class ResetRequestForm(FlaskForm):
    email = EmailField(_l("E-mail"), validators=[DataRequired(REQUIRED), Length(max=254)])


class SetPasswordForm(FlaskForm):
    password = PasswordField(
        _l("New password"),
        description=_l(
            "At least 10 characters and hard to guess: a sentence of unrelated words works well."
        ),
        validators=[DataRequired(REQUIRED), Length(min=10, message=_l("At least 10 characters."))],
    )
