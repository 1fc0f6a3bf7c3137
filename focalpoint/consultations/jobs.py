"""Scheduled consultation work: reminders to invited experts who have not commented yet.

Safe to run twice or in two processes at once: each reminder has its own outbox key
("consultation:<id>:participant:<id>:reminder:<days>"), so a second run finds it queued and sends
nothing more. A run that was missed on a reminder day catches up once, on the next run.
"""
from __future__ import annotations

import datetime as dt
import logging

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm.exc import StaleDataError

from focalpoint.consultations import services as svc
from focalpoint.consultations.models import Consultation, Participant, ReviewComment
from focalpoint.db import utcnow
from focalpoint.extensions import db

log = logging.getLogger(__name__)


def current_mark(consultation: Consultation, today: dt.date) -> int | None:
    """The reminder mark in force today: the latest of the marks whose day has come (None before the
    first one and after the close). Run on a mark's day, that is the mark itself; a missed run is caught
    up on a later day, once."""
    days_left = (consultation.closes_on - today).days
    if days_left < 0:
        return None
    due = [mark for mark in svc.reminder_marks(consultation.reminder_days) if mark >= days_left]
    return min(due) if due else None


def send_consultation_reminders(now: dt.datetime | None = None) -> int:
    """One reminder per reminder mark to each participant of an open consultation who was sent the
    invitation, is not removed and has not commented; returns how many were queued."""
    now = now or utcnow()
    today = svc.local_today(now)
    consultations = db.session.scalars(sa.select(Consultation).where(
        svc.state_clause("open", today), Consultation.reminder_days != "").order_by(Consultation.id)).all()
    sent = 0
    for consultation in consultations:
        mark = current_mark(consultation, today)
        if mark is None:
            continue
        mark_day = consultation.closes_on - dt.timedelta(days=mark)
        waiting = db.session.scalars(sa.select(Participant).where(
            Participant.consultation_id == consultation.id, Participant.sent_at.isnot(None),
            Participant.removed_at.is_(None),
            ~sa.exists().where(ReviewComment.participant_id == Participant.id)).order_by(Participant.id)).all()
        for participant in waiting:
            if svc.local_today(participant.sent_at) >= mark_day:
                continue  # invited on or after the mark's day: that reminder is not for them
            key = f"consultation:{consultation.id}:participant:{participant.id}:reminder:{mark}"
            try:
                with db.session.begin_nested():
                    if svc.remind_participant(participant, actor=None, idem_key=key, mark=str(mark), now=now):
                        sent += 1
            except (IntegrityError, StaleDataError, svc.ConsultationError):
                # Queued by another process first, or the expert can no longer be contacted: nothing to send.
                db.session.expire(participant)
                continue
    db.session.commit()
    if sent:
        log.info("queued %d consultation reminder(s)", sent)
    return sent
