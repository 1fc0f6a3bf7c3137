"""The dashboard and a health check."""
from __future__ import annotations

import sqlalchemy as sa
from flask import Blueprint, render_template
from flask_login import current_user

from focalpoint.due.services import due_items, sort_key
from focalpoint.extensions import db
from focalpoint.i18n import local_today
from focalpoint.notifications.models import FeedSource, Notification, NotificationStatus
from focalpoint.security import authenticated, public

bp = Blueprint("core", __name__)


#: Rows of the dashboard's due lists; reviews and plenary sessions have their own sections below them.
DASHBOARD_WORKFLOWS = ("notifications", "calls", "invitations", "consultations", "events")
DASHBOARD_ROWS = 20


@bp.get("/")
@authenticated
def index():
    from focalpoint.positions.plenary_services import reviews_due, upcoming_sessions

    if not current_user.is_staff:
        reviews = reviews_due(local_today(), administration_id=current_user.administration_id) \
            if current_user.has_role("reviewer") and current_user.administration_id else []
        mine = due_items(current_user, workflow=("invitations", "consultations", "events")) \
            if current_user.has_role("expert") else []
        return render_template("core/welcome.html", reviews=reviews, due_items=mine[:DASHBOARD_ROWS])
    new_items = db.session.scalars(
        sa.select(Notification).where(Notification.status == NotificationStatus.NEW,
                                      Notification.duplicate_of_id.is_(None))
        .order_by(Notification.published_at.desc().nulls_last(), Notification.id.desc()).limit(10)
    ).all()
    new_count = db.session.scalar(sa.select(sa.func.count()).where(Notification.status == NotificationStatus.NEW,
                                                                    Notification.duplicate_of_id.is_(None)))
    failing = db.session.scalars(sa.select(FeedSource).where(FeedSource.last_error.isnot(None))
                                 .order_by(FeedSource.name)).all()
    items = due_items(current_user, scope="team", workflow=DASHBOARD_WORKFLOWS)
    upcoming = [item for item in items if not item.overdue][:DASHBOARD_ROWS]
    overdue = sorted((item for item in items if item.overdue), key=sort_key, reverse=True)[:DASHBOARD_ROWS]
    return render_template("core/dashboard.html", upcoming=upcoming, overdue=overdue,
                           new_items=new_items, new_count=new_count, failing=failing,
                           reviews=reviews_due(local_today()), sessions=upcoming_sessions(local_today()))


@bp.get("/healthz")
@public
def health():
    db.session.execute(sa.text("SELECT 1"))
    return {"status": "ok"}
