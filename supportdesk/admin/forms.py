"""System administration forms: municipalities, vendors, systems, categories (shape only)."""

from __future__ import annotations

from datetime import date, time

from flask_babel import get_translations
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import EmailField, IntegerField, SelectField, StringField, TextAreaField, TimeField
from wtforms.validators import (
    DataRequired,
    Email,
    InputRequired,
    Length,
    NumberRange,
    Optional,
    ValidationError,
)

from supportdesk.accounts.forms import REQUIRED, EntitlementForm, InstitutionForm, UserForm

# WTForms ships no Danish catalogue; its built-in messages go through ours instead.
WTFORMS_MESSAGES = (
    _l("Not a valid integer value."),
    _l("Not a valid time value."),
    _l("Not a valid choice."),
    _l("Invalid Choice: could not coerce."),
)


class _CatalogueTranslations:
    """Raw lookups: WTForms fills in %(min)d and friends itself afterwards."""

    def gettext(self, string: str) -> str:
        return get_translations().ugettext(string)

    def ngettext(self, singular: str, plural: str, n: int) -> str:
        return get_translations().ungettext(singular, plural, n)


class AdminForm(FlaskForm):
    """Base for the administration forms: every message Danish, including WTForms' own."""

    class Meta:
        def get_translations(self, form):
            return _CatalogueTranslations()


class AdminUserForm(AdminForm, UserForm):
    pass


class AdminInstitutionForm(AdminForm, InstitutionForm):
    pass


class AdminEntitlementForm(AdminForm, EntitlementForm):
    pass


SLUG_HINT = _l("Lower-case letters, digits and hyphens; used in addresses and the API.")
WHOLE_NUMBER = _l("Enter a whole number.")


def _whole_number(
    label: str, default: int, low: int, high: int, message: str, description: str = ""
) -> IntegerField:
    """A required whole number from `low` to `high` (`message` says so when it is not)."""
    return IntegerField(
        label,
        description=description,
        default=default,
        validators=[InputRequired(WHOLE_NUMBER), NumberRange(min=low, max=high, message=message)],
    )


class NamedForm(AdminForm):
    """What every configured thing has: a short name (slug) and a name."""

    slug = StringField(
        _l("Short name"), description=SLUG_HINT, validators=[DataRequired(REQUIRED), Length(max=60)]
    )
    name = StringField(_l("Name"), validators=[DataRequired(REQUIRED), Length(max=120)])


class MunicipalityForm(NamedForm):
    code = StringField(
        _l("Number prefix"),
        description=_l("Two to six capital letters used in ticket numbers, e.g. ESB."),
        validators=[DataRequired(REQUIRED), Length(max=6)],
    )
    retention_days = _whole_number(
        _l("Retention period (days)"),
        730,
        30,
        36500,
        _l("Between 30 and 36500 days."),
        description=_l("Closed tickets are anonymised after this many days."),
    )


class VendorForm(NamedForm):
    min_entitled = _whole_number(
        _l("Minimum support-entitled per municipality"), 4, 0, 1000, _l("Between 0 and 1000.")
    )
    max_entitled = _whole_number(
        _l("Maximum support-entitled per municipality"), 8, 1, 1000, _l("Between 1 and 1000.")
    )
    support_email = EmailField(
        _l("Servicedesk e-mail"),
        validators=[Optional(), Email(_l("Enter a valid e-mail address.")), Length(max=254)],
    )
    business_days = StringField(
        _l("Business days"),
        description=_l("Weekdays as numbers 1 (Monday) to 7 (Sunday), separated by commas."),
        default="1,2,3,4,5",
        validators=[DataRequired(REQUIRED), Length(max=20)],
    )
    business_start = TimeField(
        _l("Opens at"),
        default=time(8, 0),
        validators=[DataRequired(_l("Enter a time such as 08:00."))],
    )
    business_end = TimeField(
        _l("Closes at"),
        default=time(16, 0),
        validators=[DataRequired(_l("Enter a time such as 16:00."))],
    )
    timezone = StringField(
        _l("Time zone"),
        default="Europe/Copenhagen",
        validators=[DataRequired(REQUIRED), Length(max=40)],
    )
    closed_days = TextAreaField(
        _l("Closed days"),
        description=_l("One per line: date (YYYY-MM-DD), a space and an optional reason."),
        validators=[Optional(), Length(max=10000)],
    )

    def validate_closed_days(self, field) -> None:
        self.parsed_closed_days = []
        for number, line in enumerate((field.data or "").splitlines(), start=1):
            if not line.strip():
                continue
            day_text, _sep, reason = line.strip().partition(" ")
            try:
                day = date.fromisoformat(day_text)
            except ValueError:
                raise ValidationError(
                    _l("Line %(line)s does not start with a date like 2026-12-24.", line=number)
                ) from None
            self.parsed_closed_days.append((day, reason.strip()))


class SystemForm(NamedForm):
    vendor = SelectField(_l("Vendor"), validators=[DataRequired(REQUIRED)])


class CategoryForm(NamedForm):
    """A system's category: no more than its short name and name."""
