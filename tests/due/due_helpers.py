"""Rows of every workflow with dates around today, for the "everything due" tests.

Built from the models directly (the workflows' own services are tested elsewhere), ``copies`` times
over with the same shape, so a test can compare 5 and 50 copies.
"""
from __future__ import annotations

import datetime as dt
import hashlib
from zoneinfo import ZoneInfo

import sqlalchemy as sa

from conftest import PASSWORD, login

ZONE = ZoneInfo("Europe/Brussels")
TODAY = dt.datetime.now(ZONE).date()
STAFF, OTHER, EXPERT, REVIEWER, WALLOON = ("stella@example.org", "bob@example.org", "erin@example.org",
                                           "rita@example.org", "wim@example.org")


def day(n: int) -> dt.date:
    return TODAY + dt.timedelta(days=n)


def users(app, make_user) -> dict[str, int]:
    """Two staff members, an expert linked to a registry record, reviewers of two administrations."""
    from focalpoint.experts.models import Expert
    from focalpoint.extensions import db

    ids = {"staff": make_user(STAFF, "staff", name="Stella Staff"), "other": make_user(OTHER, "staff", name="Bob Other"),
           "expert": make_user(EXPERT, "expert", name="Erin Expert"),
           "reviewer": make_user(REVIEWER, "reviewer", administration="BE-VL", name="Rita Reviewer"),
           "walloon": make_user(WALLOON, "reviewer", administration="BE-WAL", name="Wim Walloon")}
    with app.app_context():
        expert = Expert(first_name="Erin", last_name="Expert", email=EXPERT, user_id=ids["expert"])
        db.session.add(expert)
        db.session.commit()
        ids["expert_record"] = expert.id
    return ids


def client_for(app, email: str):
    client = app.test_client()
    assert login(client, email, PASSWORD).status_code == 302
    return client


def build(app, ids: dict, copies: int = 1) -> list[dict]:
    """``copies`` sets of rows; returns the ids of each set (the first set's are used for exact checks).

    Per set: notifications (assigned with a deadline and a national deadline, a reminder repeating the
    deadline, unassigned and overdue, done, a relayed copy, a removed deadline, one whose call lists its
    date), a nomination call (and a locked one), a pending and an accepted invitation, a consultation
    (and a closed one), a review request (and an answered one, and one of a session that is over),
    a plenary session ahead (and one over), an event (and a cancelled one and one over).
    """
    from focalpoint.auth.models import Administration
    from focalpoint.consultations.models import Consultation, Participant
    from focalpoint.events.models import Event, Registration, RegistrationStatus
    from focalpoint.experts.models import Expert
    from focalpoint.extensions import db
    from focalpoint.invitations.models import Invitation, InvitationState
    from focalpoint.nominations.models import NominationCall
    from focalpoint.notifications.models import Deadline, Notification, NotificationStatus, Origin
    from focalpoint.notifications.services import due_moment
    from focalpoint.positions.models import AgendaItem, Clearance, NoteVersion, PositionNote, ReviewRequest
    from focalpoint.reference.models import PlenarySession

    out = []
    with app.app_context():
        admins = {a.code: a.id for a in db.session.scalars(sa.select(Administration))}
        me, other = ids["staff"], ids["other"]
        for k in range(copies):
            row: dict = {}

            def notification(title, *, status=NotificationStatus.NEW, assignee=None, national=None, original=None,
                             reference=None, duplicate_of=None):
                n = Notification(origin=Origin.MANUAL, guid=f"manual:{k}:{title}", title=title, reference=reference,
                                 status=status, assignee_id=assignee, national_deadline=national,
                                 original_id=original, duplicate_of_id=duplicate_of)
                db.session.add(n)
                db.session.flush()
                return n

            def deadline(n, when, label, time=None, removed=False):
                d = Deadline(notification_id=n.id, date=when, time=time, tz="Europe/Berlin",
                             due_at=due_moment(when, time, "Europe/Berlin"), label=label, is_removed=removed)
                db.session.add(d)
                db.session.flush()
                return d

            mine = notification(f"EM/2031/{k:03d}: Call for inputs {k}", assignee=me, national=day(3),
                                reference=f"EM/2031/{k:03d}")
            row["mine"] = mine.id
            row["mine_deadline"] = deadline(mine, day(10), "inputs", time=dt.time(12, 0)).id
            reminder = notification(f"REMINDER: call for inputs {k}", assignee=me, original=mine.id)
            deadline(reminder, day(10), "inputs", time=dt.time(12, 0))  # the same obligation: no row
            row["reminder"], row["reminder_new_date"] = reminder.id, deadline(reminder, day(12), "extension").id
            late = notification(f"Review of chapter {k}", status=NotificationStatus.IN_PROGRESS, national=day(-5),
                                reference=f"EM/2030/{k:03d}")
            row["late"] = late.id
            row["late_deadline"] = deadline(late, day(-2), "comments").id
            deadline(late, day(20), "dismissed", removed=True)
            done = notification(f"Done {k}", status=NotificationStatus.DONE, national=day(1))
            deadline(done, day(2), "comments")
            copy = notification(f"Relayed copy {k}", duplicate_of=mine.id, national=day(3))
            deadline(copy, day(10), "inputs")

            expert = Expert(first_name=f"Ann{k}", last_name="Accepted", email=f"ann{k}@example.org")
            db.session.add(expert)
            call_notice = notification(f"Call for experts {k}", assignee=other, national=day(5))
            deadline(call_notice, day(20), "application")  # listed by the call instead
            deadline(call_notice, day(25), "other")  # not a date of the call: stays
            row["call_notice"] = call_notice.id
            call = NominationCall(title=f"Nexus assessment experts {k}", notification_id=call_notice.id,
                                  application_deadline=day(20), nomination_deadline=day(30), national_deadline=day(5),
                                  reminder_days="7;2", created_by_id=me)
            locked = NominationCall(title=f"Locked call {k}", national_deadline=day(4),
                                    locked_at=dt.datetime.now(dt.timezone.utc))
            db.session.add_all([call, locked])
            db.session.flush()
            row["call"] = call.id
            expires = dt.datetime.combine(day(6), dt.time(), tzinfo=ZONE)
            erin = ids["expert_record"]
            pending = Invitation(call_id=call.id, expert_id=erin, token_hash=hashlib.sha256(f"p{k}".encode()).hexdigest(),
                                 expires_at=expires, state=InvitationState.PENDING)
            accepted = Invitation(call_id=call.id, expert=expert, token_hash=hashlib.sha256(f"a{k}".encode()).hexdigest(),
                                  expires_at=expires, state=InvitationState.ACCEPTED,
                                  responded_at=dt.datetime.now(dt.timezone.utc))
            in_locked = Invitation(call_id=locked.id, expert_id=erin,
                                   token_hash=hashlib.sha256(f"l{k}".encode()).hexdigest(), expires_at=expires)
            db.session.add_all([pending, accepted, in_locked])
            db.session.flush()
            row["invitation"] = pending.id

            consultation = Consultation(title=f"Second order draft {k}", opens_on=day(-1), closes_on=day(14),
                                        secretariat_deadline=day(40), created_by_id=other)
            closed = Consultation(title=f"Closed consultation {k}", opens_on=day(-30), closes_on=day(-1))
            db.session.add_all([consultation, closed])
            db.session.flush()
            db.session.add_all([Participant(consultation_id=consultation.id, expert_id=erin),
                                Participant(consultation_id=consultation.id, expert_id=expert.id,
                                            removed_at=dt.datetime.now(dt.timezone.utc)),
                                Participant(consultation_id=closed.id, expert_id=erin)])
            row["consultation"] = consultation.id

            session = PlenarySession(code=f"IPBES-{30 + 2 * k}", place="Kunming, China", start_date=day(60),
                                     end_date=day(65))
            over = PlenarySession(code=f"IPBES-{31 + 2 * k}", place="Bonn", start_date=day(-30), end_date=day(-25))
            db.session.add_all([session, over])
            db.session.flush()
            row["session"] = session.id
            item = AgendaItem(session_id=session.id, number="7 (b)", title=f"Business {k}")
            old_item = AgendaItem(session_id=over.id, number="3", title="Old")
            db.session.add_all([item, old_item])
            db.session.flush()
            note = PositionNote(agenda_item_id=item.id, status="in_review", current_version=1, created_by_id=other)
            old_note = PositionNote(agenda_item_id=old_item.id, status="in_review", current_version=1)
            db.session.add_all([note, old_note])
            db.session.flush()
            row["note"] = note.id
            db.session.add_all([NoteVersion(note_id=note.id, number=1), NoteVersion(note_id=old_note.id, number=1)])
            vl = ReviewRequest(note_id=note.id, administration_id=admins["BE-VL"], due_date=day(-1), requested_by_id=me)
            wal = ReviewRequest(note_id=note.id, administration_id=admins["BE-WAL"], due_date=day(7))
            done_request = ReviewRequest(note_id=note.id, administration_id=admins["BE-FED-ENV"], due_date=day(2))
            old = ReviewRequest(note_id=old_note.id, administration_id=admins["BE-VL"], due_date=day(-28))
            db.session.add_all([vl, wal, done_request, old])
            db.session.flush()
            db.session.add(Clearance(request_id=done_request.id, note_version=1, decision="cleared"))
            row["review_vl"], row["review_wal"] = vl.id, wal.id

            starts = dt.datetime.combine(day(9), dt.time(10), tzinfo=dt.timezone.utc)
            event = Event(title=f"Information session {k}", starts_at=starts, ends_at=starts + dt.timedelta(hours=2),
                          uid=f"event-{k}@test", created_by_id=other)
            cancelled = Event(title=f"Cancelled session {k}", starts_at=starts, ends_at=starts + dt.timedelta(hours=1),
                              uid=f"cancelled-{k}@test", cancelled_at=dt.datetime.now(dt.timezone.utc))
            past = Event(title=f"Past session {k}", starts_at=starts - dt.timedelta(days=20),
                         ends_at=starts - dt.timedelta(days=20, hours=-1), uid=f"past-{k}@test")
            db.session.add_all([event, cancelled, past])
            db.session.flush()
            row["event"] = event.id
            db.session.add_all([
                Registration(event_id=event.id, expert_id=erin, name="Erin Expert", email=f"erin{k}@example.org"),
                Registration(event_id=event.id, name="Someone", email=f"someone{k}@example.org",
                             status=RegistrationStatus.WAITLISTED),
                Registration(event_id=cancelled.id, expert_id=erin, name="Erin Expert", email=f"erin{k}@example.org")])
            out.append(row)
        db.session.commit()
    return out


def get_user(app, user_id: int):
    from focalpoint.auth.models import User
    from focalpoint.extensions import db

    return db.session.get(User, user_id)
