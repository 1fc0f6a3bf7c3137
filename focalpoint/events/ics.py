"""iCalendar (RFC 5545) files of events, as invitations (RFC 5546 iTIP) or to import.

One VEVENT per event with a stable UID; SEQUENCE grows with each change attendees should see
(time, place, cancellation), so calendars replace their copy instead of adding a second one.
"""
from __future__ import annotations

from email.utils import parseaddr

from flask import current_app
from icalendar import Calendar, vCalAddress, vText
from icalendar import Event as VEvent

from focalpoint.db import utcnow
from focalpoint.events.models import Event, Registration, RegistrationStatus

PRODID = "-//Focal Point//Events//EN"
METHODS = ("PUBLISH", "REQUEST", "CANCEL")


def event_location(event: Event) -> str:
    """The place, or the online link when there is no place (both when both are set)."""
    if event.place and event.online_url:
        return f"{event.place} ({event.online_url})"
    return event.place or event.online_url


def event_page_url(event: Event) -> str:
    from focalpoint.security import external_url

    return external_url("events.detail", event_id=event.id)


def event_ics(event: Event, registration: Registration | None = None, method: str = "PUBLISH", *,
              url: str | None = None) -> bytes:
    """The event as an iCalendar file.

    ``method``: PUBLISH (a file to import), REQUEST (an invitation mailed to a registrant: the
    registration is the ATTENDEE) or CANCEL (the event is cancelled, or the registrant's seat is).
    ``url`` defaults to the online link, else the event's page.
    """
    method = method.upper()
    if method not in METHODS:
        raise ValueError(f"method must be one of {', '.join(METHODS)}, not {method!r}")
    cal = Calendar()
    cal.add("prodid", PRODID)
    cal.add("version", "2.0")
    cal.add("calscale", "GREGORIAN")
    cal.add("method", method)

    vevent = VEvent()
    vevent.add("uid", event.uid)
    vevent.add("dtstamp", utcnow().replace(microsecond=0))
    vevent.add("dtstart", event.starts_at.replace(microsecond=0))
    vevent.add("dtend", event.ends_at.replace(microsecond=0))
    vevent.add("summary", event.title)
    description = event.description or ""
    if event.online_url and event.online_url not in description:
        description = f"{description}\n\n{event.online_url}".strip()
    if description:
        vevent.add("description", description)
    location = event_location(event)
    if location:
        vevent.add("location", location)
    vevent.add("url", url or event.online_url or event_page_url(event))
    vevent.add("sequence", event.sequence or 0)
    if event.cancelled_at is not None or (method == "CANCEL" and registration is None):
        vevent.add("status", "CANCELLED")
    elif method != "CANCEL":
        vevent.add("status", "CONFIRMED")
    # else: one registrant's seat is cancelled, not the event: RFC 5546 (3.2.5) wants no STATUS then.
    vevent.add("transp", "OPAQUE")

    sender_name, sender_address = parseaddr(current_app.config.get("MAIL_SENDER") or "")
    organizer = vCalAddress(f"mailto:{sender_address or 'focalpoint@localhost'}")
    if sender_name:
        organizer.params["cn"] = vText(sender_name)
    vevent.add("organizer", organizer, encode=0)

    if registration is not None:
        attendee = vCalAddress(f"mailto:{registration.email}")
        attendee.params["cn"] = vText(registration.name or registration.email)
        attendee.params["role"] = vText("REQ-PARTICIPANT")
        attendee.params["cutype"] = vText("INDIVIDUAL")
        attendee.params["partstat"] = vText(_partstat(registration, method))
        attendee.params["rsvp"] = vText("FALSE")
        vevent.add("attendee", attendee, encode=0)
    cal.add_component(vevent)
    return cal.to_ical()


def _partstat(registration: Registration, method: str) -> str:
    if method == "CANCEL" or registration.status == RegistrationStatus.CANCELLED:
        return "DECLINED"
    if registration.status == RegistrationStatus.WAITLISTED:
        return "TENTATIVE"
    return "ACCEPTED"


def ics_attachment(event: Event, registration: Registration | None, method: str) -> dict:
    """The file as an outbox attachment (``text/calendar; method=…``)."""
    return {"filename": "invite.ics" if method != "CANCEL" else "cancel.ics",
            "content_type": f"text/calendar; method={method}",
            "text": event_ics(event, registration, method).decode("utf-8")}
