"""Forms of plenary sessions, their agenda items and documents."""
from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import DateField, SelectField, StringField, TextAreaField, URLField
from wtforms.validators import DataRequired, Length, Optional, Regexp, ValidationError

from focalpoint.positions.plenary_services import (CODE_PATTERN, is_web_link, normalise_code, normalise_number,
                                                   normalise_symbol)

NOTE_STATUS_LABELS = {
    "draft": _l("Draft"),
    "in_review": _l("In review"),
    "approved": _l("Approved"),
}

#: Each clearance state with its words (never colour alone) and its Bootstrap colour.
CLEARANCE_LABELS = {
    "not_requested": _l("Not asked"),
    "pending": _l("Awaiting decision"),
    "cleared": _l("Cleared"),
    "objected": _l("Objected"),
    "stale": _l("Decided on an older version"),
}
CLEARANCE_CLASSES = {
    "not_requested": "text-bg-light border",
    "pending": "text-bg-warning",
    "cleared": "text-bg-success",
    "objected": "text-bg-danger",
    "stale": "text-bg-secondary",
}
#: A symbol beside the words, for print and for readers who do not see colours.
CLEARANCE_SYMBOLS = {"not_requested": "–", "pending": "…", "cleared": "✓", "objected": "✗", "stale": "↻"}


def _strip(value):
    return value.strip() if isinstance(value, str) else value


class SessionForm(FlaskForm):
    code = StringField(_l("Session"), filters=[normalise_code],
                       validators=[DataRequired(), Length(max=20),
                                   Regexp(CODE_PATTERN, message=_l("A session code looks like IPBES-13."))],
                       description=_l("As the secretariat writes it: IPBES-13."))
    place = StringField(_l("Place"), filters=[_strip], validators=[Optional(), Length(max=200)],
                        description=_l("City and country, or online."))
    start_date = DateField(_l("First day"), validators=[Optional()])
    end_date = DateField(_l("Last day"), validators=[Optional()])

    def validate_end_date(self, field):
        if field.data and not self.start_date.data:
            raise ValidationError(_l("Give the first day too."))
        if field.data and self.start_date.data and field.data < self.start_date.data:
            raise ValidationError(_l("The last day cannot be before the first day."))


def _number_filter(value):
    return normalise_number(value) or _strip(value)


class AgendaItemForm(FlaskForm):
    number = StringField(_l("Item"), filters=[_number_filter], validators=[DataRequired(), Length(max=20)],
                         description=_l("As on the provisional agenda: 7 (b)."))
    title = StringField(_l("Title"), filters=[_strip], validators=[DataRequired(), Length(max=500)])

    def validate_number(self, field):
        if normalise_number(field.data) is None:
            raise ValidationError(_l("An item number looks like 7 or 7 (b)."))


class AgendaPasteForm(FlaskForm):
    lines = TextAreaField(_l("Several items at once"), validators=[DataRequired(), Length(max=20000)],
                          description=_l("One per line, number first: 7 (b) Methodological assessment …"))


def _symbol_filter(value):
    return normalise_symbol(value) or _strip(value)


class DocumentForm(FlaskForm):
    symbol = StringField(_l("Symbol"), filters=[_symbol_filter], validators=[DataRequired(), Length(max=40)],
                         description=_l("IPBES/12/3 for a working document, IPBES/12/INF/4 for an information "
                                        "document."))
    title = StringField(_l("Title"), filters=[_strip], validators=[DataRequired(), Length(max=500)])
    url = URLField(_l("Link"), filters=[_strip], validators=[Optional(), Length(max=1000)],
                   description=_l("Where the document is published (https://…)."))
    agenda_item_id = SelectField(_l("Agenda item"), coerce=int, choices=[], validate_choice=False)

    def __init__(self, *args, items=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.agenda_item_id.choices = [(0, _l("— none —"))] + [(i.id, f"{i.number}: {i.title[:80]}") for i in items]

    def validate_symbol(self, field):
        if normalise_symbol(field.data) is None:
            raise ValidationError(_l("A document symbol looks like IPBES/12/3 or IPBES/12/INF/4."))

    def validate_url(self, field):
        if field.data and not is_web_link(field.data):
            raise ValidationError(_l("The link must be a web address starting with http:// or https://."))

    def validate_agenda_item_id(self, field):
        if field.data and field.data not in {value for value, _label in field.choices}:
            raise ValidationError(_l("Choose an item of this session's agenda."))
