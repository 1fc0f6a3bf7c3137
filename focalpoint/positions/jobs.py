"""Scheduled position-note work: reminders to administrations whose review is nearly due.

Safe to run twice or in two processes at once: each reminder has its own outbox key
("position-review:<request>:due:<date>:<mark>:<user>"), so a second run finds it queued and sends nothing more.
"""
from __future__ import annotations

import datetime as dt
import logging

from sqlalchemy.exc import IntegrityError

from focalpoint.audit import log_action
from focalpoint.db import utcnow
from focalpoint.extensions import db
from focalpoint.positions import services as svc

log = logging.getLogger(__name__)

#: Days before the due date on which reviewers who have not decided are reminded (0: the due day).
REMINDER_MARKS = (3, 0)


def current_mark(due_date: dt.date, today: dt.date, marks=REMINDER_MARKS) -> int | None:
    """The reminder mark in force today: the latest mark whose day has come (None before the first one and
    after the due date). A run that was missed is caught up later, once."""
    days_left = (due_date - today).days
    if days_left < 0:
        return None
    due = [mark for mark in marks if mark >= days_left]
    return min(due) if due else None


def remind_due_reviews(now: dt.datetime | None = None) -> int:
    """E-mail the reviewers of every administration whose review is nearly due and which has not decided on
    the note's current version; returns how many e-mails were queued."""
    now = now or utcnow()
    today = svc.local_today(now)
    requests = svc.due_reviews(today)
    reviewers = svc.reviewers_by_administration(r.administration_id for r in requests)
    queued = 0
    for request in requests:
        mark = current_mark(request.due_date, today)
        if mark is None:
            continue
        mark_day = request.due_date - dt.timedelta(days=mark)
        if svc.local_today(request.requested_at) >= mark_day:
            continue  # asked on or after the mark's day: that reminder is not for them
        note = request.note
        for user in reviewers.get(request.administration_id, []):
            key = f"position-review:{request.id}:due:{request.due_date.isoformat()}:{mark}:{user.id}"
            try:
                with db.session.begin_nested():
                    message = svc.queue_review_mail(note, request, user, template="reminder", key=key,
                                                     days_left=(request.due_date - today).days)
                    if message is not None:
                        log_action(note, "position_note.review_reminded", actor=None,
                                   data={"request_id": request.id, "user_id": user.id, "mark": mark})
                        queued += 1
            except IntegrityError:  # another process queued it first
                continue
    db.session.commit()
    if queued:
        log.info("queued %d position review reminder(s)", queued)
    return queued
