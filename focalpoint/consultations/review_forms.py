"""Forms of the experts' review workspace: a comment (add and edit) and the filled template's upload.

The comment's values are checked by comments.clean_comment (the same rules as the template and the
command line), not by WTForms validators: the form only carries the text and shows the messages.
"""
from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from flask_wtf.file import FileField
from wtforms import BooleanField, HiddenField, SelectField, StringField, TextAreaField

from focalpoint.consultations.comments import COMMENT_FIELDS, MAX_COMMENT, TYPE_LABELS
from focalpoint.consultations.models import CommentType

_NUMBER = {"inputmode": "numeric", "autocomplete": "off", "size": 6}


class CommentForm(FlaskForm):
    """One comment in the review template's fields. ``consultation`` gives the document choices."""

    document = SelectField(_l("Document"), choices=[], validate_choice=False)
    chapter = StringField(_l("Chapter or section"), render_kw={"maxlength": 200})
    page_from = StringField(_l("From page"), render_kw=_NUMBER)
    line_from = StringField(_l("From line"), render_kw=_NUMBER)
    page_to = StringField(_l("To page"), render_kw=_NUMBER,
                          description=_l("Blank: the same page as From page."))
    line_to = StringField(_l("To line"), render_kw=_NUMBER)
    comment = TextAreaField(_l("Comment"), render_kw={"rows": 5, "maxlength": MAX_COMMENT, "required": True})
    suggested_change = TextAreaField(_l("Suggested change (optional)"),
                                     render_kw={"rows": 3, "maxlength": MAX_COMMENT})
    comment_type = SelectField(_l("Type"), choices=[(kind.value, TYPE_LABELS[kind]) for kind in CommentType],
                               default=CommentType.SPECIFIC.value, validate_choice=False)
    #: The version of the comment the edit form was opened on (a save on a newer one is refused).
    version = HiddenField()

    def __init__(self, *args, consultation, **kwargs):
        super().__init__(*args, **kwargs)
        documents = list(consultation.documents)
        #: With one document (or none) the select is not shown: the comment is about that document.
        self.choose_document = len(documents) > 1
        self.document.choices = [("", _l("— choose —"))] + [(str(d.id), d.title) for d in documents]

    def values(self) -> dict:
        """The raw values for comments.clean_comment."""
        data = {name: getattr(self, name).data for name in COMMENT_FIELDS}
        if not self.choose_document:
            data["document"] = ""
        return data

    def fill(self, comment) -> None:
        """Show ``comment``'s stored values (the edit page, or after a refused stale save)."""
        self.document.data = str(comment.document_id) if comment.document_id else ""
        self.chapter.data = comment.chapter
        for name in ("page_from", "line_from", "page_to", "line_to"):
            value = getattr(comment, name)
            getattr(self, name).data = "" if value is None else str(value)
        self.comment.data = comment.comment
        self.suggested_change.data = comment.suggested_change
        self.comment_type.data = comment.comment_type.value
        self.version.data = str(comment.version)

    def show_errors(self, errors: dict[str, str]) -> list[str]:
        """Put clean_comment's messages next to their fields; returns those no shown field can hold."""
        loose = []
        for name, message in errors.items():
            field = getattr(self, name, None) if name in COMMENT_FIELDS else None
            if field is None or (name == "document" and not self.choose_document):
                loose.append(message)
            else:
                field.errors = [*field.errors, message]
        return loose


class UploadForm(FlaskForm):
    file = FileField(_l("The filled review template (.xlsx)"), render_kw={
        "accept": ".xlsx,application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"})
    dry_run = BooleanField(_l("Only check the file: save nothing"))
