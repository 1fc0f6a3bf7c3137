"""The iCalendar file of an event, parsed back with icalendar."""
from __future__ import annotations

import datetime as dt

import pytest
from event_helpers import make_event, parse_ics, register, utc, utcnow

TITLE = "Séance d'information; nexus, SOD — «café»"
DESCRIPTION = "Agenda:\n1. The draft, chapter 3\n2. Questions; answers\n\nBring your comments."


def _event(**changes):
    from focalpoint.events.services import create_event

    values = {"kind": "uptake_event", "title": TITLE, "description": DESCRIPTION,
              "starts_at": utc(2031, 1, 14, 13), "ends_at": utc(2031, 1, 14, 15, 30),
              "place": "Egmont Palace, Brussels", "online_url": "", "capacity": 30}
    values.update(changes)
    return create_event(actor=None, **values)


def test_publish_file_has_every_field_in_utc(app):
    from focalpoint.events.ics import event_ics

    with app.app_context():
        event = _event()
        before = utcnow().replace(microsecond=0)
        data = event_ics(event)
        assert data.startswith(b"BEGIN:VCALENDAR\r\n")
        assert all(len(line) <= 75 for line in data.split(b"\r\n"))  # folded
        cal, vevent = parse_ics(data)
        assert (str(cal["PRODID"]), str(cal["VERSION"]), str(cal["METHOD"])) == (
            "-//Focal Point//Events//EN", "2.0", "PUBLISH")
        assert str(vevent["UID"]) == event.uid
        assert vevent.decoded("DTSTART") == utc(2031, 1, 14, 13)
        assert vevent.decoded("DTEND") == utc(2031, 1, 14, 15, 30)
        assert vevent.decoded("DTSTART").tzinfo is not None and vevent.decoded("DTSTART").utcoffset() == dt.timedelta(0)
        assert b"DTSTART:20310114T130000Z" in data
        assert before <= vevent.decoded("DTSTAMP") <= utcnow()
        assert str(vevent["SUMMARY"]) == TITLE
        assert str(vevent["DESCRIPTION"]) == DESCRIPTION
        assert str(vevent["LOCATION"]) == "Egmont Palace, Brussels"
        assert str(vevent["URL"]) == f"http://focalpoint.test/events/{event.id}"
        assert (int(vevent["SEQUENCE"]), str(vevent["STATUS"])) == (0, "CONFIRMED")
        assert str(vevent["ORGANIZER"]) == "mailto:focalpoint@localhost"
        assert str(vevent["ORGANIZER"].params["CN"]) == "Focal Point"
        assert "ATTENDEE" not in vevent


def test_online_event_has_the_link_as_location_and_url(app):
    from focalpoint.events.ics import event_ics

    with app.app_context():
        online = _event(place="", online_url="https://meet.example.org/nexus?pwd=a,b;c")
        _cal, vevent = parse_ics(event_ics(online))
        assert str(vevent["LOCATION"]) == "https://meet.example.org/nexus?pwd=a,b;c"
        assert str(vevent["URL"]) == "https://meet.example.org/nexus?pwd=a,b;c"
        assert str(vevent["DESCRIPTION"]) == DESCRIPTION + "\n\nhttps://meet.example.org/nexus?pwd=a,b;c"
        hybrid = _event(online_url="https://meet.example.org/h")
        _cal, vevent = parse_ics(event_ics(hybrid))
        assert str(vevent["LOCATION"]) == "Egmont Palace, Brussels (https://meet.example.org/h)"


def test_request_names_the_registrant_as_attendee(app):
    from focalpoint.events.ics import event_ics

    with app.app_context():
        event = make_event(capacity=1)
        registration, _ = register(event, name="Zoë Zimmer, PhD", email="zoe@example.org")
        waiting, _ = register(event, name="Wim", email="wim@example.org")
        cal, vevent = parse_ics(event_ics(event, registration, "REQUEST"))
        assert str(cal["METHOD"]) == "REQUEST"
        attendee = vevent["ATTENDEE"]
        assert str(attendee) == "mailto:zoe@example.org"
        assert {k: str(v) for k, v in attendee.params.items()} == {
            "CN": "Zoë Zimmer, PhD", "ROLE": "REQ-PARTICIPANT", "CUTYPE": "INDIVIDUAL", "PARTSTAT": "ACCEPTED",
            "RSVP": "FALSE"}
        _cal, vevent = parse_ics(event_ics(event, waiting, "PUBLISH"))
        assert str(vevent["ATTENDEE"].params["PARTSTAT"]) == "TENTATIVE"


def test_cancel_of_one_seat_declines_the_attendee_without_cancelling_the_event(app):
    from focalpoint.events.ics import event_ics
    from focalpoint.events.services import cancel_event

    with app.app_context():
        event = make_event()
        registration, _ = register(event)
        cal, vevent = parse_ics(event_ics(event, registration, "CANCEL"))
        assert str(cal["METHOD"]) == "CANCEL"
        assert "STATUS" not in vevent  # RFC 5546 3.2.5: uninviting one attendee
        assert str(vevent["ATTENDEE"].params["PARTSTAT"]) == "DECLINED"
        cancel_event(event, actor=None)
        _cal, vevent = parse_ics(event_ics(event, registration, "CANCEL"))
        assert (str(vevent["STATUS"]), int(vevent["SEQUENCE"])) == ("CANCELLED", 1)
        _cal, vevent = parse_ics(event_ics(event))  # the file to import says so too
        assert str(vevent["STATUS"]) == "CANCELLED"


def test_unknown_method_is_a_programming_error(app):
    from focalpoint.events.ics import event_ics

    with app.app_context():
        with pytest.raises(ValueError):
            event_ics(make_event(), method="REFRESH")
