"""Forms and labels of nomination calls, the slate and its decisions."""
from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import (BooleanField, DateField, EmailField, HiddenField, IntegerField, SelectField, StringField,
                     TextAreaField)
from wtforms.validators import DataRequired, Email, Length, NumberRange, Optional, Regexp

from focalpoint.auth.forms import MultiCheckboxField
from focalpoint.nominations.models import NominationState

CALL_KIND_LABELS = {
    "expert_call": _l("Call for experts"),
    "fellow_call": _l("Call for fellows"),
    "officials_call": _l("Call for officials (Bureau, MEP, panel)"),
}

CALL_STATE_LABELS = {
    "open": _l("Open"),
    "upcoming": _l("Not open yet"),
    "closed": _l("Closed"),
    "locked": _l("Locked"),
}

NOMINATION_STATE_LABELS = {
    NominationState.CANDIDATE: _l("Candidate"),
    NominationState.ENDORSED: _l("Endorsed"),
    NominationState.NOT_ENDORSED: _l("Not endorsed"),
    NominationState.SUBMITTED: _l("Submitted"),
    NominationState.SELECTED: _l("Selected"),
    NominationState.NOT_SELECTED: _l("Not selected"),
    NominationState.WITHDRAWN: _l("Withdrawn"),
}

INVITATION_STATE_LABELS = {
    "pending": _l("Pending"),
    "accepted": _l("Accepted"),
    "declined": _l("Declined"),
    "expired": _l("Expired"),
}

GENDER_LABELS = {
    "female": _l("Female"),
    "male": _l("Male"),
    "non_binary": _l("Non-binary"),
    "undisclosed": _l("Undisclosed"),
}

CAREER_STAGE_LABELS = {
    "early": _l("Early career"),
    "mid": _l("Mid career"),
    "senior": _l("Senior"),
}

#: The buttons of a slate decision (value of the submit button → the state it moves to).
DECISION_LABELS = {
    NominationState.ENDORSED: _l("Endorse"),
    NominationState.NOT_ENDORSED: _l("Do not endorse"),
    NominationState.SUBMITTED: _l("Mark submitted on the IPBES portal"),
    NominationState.SELECTED: _l("Selected"),
    NominationState.NOT_SELECTED: _l("Not selected"),
    NominationState.WITHDRAWN: _l("Withdraw"),
    NominationState.CANDIDATE: _l("Back to candidate"),
}


class CallForm(FlaskForm):
    title = StringField(_l("Title"), validators=[DataRequired(), Length(max=500)])
    call_kind = SelectField(_l("Kind of call"), choices=list(CALL_KIND_LABELS.items()))
    deliverable_id = SelectField(_l("Deliverable"), coerce=int, choices=[])
    roles = MultiCheckboxField(_l("Roles sought"), choices=[])
    description = TextAreaField(_l("Description"), validators=[Optional(), Length(max=20000)],
                                description=_l("Its words are matched against the experts' keywords."))
    keywords = StringField(_l("Keywords"), validators=[Optional(), Length(max=2000)],
                           description=_l("Separated by semicolons: spatial planning; connectivity"))
    opens_on = DateField(_l("Opens on"), validators=[Optional()],
                         description=_l("Leave empty when the call is open from now on."))
    application_deadline = DateField(_l("Secretariat deadline: applications"), validators=[Optional()])
    nomination_deadline = DateField(_l("Secretariat deadline: nominations"), validators=[Optional()])
    national_deadline = DateField(_l("National deadline"), validators=[DataRequired()],
                                  description=_l("Experts answer by this date; invitation links expire at its end."))
    reminder_days = StringField(_l("Reminders (days before the national deadline)"), default="7;2",
                                validators=[Optional(), Length(max=50),
                                            Regexp(r"^\s*\d{1,3}(\s*;\s*\d{1,3})*\s*$",
                                                   message=_l("Numbers of days separated by semicolons: 7;2"))])
    notification_id = HiddenField()

    def __init__(self, *args, deliverables=(), roles=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.deliverable_id.choices = [(0, _l("— none —"))] + [(d.id, d.short_name) for d in deliverables]
        self.roles.choices = [(t.code, t.label) for t in roles]


class DecisionForm(FlaskForm):
    """One form per candidate; the submit button's value says which decision."""

    version = HiddenField()
    rationale = TextAreaField(_l("Rationale or note"), validators=[Optional(), Length(max=5000)])
    selected_role = SelectField(_l("Selected as"), choices=[], validate_choice=False)
    notify = BooleanField(_l("E-mail the expert about this decision"), default=False)


class RankForm(FlaskForm):
    version = HiddenField()
    rank = IntegerField(_l("Rank"), validators=[Optional(), NumberRange(min=1, max=10000)])


class AddCandidateForm(FlaskForm):
    email = EmailField(_l("E-mail of an expert in the registry"), validators=[DataRequired(), Email(),
                                                                             Length(max=254)])
    came_forward = BooleanField(_l("Came forward by themselves (not invited)"), default=True)
