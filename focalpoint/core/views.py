"""The dashboard and a health check."""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import sqlalchemy as sa
from flask import Blueprint, render_template
from flask_login import current_user
from sqlalchemy.orm import contains_eager

from focalpoint.db import utcnow
from focalpoint.extensions import db
from focalpoint.i18n import local_today
from focalpoint.notifications.models import Deadline, FeedSource, Notification, NotificationStatus
from focalpoint.security import authenticated, public

bp = Blueprint("core", __name__)

ACTIVE = (NotificationStatus.NEW, NotificationStatus.IN_PROGRESS)


@dataclass
class DueItem:
    """One row of "what is due": a secretariat deadline or a national deadline."""

    when: dt.date
    due_at: dt.datetime | None
    is_national: bool
    label: str
    notification: Notification
    deadline: Deadline | None = None

    @property
    def sort_key(self):
        moment = self.due_at or dt.datetime.combine(self.when, dt.time(23, 59), tzinfo=dt.timezone.utc)
        return (moment, self.notification.id)


def due_items(*, overdue: bool, limit: int = 20) -> list[DueItem]:
    """Secretariat and national deadlines of active notifications, nearest first (or overdue, latest first)."""
    now = utcnow()
    today = local_today()
    stmt = (sa.select(Deadline).join(Deadline.notification).options(contains_eager(Deadline.notification))
            .where(Deadline.is_removed.is_(False), Notification.status.in_(ACTIVE),
                   Notification.duplicate_of_id.is_(None)))
    national = sa.select(Notification).where(Notification.status.in_(ACTIVE), Notification.national_deadline.isnot(None),
                                             Notification.duplicate_of_id.is_(None))
    if overdue:
        stmt = stmt.where(Deadline.due_at < now).order_by(Deadline.due_at.desc())
        national = national.where(Notification.national_deadline < today).order_by(Notification.national_deadline.desc())
    else:
        stmt = stmt.where(Deadline.due_at >= now).order_by(Deadline.due_at)
        national = national.where(Notification.national_deadline >= today).order_by(Notification.national_deadline)
    # Over-fetch, then fold a reminder's repeat of its original's deadline into one row.
    items = [DueItem(when=d.date, due_at=d.due_at, is_national=False, label=d.label, notification=d.notification,
                     deadline=d) for d in db.session.scalars(stmt.limit(limit * 2))]
    # A reminder attached to its original has no national deadline of its own.
    items += [DueItem(when=n.national_deadline, due_at=None, is_national=True, label="national", notification=n)
              for n in db.session.scalars(national.where(Notification.original_id.is_(None)).limit(limit))]
    items.sort(key=lambda item: item.sort_key, reverse=overdue)
    seen: set = set()
    folded = []
    for item in items:
        thread = item.notification.original_id or item.notification.id
        key = (thread, item.when, item.is_national or item.label)
        if key in seen:
            continue
        seen.add(key)
        folded.append(item)
    return folded[:limit]


@bp.get("/")
@authenticated
def index():
    from focalpoint.positions.plenary_services import reviews_due, upcoming_sessions

    if not current_user.is_staff:
        reviews = reviews_due(local_today(), administration_id=current_user.administration_id) \
            if current_user.has_role("reviewer") and current_user.administration_id else []
        return render_template("core/welcome.html", reviews=reviews)
    new_items = db.session.scalars(
        sa.select(Notification).where(Notification.status == NotificationStatus.NEW,
                                      Notification.duplicate_of_id.is_(None))
        .order_by(Notification.published_at.desc().nulls_last(), Notification.id.desc()).limit(10)
    ).all()
    new_count = db.session.scalar(sa.select(sa.func.count()).where(Notification.status == NotificationStatus.NEW,
                                                                    Notification.duplicate_of_id.is_(None)))
    failing = db.session.scalars(sa.select(FeedSource).where(FeedSource.last_error.isnot(None))
                                 .order_by(FeedSource.name)).all()
    return render_template("core/dashboard.html", upcoming=due_items(overdue=False), overdue=due_items(overdue=True),
                           new_items=new_items, new_count=new_count, failing=failing,
                           reviews=reviews_due(local_today()), sessions=upcoming_sessions(local_today()))


@bp.get("/healthz")
@public
def health():
    db.session.execute(sa.text("SELECT 1"))
    return {"status": "ok"}
