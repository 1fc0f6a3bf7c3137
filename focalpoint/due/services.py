"""Everything due across the workflows: one list of dated obligations, nearest first.

:func:`due_items` reads each source in ONE query (columns only, no lazy loads), so the number of
queries does not grow with the data; rows are folded, filtered and sorted in Python. The /due page,
the dashboard, the personal iCalendar feed, the per-item ``.ics`` and the e-mail digests all read it.

Sources (one query each), and whose row it is (``owner_id``, what "mine" means for staff):

- notifications: the secretariat deadlines and the national deadline of open notifications (new or
  in progress; relayed copies left out; a reminder repeating its original's deadline adds no row; a
  date that a nomination call opened from the notification carries is the call's row). The assignee.
- calls: application, nomination and national deadlines of calls not locked (a passed one is overdue
  until staff lock the call). The creator.
- invitations: the next reminder to a call's non-responders (staff; the call's creator), and each
  pending invitation's reply by the national deadline (the expert's own; every expert's under "all").
- consultations: the close of open and upcoming consultations, the secretariat's deadline for the
  integrated comments (unless the open notification it came from lists that date). The creator.
- positions: review requests awaiting a decision on the note's current version (sessions not over).
  Who asked, else the note's author.
- plenary: sessions not over. Nobody's ("team" and "all" only).
- events: events not over and not cancelled. The creator.

Scopes: ``mine`` (staff: rows they own; reviewers: their administration's reviews; experts: their
pending invitations, open consultations and events they registered for), ``team`` (everything the
staff work on), ``all`` (``team`` plus each expert's own pending invitation). Only staff choose a
scope: for anyone else it is always their own rows.
"""
from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import sqlalchemy as sa
from flask import current_app, has_request_context, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_babel import ngettext
from sqlalchemy.orm import aliased

from focalpoint.db import utcnow
from focalpoint.extensions import db

WORKFLOWS = ("notifications", "calls", "invitations", "consultations", "positions", "plenary", "events")
SCOPES = ("mine", "team", "all")
WINDOWS = ("overdue", "7", "30")

#: The kinds of rows (first part of the UID and of the .ics address), in the order used to break ties on a day.
KINDS = {
    "notification-deadline": "notifications",
    "notification-national": "notifications",
    "call-application": "calls",
    "call-nomination": "calls",
    "call-national": "calls",
    "invitation": "invitations",
    "invitation-reminder": "invitations",
    "consultation-close": "consultations",
    "consultation-secretariat": "consultations",
    "review": "positions",
    "plenary": "plenary",
    "event": "events",
}
_KIND_RANK = {kind: i for i, kind in enumerate(KINDS)}

WORKFLOW_LABELS = {
    "notifications": _l("Notifications"),
    "calls": _l("Nomination calls"),
    "invitations": _l("Invitations"),
    "consultations": _l("Consultations"),
    "positions": _l("Position notes"),
    "plenary": _l("Plenary sessions"),
    "events": _l("Events"),
}
SCOPE_LABELS = {"mine": _l("Mine"), "team": _l("My team"), "all": _l("All")}
WINDOW_LABELS = {"overdue": _l("Overdue"), "7": _l("Next 7 days"), "30": _l("Next 30 days")}


@dataclass(frozen=True)
class DueItem:
    """One dated obligation. ``uid`` is stable: the same item gives the same UID on every read."""

    #: "<kind>-<id>@<host>" ("notification-deadline-12@focalpoint.example.org").
    uid: str
    #: The day it falls due (or starts), as written / in the user's time zone for timed items.
    date: dt.date
    #: The moment, when a time of day is known (aware, UTC); None for a whole-day item.
    at: dt.datetime | None
    workflow: str
    title: str
    what_is_needed: str
    from_whom: str
    #: The item's page (a path on this site).
    url: str
    overdue: bool
    #: The user the row belongs to (assignee, creator, requester, the invited expert's account), if any.
    owner_id: int | None
    #: One of KINDS, and the id that goes with it (the .ics address is /due/<kind>/<item_id>.ics).
    kind: str = ""
    item_id: int = 0
    #: Last day (inclusive) of an item spanning several days (a plenary session).
    end_date: dt.date | None = None
    #: End of a timed item (an event).
    ends_at: dt.datetime | None = None
    #: The endpoint and values of ``url`` (absolute_url builds the address from them).
    endpoint: str = ""
    params: tuple = ()

    @property
    def sort_moment(self) -> dt.datetime:
        if self.at is not None:
            return self.at
        return dt.datetime.combine(self.date, dt.time(23, 59), tzinfo=dt.timezone.utc)


class _Context:
    """What every source needs: who asks, for which scope, the time, the window's date bounds."""

    def __init__(self, user, scope: str, window: str | None, today: dt.date | None, now: dt.datetime | None):
        self.user = user
        self.is_staff = bool(user is not None and user.is_staff)
        roles = set() if user is None else {str(r) for r in user.roles}
        self.is_reviewer = not self.is_staff and "reviewer" in roles and user.administration_id is not None
        self.is_expert = not self.is_staff and "expert" in roles
        self.scope = scope if self.is_staff else "mine"
        self.window = window
        self.zone = user_zone(user)
        if now is None:
            now = utcnow()
            if today is not None and today != now.astimezone(self.zone).date():
                now = dt.datetime.combine(today, dt.time(), tzinfo=self.zone).astimezone(dt.timezone.utc)
        self.now = now
        self.today = today or now.astimezone(self.zone).date()
        self.until = self.today + dt.timedelta(days=int(window)) if window in ("7", "30") else None
        self.host = urlsplit(current_app.config.get("BASE_URL", "")).hostname or "focalpoint"

    @property
    def mine(self) -> bool:
        return self.scope == "mine"

    def uid(self, kind: str, *parts) -> str:
        return "-".join([kind, *(str(p) for p in parts)]) + "@" + self.host

    def date_clause(self, column, *, can_be_overdue: bool = True):
        """SQL bounds on a date column for the window (None when a source has nothing to give)."""
        if self.window == "overdue":
            return column < self.today if can_be_overdue else None
        if self.until is not None:
            return sa.and_(column <= self.until, column >= self.today) if can_be_overdue else column <= self.until
        return sa.true()


def user_zone(user) -> ZoneInfo:
    """The user's time zone (their setting, else DISPLAY_TIMEZONE)."""
    for name in (getattr(user, "timezone", None), current_app.config.get("DISPLAY_TIMEZONE"), "UTC"):
        if not name:
            continue
        try:
            return ZoneInfo(name)
        except (ZoneInfoNotFoundError, ValueError):
            continue
    return ZoneInfo("UTC")


def _link(endpoint: str, **values) -> dict:
    """The item's page: its path (url_for in a request, else built from the URL map: jobs have no request),
    and the endpoint and values :func:`absolute_url` builds the address for e-mails and calendars from."""
    if has_request_context():
        path = url_for(endpoint, **values)
    else:
        path = current_app.url_map.bind("localhost").build(endpoint, values)
    return {"url": path, "endpoint": endpoint, "params": tuple(sorted(values.items()))}


def absolute_url(item: DueItem) -> str:
    """The item's page as an absolute address built from BASE_URL (for calendars and e-mails)."""
    from focalpoint.security import external_url

    if not item.endpoint:
        return current_app.config["BASE_URL"].rstrip("/") + item.url
    return external_url(item.endpoint, **dict(item.params))


def _person(name: str | None, email: str | None) -> str:
    return (name or "").strip() or (email or "")


def _expert_name(first: str | None, last: str | None, email: str | None) -> str:
    return f"{first or ''} {last or ''}".strip() or (email or "")


def _my_expert_ids(user):
    """SQL: the registry record(s) linked to ``user`` (not erased or merged)."""
    from focalpoint.experts.models import Expert, ExpertStatus

    return sa.select(Expert.id).where(Expert.user_id == user.id, Expert.merged_into_id.is_(None),
                                      Expert.status != ExpertStatus.ERASED)


# --- notifications ---------------------------------------------------------------------------------------
def _notification_title(title: str, reference: str | None) -> str:
    return f"{reference} {title}" if reference and reference not in title else title


def _notifications(ctx: _Context) -> list[DueItem]:
    from focalpoint.auth.models import User
    from focalpoint.nominations.models import NominationCall
    from focalpoint.notifications.models import Deadline, Notification, NotificationStatus

    if not ctx.is_staff:
        return []
    active = (Notification.status.in_((NotificationStatus.NEW, NotificationStatus.IN_PROGRESS)),
              Notification.duplicate_of_id.is_(None))
    mine = (Notification.assignee_id == ctx.user.id,) if ctx.mine else ()
    assignee = aliased(User)
    items: list[DueItem] = []

    # Secretariat deadlines (a date a call opened from the notification carries is the call's row).
    in_call = sa.select(NominationCall.id).where(
        NominationCall.notification_id == Notification.id,
        sa.or_(NominationCall.application_deadline == Deadline.date,
               NominationCall.nomination_deadline == Deadline.date)).exists()
    if ctx.window == "overdue":
        when = Deadline.due_at < ctx.now
    elif ctx.until is not None:
        when = sa.and_(Deadline.due_at >= ctx.now, Deadline.date <= ctx.until)
    else:
        when = sa.true()
    rows = db.session.execute(
        sa.select(Deadline.id, Deadline.date, Deadline.time, Deadline.due_at, Deadline.label, Notification.id,
                  Notification.title, Notification.reference, Notification.original_id, Notification.assignee_id,
                  assignee.name, assignee.email)
        .join(Notification, Notification.id == Deadline.notification_id)
        .outerjoin(assignee, assignee.id == Notification.assignee_id)
        .where(Deadline.is_removed.is_(False), *active, *mine, ~in_call, when)
        .order_by(Notification.id, Deadline.id)).all()
    seen: set = set()
    for (deadline_id, day, time, due_at, label, nid, title, reference, original_id, owner, name,
         email) in rows:
        # A reminder repeating its original's deadline adds no row (the original, read first, keeps it).
        key = (original_id or nid, day, label)
        if key in seen:
            continue
        seen.add(key)
        items.append(DueItem(
            uid=ctx.uid("notification-deadline", deadline_id), date=day, at=due_at if time is not None else None,
            workflow="notifications", title=_notification_title(title, reference),
            what_is_needed=_("Secretariat: %(label)s", label=(label or "deadline").capitalize()),
            from_whom=_person(name, email) or _("Unassigned"),
            **_link("notifications.detail", notification_id=nid), overdue=due_at < ctx.now, owner_id=owner,
            kind="notification-deadline", item_id=deadline_id))

    # National deadlines (a reminder attached to its original has none of its own).
    in_call = sa.select(NominationCall.id).where(
        NominationCall.notification_id == Notification.id,
        NominationCall.national_deadline == Notification.national_deadline).exists()
    rows = db.session.execute(
        sa.select(Notification.id, Notification.national_deadline, Notification.title, Notification.reference,
                  Notification.assignee_id, assignee.name, assignee.email)
        .outerjoin(assignee, assignee.id == Notification.assignee_id)
        .where(Notification.national_deadline.isnot(None), Notification.original_id.is_(None), *active, *mine,
               ~in_call, ctx.date_clause(Notification.national_deadline))
        .order_by(Notification.id)).all()
    for nid, day, title, reference, owner, name, email in rows:
        items.append(DueItem(
            uid=ctx.uid("notification-national", nid), date=day, at=None, workflow="notifications",
            title=_notification_title(title, reference), what_is_needed=_("National deadline"),
            from_whom=_person(name, email) or _("Unassigned"),
            **_link("notifications.detail", notification_id=nid), overdue=day < ctx.today, owner_id=owner,
            kind="notification-national", item_id=nid))
    return items


# --- nomination calls and invitations --------------------------------------------------------------------
def _calls(ctx: _Context) -> list[DueItem]:
    from focalpoint.auth.models import User
    from focalpoint.invitations.models import Invitation, InvitationState
    from focalpoint.nominations.models import NominationCall

    if not ctx.is_staff:
        return []
    creator = aliased(User)

    def count(state):
        return (sa.select(sa.func.count(Invitation.id))
                .where(Invitation.call_id == NominationCall.id, Invitation.state == state)
                .correlate(NominationCall).scalar_subquery())

    dates = (NominationCall.application_deadline, NominationCall.nomination_deadline, NominationCall.national_deadline)
    clauses = [c for c in (ctx.date_clause(d) for d in dates) if c is not None]
    rows = db.session.execute(
        sa.select(NominationCall.id, NominationCall.title, *dates, NominationCall.created_by_id, creator.name,
                  creator.email, count(InvitationState.PENDING), count(InvitationState.ACCEPTED))
        .outerjoin(creator, creator.id == NominationCall.created_by_id)
        .where(NominationCall.locked_at.is_(None), sa.or_(*clauses),
               *((NominationCall.created_by_id == ctx.user.id,) if ctx.mine else ()))
        .order_by(NominationCall.id)).all()
    items = []
    for call_id, title, application, nomination, national, owner, name, email, pending, accepted in rows:
        link = _link("nominations.detail", call_id=call_id)
        staff = _person(name, email) or _("The focal point team")
        for kind, day, what, who in (
                ("call-application", application, _("Experts apply to the secretariat (application deadline)"),
                 ngettext("%(num)d expert who accepted", "%(num)d experts who accepted", accepted)),
                ("call-nomination", nomination, _("Submit the nominations to the secretariat"), staff),
                ("call-national", national, _("National deadline: invited experts answer"),
                 ngettext("%(num)d invitation not answered", "%(num)d invitations not answered", pending)
                 if pending else _("No invitation waiting for an answer"))):
            if day is None:
                continue
            items.append(DueItem(uid=ctx.uid(kind, call_id), date=day, at=None, workflow="calls", title=title,
                                 what_is_needed=what, from_whom=who, **link, overdue=day < ctx.today,
                                 owner_id=owner, kind=kind, item_id=call_id))
    return items


def _invitations(ctx: _Context) -> list[DueItem]:
    from focalpoint.consultations.services import reminder_marks
    from focalpoint.experts.models import Expert
    from focalpoint.invitations.models import Invitation, InvitationState
    from focalpoint.nominations.models import NominationCall

    items = []
    # Each pending invitation: the expert's own row (every expert's under "all").
    if ctx.is_expert or (ctx.is_staff and ctx.scope == "all"):
        who = (Invitation.expert_id.in_(_my_expert_ids(ctx.user)),) if ctx.is_expert else ()
        rows = db.session.execute(
            sa.select(Invitation.id, NominationCall.national_deadline, NominationCall.title, Expert.first_name,
                      Expert.last_name, Expert.email, Expert.user_id)
            .join(NominationCall, NominationCall.id == Invitation.call_id)
            .join(Expert, Expert.id == Invitation.expert_id)
            .where(Invitation.state == InvitationState.PENDING, NominationCall.locked_at.is_(None), *who,
                   ctx.date_clause(NominationCall.national_deadline))
            .order_by(Invitation.id)).all()
        for invitation_id, day, title, first, last, email, owner in rows:
            items.append(DueItem(
                uid=ctx.uid("invitation", invitation_id), date=day, at=None, workflow="invitations", title=title,
                what_is_needed=_("Answer the invitation"),
                from_whom=_("You") if ctx.is_expert else _expert_name(first, last, email),
                **_link("invitations.detail", invitation_id=invitation_id), overdue=day < ctx.today,
                owner_id=owner, kind="invitation", item_id=invitation_id))
    # The next reminder to the experts who have not answered (sent by the scheduler).
    if ctx.is_staff and ctx.window != "overdue":
        pending = (sa.select(sa.func.count(Invitation.id))
                   .where(Invitation.call_id == NominationCall.id, Invitation.state == InvitationState.PENDING)
                   .correlate(NominationCall).scalar_subquery())
        rows = db.session.execute(
            sa.select(NominationCall.id, NominationCall.title, NominationCall.national_deadline,
                      NominationCall.reminder_days, NominationCall.created_by_id, pending)
            .where(NominationCall.locked_at.is_(None), NominationCall.national_deadline >= ctx.today, pending > 0,
                   *((NominationCall.created_by_id == ctx.user.id,) if ctx.mine else ()))
            .order_by(NominationCall.id)).all()
        for call_id, title, national, marks, owner, count in rows:
            days = sorted(national - dt.timedelta(days=m) for m in reminder_marks(marks))
            day = next((d for d in days if d >= ctx.today), None)
            if day is None or (ctx.until is not None and day > ctx.until):
                continue
            items.append(DueItem(
                uid=ctx.uid("invitation-reminder", call_id, day.strftime("%Y%m%d")), date=day, at=None,
                workflow="invitations", title=title,
                what_is_needed=_("Reminder e-mailed to the invited experts who have not answered"),
                from_whom=ngettext("%(num)d invited expert", "%(num)d invited experts", count),
                **_link("nominations.detail", call_id=call_id), overdue=False, owner_id=owner,
                kind="invitation-reminder", item_id=call_id))
    return items


# --- consultations ---------------------------------------------------------------------------------------
def _consultations(ctx: _Context) -> list[DueItem]:
    from focalpoint.auth.models import User
    from focalpoint.consultations.models import Consultation, Participant
    from focalpoint.notifications.models import Deadline, Notification, NotificationStatus

    if not (ctx.is_staff or ctx.is_expert):
        return []
    items = []
    link = lambda cid: _link("consultations.detail", consultation_id=cid)  # noqa: E731
    close = ctx.date_clause(Consultation.closes_on, can_be_overdue=False)
    if ctx.is_expert:
        if close is None:
            return []
        rows = db.session.execute(
            sa.select(Consultation.id, Consultation.title, Consultation.closes_on)
            .join(Participant, Participant.consultation_id == Consultation.id)
            .where(Participant.expert_id.in_(_my_expert_ids(ctx.user)), Participant.removed_at.is_(None),
                   Consultation.closes_on >= ctx.today, close)
            .order_by(Consultation.id)).all()
        for cid, title, day in rows:
            items.append(DueItem(
                uid=ctx.uid("consultation-close", cid), date=day, at=None, workflow="consultations", title=title,
                what_is_needed=_("Your comments on the drafts (the consultation closes)"), from_whom=_("You"),
                **link(cid), overdue=False, owner_id=ctx.user.id, kind="consultation-close", item_id=cid))
        return items
    if close is None:  # "overdue": a consultation's dates are never overdue
        return []
    creator = aliased(User)
    invited = (sa.select(sa.func.count(Participant.id))
               .where(Participant.consultation_id == Consultation.id, Participant.removed_at.is_(None))
               .correlate(Consultation).scalar_subquery())
    # The secretariat's deadline is the notification's row while that notification is open and lists it.
    listed = (sa.select(Deadline.id).join(Notification, Notification.id == Deadline.notification_id)
              .where(Notification.id == Consultation.notification_id, Deadline.is_removed.is_(False),
                     Deadline.date == Consultation.secretariat_deadline,
                     Notification.status.in_((NotificationStatus.NEW, NotificationStatus.IN_PROGRESS)))
              .correlate(Consultation).exists())
    rows = db.session.execute(
        sa.select(Consultation.id, Consultation.title, Consultation.closes_on, Consultation.secretariat_deadline,
                  Consultation.created_by_id, creator.name, creator.email, invited, listed)
        .outerjoin(creator, creator.id == Consultation.created_by_id)
        .where(sa.or_(sa.and_(Consultation.closes_on >= ctx.today, close),
                      sa.and_(Consultation.secretariat_deadline >= ctx.today,
                              ctx.date_clause(Consultation.secretariat_deadline, can_be_overdue=False))),
               *((Consultation.created_by_id == ctx.user.id,) if ctx.mine else ()))
        .order_by(Consultation.id)).all()
    for cid, title, closes_on, secretariat, owner, name, email, count, is_listed in rows:
        if closes_on >= ctx.today and (ctx.until is None or closes_on <= ctx.until):
            items.append(DueItem(
                uid=ctx.uid("consultation-close", cid), date=closes_on, at=None, workflow="consultations",
                title=title, what_is_needed=_("The consultation closes: experts' comments due"),
                from_whom=ngettext("%(num)d invited expert", "%(num)d invited experts", count), **link(cid),
                overdue=False, owner_id=owner, kind="consultation-close", item_id=cid))
        if secretariat is not None and secretariat >= ctx.today and not is_listed \
                and (ctx.until is None or secretariat <= ctx.until):
            items.append(DueItem(
                uid=ctx.uid("consultation-secretariat", cid), date=secretariat, at=None, workflow="consultations",
                title=title, what_is_needed=_("Send the integrated comments to the secretariat"),
                from_whom=_person(name, email) or _("The focal point team"), **link(cid), overdue=False,
                owner_id=owner, kind="consultation-secretariat", item_id=cid))
    return items


# --- position notes and plenary sessions -----------------------------------------------------------------
def _positions(ctx: _Context) -> list[DueItem]:
    from focalpoint.auth.models import Administration
    from focalpoint.positions.models import AgendaItem, PositionNote, ReviewRequest
    from focalpoint.positions.services import open_requests_clause
    from focalpoint.reference.models import PlenarySession

    owner = sa.func.coalesce(ReviewRequest.requested_by_id, PositionNote.created_by_id)
    if ctx.is_staff:
        who = (owner == ctx.user.id,) if ctx.mine else ()
    elif ctx.is_reviewer:
        who = (ReviewRequest.administration_id == ctx.user.administration_id,)
    else:
        return []
    rows = db.session.execute(
        sa.select(ReviewRequest.id, ReviewRequest.due_date, owner, PositionNote.id,
                  PlenarySession.code, AgendaItem.number, AgendaItem.title, Administration.name)
        .join(PositionNote, PositionNote.id == ReviewRequest.note_id)
        .join(AgendaItem, AgendaItem.id == PositionNote.agenda_item_id)
        .join(PlenarySession, PlenarySession.id == AgendaItem.session_id)
        .join(Administration, Administration.id == ReviewRequest.administration_id)
        .where(open_requests_clause(), sa.or_(PlenarySession.end_date.is_(None), PlenarySession.end_date >= ctx.today),
               ctx.date_clause(ReviewRequest.due_date), *who)
        .order_by(ReviewRequest.id)).all()
    return [DueItem(uid=ctx.uid("review", request_id), date=day, at=None, workflow="positions",
                    title=f"{code} · " + _("Item %(number)s", number=number) + f": {item_title}",
                    what_is_needed=_("Review and clear the position note"), from_whom=administration,
                    **_link("positions.detail", note_id=note_id), overdue=day < ctx.today, owner_id=owner,
                    kind="review", item_id=request_id)
            for request_id, day, owner, note_id, code, number, item_title, administration in rows]


def _plenary(ctx: _Context) -> list[DueItem]:
    from focalpoint.reference.models import PlenarySession

    if not ctx.is_staff or ctx.mine:
        return []
    clause = ctx.date_clause(PlenarySession.start_date, can_be_overdue=False)
    if clause is None:
        return []
    last_day = sa.func.coalesce(PlenarySession.end_date, PlenarySession.start_date)
    rows = db.session.execute(
        sa.select(PlenarySession.id, PlenarySession.code, PlenarySession.place, PlenarySession.start_date,
                  PlenarySession.end_date)
        .where(PlenarySession.start_date.isnot(None), last_day >= ctx.today, clause)
        .order_by(PlenarySession.id)).all()
    return [DueItem(uid=ctx.uid("plenary", sid), date=start, at=None, workflow="plenary",
                    title=f"{code} · {place}" if place else code,
                    what_is_needed=_("Plenary session: position notes and briefing pack ready"),
                    from_whom=_("The focal point team"), **_link("plenary.detail", session_id=sid), overdue=False,
                    owner_id=None, kind="plenary", item_id=sid, end_date=end if end and end != start else None)
            for sid, code, place, start, end in rows]


# --- events ----------------------------------------------------------------------------------------------
def _events(ctx: _Context) -> list[DueItem]:
    from focalpoint.events.models import Event, Registration, RegistrationStatus
    from focalpoint.experts.models import Expert

    if ctx.window == "overdue" or not (ctx.is_staff or ctx.is_expert):
        return []
    # Events starting by the end of the window's last day (in the user's zone).
    until = (sa.true() if ctx.until is None else
             Event.starts_at < dt.datetime.combine(ctx.until + dt.timedelta(days=1), dt.time(),
                                                   tzinfo=ctx.zone).astimezone(dt.timezone.utc))
    ahead = (Event.cancelled_at.is_(None), Event.ends_at >= ctx.now, until)
    items = []
    if ctx.is_expert:
        mine = sa.or_(Registration.expert_id.in_(_my_expert_ids(ctx.user)),
                      Registration.email.in_(sa.select(Expert.email).where(Expert.id.in_(_my_expert_ids(ctx.user)))))
        rows = db.session.execute(
            sa.select(Event.id, Event.title, Event.starts_at, Event.ends_at, sa.func.min(Registration.status))
            .join(Registration, Registration.event_id == Event.id)
            .where(*ahead, mine, Registration.status != RegistrationStatus.CANCELLED)
            .group_by(Event.id, Event.title, Event.starts_at, Event.ends_at).order_by(Event.id)).all()
        for eid, title, starts, ends, status in rows:
            # "registered" sorts before "waitlisted": a seat under either address counts.
            what = _("Attend the event (you are registered)") if status == RegistrationStatus.REGISTERED \
                else _("The event (you are on the waiting list)")
            items.append(DueItem(uid=ctx.uid("event", eid), date=starts.astimezone(ctx.zone).date(), at=starts,
                                 workflow="events", title=title, what_is_needed=what, from_whom=_("You"),
                                 **_link("events.detail", event_id=eid), overdue=False, owner_id=ctx.user.id,
                                 kind="event", item_id=eid, ends_at=ends))
        return items
    registered = (sa.select(sa.func.count(Registration.id))
                  .where(Registration.event_id == Event.id, Registration.status == RegistrationStatus.REGISTERED)
                  .correlate(Event).scalar_subquery())
    rows = db.session.execute(
        sa.select(Event.id, Event.title, Event.starts_at, Event.ends_at, Event.created_by_id, registered)
        .where(*ahead, *((Event.created_by_id == ctx.user.id,) if ctx.mine else ()))
        .order_by(Event.id)).all()
    for eid, title, starts, ends, owner, count in rows:
        items.append(DueItem(uid=ctx.uid("event", eid), date=starts.astimezone(ctx.zone).date(), at=starts,
                             workflow="events", title=title, what_is_needed=_("The event takes place"),
                             from_whom=ngettext("%(num)d registered", "%(num)d registered", count),
                             **_link("events.detail", event_id=eid), overdue=False, owner_id=owner,
                             kind="event", item_id=eid, ends_at=ends))
    return items


_SOURCES = {
    "notifications": _notifications,
    "calls": _calls,
    "invitations": _invitations,
    "consultations": _consultations,
    "positions": _positions,
    "plenary": _plenary,
    "events": _events,
}


def _in_window(item: DueItem, ctx: _Context) -> bool:
    if ctx.window == "overdue":
        return item.overdue
    if ctx.until is not None:
        return not item.overdue and item.date <= ctx.until
    return True


def due_items(user, *, scope: str = "mine", workflow: str | Iterable[str] | None = None,
              window: str | None = None, today: dt.date | None = None,
              now: dt.datetime | None = None) -> list[DueItem]:
    """Every dated obligation ``user`` may see, nearest first (overdue ones, the oldest first, lead).

    ``scope``: "mine", "team" or "all" (staff only; anyone else always gets their own rows).
    ``workflow``: one of WORKFLOWS (or several), None for all. ``window``: "overdue", "7" or "30" (the
    next days, overdue ones left out), or None. ``today`` defaults to the date in the user's time zone.
    One query per source whatever the amount of data. Unknown values raise ValueError.
    """
    if scope not in SCOPES:
        raise ValueError(f"scope must be one of {SCOPES}, not {scope!r}")
    wanted = set(WORKFLOWS) if workflow is None else {workflow} if isinstance(workflow, str) else set(workflow)
    if not wanted <= set(WORKFLOWS):
        raise ValueError(f"workflow must be among {WORKFLOWS}, not {workflow!r}")
    if window is not None and window not in WINDOWS:
        raise ValueError(f"window must be one of {WINDOWS}, not {window!r}")
    ctx = _Context(user, scope, window, today, now)
    items: list[DueItem] = []
    for name, source in _SOURCES.items():
        if name in wanted:
            items.extend(item for item in source(ctx) if _in_window(item, ctx))
    items.sort(key=sort_key)
    return items


def sort_key(item: DueItem):
    """Nearest first: the moment (a whole-day item counts at the end of its day), then a fixed order of kinds."""
    return (item.sort_moment, _KIND_RANK.get(item.kind, 99), item.uid)


def find_item(user, kind: str, item_id: int, *, today: dt.date | None = None) -> DueItem | None:
    """One row of ``user``'s due items (staff: any, scope "all"), or None when it is not (or no longer) due
    or not theirs to see."""
    workflow = KINDS.get(kind)
    if workflow is None:
        return None
    for item in due_items(user, scope="all", workflow=workflow, today=today):
        if item.kind == kind and item.item_id == item_id:
            return item
    return None
