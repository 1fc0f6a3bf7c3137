"""Small factories for the event tests (call them inside an app context; they flush, never commit).

    event = make_event(capacity=2)                         # in ten days, 14:00–16:00 UTC, in Brussels
    expert = make_expert("Ann", "Peeters")                 # ann.peeters@example.org (active, consents)
    registration, created = register(event, name="Zoë Z", email="zoe@example.org")
    under_way(event); over(event)                          # move it (times only, no e-mail)
"""
from __future__ import annotations

import datetime as dt
import re

import sqlalchemy as sa

LINK = re.compile(r"http://focalpoint\.test/events/r/([A-Za-z0-9_-]+)")


def utc(*args) -> dt.datetime:
    return dt.datetime(*args, tzinfo=dt.timezone.utc)


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


def make_event(title: str = "Information session: nexus assessment", *, days: int = 10, hours: int = 2,
               capacity: int | None = None, place: str = "Royal Library, Brussels", online_url: str = "",
               actor=None, **fields):
    """An event through the service (times aware: ``days`` from now at 14:00 UTC, ``hours`` long)."""
    from focalpoint.events.services import create_event

    start = (utcnow() + dt.timedelta(days=days)).replace(hour=14, minute=0, second=0, microsecond=0)
    values = {"kind": "information_session", "title": title, "starts_at": start,
              "ends_at": start + dt.timedelta(hours=hours), "place": place, "online_url": online_url,
              "capacity": capacity, **fields}
    return create_event(actor=actor, **values)


def make_expert(first_name: str = "Ann", last_name: str = "Peeters", *, email: str | None = None,
                language: str = "en", user_id: int | None = None, **fields):
    from focalpoint.experts.models import Expert
    from focalpoint.extensions import db

    expert = Expert(first_name=first_name, last_name=last_name, affiliation="University of Ghent",
                    email=email or f"{first_name}.{last_name}@example.org".lower(), preferred_language=language,
                    consent_contact_at=utc(2025, 1, 1), consent_processing_at=utc(2025, 1, 1), user_id=user_id,
                    **fields)
    db.session.add(expert)
    db.session.flush()
    return expert


def register(event, *, name: str | None = None, email: str | None = None, affiliation: str | None = None,
             expert=None, actor=None, late: bool = False):
    """Through the service; without ``expert``, Zoë Zimmer <zoe@example.org> (INBO) unless given."""
    from focalpoint.events.services import register as service

    if expert is None:
        name = "Zoë Zimmer" if name is None else name
        email = "zoe@example.org" if email is None else email
        affiliation = "INBO" if affiliation is None else affiliation
    return service(event, expert=expert, name=name or "", email=email or "", affiliation=affiliation or "",
                   actor=actor, late=late)


def move(event, *, start_in: dt.timedelta, hours: float = 2) -> None:
    """Set the event's times to start ``start_in`` from now (a plain UPDATE: no SEQUENCE, no e-mail)."""
    from focalpoint.events.models import Event
    from focalpoint.extensions import db

    start = utcnow().replace(microsecond=0) + start_in
    db.session.execute(sa.update(Event).where(Event.id == event.id)
                       .values(starts_at=start, ends_at=start + dt.timedelta(hours=hours), registration_closes_at=None)
                       .execution_options(synchronize_session=False))
    db.session.expire(event)


def under_way(event) -> None:
    """Started an hour ago, ends in an hour."""
    move(event, start_in=-dt.timedelta(hours=1))


def over(event) -> None:
    """Ended an hour ago."""
    move(event, start_in=-dt.timedelta(hours=3))


def outbox(category: str | None = "event") -> list:
    """Queued messages in order (only the events' ones by default)."""
    from focalpoint.extensions import db
    from focalpoint.mail import OutboxMessage

    stmt = sa.select(OutboxMessage).order_by(OutboxMessage.id)
    if category:
        stmt = stmt.where(OutboxMessage.category == category)
    return db.session.scalars(stmt).all()


def parse_ics(text: str | bytes):
    """The calendar and its one VEVENT."""
    from icalendar import Calendar

    cal = Calendar.from_ical(text)
    [vevent] = cal.walk("VEVENT")
    return cal, vevent


def link_secret(message) -> str:
    """The personal link's secret in a queued message's text."""
    return LINK.search(message.text_body).group(1)
