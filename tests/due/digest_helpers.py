"""Rows for the digest tests: people with a digest choice, and one item of each kind a digest reports.

The clock is fixed: Monday 23 November 2026, 08:00 in Brussels (ISO week 2026-W48), one hour after the
digests' default sending time (DIGEST_HOUR = 7).
"""
from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import sqlalchemy as sa

BRUSSELS = ZoneInfo("Europe/Brussels")
NOW = dt.datetime(2026, 11, 23, 8, 0, tzinfo=BRUSSELS).astimezone(dt.timezone.utc)
TODAY = dt.date(2026, 11, 23)
BASE_URL = "http://focalpoint.test"  # TestConfig.BASE_URL

NOTIFICATION_TITLE = "EM/2026/31: Call for nominations for the spatial planning assessment"
OVERDUE_TITLE = "EM/2026/20: Call for offers of in-kind support"
CONSULTATION_TITLE = "Nexus assessment, second order draft"
CALL_TITLE = "Nominations for the business and biodiversity assessment"


def local(*args) -> dt.datetime:
    """A moment given in Brussels time, as UTC."""
    return dt.datetime(*args, tzinfo=BRUSSELS).astimezone(dt.timezone.utc)


def make_person(app, email: str, frequency: str = "daily", *roles: str, enabled: bool = True,
                locale: str | None = None, timezone: str | None = None, name: str = "",
                administration: str | None = None) -> int:
    """A user (staff unless ``roles``) who chose ``frequency``; returns the id."""
    from focalpoint.auth.services import create_user, find_administration
    from focalpoint.extensions import db

    with app.app_context():
        admin = find_administration(administration) if administration else None
        user = create_user(email, roles=roles or ("staff",), password=None,
                           name=name or email.split("@")[0].title(), administration=admin)
        user.digest_frequency = frequency
        user.is_enabled = enabled
        user.locale = locale
        user.timezone = timezone
        db.session.commit()
        return user.id


def _stamp(model, row_id: int, column: str, when: dt.datetime) -> None:
    from focalpoint.extensions import db

    db.session.execute(sa.update(model).where(model.id == row_id).values({column: when})
                       .execution_options(synchronize_session=False))


def make_world(app, *, created: dt.datetime = NOW - dt.timedelta(hours=2)) -> dict:
    """One of each: an overdue notification (national deadline passed), a new notification, an open consultation
    closing in 3 days with 3 new comments, an objection to a position note, an accepted invitation; every
    "new" row stamped ``created``. Returns their ids."""
    from focalpoint.auth.models import Administration
    from focalpoint.consultations.models import Consultation, Participant, ReviewComment
    from focalpoint.experts.models import Expert
    from focalpoint.extensions import db
    from focalpoint.invitations.models import Invitation, InvitationState
    from focalpoint.nominations.models import NominationCall
    from focalpoint.notifications.models import Notification, NotificationStatus, Origin
    from focalpoint.positions.models import (AgendaItem, Clearance, ClearanceDecision, NoteStatus, PositionNote,
                                             ReviewRequest)
    from focalpoint.reference.models import PlenarySession

    with app.app_context():
        old = Notification(origin=Origin.MANUAL, guid="manual:overdue", title=OVERDUE_TITLE,
                           reference="EM/2026/20", status=NotificationStatus.IN_PROGRESS,
                           national_deadline=TODAY - dt.timedelta(days=2), is_national_deadline_manual=True,
                           related_references=[])
        fresh = Notification(origin=Origin.MANUAL, guid="manual:new", title=NOTIFICATION_TITLE,
                             reference="EM/2026/31", status=NotificationStatus.NEW, related_references=[])
        db.session.add_all([old, fresh])
        consultation = Consultation(title=CONSULTATION_TITLE, opens_on=TODAY - dt.timedelta(days=10),
                                    closes_on=TODAY + dt.timedelta(days=3))
        expert = Expert(first_name="Ann", last_name="Peeters", email="ann.peeters@example.org")
        db.session.add_all([consultation, expert])
        db.session.flush()
        participant = Participant(consultation_id=consultation.id, expert_id=expert.id, sent_at=created)
        db.session.add(participant)
        db.session.flush()
        comments = [ReviewComment(consultation_id=consultation.id, participant_id=participant.id,
                                  expert_id=expert.id, reviewer_name="Ann Peeters", comment=f"Comment {i}")
                    for i in range(3)]
        db.session.add_all(comments)
        session = PlenarySession(code="IPBES-13", place="Windhoek", start_date=TODAY + dt.timedelta(days=60),
                                 end_date=TODAY + dt.timedelta(days=66))
        db.session.add(session)
        db.session.flush()
        item = AgendaItem(session_id=session.id, number="7 (b)", title="Nexus assessment", position=0)
        db.session.add(item)
        db.session.flush()
        note = PositionNote(agenda_item_id=item.id, title="Nexus assessment", status=NoteStatus.IN_REVIEW,
                            current_version=2)
        db.session.add(note)
        db.session.flush()
        administration = db.session.scalar(sa.select(Administration).where(Administration.code == "BE-VL"))
        request = ReviewRequest(note_id=note.id, administration_id=administration.id,
                                due_date=TODAY + dt.timedelta(days=20))
        db.session.add(request)
        db.session.flush()
        clearance = Clearance(request_id=request.id, note_version=2, decision=ClearanceDecision.OBJECTED,
                              reason="The budget paragraph goes too far.")
        db.session.add(clearance)
        call = NominationCall(title=CALL_TITLE, national_deadline=TODAY + dt.timedelta(days=40))
        db.session.add(call)
        db.session.flush()
        invitation = Invitation(call_id=call.id, expert_id=expert.id, state=InvitationState.ACCEPTED,
                                token_hash="a" * 64, expires_at=NOW + dt.timedelta(days=40), sent_at=created,
                                responded_at=created)
        db.session.add(invitation)
        db.session.flush()
        for model, row_id in [(Notification, old.id), (Consultation, consultation.id)]:
            _stamp(model, row_id, "created_at", created - dt.timedelta(days=30))
        _stamp(Notification, fresh.id, "created_at", created)
        for comment in comments:
            _stamp(ReviewComment, comment.id, "created_at", created)
        _stamp(Clearance, clearance.id, "created_at", created)
        _stamp(Invitation, invitation.id, "responded_at", created)
        db.session.commit()
        return {"overdue": old.id, "notification": fresh.id, "consultation": consultation.id, "note": note.id,
                "invitation": invitation.id, "expert": expert.id, "call": call.id}


def outbox(app) -> list[tuple[str, str]]:
    """(idem_key, to) of every queued digest, in key order."""
    from focalpoint.extensions import db
    from focalpoint.mail import OutboxMessage

    with app.app_context():
        return sorted((key, to) for key, to in db.session.execute(
            sa.select(OutboxMessage.idem_key, OutboxMessage.to_addr).where(OutboxMessage.category == "digest")))


def run(app, now: dt.datetime = NOW, **kw):
    from focalpoint.due.digests import send_digests
    from focalpoint.extensions import db

    with app.app_context():
        try:
            return send_digests(now, **kw)
        finally:
            db.session.remove()
