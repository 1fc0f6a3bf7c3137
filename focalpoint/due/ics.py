"""Due items as iCalendar (RFC 5545): the personal feed and the file of one item.

Each item is a VEVENT whose UID is the item's stable ``uid``, so a calendar that fetches the feed
again (or imports the file of an item again) replaces its copy instead of adding a second one. A
whole-day item is ``DTSTART;VALUE=DATE`` with ``DTEND`` the next day (Outlook, Google Calendar and
Thunderbird all read it as one all-day entry); a timed one is in UTC. The icalendar library writes
CRLF line endings and folds long lines at 75 octets.
"""
from __future__ import annotations

import datetime as dt

from flask_babel import gettext as _
from icalendar import Calendar
from icalendar import Event as VEvent

from focalpoint.db import utcnow
from focalpoint.due.services import WORKFLOW_LABELS, DueItem, absolute_url

PRODID = "-//Focal Point//Due dates//EN"
#: How often subscribed calendars should fetch the feed again (RFC 7986 REFRESH-INTERVAL, and Outlook's).
REFRESH = dt.timedelta(hours=1)


def _calendar(name: str | None = None) -> Calendar:
    cal = Calendar()
    cal.add("prodid", PRODID)
    cal.add("version", "2.0")
    cal.add("calscale", "GREGORIAN")
    cal.add("method", "PUBLISH")
    if name:
        cal.add("name", name)  # RFC 7986
        cal.add("x-wr-calname", name)  # Outlook, Google Calendar, Thunderbird
        cal.add("x-wr-caldesc", _("Due dates from Focal Point"))
        cal.add("refresh-interval", REFRESH, parameters={"VALUE": "DURATION"})
        cal.add("x-published-ttl", "PT1H")
    return cal


def item_event(item: DueItem, stamp: dt.datetime | None = None) -> VEvent:
    """One VEVENT for ``item``."""
    stamp = (stamp or utcnow()).astimezone(dt.timezone.utc).replace(microsecond=0)
    link = absolute_url(item)
    event = VEvent()
    event.add("uid", item.uid)
    event.add("dtstamp", stamp)
    if item.at is None:
        event.add("dtstart", item.date)
        event.add("dtend", (item.end_date or item.date) + dt.timedelta(days=1))
    else:
        start = item.at.astimezone(dt.timezone.utc).replace(microsecond=0)
        event.add("dtstart", start)
        end = item.ends_at.astimezone(dt.timezone.utc).replace(microsecond=0) if item.ends_at else start
        event.add("dtend", max(end, start))
    event.add("summary", f"{item.what_is_needed} \u2013 {item.title}")
    lines = [item.what_is_needed]
    if item.from_whom:
        lines.append(_("From whom: %(who)s", who=item.from_whom))
    if item.overdue:
        lines.append(_("Overdue"))
    lines += ["", link]
    event.add("description", "\n".join(lines))
    event.add("url", link)
    event.add("categories", [str(WORKFLOW_LABELS.get(item.workflow, item.workflow))])
    event.add("status", "CONFIRMED")
    # A deadline does not make anyone busy; a meeting does.
    event.add("transp", "OPAQUE" if item.workflow in ("events", "plenary") else "TRANSPARENT")
    return event


def feed_ics(items: list[DueItem], name: str) -> bytes:
    """The personal feed: every item, one VEVENT each."""
    cal = _calendar(name)
    stamp = utcnow()
    for item in items:
        cal.add_component(item_event(item, stamp))
    return cal.to_ical()


def item_ics(item: DueItem) -> bytes:
    """The calendar file of one item (to import)."""
    cal = _calendar()
    cal.add_component(item_event(item))
    return cal.to_ical()
