"""Event actions: create, change and cancel events; register, cancel a registration, the waiting list
and attendance.

Every function flushes and none commits; the request, command or job that calls them commits. Seats
are counted inside the transaction after the event row is locked (SELECT … FOR UPDATE on PostgreSQL;
SQLite transactions already begin IMMEDIATE, holding the write lock), so two people taking the last
seat at the same moment never both get it.

People without an account get a personal link (a random secret; only its SHA-256 is stored in
``Registration.token_hash``). Each e-mail that carries the link carries a fresh secret: the link of an
older e-mail then stops working (as invitation links do).
"""
from __future__ import annotations

import datetime as dt
import re
import secrets
import uuid
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import sqlalchemy as sa
from babel.dates import format_date as babel_format_date
from babel.dates import format_time as babel_format_time
from flask import current_app
from flask_babel import force_locale
from flask_babel import gettext as _
from sqlalchemy.orm import lazyload

from focalpoint.audit import log_action
from focalpoint.db import utcnow
from focalpoint.events.ics import event_location, ics_attachment
from focalpoint.events.models import Event, EventKind, Registration, RegistrationStatus
from focalpoint.extensions import db
from focalpoint.mail import queue_email, render_email

LANGUAGES = ("en", "fr", "nl")
#: The fields of an event a form sets (create_event / update_event take them as keywords).
EVENT_FIELDS = ("kind", "title", "description", "consultation_id", "deliverable_id", "starts_at", "ends_at",
                "place", "online_url", "capacity", "registration_closes_at", "is_public")
#: Changes registrants' calendars must see: SEQUENCE goes up and registered people get a new .ics.
CALENDAR_FIELDS = ("starts_at", "ends_at", "place", "online_url")
MAX_CAPACITY = 100000
LIMITS = {"title": 300, "description": 20000, "place": 300, "online_url": 1000, "name": 200, "affiliation": 300}
_SECRET_SHAPE = re.compile(r"[A-Za-z0-9_-]{20,100}")


class EventError(ValueError):
    """A user-facing refusal (the message is shown as is); ``field`` names the form field at fault."""

    def __init__(self, message: str, field: str | None = None):
        super().__init__(message)
        self.field = field


class StaleFormError(EventError):
    """The form was made from an older version of the row: someone changed it in the meantime."""


def check_version(row, version) -> None:
    """Refuse a form built on another version of ``row`` (optimistic lock across GET → POST)."""
    try:
        submitted = int(version)
    except (TypeError, ValueError):
        submitted = None
    if submitted != row.version:
        raise StaleFormError(_("Someone changed this since you opened the page; nothing was saved. "
                               "The page now shows the current values: check them and try again."))


# --- time ------------------------------------------------------------------------------------------
def zone_of(name: str | None = None) -> ZoneInfo:
    """``name`` as a zone (the display zone when empty or unknown)."""
    for candidate in (name, current_app.config["DISPLAY_TIMEZONE"], "UTC"):
        if candidate:
            try:
                return ZoneInfo(str(candidate))
            except (ZoneInfoNotFoundError, ValueError):
                continue
    return ZoneInfo("UTC")


def to_utc(value: dt.datetime | None, zone: str | None = None, *, field: str | None = None) -> dt.datetime | None:
    """A time as entered (a wall-clock time in ``zone``, the display zone by default) in UTC.

    Aware values are converted as they are. A time that does not exist in the zone (skipped when the
    clocks go forward) is refused rather than silently moved.
    """
    if value is None:
        return None
    if value.tzinfo is not None:
        return value.astimezone(dt.timezone.utc)
    tz = zone_of(zone)
    local = value.replace(tzinfo=tz)
    stored = local.astimezone(dt.timezone.utc)
    if stored.astimezone(tz).replace(tzinfo=None) != value:
        raise EventError(_("%(time)s does not exist in %(zone)s: the clocks change at that hour.",
                           time=value.strftime("%Y-%m-%d %H:%M"), zone=tz.key), field)
    return stored


def to_local(value: dt.datetime | None, zone: str | None = None) -> dt.datetime | None:
    """A stored (UTC) time as a wall-clock time in ``zone`` without tzinfo (for a form's input)."""
    if value is None:
        return None
    return value.astimezone(zone_of(zone)).replace(tzinfo=None)


def registration_closes(event: Event) -> dt.datetime:
    """The moment registration closes: the set one, else the start."""
    return event.registration_closes_at or event.starts_at


def is_open_for_registration(event: Event, now: dt.datetime | None = None) -> bool:
    now = now or utcnow()
    return event.cancelled_at is None and now < registration_closes(event) and now < event.ends_at


def has_started(event: Event, now: dt.datetime | None = None) -> bool:
    return (now or utcnow()) >= event.starts_at


def has_ended(event: Event, now: dt.datetime | None = None) -> bool:
    return (now or utcnow()) >= event.ends_at


# --- events -----------------------------------------------------------------------------------------
def _text(values: dict, key: str, *, required: bool = False, label: str = "") -> str:
    value = " ".join(str(values.get(key) or "").split()) if key != "description" else \
        str(values.get(key) or "").strip()
    if required and not value:
        raise EventError(_("%(field)s is required.", field=label or key), key)
    if len(value) > LIMITS[key]:
        raise EventError(_("%(field)s is too long (at most %(n)d characters).", field=label or key, n=LIMITS[key]),
                         key)
    return value


def clean_online_url(value: str | None) -> str:
    """An http(s) address with a host, or "" (anything else is refused: no javascript:, no file:)."""
    value = (value or "").strip()
    if not value:
        return ""
    if len(value) > LIMITS["online_url"]:
        raise EventError(_("The online link is too long."), "online_url")
    parts = urlsplit(value)
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname or re.search(r"[\s\x00-\x1f\x7f]", value):
        raise EventError(_("The online link must be a web address starting with https:// or http://."),
                         "online_url")
    return value


def _clean(values: dict, zone: str | None) -> dict:
    """Checked and normalised event fields (times in UTC); raises EventError on the first problem."""
    from focalpoint.consultations.models import Consultation
    from focalpoint.reference.models import Deliverable

    out = {}
    try:
        out["kind"] = EventKind(values.get("kind") or EventKind.INFORMATION_SESSION)
    except ValueError:
        raise EventError(_("Choose the kind of event."), "kind") from None
    out["title"] = _text(values, "title", required=True, label=_("The title"))
    out["description"] = _text(values, "description", label=_("The description"))
    out["place"] = _text(values, "place", label=_("The place"))
    out["online_url"] = clean_online_url(values.get("online_url"))
    if not out["place"] and not out["online_url"]:
        raise EventError(_("Give a place, an online link, or both."), "place")
    starts = to_utc(values.get("starts_at"), zone, field="starts_at")
    ends = to_utc(values.get("ends_at"), zone, field="ends_at")
    if starts is None:
        raise EventError(_("Give the start."), "starts_at")
    if ends is None:
        raise EventError(_("Give the end."), "ends_at")
    if ends < starts:
        raise EventError(_("The event ends before it starts."), "ends_at")
    out["starts_at"], out["ends_at"] = starts, ends
    closes = to_utc(values.get("registration_closes_at"), zone, field="registration_closes_at")
    if closes is not None and closes > ends:
        raise EventError(_("Registration closes after the end of the event."), "registration_closes_at")
    out["registration_closes_at"] = closes
    capacity = values.get("capacity")
    if capacity in ("", None):
        out["capacity"] = None
    else:
        try:
            capacity = int(capacity)
        except (TypeError, ValueError):
            raise EventError(_("The capacity is a number of seats."), "capacity") from None
        if not 1 <= capacity <= MAX_CAPACITY:
            raise EventError(_("The capacity is between 1 and %(n)d seats (leave it empty for no limit).",
                               n=MAX_CAPACITY), "capacity")
        out["capacity"] = capacity
    out["is_public"] = bool(values.get("is_public"))
    consultation_id = values.get("consultation_id") or None
    deliverable_id = values.get("deliverable_id") or None
    if consultation_id is not None:
        consultation = db.session.get(Consultation, int(consultation_id))
        if consultation is None:
            raise EventError(_("Unknown consultation."), "consultation_id")
        if deliverable_id is None:
            deliverable_id = consultation.deliverable_id
    if deliverable_id is not None and db.session.get(Deliverable, int(deliverable_id)) is None:
        raise EventError(_("Unknown deliverable."), "deliverable_id")
    out["consultation_id"] = int(consultation_id) if consultation_id is not None else None
    out["deliverable_id"] = int(deliverable_id) if deliverable_id is not None else None
    return out


def new_uid() -> str:
    """A globally unique iCalendar UID: a random UUID at the site's host name."""
    host = urlsplit(current_app.config.get("BASE_URL") or "").hostname or "focalpoint"
    return f"{uuid.uuid4()}@{host}"


def create_event(*, actor, zone: str | None = None, **values) -> Event:
    """A new event; times without a zone are read in ``zone`` (the display zone by default)."""
    cleaned = _clean({k: values.get(k) for k in EVENT_FIELDS}, zone)
    event = Event(**cleaned, uid=new_uid(), sequence=0, created_by_id=getattr(actor, "id", None))
    db.session.add(event)
    db.session.flush()
    log_action(event, "event.created", actor=actor,
               data={k: cleaned[k] for k in ("kind", "title", "starts_at", "ends_at", "place", "online_url",
                                             "capacity", "consultation_id")})
    db.session.flush()
    return event


def update_event(event: Event, *, actor, zone: str | None = None, version=None, **values) -> list[str]:
    """Change an event; returns the names of the fields that changed (logged).

    A change of time or place raises the event's SEQUENCE and e-mails every registered person the
    updated calendar entry. A larger capacity moves people up from the waiting list.
    """
    if version is not None:
        check_version(event, version)
    if event.cancelled_at is not None:
        raise EventError(_("The event is cancelled: it can no longer be changed."))
    current = {k: getattr(event, k) for k in EVENT_FIELDS}
    merged = current | {k: v for k, v in values.items() if k in EVENT_FIELDS}
    cleaned = _clean(merged, zone)
    changed = {k: {"before": current[k], "after": cleaned[k]} for k in EVENT_FIELDS if cleaned[k] != current[k]}
    if not changed:
        return []
    _lock_event(event)
    for key in changed:
        setattr(event, key, cleaned[key])
    calendar_change = any(k in changed for k in CALENDAR_FIELDS)
    if calendar_change:
        event.sequence = (event.sequence or 0) + 1
    entry = log_action(event, "event.updated", actor=actor, data=changed)
    db.session.flush()
    if calendar_change:
        for registration in _registrations(event, RegistrationStatus.REGISTERED):
            _notify(registration, "updated", idem_key=f"event:{event.id}:updated:{entry.id}:{registration.id}",
                    method="REQUEST")
    if "capacity" in changed:
        promote_waitlisted(event, actor=actor)
    return sorted(changed)


def cancel_event(event: Event, *, actor, version=None) -> bool:
    """Cancel the event: registered people get a cancellation with a METHOD:CANCEL calendar file,
    people on the waiting list a note. False when it was cancelled already (a double click)."""
    if event.cancelled_at is not None:
        return False
    if version is not None:
        check_version(event, version)
    if has_ended(event):
        raise EventError(_("The event is over: it can no longer be cancelled."))
    _lock_event(event)
    event.cancelled_at = utcnow()
    event.sequence = (event.sequence or 0) + 1
    entry = log_action(event, "event.cancelled", actor=actor, data={"sequence": event.sequence})
    db.session.flush()
    for registration in _registrations(event, RegistrationStatus.REGISTERED, RegistrationStatus.WAITLISTED):
        registered = registration.status == RegistrationStatus.REGISTERED
        _notify(registration, "event-cancelled", idem_key=f"event:{event.id}:cancelled:{entry.id}:{registration.id}",
                method="CANCEL" if registered else None, with_link=False)
    return True


def _lock_event(event: Event) -> None:
    """Serialise seat counting on this event until the transaction ends.

    PostgreSQL: SELECT … FOR UPDATE on the event row (the row is read again, so a capacity changed
    meanwhile is seen). SQLite: every transaction began IMMEDIATE, so this one already holds the lock.
    """
    if db.session.get_bind().dialect.name == "postgresql":
        db.session.execute(sa.select(Event).options(lazyload("*")).where(Event.id == event.id)
                           .with_for_update().execution_options(populate_existing=True))


def _registrations(event: Event, *statuses) -> list[Registration]:
    return db.session.scalars(sa.select(Registration).where(Registration.event_id == event.id,
                                                            Registration.status.in_(statuses))
                              .order_by(Registration.created_at, Registration.id)).unique().all()


def count_registered(event: Event) -> int:
    return db.session.scalar(sa.select(sa.func.count()).select_from(Registration).where(
        Registration.event_id == event.id, Registration.status == RegistrationStatus.REGISTERED)) or 0


def seats_left(event: Event) -> int | None:
    """Free seats (None: no limit)."""
    if event.capacity is None:
        return None
    return max(0, event.capacity - count_registered(event))


# --- registrations ---------------------------------------------------------------------------------
def _clean_email(value: str | None) -> str:
    from focalpoint.experts.services import ExpertError, normalise_email

    try:
        return normalise_email(value)
    except ExpertError as exc:
        raise EventError(str(exc), "email") from None


def new_secret(registration: Registration) -> str:
    """A fresh secret for the registrant's personal link (the previous link stops working)."""
    from focalpoint.invitations.services import hash_token

    secret = secrets.token_urlsafe(32)
    registration.token_hash = hash_token(secret)
    return secret


def find_registration(secret: str) -> Registration | None:
    """The registration whose personal link holds ``secret`` (None for a malformed or unknown one)."""
    from focalpoint.invitations.services import hash_token

    if not secret or not _SECRET_SHAPE.fullmatch(secret):
        return None
    return db.session.scalar(sa.select(Registration).where(Registration.token_hash == hash_token(secret)))


def registration_url(secret: str) -> str:
    from focalpoint.security import external_url

    return external_url("events.registration_link", secret=secret)


def has_account(registration: Registration) -> bool:
    """An expert with a login sees the registration on the site; anyone else gets a personal link."""
    return registration.expert is not None and registration.expert.user_id is not None


def register(event: Event, *, expert=None, name: str = "", email: str = "", affiliation: str = "", actor,
             late: bool = False) -> tuple[Registration, bool]:
    """Register someone: an expert of the registry, or anyone by name, e-mail and affiliation.

    Returns ``(registration, True)``, or ``(the existing registration, False)`` when the e-mail is
    already registered or waiting. A cancelled registration of the same e-mail comes back (at the end
    of the queue). Beyond the capacity the person is put on the waiting list (first come, first
    served). Registration is refused when the event is cancelled or over, and after registration
    closes unless ``late`` (staff adding someone until the end, e.g. at the door).
    E-mails the person: registered (with the .ics invitation) or waiting.
    """
    from focalpoint.experts.models import Expert, ExpertStatus

    if expert is not None:
        if expert.status == ExpertStatus.ERASED or not expert.email:
            raise EventError(_("This expert's record has no e-mail address."))
        name, email, affiliation = name or expert.name, email or expert.email, affiliation or expert.affiliation
    email = _clean_email(email)
    name = _text({"name": name}, "name", required=True, label=_("The name"))
    affiliation = _text({"affiliation": affiliation}, "affiliation", label=_("The affiliation"))
    _lock_event(event)
    now = utcnow()
    if event.cancelled_at is not None:
        raise EventError(_("The event is cancelled."))
    if has_ended(event, now):
        raise EventError(_("The event is over."))
    if now >= registration_closes(event) and not late:
        raise EventError(_("Registration is closed."))
    if expert is None:
        expert = db.session.scalar(sa.select(Expert).where(Expert.email == email,
                                                           Expert.status != ExpertStatus.ERASED))
    existing = db.session.scalar(sa.select(Registration).where(Registration.event_id == event.id,
                                                               Registration.email == email))
    if existing is not None and existing.status != RegistrationStatus.CANCELLED:
        if existing.expert_id is None and expert is not None:
            existing.expert_id = expert.id
            db.session.flush()
        return existing, False
    free = event.capacity is None or count_registered(event) < event.capacity
    status = RegistrationStatus.REGISTERED if free else RegistrationStatus.WAITLISTED
    if existing is None:
        registration = Registration(event=event, email=email)
        db.session.add(registration)
        action = "registration.created"
    else:
        registration = existing
        # The place in the waiting list is the time of the current registration, not the first one.
        registration.created_at = now
        registration.cancelled_at = None
        registration.attended = None
        action = "registration.reactivated"
    if expert is not None:
        registration.expert = expert
    registration.name, registration.affiliation, registration.status = name, affiliation, status
    db.session.flush()
    entry = log_action(registration, action, actor=actor,
                       data={"event_id": event.id, "status": status, "expert_id": registration.expert_id,
                             "late": late and now >= registration_closes(event)})
    db.session.flush()
    _notify(registration, "registered" if free else "waitlisted",
            idem_key=f"registration:{registration.id}:{status}:{entry.id}", method="REQUEST" if free else None)
    return registration, True


def cancel_registration(registration: Registration, *, actor, version=None, notify: bool = True,
                        via: str = "") -> bool:
    """Cancel a registration (or leave the waiting list); a freed seat goes to the first person waiting,
    who is e-mailed. False when it was cancelled already. Refused once the event has started.
    ``via="link"`` records that the person did it through their personal link (no actor)."""
    if registration.status == RegistrationStatus.CANCELLED:
        return False
    if version is not None:
        check_version(registration, version)
    event = registration.event
    if has_started(event):
        raise EventError(_("The event has started: registrations can no longer be cancelled."))
    _lock_event(event)
    was_registered = registration.status == RegistrationStatus.REGISTERED
    previous = registration.status
    registration.status = RegistrationStatus.CANCELLED
    registration.cancelled_at = utcnow()
    entry = log_action(registration, "registration.cancelled", actor=actor,
                       data={"event_id": event.id, "previous": previous, **({"via": via} if via else {})})
    db.session.flush()
    if notify and event.cancelled_at is None:
        _notify(registration, "registration-cancelled", idem_key=f"registration:{registration.id}:cancelled:{entry.id}",
                method="CANCEL" if was_registered else None, with_link=False)
    if was_registered:
        promote_waitlisted(event, actor=actor)
    return True


def promote_waitlisted(event: Event, *, actor) -> list[Registration]:
    """Move people up from the waiting list, first come first served, while seats are free (before the
    start of an event that is not cancelled). Each gets an e-mail with the .ics invitation."""
    if event.cancelled_at is not None or has_started(event):
        return []
    _lock_event(event)
    stmt = (sa.select(Registration).where(Registration.event_id == event.id,
                                          Registration.status == RegistrationStatus.WAITLISTED)
            .order_by(Registration.created_at, Registration.id))
    if event.capacity is not None:
        free = event.capacity - count_registered(event)
        if free <= 0:
            return []
        stmt = stmt.limit(free)
    promoted = db.session.scalars(stmt).unique().all()
    for registration in promoted:
        registration.status = RegistrationStatus.REGISTERED
        entry = log_action(registration, "registration.promoted", actor=actor, data={"event_id": event.id})
        db.session.flush()
        _notify(registration, "promoted", idem_key=f"registration:{registration.id}:promoted:{entry.id}",
                method="REQUEST")
    return promoted


def set_attendance(registration: Registration, attended: bool | None, *, actor, now: dt.datetime | None = None,
                   version=None) -> bool:
    """Record whether a registered person came (None: not recorded). Only once the event has started.
    Returns False when nothing changed."""
    if version is not None:
        check_version(registration, version)
    event = registration.event
    if event.cancelled_at is not None:
        raise EventError(_("The event is cancelled."))
    if not has_started(event, now):
        raise EventError(_("Attendance can be recorded once the event has started."))
    if registration.status != RegistrationStatus.REGISTERED:
        raise EventError(_("Only registered people have an attendance (not %(name)s).", name=registration.name))
    if attended not in (None, True, False):
        raise EventError(_("Attendance is yes, no or not recorded."))
    if registration.attended is attended:
        return False
    previous = registration.attended
    registration.attended = attended
    log_action(registration, "registration.attendance", actor=actor,
               data={"event_id": event.id, "previous": previous, "attended": attended})
    db.session.flush()
    return True


def record_attendance(event: Event, marks: dict[int, tuple[bool | None, object]], *, actor) -> int:
    """Attendance for several registrations at once: ``{registration id: (attended, form version)}``.
    All or nothing (a stale version or a refusal raises); returns how many changed."""
    if not has_started(event):
        raise EventError(_("Attendance can be recorded once the event has started."))
    rows = {r.id: r for r in db.session.scalars(sa.select(Registration).where(
        Registration.event_id == event.id, Registration.id.in_(list(marks) or [0]))).unique()}
    changed = 0
    for registration_id, (attended, version) in marks.items():
        registration = rows.get(registration_id)
        if registration is None or registration.status != RegistrationStatus.REGISTERED:
            continue
        changed += set_attendance(registration, attended, actor=actor, version=version)
    return changed


# --- counts -----------------------------------------------------------------------------------------
COUNT_KEYS = ("registered", "waitlisted", "cancelled", "attended", "absent")


def registration_counts(event_ids) -> dict[int, dict[str, int]]:
    """{event id: {registered, waitlisted, cancelled, attended, absent: n}} in one query."""
    event_ids = list(event_ids)
    result = {i: dict.fromkeys(COUNT_KEYS, 0) for i in event_ids}
    if not event_ids:
        return result
    for event_id, status, attended, n in db.session.execute(
            sa.select(Registration.event_id, Registration.status, Registration.attended, sa.func.count())
            .where(Registration.event_id.in_(event_ids))
            .group_by(Registration.event_id, Registration.status, Registration.attended)):
        counts = result[event_id]
        counts[str(getattr(status, "value", status))] += n
        if status == RegistrationStatus.REGISTERED and attended is True:
            counts["attended"] += n
        elif status == RegistrationStatus.REGISTERED and attended is False:
            counts["absent"] += n
    return result


# --- e-mail -------------------------------------------------------------------------------------------
def registrant_language(registration: Registration) -> str:
    expert = registration.expert
    if expert is not None:
        if expert.user is not None and expert.user.locale in LANGUAGES:
            return expert.user.locale
        if expert.preferred_language in LANGUAGES:
            return expert.preferred_language
    default = current_app.config.get("BABEL_DEFAULT_LOCALE", "en")
    return default if default in LANGUAGES else "en"


def registrant_zone(registration: Registration) -> ZoneInfo:
    expert = registration.expert
    return zone_of(expert.user.timezone if expert is not None and expert.user is not None else None)


def when_text(event: Event, language: str, zone: ZoneInfo) -> str:
    """"Tuesday 10 March 2026, 14:00–16:00 (Europe/Brussels)" in ``language``."""
    start, end = event.starts_at.astimezone(zone), event.ends_at.astimezone(zone)
    day = babel_format_date(start.date(), "full", locale=language)
    start_time = babel_format_time(start, "short", tzinfo=zone, locale=language)
    end_time = babel_format_time(end, "short", tzinfo=zone, locale=language)
    if start.date() != end.date():
        end_time = f"{babel_format_date(end.date(), 'full', locale=language)}, {end_time}"
    return f"{day}, {start_time}–{end_time} ({zone.key})"


def _notify(registration: Registration, kind: str, *, idem_key: str, method: str | None,
            with_link: bool = True) -> None:
    """Queue the e-mail of ``kind`` to the registrant, in their language, with the .ics when ``method``."""
    from focalpoint.events.ics import event_page_url

    event = registration.event
    language = registrant_language(registration)
    link = None
    if with_link:
        link = event_page_url(event) if has_account(registration) else registration_url(new_secret(registration))
    with force_locale(language):
        subjects = {
            "registered": _("Registered: %(title)s", title=event.title),
            "waitlisted": _("On the waiting list: %(title)s", title=event.title),
            "promoted": _("A seat is free, you are registered: %(title)s", title=event.title),
            "updated": _("Changed: %(title)s", title=event.title),
            "event-cancelled": _("Cancelled: %(title)s", title=event.title),
            "registration-cancelled": _("Registration cancelled: %(title)s", title=event.title),
        }
        text, html = render_email("events/emails/registration", kind=kind, event=event, registration=registration,
                                  when=when_text(event, language, registrant_zone(registration)),
                                  location=event_location(event), link=link, has_account=has_account(registration),
                                  calendar=bool(method))
        subject = subjects[kind]
    attachments = [ics_attachment(event, registration, method)] if method else None
    queue_email(to=registration.email, subject=subject, text=text, html=html, idem_key=idem_key[:200],
                category="event", related=registration, attachments=attachments)
    db.session.flush()
