"""Admin: the e-mail outbox (what was sent, what waits, what failed and why; retry now)."""
from __future__ import annotations

import sqlalchemy as sa
from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user

from focalpoint.audit import entries_for, log_action
from focalpoint.auth.models import Role
from focalpoint.db import utcnow
from focalpoint.extensions import db
from focalpoint.forms import ConfirmForm
from focalpoint.listing import Listing
from focalpoint.mail import OutboxMessage, OutboxStatus, transport_description
from focalpoint.security import roles_required, safe_next

bp = Blueprint("outbox", __name__, url_prefix="/admin/outbox")

#: The status filter: the stored statuses, plus "failed" (pending, waiting to retry after an error).
STATUS_FILTERS = {
    "pending": _l("Pending"),
    "failed": _l("Failed, will retry"),
    "sending": _l("Sending"),
    "sent": _l("Sent"),
    "dead": _l("Given up"),
}


def is_failed(message: OutboxMessage) -> bool:
    return message.status == OutboxStatus.PENDING and message.attempts > 0


def can_retry(message: OutboxMessage) -> bool:
    """Retry now: for a message that failed and waits, or one that was given up."""
    return message.status == OutboxStatus.DEAD or is_failed(message)


def _filter_status(stmt, status: str):
    if status == "failed":
        return stmt.where(OutboxMessage.status == OutboxStatus.PENDING, OutboxMessage.attempts > 0)
    if status == "pending":
        return stmt.where(OutboxMessage.status == OutboxStatus.PENDING, OutboxMessage.attempts == 0)
    if status in ("sending", "sent", "dead"):
        return stmt.where(OutboxMessage.status == OutboxStatus(status))
    return stmt


def status_counts() -> dict[str, int]:
    tried = sa.case((OutboxMessage.attempts > 0, 1), else_=0).label("tried")
    rows = db.session.execute(
        sa.select(OutboxMessage.status, tried, sa.func.count()).group_by(OutboxMessage.status, tried)
    ).all()
    counts = dict.fromkeys(STATUS_FILTERS, 0)
    for status, tried, n in rows:
        key = "failed" if status == OutboxStatus.PENDING and tried else str(status)
        counts[key] += n
    return counts


@bp.get("")
@roles_required(Role.ADMIN)
def index():
    listing = Listing(request.args, sorts={"created": OutboxMessage.created_at, "to": OutboxMessage.to_addr,
                                           "next": OutboxMessage.next_attempt_at,
                                           "attempts": OutboxMessage.attempts, "sent": OutboxMessage.sent_at},
                      default_sort="created", default_dir="desc")
    stmt = sa.select(OutboxMessage).options(
        sa.orm.load_only(OutboxMessage.id, OutboxMessage.to_addr, OutboxMessage.subject, OutboxMessage.status,
                         OutboxMessage.attempts, OutboxMessage.next_attempt_at, OutboxMessage.last_error,
                         OutboxMessage.sent_at, OutboxMessage.created_at, OutboxMessage.category))
    if listing.q:
        like = listing.like()
        stmt = stmt.where(sa.or_(OutboxMessage.to_addr.ilike(like, escape="\\"),
                                 OutboxMessage.subject.ilike(like, escape="\\"),
                                 OutboxMessage.idem_key.ilike(like, escape="\\")))
    status = request.args.get("status", "")
    status = status if status in STATUS_FILTERS else ""
    stmt = _filter_status(stmt, status)
    page = listing.paginate(stmt)
    return render_template("outbox/index.html", page=page, listing=listing, status=status,
                           statuses=STATUS_FILTERS, counts=status_counts(), transport=transport_description(),
                           confirm_form=ConfirmForm(), can_retry=can_retry, is_failed=is_failed)


@bp.get("/<int:message_id>")
@roles_required(Role.ADMIN)
def detail(message_id: int):
    message = db.get_or_404(OutboxMessage, message_id)
    return render_template("outbox/detail.html", message=message, history=entries_for(message, 50),
                           confirm_form=ConfirmForm(), can_retry=can_retry(message), statuses=STATUS_FILTERS)


@bp.post("/<int:message_id>/retry")
@roles_required(Role.ADMIN)
def retry(message_id: int):
    message = db.get_or_404(OutboxMessage, message_id)
    form = ConfirmForm()
    if not form.validate_on_submit():
        flash(_("The form expired; please try again."), "danger")
    elif not can_retry(message):
        flash(_("Only a message that failed or was given up can be retried."), "warning")
    else:
        previous = "dead" if message.status == OutboxStatus.DEAD else "failed"
        # A conditional UPDATE: a relay that claimed the message meanwhile keeps it.
        done = db.session.execute(
            sa.update(OutboxMessage)
            .where(OutboxMessage.id == message.id, OutboxMessage.status == message.status)
            .values(status=OutboxStatus.PENDING, next_attempt_at=utcnow())
            .execution_options(synchronize_session=False)
        ).rowcount == 1
        if done:
            log_action(message, "outbox.retry", actor=current_user,
                       data={"previous_status": previous, "attempts": message.attempts})
            db.session.commit()
            flash(_("The message to %(to)s will be sent again within a minute.", to=message.to_addr),
                  "success")
        else:
            db.session.rollback()
            flash(_("The message changed meanwhile; nothing was done."), "warning")
    back = safe_next(request.form.get("back"), url_for("outbox.index"))
    return redirect(back if back.startswith(url_for("outbox.index")) else url_for("outbox.index"))
