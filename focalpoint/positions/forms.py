"""Forms of the position notes, and the labels their pages show."""
from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import DateField, HiddenField, RadioField, SelectField, StringField, SubmitField, TextAreaField
from wtforms.validators import DataRequired, Length, Optional, ValidationError

from focalpoint.auth.forms import MultiCheckboxField
from focalpoint.positions.models import NOTE_SECTIONS, NoteStatus
from focalpoint.positions.services import MAX_COMMENT_CHARS, MAX_SECTION_CHARS, MAX_SUMMARY_CHARS

SECTION_LABELS = {
    "background": _l("Background"),
    "national_position": _l("National position"),
    "eu_position": _l("EU position"),
    "fallback": _l("Fallback"),
}
SECTION_HELP = {
    "background": _l("What the agenda item is about and what the plenary is asked to decide."),
    "national_position": _l("The country's position, as it will be defended."),
    "eu_position": _l("The EU coordinated position, when known."),
    "fallback": _l("What the country can accept if its position does not carry."),
}
STATUS_LABELS = {
    NoteStatus.DRAFT: _l("Draft"),
    NoteStatus.IN_REVIEW: _l("In review"),
    NoteStatus.APPROVED: _l("Approved"),
}
#: An administration's state in a note's review (staff's words; the clearance matrix uses them too).
REVIEW_STATE_LABELS = {
    "not_requested": _l("Not asked"),
    "pending": _l("Awaiting decision"),
    "cleared": _l("Cleared"),
    "objected": _l("Objected"),
    "stale": _l("Cleared an older version"),
}
#: The same, as the administration's reviewers read it.
REVIEWER_STATE_LABELS = {
    "to_clear": _l("To clear"),
    "cleared": _l("Cleared"),
    "objected": _l("Objected"),
    "new_version": _l("New version to clear"),
}
DECISION_LABELS = {"cleared": _l("Cleared"), "objected": _l("Objected")}
#: The note's history, in words.
ACTION_LABELS = {
    "position_note.created": _l("note created"),
    "position_note.version_saved": _l("version saved"),
    "position_note.documents": _l("linked documents changed"),
    "position_note.review_requested": _l("review asked"),
    "position_note.review_withdrawn": _l("review request withdrawn"),
    "position_note.commented": _l("comment"),
    "position_note.comment_answered": _l("answer to a comment"),
    "position_note.comment_resolved": _l("comment resolved"),
    "position_note.cleared": _l("cleared"),
    "position_note.objected": _l("objected"),
    "position_note.status": _l("status changed"),
    "position_note.approved": _l("approved"),
    "position_note.reopened": _l("reopened"),
    "position_note.review_reminded": _l("reminder e-mailed"),
}


class NoteForm(FlaskForm):
    background = TextAreaField(SECTION_LABELS["background"], validators=[Length(max=MAX_SECTION_CHARS)],
                               description=SECTION_HELP["background"])
    national_position = TextAreaField(SECTION_LABELS["national_position"], validators=[Length(max=MAX_SECTION_CHARS)],
                                      description=SECTION_HELP["national_position"])
    eu_position = TextAreaField(SECTION_LABELS["eu_position"], validators=[Length(max=MAX_SECTION_CHARS)],
                                description=SECTION_HELP["eu_position"])
    fallback = TextAreaField(SECTION_LABELS["fallback"], validators=[Length(max=MAX_SECTION_CHARS)],
                             description=SECTION_HELP["fallback"])
    documents = MultiCheckboxField(_l("Linked documents"), coerce=int, choices=[])
    summary = StringField(_l("What changed"), validators=[Optional(), Length(max=MAX_SUMMARY_CHARS)],
                          description=_l("A few words for the list of versions (optional)."))
    #: The note's version when the form was loaded (optimistic lock).
    version = HiddenField(validators=[DataRequired()])
    #: The note's version number (NoteVersion) when the form was loaded: the other person's change is shown from it.
    base = HiddenField()
    preview = SubmitField(_l("Preview"))
    save = SubmitField(_l("Save"))

    def __init__(self, *args, documents=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.documents.choices = [(d.id, f"{d.symbol} — {d.title}") for d in documents]

    def texts(self) -> dict[str, str]:
        return {section: getattr(self, section).data or "" for section in NOTE_SECTIONS}


def _at_least_one(form, field):
    # Not DataRequired: its "required" attribute on every checkbox would ask for all of them.
    if not field.data:
        raise ValidationError(_l("Choose at least one administration."))


class ReviewRequestForm(FlaskForm):
    administrations = MultiCheckboxField(_l("Administrations"), coerce=int, choices=[],
                                         validators=[_at_least_one])
    due_date = DateField(_l("Due date"), validators=[DataRequired(message=_l("Give a due date."))])

    def __init__(self, *args, administrations=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.administrations.choices = [(a.id, a.name) for a in administrations]


class CommentForm(FlaskForm):
    #: "" (the note as a whole), "<section>" or "<section>:<paragraph>".
    target = SelectField(_l("About"), choices=[], validate_choice=False)
    body = TextAreaField(_l("Comment"), validators=[DataRequired(message=_l("Write a comment.")),
                                                    Length(max=MAX_COMMENT_CHARS)])
    note_version = HiddenField()

    def __init__(self, *args, targets=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.target.choices = [("", _l("The note as a whole"))] + list(targets)

    def section_and_paragraph(self) -> tuple[str | None, int | None]:
        section, _sep, paragraph = (self.target.data or "").partition(":")
        if not section:
            return None, None
        return section, int(paragraph) if paragraph.isdigit() else None


class AnswerForm(FlaskForm):
    body = TextAreaField(_l("Answer"), validators=[DataRequired(message=_l("Write an answer.")),
                                                   Length(max=MAX_COMMENT_CHARS)])


class ClearanceForm(FlaskForm):
    decision = RadioField(_l("Decision"), choices=[("cleared", _l("Clear this version")),
                                                   ("objected", _l("Object to this version"))],
                          validators=[DataRequired(message=_l("Choose to clear or to object."))])
    reason = TextAreaField(_l("Reason"), validators=[Optional(), Length(max=MAX_COMMENT_CHARS)],
                           description=_l("Required to object; optional to clear."))
    note_version = HiddenField()


class ReopenForm(FlaskForm):
    reason = StringField(_l("Why reopen"), validators=[Optional(), Length(max=300)])
