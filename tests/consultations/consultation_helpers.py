"""Small factories for the consultation tests (call them inside an app context; they flush, never commit).

    consultation = make_consultation()                       # open today, documents "SPM" and "Chapter 1"
    expert = make_expert("Ann", "Peeters")                   # ann.peeters@example.org
    participant = make_participant(consultation, expert)     # invited (sent_at set), no secret
    comment = make_comment(consultation, participant, comment="Too long", page_from=3)

Keep these signatures stable: every consultation test file imports them.
"""
from __future__ import annotations

import datetime as dt

import sqlalchemy as sa

#: "Today" in UTC; the default consultation opens 10 days before and closes 10 days after.
TODAY = dt.datetime.now(dt.timezone.utc).date()


def utc(*args) -> dt.datetime:
    return dt.datetime(*args, tzinfo=dt.timezone.utc)


def deliverable_id(code: str) -> int | None:
    from focalpoint.extensions import db
    from focalpoint.reference.models import Deliverable

    return db.session.scalar(sa.select(Deliverable.id).where(Deliverable.code == code))


def make_consultation(title: str = "Nexus assessment, second order draft", *, documents=("SPM", "Chapter 1"),
                      draft: str = "sod", deliverable: str | None = "nexus", opens_on: dt.date | None = None,
                      closes_on: dt.date | None = None, **fields):
    """A Consultation with documents titled ``documents`` (links, positions 0, 1, …), open by default."""
    from focalpoint.consultations.models import Consultation, ConsultationDocument, DraftKind
    from focalpoint.extensions import db

    consultation = Consultation(title=title, draft=DraftKind(draft),
                                deliverable_id=deliverable_id(deliverable) if deliverable else None,
                                opens_on=opens_on or TODAY - dt.timedelta(days=10),
                                closes_on=closes_on or TODAY + dt.timedelta(days=10), **fields)
    for position, name in enumerate(documents):
        consultation.documents.append(ConsultationDocument(
            title=name, position=position, url=f"https://files.example.org/{position}.pdf"))
    db.session.add(consultation)
    db.session.flush()
    return consultation


def make_expert(first_name: str = "Ann", last_name: str = "Peeters", *, email: str | None = None,
                affiliation: str = "University of Ghent", **fields):
    """An active Expert (consents given); e-mail first.last@example.org unless given."""
    from focalpoint.experts.models import Expert
    from focalpoint.extensions import db

    expert = Expert(first_name=first_name, last_name=last_name, affiliation=affiliation,
                    email=email or f"{first_name}.{last_name}@example.org".lower(),
                    consent_contact_at=utc(2025, 1, 1), consent_processing_at=utc(2025, 1, 1), **fields)
    db.session.add(expert)
    db.session.flush()
    return expert


def make_participant(consultation, expert, *, sent: bool = True, removed: bool = False, **fields):
    """``expert`` invited to ``consultation`` (invitation marked sent unless ``sent=False``)."""
    from focalpoint.consultations.models import Participant
    from focalpoint.extensions import db

    now = dt.datetime.now(dt.timezone.utc)
    participant = Participant(consultation_id=consultation.id, expert_id=expert.id,
                              sent_at=now if sent else None, removed_at=now if removed else None, **fields)
    db.session.add(participant)
    db.session.flush()
    return participant


def make_comment(consultation, author=None, *, document: str | None = "SPM", comment: str = "A comment.",
                 source: str = "browser", **fields):
    """A ReviewComment stored as given (no validation): ``author`` is a Participant, an Expert or None;
    ``document`` a document title of the consultation (or None); other fields as on ReviewComment
    (page_from, line_from, decision, merged_into_id, edited_comment …)."""
    from focalpoint.consultations.comments import author_values
    from focalpoint.consultations.models import (CommentSource, CommentType, Decision, Participant,
                                                 ReviewComment)
    from focalpoint.extensions import db

    participant = author if isinstance(author, Participant) else None
    expert = participant.expert if participant is not None else author
    doc = next((d for d in consultation.documents if d.title == document), None) if document else None
    if isinstance(fields.get("decision"), str):
        fields["decision"] = Decision(fields["decision"])
    fields.setdefault("comment_type", CommentType.SPECIFIC)
    if isinstance(fields["comment_type"], str):
        fields["comment_type"] = CommentType(fields["comment_type"])
    if fields.get("page_from") is not None:
        fields.setdefault("page_to", fields["page_from"])
    row = ReviewComment(consultation_id=consultation.id, participant_id=participant.id if participant else None,
                        document_id=doc.id if doc else None, document_title=doc.title if doc else (document or ""),
                        comment=comment, source=CommentSource(source),
                        **{**(author_values(expert) if expert is not None else {}), **fields})
    db.session.add(row)
    db.session.flush()
    return row
