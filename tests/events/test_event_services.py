"""Event services: validation, time zones, capacity and the waiting list, e-mails with calendar files,
cancellation, attendance, and the last seat taken by two people at once."""
from __future__ import annotations

import datetime as dt
import sys
import threading
import time
from pathlib import Path

import pytest
import sqlalchemy as sa

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "consultations"))
from event_helpers import make_event, make_expert, outbox, over, parse_ics, register, under_way, utc, utcnow


def _values(**changes) -> dict:
    start = utcnow().replace(microsecond=0) + dt.timedelta(days=5)
    values = {"kind": "information_session", "title": "Nexus: information session", "starts_at": start,
              "ends_at": start + dt.timedelta(hours=2), "place": "Brussels", "online_url": "", "capacity": None}
    values.update(changes)
    return values


def _statuses(event) -> list[tuple[str, str]]:
    from focalpoint.events.models import Registration
    from focalpoint.extensions import db

    rows = db.session.scalars(sa.select(Registration).where(Registration.event_id == event.id)
                              .order_by(Registration.id)).unique().all()
    return [(r.email, r.status.value) for r in rows]


def _attachment(message) -> tuple[str, str]:
    [attachment] = message.attachments
    return attachment["content_type"], attachment["text"]


# --- creating and changing events ---------------------------------------------------------------------
@pytest.mark.parametrize(("changes", "field", "message"), [
    ({"title": "   "}, "title", "The title is required."),
    ({"title": "x" * 301}, "title", "The title is too long (at most 300 characters)."),
    ({"kind": "party"}, "kind", "Choose the kind of event."),
    ({"place": "", "online_url": ""}, "place", "Give a place, an online link, or both."),
    ({"online_url": "javascript:alert(1)"}, "online_url",
     "The online link must be a web address starting with https:// or http://."),
    ({"online_url": "ftp://files.example.org/x"}, "online_url",
     "The online link must be a web address starting with https:// or http://."),
    ({"online_url": "https://"}, "online_url",
     "The online link must be a web address starting with https:// or http://."),
    ({"online_url": "https://meet.example.org/a b"}, "online_url",
     "The online link must be a web address starting with https:// or http://."),
    ({"starts_at": None}, "starts_at", "Give the start."),
    ({"ends_at": None}, "ends_at", "Give the end."),
    ({"capacity": 0}, "capacity", "The capacity is between 1 and 100000 seats (leave it empty for no limit)."),
    ({"capacity": "many"}, "capacity", "The capacity is a number of seats."),
    ({"consultation_id": 999999}, "consultation_id", "Unknown consultation."),
    ({"deliverable_id": 999999}, "deliverable_id", "Unknown deliverable."),
])
def test_create_event_refuses_bad_values_with_the_field_at_fault(app, changes, field, message):
    from focalpoint.events.models import Event
    from focalpoint.events.services import EventError, create_event
    from focalpoint.extensions import db

    with app.app_context():
        with pytest.raises(EventError) as caught:
            create_event(actor=None, **_values(**changes))
        assert (caught.value.field, str(caught.value)) == (field, message)
        db.session.rollback()
        assert db.session.scalar(sa.select(sa.func.count()).select_from(Event)) == 0


def test_the_end_may_not_come_before_the_start_nor_registration_close_after_the_end(app):
    from focalpoint.events.services import EventError, create_event

    start = utc(2031, 3, 10, 13)
    with app.app_context():
        with pytest.raises(EventError, match="^The event ends before it starts.$"):
            create_event(actor=None, **_values(starts_at=start, ends_at=start - dt.timedelta(minutes=1)))
        with pytest.raises(EventError, match="^Registration closes after the end of the event.$"):
            create_event(actor=None, **_values(starts_at=start, ends_at=start + dt.timedelta(hours=1),
                                               registration_closes_at=start + dt.timedelta(hours=2)))
        event = create_event(actor=None, **_values(starts_at=start, ends_at=start))  # a zero-length event is fine
        assert (event.starts_at, event.ends_at) == (start, start)


def test_times_typed_in_brussels_are_stored_in_utc_and_shown_back(app):
    """14:00 in Brussels is 13:00 UTC in winter and 12:00 UTC in summer; the form gets 14:00 back."""
    from focalpoint.events.services import create_event, to_local
    from focalpoint.extensions import db

    with app.app_context():
        winter = create_event(actor=None, **_values(starts_at=dt.datetime(2031, 1, 14, 14, 0),
                                                    ends_at=dt.datetime(2031, 1, 14, 16, 30),
                                                    registration_closes_at=dt.datetime(2031, 1, 13, 23, 59)))
        summer = create_event(actor=None, **_values(starts_at=dt.datetime(2031, 7, 14, 14, 0),
                                                    ends_at=dt.datetime(2031, 7, 14, 16, 30)))
        elsewhere = create_event(actor=None, zone="America/New_York",
                                 **_values(starts_at=dt.datetime(2031, 1, 14, 9, 0),
                                           ends_at=dt.datetime(2031, 1, 14, 10, 0)))
        db.session.commit()
        db.session.expire_all()
        assert (winter.starts_at, winter.ends_at, winter.registration_closes_at) == (
            utc(2031, 1, 14, 13), utc(2031, 1, 14, 15, 30), utc(2031, 1, 13, 22, 59))
        assert (summer.starts_at, summer.ends_at) == (utc(2031, 7, 14, 12), utc(2031, 7, 14, 14, 30))
        assert elsewhere.starts_at == utc(2031, 1, 14, 14)
        assert to_local(winter.starts_at) == dt.datetime(2031, 1, 14, 14, 0)
        assert to_local(summer.starts_at) == dt.datetime(2031, 7, 14, 14, 0)
        assert to_local(elsewhere.starts_at, "America/New_York") == dt.datetime(2031, 1, 14, 9, 0)


def test_a_time_skipped_by_the_clock_change_is_refused(app):
    from focalpoint.events.services import EventError, create_event

    with app.app_context():
        with pytest.raises(EventError) as caught:  # 30 March 2031, 02:00 → 03:00 in Brussels
            create_event(actor=None, **_values(starts_at=dt.datetime(2031, 3, 30, 2, 30),
                                               ends_at=dt.datetime(2031, 3, 30, 5, 0)))
        assert str(caught.value) == "2031-03-30 02:30 does not exist in Europe/Brussels: the clocks change at that hour."
        assert caught.value.field == "starts_at"


def test_a_new_event_gets_a_unique_uid_at_the_site_host_and_is_audited(app):
    from focalpoint.audit import entries_for
    from focalpoint.events.services import create_event

    with app.app_context():
        first = create_event(actor=None, **_values())
        second = create_event(actor=None, **_values(online_url="https://meet.example.org/nexus", place=""))
        assert first.uid.endswith("@focalpoint.test")
        assert len(first.uid) == len("@focalpoint.test") + 36
        assert first.uid != second.uid
        assert (first.sequence, first.cancelled_at, first.version) == (0, None, 1)
        assert [e.action for e in entries_for(first)] == ["event.created"]


def test_a_consultation_link_brings_its_deliverable(app):
    from consultation_helpers import deliverable_id, make_consultation

    from focalpoint.events.services import create_event

    with app.app_context():
        consultation = make_consultation(deliverable="nexus")
        event = create_event(actor=None, **_values(consultation_id=consultation.id))
        assert (event.consultation_id, event.deliverable_id) == (consultation.id, deliverable_id("nexus"))
        other = create_event(actor=None, **_values(consultation_id=consultation.id,
                                                   deliverable_id=deliverable_id("values")))
        assert other.deliverable_id == deliverable_id("values")


def test_changing_time_or_place_bumps_sequence_and_mails_registered_people_an_update(app):
    from focalpoint.events.services import update_event

    with app.app_context():
        event = make_event(capacity=1)
        register(event, name="Ann Registered", email="ann@example.org")
        register(event, name="Wim Waiting", email="wim@example.org")
        before = len(outbox())
        assert update_event(event, actor=None, title="Nexus: the information session", description="Agenda") == [
            "description", "title"]
        assert event.sequence == 0
        assert len(outbox()) == before  # no calendar change: nobody is mailed
        assert update_event(event, actor=None, starts_at=event.starts_at + dt.timedelta(hours=1),
                            ends_at=event.ends_at + dt.timedelta(hours=1), place="Egmont Palace") == [
            "ends_at", "place", "starts_at"]
        assert event.sequence == 1
        [update] = outbox()[before:]
        assert (update.to_addr, update.subject) == ("ann@example.org", "Changed: Nexus: the information session")
        assert "The time or the place of \"Nexus: the information session\" changed." in update.text_body
        assert "Where: Egmont Palace" in update.text_body
        content_type, text = _attachment(update)
        assert content_type == "text/calendar; method=REQUEST"
        cal, vevent = parse_ics(text)
        assert (str(cal["METHOD"]), int(vevent["SEQUENCE"]), str(vevent["LOCATION"])) == ("REQUEST", 1, "Egmont Palace")
        assert vevent.decoded("DTSTART") == event.starts_at
        assert update_event(event, actor=None, place="Egmont Palace") == []  # nothing changed


def test_a_stale_version_is_refused_and_a_cancelled_event_cannot_change(app):
    from focalpoint.events.services import EventError, StaleFormError, cancel_event, update_event

    with app.app_context():
        event = make_event()
        with pytest.raises(StaleFormError):
            update_event(event, actor=None, version=event.version + 1, title="Other")
        with pytest.raises(StaleFormError):
            update_event(event, actor=None, version="x", title="Other")
        assert update_event(event, actor=None, version=event.version, title="Other") == ["title"]
        cancel_event(event, actor=None)
        with pytest.raises(EventError, match="^The event is cancelled: it can no longer be changed.$"):
            update_event(event, actor=None, title="Again")


# --- registration, capacity and the waiting list --------------------------------------------------------
def test_beyond_capacity_people_wait_and_move_up_in_order_when_a_seat_frees(app):
    from focalpoint.events.models import RegistrationStatus
    from focalpoint.events.services import cancel_registration, registration_counts

    with app.app_context():
        event = make_event(capacity=2)
        a, created_a = register(event, name="Ann", email="Ann@Example.org ")
        b, _ = register(event, name="Bob", email="bob@example.org")
        c, created_c = register(event, name="Cleo", email="cleo@example.org")
        d, _ = register(event, name="Dirk", email="dirk@example.org")
        assert (created_a, created_c) == (True, True)
        assert a.email == "ann@example.org"
        assert _statuses(event) == [("ann@example.org", "registered"), ("bob@example.org", "registered"),
                                    ("cleo@example.org", "waitlisted"), ("dirk@example.org", "waitlisted")]
        assert [(m.to_addr, m.subject) for m in outbox()] == [
            ("ann@example.org", f"Registered: {event.title}"), ("bob@example.org", f"Registered: {event.title}"),
            ("cleo@example.org", f"On the waiting list: {event.title}"),
            ("dirk@example.org", f"On the waiting list: {event.title}")]
        assert [bool(m.attachments) for m in outbox()] == [True, True, False, False]
        assert "you are on the waiting list" in outbox()[2].text_body

        assert cancel_registration(a, actor=None) is True
        assert (a.status, a.cancelled_at is not None) == (RegistrationStatus.CANCELLED, True)
        assert _statuses(event)[2:] == [("cleo@example.org", "registered"), ("dirk@example.org", "waitlisted")]
        mails = outbox()[4:]
        assert [(m.to_addr, m.subject) for m in mails] == [
            ("ann@example.org", f"Registration cancelled: {event.title}"),
            ("cleo@example.org", f"A seat is free, you are registered: {event.title}")]
        assert _attachment(mails[0])[0] == "text/calendar; method=CANCEL"
        assert _attachment(mails[1])[0] == "text/calendar; method=REQUEST"
        assert "A seat became free: you are now registered" in mails[1].text_body
        assert cancel_registration(a, actor=None) is False  # a double click
        assert registration_counts([event.id]) == {event.id: {"registered": 2, "waitlisted": 1, "cancelled": 1,
                                                              "attended": 0, "absent": 0}}
        # Leaving the waiting list frees no seat: nobody moves.
        cancel_registration(d, actor=None)
        assert _statuses(event)[1:] == [("bob@example.org", "registered"), ("cleo@example.org", "registered"),
                                        ("dirk@example.org", "cancelled")]
        assert outbox()[-1].attachments is None  # nothing to remove from Dirk's calendar
        assert (b.status, c.status) == (RegistrationStatus.REGISTERED, RegistrationStatus.REGISTERED)


def test_raising_the_capacity_moves_people_up_from_the_waiting_list(app):
    from focalpoint.events.services import update_event

    with app.app_context():
        event = make_event(capacity=1)
        for i in range(4):
            register(event, name=f"P{i}", email=f"p{i}@example.org")
        assert update_event(event, actor=None, capacity=3) == ["capacity"]
        assert [s for _e, s in _statuses(event)] == ["registered", "registered", "registered", "waitlisted"]
        assert [m.to_addr for m in outbox()[-2:]] == ["p1@example.org", "p2@example.org"]
        update_event(event, actor=None, capacity=None)
        assert [s for _e, s in _statuses(event)] == ["registered"] * 4
        update_event(event, actor=None, capacity=1)  # lowering it keeps everyone registered
        assert [s for _e, s in _statuses(event)] == ["registered"] * 4


def test_the_same_email_twice_gives_the_existing_registration(app):
    from focalpoint.audit import entries_for
    from focalpoint.events.models import RegistrationStatus
    from focalpoint.events.services import cancel_registration

    with app.app_context():
        event = make_event(capacity=1)
        first, created = register(event, name="Zoë", email="zoe@example.org")
        again, created_again = register(event, name="Someone Else", email=" ZOE@example.org")
        assert (created, created_again, again.id, again.name) == (True, False, first.id, "Zoë")
        assert len(outbox()) == 1  # no second e-mail
        other, _ = register(event, name="Olga", email="olga@example.org")
        assert other.status == RegistrationStatus.WAITLISTED
        cancel_registration(first, actor=None)  # Olga moves up
        assert other.status == RegistrationStatus.REGISTERED
        back, created_back = register(event, name="Zoë Zimmer", email="zoe@example.org")
        assert (back.id, created_back, back.status, back.name) == (first.id, True, RegistrationStatus.WAITLISTED,
                                                                    "Zoë Zimmer")
        assert back.cancelled_at is None
        assert [e.action for e in entries_for(back)] == ["registration.reactivated", "registration.cancelled",
                                                         "registration.created"]


def test_an_expert_of_the_registry_is_linked_by_email(app):
    from focalpoint.events.services import registrant_language

    with app.app_context():
        event = make_event()
        expert = make_expert("Ann", "Peeters", language="fr")
        by_email, _ = register(event, name="A. Peeters", email="ANN.PEETERS@example.org")
        assert by_email.expert_id == expert.id
        mine, created = register(event, expert=expert)
        assert (mine.id, created) == (by_email.id, False)
        direct_event = make_event("Uptake event")
        direct, _ = register(direct_event, expert=expert, name="", email="", affiliation="")
        assert (direct.name, direct.email, direct.affiliation, direct.expert_id) == (
            "Ann Peeters", "ann.peeters@example.org", "University of Ghent", expert.id)
        message = outbox()[-1]
        assert (message.to_addr, message.related_id) == ("ann.peeters@example.org", direct.id)
        assert registrant_language(direct) == "fr"
        assert message.html_body.startswith('<!doctype html>\n<html lang="fr">')


@pytest.mark.parametrize(("setup", "message"), [
    ("cancelled", "The event is cancelled."),
    ("over", "The event is over."),
    ("started", "Registration is closed."),
    ("closed", "Registration is closed."),
])
def test_registration_is_refused_when_closed_cancelled_or_over(app, setup, message):
    from focalpoint.events.services import EventError, cancel_event, update_event

    with app.app_context():
        event = make_event()
        if setup == "cancelled":
            cancel_event(event, actor=None)
        elif setup == "over":
            over(event)
        elif setup == "started":
            under_way(event)
        else:
            update_event(event, actor=None, registration_closes_at=utcnow() - dt.timedelta(minutes=1))
        with pytest.raises(EventError) as caught:
            register(event)
        assert str(caught.value) == message
        assert _statuses(event) == []


def test_staff_may_add_someone_late_until_the_end(app):
    from focalpoint.events.services import EventError

    with app.app_context():
        event = make_event()
        under_way(event)
        registration, created = register(event, late=True)
        assert (created, registration.status.value) == (True, "registered")
        over(event)
        with pytest.raises(EventError, match="^The event is over.$"):
            register(event, email="late@example.org", late=True)


@pytest.mark.parametrize(("name", "email", "message"), [
    ("", "zoe@example.org", "The name is required."),
    ("Zoë", "", "An e-mail address is required."),
    ("Zoë", "not an address", "Invalid e-mail address: not an address"),
])
def test_a_registration_needs_a_name_and_a_valid_email(app, name, email, message):
    from focalpoint.events.services import EventError

    with app.app_context():
        event = make_event()
        with pytest.raises(EventError) as caught:
            register(event, name=name, email=email)
        assert str(caught.value) == message


def test_cancelling_a_registration_after_the_start_is_refused(app):
    from focalpoint.events.services import EventError, cancel_registration

    with app.app_context():
        event = make_event()
        registration, _ = register(event)
        under_way(event)
        with pytest.raises(EventError, match="^The event has started: registrations can no longer be cancelled.$"):
            cancel_registration(registration, actor=None)


# --- cancelling an event --------------------------------------------------------------------------------
def test_cancel_event_mails_everyone_registered_a_cancel_calendar_file(app):
    from focalpoint.audit import entries_for
    from focalpoint.events.services import EventError, cancel_event, promote_waitlisted

    with app.app_context():
        event = make_event(capacity=1)
        register(event, name="Ann", email="ann@example.org")
        register(event, name="Wim", email="wim@example.org")
        before = len(outbox())
        assert cancel_event(event, actor=None) is True
        assert (event.cancelled_at is not None, event.sequence) == (True, 1)
        mails = outbox()[before:]
        assert [(m.to_addr, m.subject) for m in mails] == [("ann@example.org", f"Cancelled: {event.title}"),
                                                           ("wim@example.org", f"Cancelled: {event.title}")]
        assert f'We are sorry: "{event.title}" is cancelled.' in mails[0].text_body
        content_type, text = _attachment(mails[0])
        assert content_type == "text/calendar; method=CANCEL"
        cal, vevent = parse_ics(text)
        assert (str(cal["METHOD"]), str(vevent["STATUS"]), int(vevent["SEQUENCE"]), str(vevent["UID"])) == (
            "CANCEL", "CANCELLED", 1, event.uid)
        assert mails[1].attachments is None  # Wim was only waiting
        assert "/events/r/" not in mails[0].text_body  # nothing left to do with the link
        assert cancel_event(event, actor=None) is False
        assert len(outbox()) == before + 2
        assert promote_waitlisted(event, actor=None) == []
        assert [e.action for e in entries_for(event)] == ["event.cancelled", "event.created"]
        with pytest.raises(EventError):
            register(event, email="late@example.org")


def test_a_past_event_cannot_be_cancelled(app):
    from focalpoint.events.services import EventError, cancel_event

    with app.app_context():
        event = make_event()
        over(event)
        with pytest.raises(EventError, match="^The event is over: it can no longer be cancelled.$"):
            cancel_event(event, actor=None)


# --- attendance -------------------------------------------------------------------------------------------
def test_attendance_is_recorded_only_after_the_start_and_for_registered_people(app):
    from focalpoint.events.services import EventError, registration_counts, set_attendance

    with app.app_context():
        event = make_event(capacity=2)
        ann, _ = register(event, name="Ann", email="ann@example.org")
        bob, _ = register(event, name="Bob", email="bob@example.org")
        wim, _ = register(event, name="Wim", email="wim@example.org")
        with pytest.raises(EventError, match="^Attendance can be recorded once the event has started.$"):
            set_attendance(ann, True, actor=None)
        assert ann.attended is None
        under_way(event)
        assert set_attendance(ann, True, actor=None) is True
        assert set_attendance(ann, True, actor=None) is False
        assert set_attendance(bob, False, actor=None) is True
        with pytest.raises(EventError, match="^Only registered people have an attendance"):
            set_attendance(wim, True, actor=None)
        assert registration_counts([event.id])[event.id] == {"registered": 2, "waitlisted": 1, "cancelled": 0,
                                                             "attended": 1, "absent": 1}
        assert set_attendance(bob, None, actor=None) is True
        assert registration_counts([event.id])[event.id]["absent"] == 0


def test_bulk_attendance_is_all_or_nothing_on_a_stale_version(app):
    from focalpoint.events.services import StaleFormError, record_attendance

    with app.app_context():
        event = make_event()
        ann, _ = register(event, name="Ann", email="ann@example.org")
        bob, _ = register(event, name="Bob", email="bob@example.org")
        under_way(event)
        assert record_attendance(event, {ann.id: (True, ann.version), bob.id: (False, bob.version),
                                         999999: (True, 1)}, actor=None) == 2
        with pytest.raises(StaleFormError):
            record_attendance(event, {ann.id: (None, ann.version), bob.id: (True, bob.version - 1)}, actor=None)


# --- the last seat --------------------------------------------------------------------------------------
def test_two_people_taking_the_last_seat_at_once_do_not_both_get_it(app):
    """The first holds its transaction open after counting; the second must wait for it and then see
    the seat taken (on PostgreSQL the event row is locked; SQLite transactions begin IMMEDIATE)."""
    from focalpoint.events.models import Event
    from focalpoint.extensions import db

    with app.app_context():
        event = make_event(capacity=1)
        db.session.commit()
        event_id = event.id
    first_counted, results, errors = threading.Event(), {}, []

    def take(email: str, hold: float, wait_for=None):
        try:
            with app.app_context():
                if wait_for is not None:
                    wait_for.wait(10)
                started = time.monotonic()
                registration, _ = register(db.session.get(Event, event_id), name=email, email=email)
                if hold:
                    first_counted.set()
                    time.sleep(hold)
                db.session.commit()
                results[email] = (registration.status.value, time.monotonic() - started)
                db.session.remove()
        except BaseException as exc:  # reported below
            errors.append(exc)
            first_counted.set()

    threads = [threading.Thread(target=take, args=("first@example.org", 0.5)),
               threading.Thread(target=take, args=("second@example.org", 0, first_counted))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert errors == []
    assert results["first@example.org"][0] == "registered"
    assert results["second@example.org"][0] == "waitlisted"
    assert results["second@example.org"][1] >= 0.3  # it waited for the first transaction
    with app.app_context():
        assert sorted(_statuses(db.session.get(Event, event_id))) == [("first@example.org", "registered"),
                                                                      ("second@example.org", "waitlisted")]
