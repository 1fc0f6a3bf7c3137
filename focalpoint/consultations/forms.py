"""Forms of staff's consultation pages."""
from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from flask_wtf.file import FileField, FileRequired
from wtforms import BooleanField, DateField, HiddenField, SelectField, StringField, TextAreaField
from wtforms.validators import DataRequired, InputRequired, Length, Optional, Regexp

from focalpoint.consultations.services import DRAFT_LABELS


class ConsultationForm(FlaskForm):
    title = StringField(_l("Title"), validators=[DataRequired(), Length(max=300)])
    deliverable_id = SelectField(_l("IPBES deliverable"), coerce=int, choices=[])
    draft = SelectField(_l("Draft"), choices=[])
    description = TextAreaField(_l("Description"), validators=[Optional(), Length(max=20000)],
                                description=_l("What the draft is and what comments are wanted."))
    confidentiality_note = TextAreaField(
        _l("Confidentiality note"), validators=[Optional(), Length(max=5000)],
        description=_l("Shown to every invited expert before the documents, e.g. “Drafts are confidential: "
                       "do not cite or distribute.”"))
    opens_on = DateField(_l("Opens on"), validators=[InputRequired()])
    closes_on = DateField(_l("Closes on"), validators=[InputRequired()],
                          description=_l("Experts can comment until the end of this day."))
    secretariat_deadline = DateField(_l("Secretariat deadline"), validators=[Optional()],
                                     description=_l("When the integrated comments are due at the secretariat."))
    reminder_days = StringField(_l("Reminders (days before the close)"), default="7;2",
                                validators=[Optional(), Length(max=50),
                                            Regexp(r"^\s*\d{1,3}(\s*;\s*\d{1,3})*\s*$",
                                                   message=_l("Numbers of days separated by semicolons: 7;2"))],
                                description=_l("Invited experts who have not commented get a reminder on these "
                                               "days. Leave empty for none."))
    notification_id = HiddenField()
    version = HiddenField()

    def __init__(self, *args, deliverables=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.deliverable_id.choices = [(0, _l("— none —"))] + [(d.id, d.short_name) for d in deliverables]
        self.draft.choices = [(k.value, label) for k, label in DRAFT_LABELS.items()]

    def validate_closes_on(self, field):
        if field.data and self.opens_on.data and field.data < self.opens_on.data:
            from wtforms.validators import ValidationError

            raise ValidationError(_l("The closing date must be on or after the opening date."))


class DocumentForm(FlaskForm):
    """A document: an uploaded file or a link (exactly one)."""

    title = StringField(_l("Title"), validators=[DataRequired(), Length(max=200)],
                        description=_l("The name experts use in the template's Document column: SPM, Chapter 3 …"))
    file = FileField(_l("File (PDF or Word .docx)"))
    url = StringField(_l("or a link (https://…)"), validators=[Optional(), Length(max=1000)])


class DecisionForm(FlaskForm):
    """One per comment on the consolidation page (fields rendered by hand with per-comment ids)."""

    version = HiddenField()
    decision = SelectField(_l("Decision"), choices=[], validate_choice=False)
    staff_note = TextAreaField(_l("Staff note"), validators=[Optional(), Length(max=5000)])
    edited_comment = TextAreaField(_l("Edited comment"), validators=[Optional()])
    edited_suggested_change = TextAreaField(_l("Edited suggested change"), validators=[Optional()])
    merged_into = StringField(_l("Merge into"), validators=[Optional()])
    next = HiddenField()


class ImportForm(FlaskForm):
    participant_id = SelectField(_l("On behalf of"), coerce=int, choices=[], validate_choice=False)
    file = FileField(_l("Filled review template (XLSX)"), validators=[FileRequired()])


class InviteForm(FlaskForm):
    send = BooleanField(_l("Send the invitation e-mails now"), default=True)


def staff_comment_form(consultation, participants, **kwargs):
    """The experts' comment form (review_forms.CommentForm) with the participant staff write for."""
    from focalpoint.consultations.review_forms import CommentForm

    class StaffCommentForm(CommentForm):
        participant_id = SelectField(_l("On behalf of"), coerce=int, choices=[], validate_choice=False)

    form = StaffCommentForm(consultation=consultation, **kwargs)
    form.participant_id.choices = [(0, _l("— choose —"))] + [(p.id, p.expert.name) for p in participants]
    return form
