"""Forms of the expert registry (staff) and of an expert's own profile."""
from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from flask_wtf.file import FileField, FileRequired
from wtforms import (BooleanField, EmailField, HiddenField, IntegerField, SelectField, SelectMultipleField,
                     StringField, TextAreaField)
from wtforms.validators import DataRequired, Email, Length, NumberRange, Optional, ValidationError

from focalpoint.auth.forms import MultiCheckboxField
from focalpoint.experts import services as svc
from focalpoint.experts.models import Availability, ExpertStatus

YEARS = NumberRange(min=1990, max=2100, message=_l("A year between 1990 and 2100."))


def _orcid(form, field):
    try:
        field.data = svc.normalise_orcid(field.data) or ""
    except svc.ExpertError as exc:
        raise ValidationError(str(exc)) from None


class ProfileForm(FlaskForm):
    """What an expert keeps up to date themselves (staff see the same fields and a few more)."""

    first_name = StringField(_l("First name"), validators=[Optional(), Length(max=100)])
    last_name = StringField(_l("Last name"), validators=[DataRequired(), Length(max=100)])
    affiliation = StringField(_l("Affiliation"), validators=[Optional(), Length(max=300)],
                              description=_l("University, institute, administration or organisation."))
    region = SelectField(_l("Region"), choices=[])
    gender = SelectField(_l("Gender"), choices=[])
    career_stage = SelectField(_l("Career stage"), choices=[])
    orcid = StringField(_l("ORCID iD"), validators=[Optional(), Length(max=60), _orcid],
                        description=_l("For example 0000-0002-1825-0097."))
    disciplines = MultiCheckboxField(_l("Disciplines"), choices=[])
    roles_wanted = MultiCheckboxField(_l("Roles wanted in IPBES"), choices=[])
    deliverables = SelectMultipleField(_l("IPBES deliverables of your expertise"), choices=[],
                                       render_kw={"size": 8}, description=_l("Hold Ctrl (⌘ on a Mac) to choose several."))
    gbf_targets = SelectMultipleField(_l("Kunming-Montreal Global Biodiversity Framework targets"), choices=[],
                                      render_kw={"size": 8}, description=_l("Hold Ctrl (⌘ on a Mac) to choose several."))
    ecosystems = MultiCheckboxField(_l("Ecosystems"), choices=[])
    keywords = TextAreaField(_l("Expertise keywords"), validators=[Optional(), Length(max=5000)],
                             description=_l("Separate them with ';', for example: pollination; soil ecology."),
                             render_kw={"rows": 2})
    languages = MultiCheckboxField(_l("Working languages"), choices=[])
    preferred_language = SelectField(_l("Language of the e-mails you receive"),
                                     choices=[("en", "English"), ("fr", "Français"), ("nl", "Nederlands")])
    availability = SelectField(_l("Availability"),
                               choices=[(a.value, label) for a, label in svc.AVAILABILITY_LABELS.items()])
    availability_note = StringField(_l("About your availability"), validators=[Optional(), Length(max=500)])
    #: The version of the record the form was opened on (a save on a newer version is refused: 409).
    version = HiddenField()

    def __init__(self, *args, vocabularies: dict, deliverables: list, regions: dict, **kwargs):
        super().__init__(*args, **kwargs)
        blank = [("", "—")]
        self.region.choices = blank + list(regions.items())
        self.gender.choices = blank + [(g.value, label) for g, label in svc.GENDER_LABELS.items()]
        self.career_stage.choices = blank + [(c.value, label) for c, label in svc.CAREER_STAGE_LABELS.items()]
        self.disciplines.choices = [(t.code, t.label) for t in vocabularies["discipline"]]
        self.roles_wanted.choices = [(t.code, t.label) for t in vocabularies["expert_role"]]
        self.gbf_targets.choices = [(t.code, t.label) for t in vocabularies["gbf_target"]]
        self.ecosystems.choices = [(t.code, t.label) for t in vocabularies["ecosystem"]]
        self.deliverables.choices = [(d.code, d.short_name) for d in deliverables]
        self.languages.choices = list(svc.LANGUAGE_LABELS.items())


class ExpertForm(ProfileForm):
    """The staff's form: everything on the profile, the e-mail, status, staff notes and the linked account."""

    email = EmailField(_l("E-mail address"), validators=[DataRequired(), Email(check_deliverability=False),
                                                         Length(max=254)])
    status = SelectField(_l("Status"), choices=[(s.value, svc.STATUS_LABELS[s])
                                                for s in (ExpertStatus.ACTIVE, ExpertStatus.PENDING_REVIEW)])
    notes = TextAreaField(_l("Staff notes"), validators=[Optional(), Length(max=20000)], render_kw={"rows": 3},
                          description=_l("Never shown on the expert's profile, but part of the data they can "
                                         "download about themselves."))
    user_email = EmailField(_l("Linked user account (its e-mail)"),
                            validators=[Optional(), Email(check_deliverability=False), Length(max=254)],
                            description=_l("The account the expert logs in with to keep their profile. "
                                           "Leave empty for none."))


class PastRoleForm(FlaskForm):
    role = SelectField(_l("Role"), choices=[], validators=[DataRequired()])
    deliverable_id = SelectField(_l("Deliverable"), coerce=int, choices=[])
    deliverable_text = StringField(_l("Or, when not in the list"), validators=[Optional(), Length(max=300)])
    year_from = IntegerField(_l("From (year)"), validators=[Optional(), YEARS])
    year_to = IntegerField(_l("Until (year)"), validators=[Optional(), YEARS])

    def __init__(self, *args, roles: list, deliverables: list, **kwargs):
        super().__init__(*args, **kwargs)
        self.role.choices = [("", "—")] + [(t.code, t.label) for t in roles]
        self.deliverable_id.choices = [(0, "—")] + [(d.id, d.short_name) for d in deliverables]


class CVForm(FlaskForm):
    file = FileField(_l("CV (PDF or DOCX)"), validators=[FileRequired()])


class ConsentForm(FlaskForm):
    contact = BooleanField(_l("I agree to be contacted by the focal point about IPBES calls and consultations."))
    processing = BooleanField(_l("I agree to the processing of my data as described above."))


class ErasureRequestForm(FlaskForm):
    confirm = BooleanField(_l("I understand that my profile, CV and answers will be deleted."),
                           validators=[DataRequired(_l("Tick the box to confirm."))])


class EraseForm(FlaskForm):
    confirm = BooleanField(_l("Delete this person's data now (this cannot be undone)."),
                           validators=[DataRequired(_l("Tick the box to confirm."))])


class MergeForm(FlaskForm):
    keep_id = IntegerField(validators=[DataRequired()])
    other_id = IntegerField(validators=[DataRequired()])


class ImportForm(FlaskForm):
    file = FileField(_l("Spreadsheet (CSV or XLSX)"), validators=[FileRequired()])


class ImportConfirmForm(FlaskForm):
    token = HiddenField(validators=[DataRequired()])
