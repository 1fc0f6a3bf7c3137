"""Forms: invitation templates and composing (staff); accepting, declining and asking for a new link (experts)."""
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from flask_wtf.file import FileField
from wtforms import RadioField, SelectField, StringField, TextAreaField
from wtforms.validators import DataRequired, Email, Length, Optional, ValidationError

from focalpoint.invitations import services as svc

LANGUAGE_LABELS = {"en": _l("English"), "fr": _l("French"), "nl": _l("Dutch")}
STATE_LABELS = {"pending": _l("Waiting for an answer"), "accepted": _l("Accepted"), "declined": _l("Declined"),
                "expired": _l("Expired")}
PLACEHOLDER_HELP = _l("Placeholders: %(names)s. {link} (the expert's personal link) must be in the text.",
                      names=", ".join("{%s}" % p for p in svc.PLACEHOLDERS))


def _no_unknown_placeholders(form, field):
    unknown = svc.unknown_placeholders(field.data or "")
    if unknown:
        raise ValidationError(_l("Unknown placeholder(s): %(names)s. Use only %(known)s.",
                                 names=", ".join("{%s}" % n for n in unknown),
                                 known=", ".join("{%s}" % p for p in svc.PLACEHOLDERS)))


class TemplateForm(FlaskForm):
    name = StringField(_l("Name"), validators=[DataRequired(), Length(max=100)],
                       description=_l("Templates with the same name in several languages are one template: "
                                      "each expert gets the version in their language (else English)."))
    language = SelectField(_l("Language"), choices=list(LANGUAGE_LABELS.items()))
    subject = StringField(_l("Subject"), validators=[DataRequired(), Length(max=300), _no_unknown_placeholders])
    body = TextAreaField(_l("Text"), validators=[DataRequired(), Length(max=20000), _no_unknown_placeholders],
                         description=PLACEHOLDER_HELP, render_kw={"rows": 14})

    def validate(self, extra_validators=None) -> bool:
        ok = super().validate(extra_validators)
        if ok:
            for field, message in svc.template_text_errors(self.subject.data, self.body.data).items():
                getattr(self, field).errors.append(message)
                ok = False
        return ok


class ComposeForm(FlaskForm):
    template = SelectField(_l("Template"), choices=[], validate_choice=False,
                           description=_l("Each expert gets the template in their language, else in English."))
    subject = StringField(_l("Subject"), validators=[Optional(), Length(max=300)])
    body = TextAreaField(_l("Text"), validators=[Optional(), Length(max=20000)], description=PLACEHOLDER_HELP,
                         render_kw={"rows": 12})

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.template.choices = [(name, name) for name in svc.template_names()] + \
            [("", _l("— write the text below —"))]

    def validate(self, extra_validators=None) -> bool:
        ok = super().validate(extra_validators)
        if not ok:
            return False
        if self.template.data:
            if self.template.data not in svc.template_names():
                self.template.errors.append(_l("Choose a template."))
                return False
            return True
        for field in (self.subject, self.body):
            if not (field.data or "").strip():
                field.errors.append(_l("Write a subject and a text, or choose a template."))
                return False
        for field, message in svc.template_text_errors(self.subject.data, self.body.data).items():
            getattr(self, field).errors.append(message)
            ok = False
        return ok


class AcceptForm(FlaskForm):
    role = SelectField(_l("Role you wish to be nominated for"), choices=[], validators=[DataRequired()])
    motivation = TextAreaField(_l("Motivation"), validators=[DataRequired(), Length(max=5000)],
                               render_kw={"rows": 5})
    availability = StringField(_l("Availability"), validators=[Optional(), Length(max=500)],
                               description=_l("For example: periods when you cannot travel or attend meetings."))
    has_conflict = RadioField(_l("Do you have a conflict of interest?"), choices=[("no", _l("No")), ("yes", _l("Yes"))],
                              validators=[DataRequired()])
    conflict_note = TextAreaField(_l("If yes, describe it"), validators=[Length(max=5000)],
                                  render_kw={"rows": 3})
    cv = FileField(_l("CV (PDF or Word .docx, optional)"))

    def __init__(self, *args, roles=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.role.choices = [(code, label) for code, label in roles]

    def validate_conflict_note(self, field):
        if self.has_conflict.data == "yes" and not (field.data or "").strip():
            raise ValidationError(_l("Describe the conflict of interest."))


class DeclineForm(FlaskForm):
    reason = TextAreaField(_l("Reason (optional)"), validators=[Optional(), Length(max=5000)], render_kw={"rows": 3})
    colleague_name = StringField(_l("A colleague we could invite instead (name, optional)"),
                                 validators=[Optional(), Length(max=200)])
    colleague_email = StringField(_l("Their e-mail address"),
                                  validators=[Optional(), Email(check_deliverability=False), Length(max=254)])

    def validate_colleague_name(self, field):
        if (self.colleague_email.data or "").strip() and not (field.data or "").strip():
            raise ValidationError(_l("Give the colleague's name with their e-mail address."))


class LinkRequestForm(FlaskForm):
    message = TextAreaField(_l("Message to the national focal point (optional)"),
                            validators=[Optional(), Length(max=1000)], render_kw={"rows": 3})
