"""Rows that the route walks (tests/core/test_access.py, tests/core/test_security.py) fill URL parameters with.

Each ``ensure_*`` function makes its rows when missing (a walked POST may have deleted or changed them) and
returns the values for the URL parameters. The review link of the walk's participant and the personal link of
the walk's event registration share one secret, so ``<secret>`` opens both kinds of page.
"""
from __future__ import annotations

import datetime as dt
import hashlib

import sqlalchemy as sa

WALK_SECRET = "walk-secret-0123456789abcdefghij"


def _hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def ensure_consultation(expert_email: str, expert_user_id: int | None) -> dict:
    """A consultation open until 2031 with a link document, the walking expert invited (link = WALK_SECRET),
    one comment of theirs, and an event with their registration (link = WALK_SECRET)."""
    from focalpoint.consultations.models import (Consultation, ConsultationDocument, DraftKind, Participant,
                                                 ReviewComment)
    from focalpoint.events.models import Event, Registration, RegistrationStatus
    from focalpoint.experts.models import Expert
    from focalpoint.extensions import db

    expert = db.session.scalar(sa.select(Expert).where(Expert.email == expert_email))
    if expert is None:
        expert = Expert(first_name="Ex", last_name="Pert", email=expert_email, user_id=expert_user_id)
        db.session.add(expert)
        db.session.flush()
    consultation = db.session.scalar(sa.select(Consultation).where(Consultation.title == "Walk consultation"))
    if consultation is None:
        consultation = Consultation(title="Walk consultation", draft=DraftKind.SOD, opens_on=dt.date(2025, 1, 1),
                                    closes_on=dt.date(2031, 6, 30))
        consultation.documents = [ConsultationDocument(title="SPM", position=1, url="https://example.org/spm.pdf")]
        db.session.add(consultation)
        db.session.flush()
    if not consultation.documents:
        consultation.documents.append(ConsultationDocument(title="SPM", position=1, url="https://example.org/spm.pdf"))
        db.session.flush()
    participant = db.session.scalar(sa.select(Participant).where(Participant.consultation_id == consultation.id,
                                                                 Participant.expert_id == expert.id))
    if participant is None:
        participant = Participant(consultation_id=consultation.id, expert_id=expert.id)
        db.session.add(participant)
    participant.token_hash, participant.removed_at = _hash(WALK_SECRET), None
    db.session.flush()
    comment = db.session.scalar(sa.select(ReviewComment).where(ReviewComment.participant_id == participant.id))
    if comment is None:
        comment = ReviewComment(consultation_id=consultation.id, participant_id=participant.id, expert_id=expert.id,
                                reviewer_name=expert.name, reviewer_email=expert.email or "",
                                document_id=consultation.documents[0].id, document_title="SPM", page_from=1,
                                page_to=1, comment="Walk comment")
        db.session.add(comment)
    event = db.session.scalar(sa.select(Event).where(Event.uid == "walk-event@focalpoint"))
    if event is None:
        event = Event(title="Walk event", consultation_id=consultation.id, uid="walk-event@focalpoint",
                      starts_at=dt.datetime(2031, 3, 1, 13, tzinfo=dt.timezone.utc),
                      ends_at=dt.datetime(2031, 3, 1, 15, tzinfo=dt.timezone.utc), capacity=50)
        db.session.add(event)
        db.session.flush()
    event.cancelled_at = None  # a walked POST .../cancel cancels it
    registration = db.session.scalar(sa.select(Registration).where(Registration.event_id == event.id,
                                                                    Registration.email == "walker@walk.example"))
    if registration is None:
        registration = Registration(event_id=event.id, name="Walker", email="walker@walk.example")
        db.session.add(registration)
    registration.token_hash, registration.cancelled_at = _hash(WALK_SECRET), None
    registration.status = RegistrationStatus.REGISTERED
    db.session.commit()
    return {"consultation_id": consultation.id, "document_id": consultation.documents[0].id,
            "participant_id": participant.id, "comment_id": comment.id, "secret": WALK_SECRET,
            "event_id": event.id, "registration_id": registration.id}


def ensure_plenary(administration_code: str) -> dict:
    """IPBES-12 (reference data) with an agenda item, a document, a position note asked of the given
    administration, a comment and a clearance."""
    from focalpoint.auth.models import Administration
    from focalpoint.extensions import db
    from focalpoint.positions.models import (AgendaItem, Clearance, ClearanceDecision, NoteComment, NoteStatus,
                                             NoteVersion, PositionNote, ReviewRequest, SessionDocument)
    from focalpoint.reference.models import PlenarySession

    session = db.session.scalar(sa.select(PlenarySession).where(PlenarySession.code == "IPBES-12"))
    if session is None:
        session = PlenarySession(code="IPBES-12", place="Walk", start_date=dt.date(2031, 2, 3),
                                 end_date=dt.date(2031, 2, 8))
        db.session.add(session)
        db.session.flush()
    item = db.session.scalar(sa.select(AgendaItem).where(AgendaItem.session_id == session.id,
                                                         AgendaItem.number == "7 (b)"))
    if item is None:
        item = AgendaItem(session_id=session.id, number="7 (b)", title="Walk item", position=7)
        db.session.add(item)
        db.session.flush()
    document = db.session.scalar(sa.select(SessionDocument).where(SessionDocument.session_id == session.id,
                                                                  SessionDocument.symbol == "IPBES/12/3"))
    if document is None:
        document = SessionDocument(session_id=session.id, symbol="IPBES/12/3", title="Walk document",
                                   url="https://example.org/ipbes-12-3.pdf", agenda_item_id=item.id)
        db.session.add(document)
    note = db.session.scalar(sa.select(PositionNote).where(PositionNote.agenda_item_id == item.id))
    if note is None:
        note = PositionNote(agenda_item_id=item.id, title="Walk note", status=NoteStatus.IN_REVIEW,
                            background="Walk background", national_position="Walk position", current_version=1)
        db.session.add(note)
        db.session.flush()
        db.session.add(NoteVersion(note_id=note.id, number=1, background=note.background,
                                   national_position=note.national_position))
    administration = db.session.scalar(sa.select(Administration).where(Administration.code == administration_code))
    request = db.session.scalar(sa.select(ReviewRequest).where(ReviewRequest.note_id == note.id,
                                                               ReviewRequest.administration_id == administration.id))
    if request is None:
        request = ReviewRequest(note_id=note.id, administration_id=administration.id, due_date=dt.date(2031, 1, 20))
        db.session.add(request)
        db.session.flush()
        db.session.add(Clearance(request_id=request.id, note_version=1, decision=ClearanceDecision.OBJECTED,
                                 reason="Walk objection"))
    request.withdrawn_at = None
    comment = db.session.scalar(sa.select(NoteComment).where(NoteComment.note_id == note.id))
    if comment is None:
        comment = NoteComment(note_id=note.id, note_version=1, section="national_position", paragraph=1,
                              quote="Walk position", body="Walk remark", administration_id=administration.id)
        db.session.add(comment)
    db.session.commit()
    return {"session_id": session.id, "item_id": item.id, "plenary_document_id": document.id, "note_id": note.id,
            "request_id": request.id, "note_comment_id": comment.id, "version": 1}
