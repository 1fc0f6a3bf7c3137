"""Event e-mails through the outbox: the calendar file arrives intact at a real SMTP server."""
from __future__ import annotations

import pytest
from event_helpers import LINK, make_event, outbox, parse_ics, register
from smtp import SmtpCatcher

ICS = ("BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//Focal Point//Events//EN\r\nMETHOD:REQUEST\r\n"
       "BEGIN:VEVENT\r\nUID:1@focalpoint.test\r\nSUMMARY:Réunion — «nexus»\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n")


def test_an_attachment_arrives_at_the_smtp_server_intact(app):
    from focalpoint.extensions import db
    from focalpoint.mail import OutboxMessage, deliver_outbox, queue_email

    with app.app_context():
        queue_email(to="zoe@example.org", subject="Réunion", text="Bonjour Zoë,\n", html="<p>Bonjour Zoë,</p>",
                    idem_key="ics:1", attachments=[{"filename": "invite.ics",
                                                    "content_type": "text/calendar; method=REQUEST", "text": ICS}])
        db.session.commit()
        assert db.session.query(OutboxMessage).one().attachments == [
            {"filename": "invite.ics", "content_type": "text/calendar; method=REQUEST", "text": ICS}]
        with SmtpCatcher() as smtp:
            smtp.configure(app)
            assert deliver_outbox()["sent"] == 1
    [msg] = smtp.messages
    assert smtp.raw[0].isascii()
    assert msg.get_content_type() == "multipart/mixed"
    alternative, calendar = list(msg.iter_parts())
    assert alternative.get_content_type() == "multipart/alternative"
    assert [p.get_content_type() for p in alternative.iter_parts()] == ["text/plain", "text/html"]
    assert msg.get_body(("plain",)).get_content() == "Bonjour Zoë,\n"
    assert calendar.get_content_type() == "text/calendar"
    assert calendar.get_param("method") == "REQUEST"
    assert calendar.get_content_charset() == "utf-8"
    assert calendar.get_filename() == "invite.ics"
    assert calendar.get_content_disposition() == "attachment"
    assert calendar.get_content() == ICS.replace("\r\n", "\n")  # the catcher reads lines as a mail client does
    assert [a.get_filename() for a in msg.iter_attachments()] == ["invite.ics"]


@pytest.mark.parametrize("attachment", [
    {"filename": "", "content_type": "text/calendar", "text": "x"},
    {"filename": "../x.ics", "content_type": "text/calendar", "text": "x"},
    {"filename": "x.ics", "content_type": "calendar", "text": "x"},
    {"filename": "x.ics", "content_type": "text/calendar\r\nBcc: x@evil.example", "text": "x"},
    {"filename": "x.ics", "content_type": "text/calendar", "text": b"bytes"},
])
def test_queue_email_refuses_a_malformed_attachment(app, attachment):
    from focalpoint.mail import queue_email

    with app.app_context():
        with pytest.raises(ValueError):
            queue_email(to="zoe@example.org", subject="s", text="t", html="h", idem_key="bad",
                        attachments=[attachment])


def test_a_registration_arrives_with_its_invitation_and_personal_link(app):
    from focalpoint.extensions import db
    from focalpoint.mail import deliver_outbox

    with app.app_context():
        event = make_event("Nexus: séance d'information", online_url="https://meet.example.org/nexus")
        register(event, name="Zoë Zimmer", email="zoe@example.org")
        db.session.commit()
        [queued] = outbox()
        queued_secret, uid = LINK.search(queued.text_body).group(1), event.uid
        with SmtpCatcher() as smtp:
            smtp.configure(app)
            assert deliver_outbox()["sent"] == 1
    [msg] = smtp.messages
    assert msg["Subject"] == "Registered: Nexus: séance d'information"
    assert msg["To"] == "zoe@example.org"
    text = msg.get_body(("plain",)).get_content()
    assert text.startswith("Dear Zoë Zimmer,\n\nYou are registered for \"Nexus: séance d'information\".\n")
    assert "Online: https://meet.example.org/nexus\n" in text
    assert "The attached calendar file adds the event to your calendar (or updates it)." in text
    secret = LINK.search(text).group(1)
    assert queued_secret == secret
    html = msg.get_body(("html",)).get_content()
    assert f'href="http://focalpoint.test/events/r/{secret}"' in html
    [calendar] = list(msg.iter_attachments())
    assert (calendar.get_content_type(), calendar.get_param("method")) == ("text/calendar", "REQUEST")
    cal, vevent = parse_ics(calendar.get_content())
    assert (str(cal["METHOD"]), str(vevent["UID"]), str(vevent["SUMMARY"])) == (
        "REQUEST", uid, "Nexus: séance d'information")
    assert str(vevent["ATTENDEE"]) == "mailto:zoe@example.org"
