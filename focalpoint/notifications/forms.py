from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from flask_wtf.file import FileField, FileRequired
from wtforms import BooleanField, DateField, IntegerField, SelectField, StringField, TextAreaField, TimeField, URLField
from wtforms.validators import DataRequired, Length, NumberRange, Optional, URL

from focalpoint.notifications.models import NotificationKind, NotificationStatus

KIND_LABELS = {
    NotificationKind.EXPERT_CALL: _l("Call for experts"),
    NotificationKind.FELLOW_CALL: _l("Call for fellows"),
    NotificationKind.OFFICIALS_CALL: _l("Call for officials (Bureau, MEP, panel)"),
    NotificationKind.REVIEW: _l("Review"),
    NotificationKind.PLENARY: _l("Plenary"),
    NotificationKind.INPUTS_CALL: _l("Call for inputs"),
    NotificationKind.OFFERS_CALL: _l("Call for offers"),
    NotificationKind.EVENT: _l("Event"),
    NotificationKind.OTHER: _l("Other"),
}

STATUS_LABELS = {
    NotificationStatus.NEW: _l("New"),
    NotificationStatus.IN_PROGRESS: _l("In progress"),
    NotificationStatus.DONE: _l("Done"),
    NotificationStatus.ARCHIVED: _l("Archived"),
}


class StatusForm(FlaskForm):
    status = SelectField(_l("Status"), choices=[(s.value, label) for s, label in STATUS_LABELS.items()])


class KindForm(FlaskForm):
    kind = SelectField(_l("Kind"), choices=[(k.value, label) for k, label in KIND_LABELS.items()])


class AssignForm(FlaskForm):
    assignee_id = SelectField(_l("Assigned to"), coerce=int, choices=[])


class NationalDeadlineForm(FlaskForm):
    national_deadline = DateField(_l("National deadline"), validators=[Optional()])


class DeadlineForm(FlaskForm):
    date = DateField(_l("Date"), validators=[DataRequired()])
    time = TimeField(_l("Time (optional)"), validators=[Optional()])
    label = StringField(_l("What is due"), validators=[Optional(), Length(max=60)],
                        description=_l("For example: application, nomination, comments."))


class NoteForm(FlaskForm):
    body = TextAreaField(_l("Note"), validators=[DataRequired(), Length(max=20000)])


class ManualNotificationForm(FlaskForm):
    title = StringField(_l("Title"), validators=[DataRequired(), Length(max=1000)],
                        description=_l("As the secretariat wrote it, with its reference (EM/2025/01) when it has one."))
    link = URLField(_l("Link"), validators=[Optional(), URL(require_tld=False), Length(max=2000)])
    published = DateField(_l("Date of the notification"), validators=[Optional()])
    text = TextAreaField(_l("Text"), validators=[Optional(), Length(max=100000)],
                         description=_l("Paste the notification's text: references and deadlines are found in it."))


class EmailUploadForm(FlaskForm):
    file = FileField(_l("Forwarded e-mail (.eml)"), validators=[FileRequired()])


class FeedSourceForm(FlaskForm):
    name = StringField(_l("Name"), validators=[DataRequired(), Length(max=100)])
    url = URLField(_l("Feed address (RSS or Atom)"), validators=[DataRequired(), URL(require_tld=False),
                                                                  Length(max=2000)])
    interval_minutes = IntegerField(_l("Minutes between polls"), default=60,
                                    validators=[DataRequired(), NumberRange(min=5, max=7 * 24 * 60)])
    is_active = BooleanField(_l("Poll this source"), default=True)
