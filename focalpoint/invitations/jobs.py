"""Scheduled invitation work: expiry at the national deadline, and reminders to those who have not answered.

Both jobs commit and are safe to run twice or in two processes at once: expiry goes through the state
choke point (a repeat is a no-op), and each reminder has its own outbox key
("invitation:<id>:reminder:<days>"), so a second run finds it queued and sends nothing more.
"""
from __future__ import annotations

import datetime as dt
import logging

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm.exc import StaleDataError

from focalpoint.db import utcnow
from focalpoint.extensions import db
from focalpoint.invitations import services as svc
from focalpoint.invitations.models import Invitation, InvitationState
from focalpoint.nominations.models import NominationCall

log = logging.getLogger(__name__)


def expire_invitations(now: dt.datetime | None = None) -> int:
    """Pending invitations past their link's expiry become expired; returns how many.

    The links first follow their calls' national deadlines (a deadline staff moved since sending)."""
    now = now or utcnow()
    for call in db.session.scalars(sa.select(NominationCall).where(NominationCall.id.in_(
            sa.select(Invitation.call_id).where(Invitation.state == InvitationState.PENDING)))):
        svc.sync_expiry(call)
    ids = db.session.scalars(sa.select(Invitation.id).where(Invitation.state == InvitationState.PENDING,
                                                            Invitation.expires_at <= now)).all()
    expired = 0
    for invitation_id in ids:
        try:
            with db.session.begin_nested():
                invitation = db.session.get(Invitation, invitation_id, populate_existing=True)
                if invitation is not None and invitation.state == InvitationState.PENDING:
                    svc.set_invitation_state(invitation, InvitationState.EXPIRED, actor=None,
                                             note="the national deadline passed")
                    expired += 1
        except StaleDataError:  # another process changed it first
            continue
    db.session.commit()
    if expired:
        log.info("expired %d invitation(s)", expired)
    return expired


def reminder_marks(call: NominationCall) -> list[int]:
    """The call's reminder days ("7;2" → [7, 2]); anything that is not a whole number of days is ignored."""
    marks = set()
    for part in (call.reminder_days or "").replace(",", ";").split(";"):
        part = part.strip()
        if part.isdigit() and int(part) <= 366:
            marks.add(int(part))
    return sorted(marks, reverse=True)


def current_mark(call: NominationCall, today: dt.date) -> int | None:
    """The reminder mark in force today: the latest of the marks whose day has come (None before the
    first one and after the deadline). Run on a mark's day, that is the mark itself; a run that was
    missed is caught up later that week, once."""
    days_left = (call.national_deadline - today).days
    if days_left < 0:
        return None
    due = [mark for mark in reminder_marks(call) if mark >= days_left]
    return min(due) if due else None


def send_reminders(now: dt.datetime | None = None) -> int:
    """One reminder per reminder mark to each invitation still pending; returns how many were queued."""
    now = now or utcnow()
    today = svc.local_date(now)
    calls = db.session.scalars(
        sa.select(NominationCall).where(
            NominationCall.locked_at.is_(None), NominationCall.national_deadline >= today,
            NominationCall.id.in_(sa.select(Invitation.call_id).where(Invitation.state == InvitationState.PENDING)))
    ).all()
    sent = 0
    for call in calls:
        mark = current_mark(call, today)
        if mark is None:
            continue
        mark_day = call.national_deadline - dt.timedelta(days=mark)
        pending = db.session.scalars(sa.select(Invitation).where(
            Invitation.call_id == call.id, Invitation.state == InvitationState.PENDING).order_by(Invitation.id)).all()
        for invitation in pending:
            if invitation.sent_at is not None and svc.local_date(invitation.sent_at) >= mark_day:
                continue  # invited on or after the mark's day: that reminder is not for them
            key = f"invitation:{invitation.id}:reminder:{mark}"
            try:
                with db.session.begin_nested():
                    if svc.remind_invitation(invitation, actor=None, idem_key=key, mark=str(mark), now=now):
                        sent += 1
            except (IntegrityError, StaleDataError, svc.InvitationError):
                # Another process queued it (or changed the invitation) first: nothing more to send.
                db.session.expire(invitation)
                continue
    db.session.commit()
    if sent:
        log.info("queued %d invitation reminder(s)", sent)
    return sent
