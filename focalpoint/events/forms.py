"""Event forms: the event itself, adding someone (an expert of the registry or anyone), attendance."""
from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import (
    BooleanField,
    DateTimeLocalField,
    HiddenField,
    IntegerField,
    SelectField,
    StringField,
    TextAreaField,
)
from wtforms.validators import DataRequired, InputRequired, Length, NumberRange, Optional

from focalpoint.events.models import EventKind, RegistrationStatus
from focalpoint.events.services import LIMITS, MAX_CAPACITY

KIND_LABELS = {
    EventKind.INFORMATION_SESSION: _l("Information session"),
    EventKind.UPTAKE_EVENT: _l("Uptake event"),
}

STATUS_LABELS = {
    RegistrationStatus.REGISTERED: _l("Registered"),
    RegistrationStatus.WAITLISTED: _l("Waiting list"),
    RegistrationStatus.CANCELLED: _l("Cancelled"),
}

#: The HTML datetime-local input's format (minutes; seconds are not asked for).
TIME_FORMATS = ["%Y-%m-%dT%H:%M", "%Y-%m-%dT%H:%M:%S"]


class EventForm(FlaskForm):
    kind = SelectField(_l("Kind"), choices=[(k.value, v) for k, v in KIND_LABELS.items()])
    title = StringField(_l("Title"), validators=[DataRequired(), Length(max=LIMITS["title"])])
    description = TextAreaField(_l("Description"), validators=[Optional(), Length(max=LIMITS["description"])])
    starts_at = DateTimeLocalField(_l("Starts"), format=TIME_FORMATS, validators=[InputRequired()])
    ends_at = DateTimeLocalField(_l("Ends"), format=TIME_FORMATS, validators=[InputRequired()])
    place = StringField(_l("Place"), validators=[Optional(), Length(max=LIMITS["place"])],
                        description=_l("Address and room. Leave empty for an online-only event."))
    online_url = StringField(_l("Online link"), validators=[Optional(), Length(max=LIMITS["online_url"])],
                             description=_l("https://… of the video meeting, when there is one."))
    capacity = IntegerField(_l("Capacity"), validators=[Optional(), NumberRange(min=1, max=MAX_CAPACITY)],
                            description=_l("Seats. Beyond them people go on a waiting list. Empty: no limit."))
    registration_closes_at = DateTimeLocalField(_l("Registration closes"), format=TIME_FORMATS,
                                                validators=[Optional()],
                                                description=_l("Empty: at the start of the event."))
    consultation_id = SelectField(_l("Consultation"), coerce=int, choices=[])
    deliverable_id = SelectField(_l("Deliverable"), coerce=int, choices=[],
                                 description=_l("Empty: the consultation's deliverable."))
    is_public = BooleanField(_l("Public event"),
                             description=_l("Shown on the public pages when they open; otherwise for experts "
                                            "and staff only."))
    version = HiddenField()

    def __init__(self, *args, consultations=(), deliverables=(), zone: str = "", **kwargs):
        super().__init__(*args, **kwargs)
        self.consultation_id.choices = [(0, _l("— none —"))] + [(c.id, c.title) for c in consultations]
        self.deliverable_id.choices = [(0, _l("— none —"))] + [(d.id, d.short_name) for d in deliverables]
        if zone:
            for field in (self.starts_at, self.ends_at, self.registration_closes_at):
                field.description = (f"{field.description} " if field.description else "") + \
                    str(_l("Time in %(zone)s.", zone=zone))


class RegistrantForm(FlaskForm):
    """Staff add someone who is not (or not yet) in the registry."""

    name = StringField(_l("Name"), validators=[DataRequired(), Length(max=LIMITS["name"])])
    email = StringField(_l("E-mail"), validators=[DataRequired(), Length(max=254)])
    affiliation = StringField(_l("Affiliation"), validators=[Optional(), Length(max=LIMITS["affiliation"])])
