from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import BooleanField, EmailField, HiddenField, PasswordField, SelectField, SelectMultipleField, StringField
from wtforms.validators import DataRequired, Email, EqualTo, Length, Optional
from wtforms.widgets import CheckboxInput, ListWidget

from focalpoint.auth.models import Role
from focalpoint.auth.services import MIN_PASSWORD_LENGTH


class MultiCheckboxField(SelectMultipleField):
    widget = ListWidget(prefix_label=False)
    option_widget = CheckboxInput()


ROLE_LABELS = {
    Role.STAFF: _l("Focal point staff"),
    Role.EXPERT: _l("Expert"),
    Role.REVIEWER: _l("Administration reviewer"),
    Role.ADMIN: _l("Administrator"),
}


class LoginForm(FlaskForm):
    email = EmailField(_l("E-mail address"), validators=[DataRequired(), Length(max=254)],
                       render_kw={"autocomplete": "username"})
    password = PasswordField(_l("Password"), validators=[DataRequired(), Length(max=1024)],
                             render_kw={"autocomplete": "current-password"})
    next = HiddenField()


class ChangePasswordForm(FlaskForm):
    current_password = PasswordField(_l("Current password"), validators=[DataRequired()],
                                     render_kw={"autocomplete": "current-password"})
    new_password = PasswordField(
        _l("New password"),
        validators=[DataRequired(), Length(min=MIN_PASSWORD_LENGTH, max=1024)],
        description=_l("At least %(n)d characters.", n=MIN_PASSWORD_LENGTH),
        render_kw={"autocomplete": "new-password"})
    confirm = PasswordField(_l("Repeat the new password"),
                            validators=[DataRequired(), EqualTo("new_password", message=_l("The passwords differ."))],
                            render_kw={"autocomplete": "new-password"})


class PreferencesForm(FlaskForm):
    name = StringField(_l("Name"), validators=[Optional(), Length(max=200)])
    locale = SelectField(_l("Language"), choices=[("", _l("As my browser asks")), ("en", "English"),
                                                  ("fr", "Français"), ("nl", "Nederlands")])
    timezone = SelectField(_l("Time zone"), choices=[])


class DigestForm(FlaskForm):
    """The e-mail digest (rendered with prefix="digest": a second form on the account page)."""

    frequency = SelectField(_l("E-mail digest"), choices=[("none", _l("No digest")), ("daily", _l("Daily")),
                                                          ("weekly", _l("Weekly"))],
                            description=_l("What is due and what is new, by e-mail every day or every Monday, "
                                           "in your language and time zone."))


class UserForm(FlaskForm):
    email = EmailField(_l("E-mail address"), validators=[DataRequired(), Email(check_deliverability=False),
                                                          Length(max=254)])
    name = StringField(_l("Name"), validators=[Optional(), Length(max=200)])
    roles = MultiCheckboxField(_l("Roles"), choices=[(r.value, label) for r, label in ROLE_LABELS.items()],
                               validators=[DataRequired(message=_l("Choose at least one role."))])
    administration_id = SelectField(_l("Administration (reviewers)"), coerce=int, choices=[])
    is_enabled = BooleanField(_l("Account enabled"), default=True)
    password = PasswordField(_l("Password"), validators=[Optional(), Length(min=MIN_PASSWORD_LENGTH, max=1024)],
                             description=_l("Leave empty to keep the current password."),
                             render_kw={"autocomplete": "new-password"})


class AdministrationForm(FlaskForm):
    code = StringField(_l("Code"), validators=[DataRequired(), Length(max=32)])
    name = StringField(_l("Name"), validators=[DataRequired(), Length(max=200)])
    is_active = BooleanField(_l("Active"), default=True)
