"""Comments in the fields of the secretariat's review template: validation, and the expert's own edits.

The same validation serves the browser form, the uploaded template and the command line, so a
comment is the same whichever way it came in. Every message names the field it is about.
"""
from __future__ import annotations

import datetime as dt

import sqlalchemy as sa
from flask import current_app
from flask_babel import lazy_gettext as _l

from focalpoint.audit import log_action
from focalpoint.consultations.models import (CommentSource, CommentType, Consultation, ConsultationDocument,
                                             Participant, ReviewComment)
from focalpoint.db import utcnow
from focalpoint.extensions import db
from focalpoint.invitations.services import display_zone

#: The review template's columns, in order (the secretariat's headings; never translated).
TEMPLATE_COLUMNS = ("Reviewer", "Email", "Affiliation", "Country", "Document", "Chapter", "From page",
                    "From line", "To page", "To line", "Comment", "Suggested change", "Type")

#: Template column -> field of a comment.
COLUMN_FIELDS = {"Reviewer": "reviewer_name", "Email": "reviewer_email", "Affiliation": "affiliation",
                 "Country": "country", "Document": "document", "Chapter": "chapter", "From page": "page_from",
                 "From line": "line_from", "To page": "page_to", "To line": "line_to", "Comment": "comment",
                 "Suggested change": "suggested_change", "Type": "comment_type"}
FIELD_COLUMNS = {field: column for column, field in COLUMN_FIELDS.items()}

#: Fields an expert sets on a comment (the reviewer's identity comes from who they are).
COMMENT_FIELDS = ("document", "chapter", "page_from", "line_from", "page_to", "line_to", "comment",
                  "suggested_change", "comment_type")

MAX_COMMENT = 20_000
MAX_NUMBER = 100_000

TYPE_LABELS = {CommentType.GENERAL: _l("General"), CommentType.SPECIFIC: _l("Specific"),
               CommentType.EDITORIAL: _l("Editorial")}


class CommentError(ValueError):
    """Invalid comment fields: ``errors`` maps a field name to its message."""

    def __init__(self, errors: dict[str, str]):
        super().__init__("; ".join(f"{k}: {v}" for k, v in errors.items()))
        self.errors = errors


class ClosedError(ValueError):
    """The consultation is closed (or not open yet), or the comment can no longer change."""


# --- dates ------------------------------------------------------------------------------------------
def opens_at(consultation: Consultation) -> dt.datetime:
    """The start of the opening day in the NFP's time zone, in UTC."""
    return dt.datetime.combine(consultation.opens_on, dt.time(), tzinfo=display_zone()).astimezone(dt.timezone.utc)


def closes_at(consultation: Consultation) -> dt.datetime:
    """The end of the closing day in the NFP's time zone, in UTC."""
    end = dt.datetime.combine(consultation.closes_on + dt.timedelta(days=1), dt.time(), tzinfo=display_zone())
    return end.astimezone(dt.timezone.utc)


def is_open(consultation: Consultation, now: dt.datetime | None = None) -> bool:
    now = now or utcnow()
    return opens_at(consultation) <= now < closes_at(consultation)


def state(consultation: Consultation, now: dt.datetime | None = None) -> str:
    """``upcoming``, ``open`` or ``closed``."""
    now = now or utcnow()
    if now < opens_at(consultation):
        return "upcoming"
    return "open" if now < closes_at(consultation) else "closed"


# --- validation ---------------------------------------------------------------------------------------
def _text(value) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return str(value).strip()


def _number(value, field: str, errors: dict[str, str]) -> int | None:
    text = _text(value)
    if not text:
        return None
    try:
        number = float(text.replace(",", ".")) if not text.isdigit() else int(text)
    except ValueError:
        errors[field] = str(_l("%(column)s must be a whole number, not “%(value)s”.",
                               column=FIELD_COLUMNS[field], value=text[:40]))
        return None
    if isinstance(number, float):
        if not number.is_integer():
            errors[field] = str(_l("%(column)s must be a whole number, not “%(value)s”.",
                                   column=FIELD_COLUMNS[field], value=text[:40]))
            return None
        number = int(number)
    if not 0 < number <= MAX_NUMBER:
        errors[field] = str(_l("%(column)s must be between 1 and %(max)d.", column=FIELD_COLUMNS[field],
                               max=MAX_NUMBER))
        return None
    return number


def parse_type(value) -> CommentType | None:
    """A comment type from its code, its English or translated label, or its first letter."""
    text = _text(value).lower()
    if not text:
        return CommentType.SPECIFIC
    for kind in CommentType:
        if text in (kind.value, kind.value[0], str(TYPE_LABELS[kind]).lower()):
            return kind
    return None


def find_document(consultation: Consultation, value) -> ConsultationDocument | None:
    """A document of ``consultation`` by its id, its title or its file name (case-insensitive)."""
    if isinstance(value, ConsultationDocument):
        return value if value.consultation_id == consultation.id else None
    text = _text(value)
    if not text:
        return None
    folded = text.casefold()
    for document in consultation.documents:
        if str(document.id) == text or document.title.casefold() == folded \
                or (document.filename and document.filename.casefold() == folded):
            return document
    return None


def clean_comment(consultation: Consultation, data: dict) -> dict:
    """The values of a comment from ``data`` (keys of COMMENT_FIELDS, raw text or numbers).

    Raises CommentError with every problem found. The document may be blank only when the
    consultation has at most one document (then it is that one).
    """
    errors: dict[str, str] = {}
    values: dict = {}
    document_value = _text(data.get("document"))
    document = find_document(consultation, data.get("document")) if document_value else None
    if document_value and document is None:
        names = ", ".join(d.title for d in consultation.documents) or "-"
        errors["document"] = str(_l("Unknown document “%(value)s” (this consultation has: %(names)s).",
                                    value=document_value[:80], names=names))
    elif not document_value:
        if len(consultation.documents) == 1:
            document = consultation.documents[0]
        elif len(consultation.documents) > 1:
            errors["document"] = str(_l("Say which document the comment is about."))
    values["document_id"] = document.id if document else None
    values["document_title"] = document.title if document else ""
    values["chapter"] = _text(data.get("chapter"))[:200]
    for field in ("page_from", "line_from", "page_to", "line_to"):
        values[field] = _number(data.get(field), field, errors)
    if values["page_to"] is not None and values["page_from"] is not None and values["page_to"] < values["page_from"]:
        errors["page_to"] = str(_l("To page comes before From page."))
    elif (values["page_to"] is not None and values["page_to"] == values["page_from"]
          and values["line_to"] is not None and values["line_from"] is not None
          and values["line_to"] < values["line_from"]):
        errors["line_to"] = str(_l("To line comes before From line on the same page."))
    if values["page_to"] is None and values["page_from"] is not None and "page_to" not in errors:
        values["page_to"] = values["page_from"]
    comment = _text(data.get("comment"))
    if not comment:
        errors["comment"] = str(_l("The comment is missing."))
    elif len(comment) > MAX_COMMENT:
        errors["comment"] = str(_l("The comment is longer than %(n)d characters.", n=MAX_COMMENT))
    values["comment"] = comment
    suggested = _text(data.get("suggested_change"))
    if len(suggested) > MAX_COMMENT:
        errors["suggested_change"] = str(_l("The suggested change is longer than %(n)d characters.", n=MAX_COMMENT))
    values["suggested_change"] = suggested
    kind = parse_type(data.get("comment_type"))
    if kind is None:
        errors["comment_type"] = str(_l("Type must be General, Specific or Editorial, not “%(value)s”.",
                                        value=_text(data.get("comment_type"))[:40]))
    values["comment_type"] = kind
    if errors:
        raise CommentError(errors)
    return values


# --- authorship -------------------------------------------------------------------------------------
def country_name() -> str:
    from focalpoint.reference.services import reference_data

    code = current_app.config.get("COUNTRY_CODE", "BE")
    return reference_data().get("countries", {}).get(code, {}).get("name", code)


def author_values(expert) -> dict:
    """The reviewer columns for a comment written by ``expert`` (kept on the comment as written)."""
    return {"expert_id": expert.id, "reviewer_name": expert.name[:200], "reviewer_email": expert.email or "",
            "affiliation": (expert.affiliation or "")[:300], "country": country_name()}


def active_participant(consultation: Consultation, expert) -> Participant | None:
    if expert is None:
        return None
    return db.session.scalar(sa.select(Participant).where(
        Participant.consultation_id == consultation.id, Participant.expert_id == expert.id,
        Participant.removed_at.is_(None)))


# --- the expert's own comments ------------------------------------------------------------------------
def check_open(consultation: Consultation, now: dt.datetime | None = None) -> None:
    if not is_open(consultation, now):
        raise ClosedError(str(_l("The consultation is closed: comments can no longer be added or changed."))
                          if state(consultation, now) == "closed"
                          else str(_l("The consultation is not open yet.")))


def add_comment(consultation: Consultation, data: dict, *, participant: Participant | None, actor,
                source: CommentSource = CommentSource.BROWSER, check_dates: bool = True,
                expert=None, via: str | None = None) -> ReviewComment:
    """A new comment by ``participant``'s expert (or by ``expert`` when staff import for someone).

    ``check_dates`` is False only for staff (who may record comments received by mail after the close).
    ``via`` ("link") is recorded in the audit entry when the expert acted through their personal link.
    """
    if check_dates:
        check_open(consultation)
    values = clean_comment(consultation, data)
    author = participant.expert if participant is not None else expert
    comment = ReviewComment(consultation_id=consultation.id,
                            participant_id=participant.id if participant is not None else None,
                            source=source, **values, **(author_values(author) if author is not None else {}))
    db.session.add(comment)
    db.session.flush()
    log_action(comment, "comment.add", actor=actor,
               data={"consultation": consultation.id, "source": source.value, **_via(via)})
    return comment


def may_change(comment: ReviewComment, participant: Participant | None, now: dt.datetime | None = None) -> bool:
    """The author may edit or delete their comment while the consultation is open and it is undecided."""
    return (participant is not None and comment.participant_id == participant.id
            and participant.removed_at is None and comment.decision is None
            and is_open(participant.consultation, now))


def _check_may_change(comment: ReviewComment, participant: Participant | None) -> None:
    if participant is None or comment.participant_id != participant.id:
        raise ClosedError(str(_l("This is not your comment.")))
    check_open(participant.consultation)
    if comment.decision is not None:
        raise ClosedError(str(_l("The focal point has already decided on this comment: it can no longer change.")))


def _via(via: str | None) -> dict:
    return {"via": via} if via else {}


def update_comment(comment: ReviewComment, data: dict, *, participant: Participant | None, actor,
                   via: str | None = None) -> list[str]:
    """Change the author's own comment; returns the names of the fields that changed."""
    _check_may_change(comment, participant)
    values = clean_comment(participant.consultation, data)
    changed = [k for k, v in values.items() if getattr(comment, k) != v]
    for key in changed:
        setattr(comment, key, values[key])
    if changed:
        log_action(comment, "comment.edit", actor=actor, data={"fields": changed, **_via(via)})
    return changed


def delete_comment(comment: ReviewComment, *, participant: Participant | None, actor,
                   via: str | None = None) -> None:
    _check_may_change(comment, participant)
    # Comments staff merged into this one lose their decision with it (undecided again).
    for other in db.session.scalars(sa.select(ReviewComment).where(ReviewComment.merged_into_id == comment.id)):
        other.decision, other.merged_into_id, other.decided_at, other.decided_by_id = None, None, None, None
    log_action(comment, "comment.delete", actor=actor,
               data={"consultation": comment.consultation_id, "comment": comment.comment[:200], **_via(via)})
    db.session.delete(comment)


def order_key():
    """SQL ordering of comments as in the template: document, page, line, then arrival."""
    return (sa.func.coalesce(ConsultationDocument.position, 10_000), ReviewComment.document_title,
            sa.func.coalesce(ReviewComment.page_from, 0), sa.func.coalesce(ReviewComment.line_from, 0),
            ReviewComment.id)


def comments_in_order(consultation: Consultation, *, participant: Participant | None = None) -> list[ReviewComment]:
    stmt = (sa.select(ReviewComment).outerjoin(ConsultationDocument, ReviewComment.document_id == ConsultationDocument.id)
            .where(ReviewComment.consultation_id == consultation.id).order_by(*order_key()))
    if participant is not None:
        stmt = stmt.where(ReviewComment.participant_id == participant.id)
    return list(db.session.scalars(stmt))
