"""The inbox: list, detail and triage of notifications; feed sources (admin)."""
from __future__ import annotations

import datetime as dt

import sqlalchemy as sa
from flask import Blueprint, abort, current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from sqlalchemy.orm import selectinload

from focalpoint.audit import entries_for
from focalpoint.auth.models import Role, User, UserRole
from focalpoint.db import utcnow
from focalpoint.extensions import db
from focalpoint.forms import ConfirmForm
from focalpoint.listing import Listing
from focalpoint.notifications import services as svc
from focalpoint.notifications.forms import (KIND_LABELS, STATUS_LABELS, AssignForm, DeadlineForm, EmailUploadForm,
                                            FeedSourceForm, KindForm, ManualNotificationForm, NationalDeadlineForm,
                                            NoteForm, StatusForm)
from focalpoint.notifications.models import (Deadline, FeedSource, FetchLog, Notification, NotificationKind,
                                             NotificationStatus, Origin)
from focalpoint.security import roles_required

bp = Blueprint("notifications", __name__)

STAFF = (Role.STAFF,)


@bp.record_once
def _labels(state):
    # Jinja globals, not a context processor: the macros of notifications/_badges.html are imported
    # without context (dashboard, list, detail), and only globals reach them.
    state.app.jinja_env.globals.update(KIND_LABELS=KIND_LABELS, STATUS_LABELS=STATUS_LABELS)


def _parse_date(value: str | None) -> dt.date | None:
    try:
        return dt.date.fromisoformat(value) if value else None
    except ValueError:
        return None


def next_deadline_column(now: dt.datetime):
    return (
        sa.select(sa.func.min(Deadline.due_at))
        .where(Deadline.notification_id == Notification.id, Deadline.is_removed.is_(False), Deadline.due_at >= now)
        .correlate(Notification)
        .scalar_subquery()
        .label("next_due")
    )


@bp.get("/notifications")
@roles_required(*STAFF)
def index():
    now = utcnow()
    next_due = next_deadline_column(now)
    listing = Listing(request.args, sorts={"published": Notification.published_at, "title": Notification.title,
                                           "reference": Notification.reference, "deadline": next_due,
                                           "status": Notification.status, "kind": Notification.kind},
                      default_sort="published", default_dir="desc")
    filters = {key: (request.args.get(key) or "").strip() for key in
               ("kind", "status", "source", "deadline", "assignee", "from", "to", "copies")}
    stmt = sa.select(Notification, next_due)
    if listing.q:
        like = listing.like()
        stmt = stmt.where(sa.or_(Notification.title.ilike(like, escape="\\"),
                                 Notification.reference.ilike(like, escape="\\"),
                                 Notification.text.ilike(like, escape="\\")))
    if filters["kind"] in {k.value for k in NotificationKind}:
        stmt = stmt.where(Notification.kind == NotificationKind(filters["kind"]))
    if filters["status"] in {s.value for s in NotificationStatus}:
        stmt = stmt.where(Notification.status == NotificationStatus(filters["status"]))
    elif filters["status"] != "all":
        filters["status"] = ""
        stmt = stmt.where(Notification.status != NotificationStatus.ARCHIVED)
    if filters["source"] in ("manual", "email"):
        stmt = stmt.where(Notification.origin == Origin(filters["source"]))
    elif filters["source"].isdigit():
        stmt = stmt.where(Notification.source_id == int(filters["source"]))
    has_deadline = sa.exists().where(Deadline.notification_id == Notification.id, Deadline.is_removed.is_(False))
    if filters["deadline"] == "yes":
        stmt = stmt.where(has_deadline)
    elif filters["deadline"] == "no":
        stmt = stmt.where(~has_deadline)
    elif filters["deadline"] == "upcoming":
        stmt = stmt.where(next_due.isnot(None))
    if filters["assignee"] == "me":
        stmt = stmt.where(Notification.assignee_id == current_user.id)
    elif filters["assignee"] == "none":
        stmt = stmt.where(Notification.assignee_id.is_(None))
    start, end = _parse_date(filters["from"]), _parse_date(filters["to"])
    if start:
        stmt = stmt.where(Notification.published_at >= dt.datetime.combine(start, dt.time(), tzinfo=dt.timezone.utc))
    if end:
        stmt = stmt.where(Notification.published_at < dt.datetime.combine(end + dt.timedelta(days=1), dt.time(),
                                                                          tzinfo=dt.timezone.utc))
    if filters["copies"] != "1":
        stmt = stmt.where(Notification.duplicate_of_id.is_(None))
    page = listing.paginate(stmt, Notification.id.desc(), scalars=False)
    sources = db.session.scalars(sa.select(FeedSource).order_by(FeedSource.name)).all()
    return render_template("notifications/index.html", page=page, listing=listing, filters=filters,
                           sources=sources, kinds=list(NotificationKind), statuses=list(NotificationStatus))


def _load(notification_id: int) -> Notification:
    n = db.session.scalar(
        sa.select(Notification).where(Notification.id == notification_id)
        .options(selectinload(Notification.deadlines), selectinload(Notification.notes))
    )
    if n is None:
        abort(404)
    return n


def _staff_choices():
    rows = db.session.scalars(
        sa.select(User).where(User.is_enabled.is_(True),
                              User.id.in_(sa.select(UserRole.user_id).where(UserRole.role.in_([Role.STAFF, Role.ADMIN]))))
        .order_by(User.name, User.email)
    ).all()
    return [(0, _("— nobody —"))] + [(u.id, u.display_name) for u in rows]


@bp.get("/notifications/<int:notification_id>")
@roles_required(*STAFF)
def detail(notification_id: int):
    n = _load(notification_id)
    related = {
        "original": n.original,
        "duplicate_of": n.duplicate_of,
        "reminders": db.session.scalars(sa.select(Notification).where(Notification.original_id == n.id)
                                        .order_by(Notification.published_at)).all(),
        "copies": db.session.scalars(sa.select(Notification).where(Notification.duplicate_of_id == n.id)
                                     .order_by(Notification.id)).all(),
        "cited": db.session.scalars(sa.select(Notification).where(
            Notification.reference.in_(n.related_references or []), Notification.id != n.id,
            Notification.duplicate_of_id.is_(None))).all() if n.related_references else [],
    }
    assign_form = AssignForm(assignee_id=n.assignee_id or 0)
    assign_form.assignee_id.choices = _staff_choices()
    return render_template(
        "notifications/detail.html", n=n, related=related,
        status_form=StatusForm(status=n.status.value), kind_form=KindForm(kind=n.kind.value),
        assign_form=assign_form, national_form=NationalDeadlineForm(national_deadline=n.national_deadline),
        deadline_form=DeadlineForm(), note_form=NoteForm(), confirm_form=ConfirmForm(),
        allowed_statuses=[n.status, *sorted(svc.STATUS_TRANSITIONS[n.status], key=list(NotificationStatus).index)],
        history=entries_for(n, 100),
    )


def _back(n: Notification, anchor: str = ""):
    return redirect(url_for("notifications.detail", notification_id=n.id) + (f"#{anchor}" if anchor else ""))


def _form_errors(form) -> None:
    for field, errors in form.errors.items():
        label = getattr(getattr(form, field, None), "label", None)
        for error in errors:
            flash(f"{label.text if label else field}: {error}", "danger")


@bp.post("/notifications/<int:notification_id>/status")
@roles_required(*STAFF)
def change_status(notification_id: int):
    n = _load(notification_id)
    form = StatusForm()
    if form.validate_on_submit():
        try:
            svc.set_status(n, NotificationStatus(form.status.data), actor=current_user)
        except svc.NotificationError as exc:
            flash(str(exc), "danger")
        else:
            db.session.commit()
            flash(_("Status: %(s)s.", s=STATUS_LABELS[n.status]), "success")
    else:
        _form_errors(form)
    return _back(n, "triage")


@bp.post("/notifications/<int:notification_id>/kind")
@roles_required(*STAFF)
def change_kind(notification_id: int):
    n = _load(notification_id)
    form = KindForm()
    if form.validate_on_submit():
        svc.override_kind(n, NotificationKind(form.kind.data), actor=current_user)
        db.session.commit()
        flash(_("Kind: %(k)s.", k=KIND_LABELS[n.kind]), "success")
    else:
        _form_errors(form)
    return _back(n, "triage")


@bp.post("/notifications/<int:notification_id>/assignee")
@roles_required(*STAFF)
def change_assignee(notification_id: int):
    n = _load(notification_id)
    form = AssignForm()
    form.assignee_id.choices = _staff_choices()
    if form.validate_on_submit():
        user = db.session.get(User, form.assignee_id.data) if form.assignee_id.data else None
        try:
            svc.assign(n, user, actor=current_user)
        except svc.NotificationError as exc:
            flash(str(exc), "danger")
        else:
            db.session.commit()
            flash(_("Assignment saved."), "success")
    else:
        _form_errors(form)
    return _back(n, "triage")


@bp.post("/notifications/<int:notification_id>/national-deadline")
@roles_required(*STAFF)
def change_national_deadline(notification_id: int):
    n = _load(notification_id)
    form = NationalDeadlineForm()
    if form.validate_on_submit():
        svc.set_national_deadline(n, form.national_deadline.data, actor=current_user)
        db.session.commit()
        flash(_("National deadline saved."), "success")
    else:
        _form_errors(form)
    return _back(n, "deadlines")


@bp.post("/notifications/<int:notification_id>/deadlines")
@roles_required(*STAFF)
def add_deadline(notification_id: int):
    n = _load(notification_id)
    form = DeadlineForm()
    if form.validate_on_submit():
        svc.add_deadline(n, date=form.date.data, time=form.time.data, label=form.label.data, actor=current_user)
        db.session.commit()
        flash(_("Deadline added."), "success")
    else:
        _form_errors(form)
    return _back(n, "deadlines")


def _deadline(n: Notification, deadline_id: int) -> Deadline:
    d = next((d for d in n.deadlines if d.id == deadline_id), None)
    if d is None:
        abort(404)
    return d


@bp.post("/notifications/<int:notification_id>/deadlines/<int:deadline_id>")
@roles_required(*STAFF)
def correct_deadline(notification_id: int, deadline_id: int):
    n = _load(notification_id)
    d = _deadline(n, deadline_id)
    form = DeadlineForm()
    if form.validate_on_submit():
        svc.correct_deadline(d, date=form.date.data, time=form.time.data, label=form.label.data, actor=current_user)
        db.session.commit()
        flash(_("Deadline corrected."), "success")
    else:
        _form_errors(form)
    return _back(n, "deadlines")


@bp.post("/notifications/<int:notification_id>/deadlines/<int:deadline_id>/remove")
@roles_required(*STAFF)
def remove_deadline(notification_id: int, deadline_id: int):
    n = _load(notification_id)
    d = _deadline(n, deadline_id)
    if ConfirmForm().validate_on_submit():
        svc.set_deadline_removed(d, not d.is_removed, actor=current_user)
        db.session.commit()
        flash(_("Deadline removed.") if d.is_removed else _("Deadline restored."), "success")
    return _back(n, "deadlines")


@bp.post("/notifications/<int:notification_id>/notes")
@roles_required(*STAFF)
def add_note(notification_id: int):
    n = _load(notification_id)
    form = NoteForm()
    if form.validate_on_submit():
        try:
            svc.add_note(n, form.body.data, actor=current_user)
        except svc.NotificationError as exc:
            flash(str(exc), "danger")
        else:
            db.session.commit()
            flash(_("Note added."), "success")
    else:
        _form_errors(form)
    return _back(n, "notes")


@bp.route("/notifications/new", methods=["GET", "POST"])
@roles_required(*STAFF)
def new():
    form = ManualNotificationForm()
    upload = EmailUploadForm()
    if form.validate_on_submit():
        try:
            n = svc.create_manual(title=form.title.data, text=form.text.data, link=form.link.data,
                                  published=form.published.data, actor=current_user)
        except svc.NotificationError as exc:
            flash(str(exc), "danger")
        else:
            db.session.commit()
            flash(_("Notification added."), "success")
            return redirect(url_for("notifications.detail", notification_id=n.id))
    return render_template("notifications/new.html", form=form, upload=upload)


@bp.post("/notifications/upload")
@roles_required(*STAFF)
def upload_email():
    form = ManualNotificationForm(formdata=None)
    upload = EmailUploadForm()
    if upload.validate_on_submit():
        raw = upload.file.data.read(current_app.config["MAX_EML_BYTES"] + 1)
        try:
            n = svc.create_from_email(raw, actor=current_user)
        except svc.NotificationError as exc:
            db.session.rollback()
            current_app.logger.info("e-mail upload refused: %s", exc)
            flash(str(exc), "danger")
        else:
            db.session.commit()
            flash(_("Notification added from the e-mail."), "success")
            return redirect(url_for("notifications.detail", notification_id=n.id))
    else:
        _form_errors(upload)
    return render_template("notifications/new.html", form=form, upload=upload), 400


# --- feed sources (admin) -------------------------------------------------------------------------
@bp.get("/feeds")
@roles_required(Role.ADMIN)
def feeds():
    counts = dict(db.session.execute(
        sa.select(Notification.source_id, sa.func.count()).group_by(Notification.source_id)).all())
    sources = db.session.scalars(sa.select(FeedSource).order_by(FeedSource.name)).all()
    return render_template("notifications/feeds.html", sources=sources, counts=counts, form=FeedSourceForm(),
                           confirm_form=ConfirmForm())


@bp.post("/feeds")
@roles_required(Role.ADMIN)
def feed_add():
    form = FeedSourceForm()
    if form.validate_on_submit():
        try:
            source = svc.add_source(form.name.data, form.url.data, interval_minutes=form.interval_minutes.data,
                                    actor=current_user)
            source.is_active = form.is_active.data
        except svc.NotificationError as exc:
            flash(str(exc), "danger")
        else:
            db.session.commit()
            flash(_("Source %(name)s added. It will be polled shortly.", name=source.name), "success")
            return redirect(url_for("notifications.feed_detail", source_id=source.id))
    else:
        _form_errors(form)
    return redirect(url_for("notifications.feeds"))


@bp.route("/feeds/<int:source_id>", methods=["GET", "POST"])
@roles_required(Role.ADMIN)
def feed_detail(source_id: int):
    source = db.get_or_404(FeedSource, source_id)
    form = FeedSourceForm(obj=source)
    if form.validate_on_submit():
        try:
            svc.update_source(source, name=form.name.data, url=form.url.data,
                              interval_minutes=form.interval_minutes.data, is_active=form.is_active.data,
                              actor=current_user)
        except svc.NotificationError as exc:
            db.session.rollback()
            flash(str(exc), "danger")
        else:
            db.session.commit()
            flash(_("Source saved."), "success")
            return redirect(url_for("notifications.feed_detail", source_id=source.id))
    logs = db.session.scalars(sa.select(FetchLog).where(FetchLog.source_id == source.id)
                              .order_by(FetchLog.id.desc()).limit(30)).all()
    count = db.session.scalar(sa.select(sa.func.count()).where(Notification.source_id == source.id))
    return render_template("notifications/feed_detail.html", source=source, form=form, logs=logs, count=count,
                           confirm_form=ConfirmForm())


@bp.post("/feeds/<int:source_id>/poll")
@roles_required(Role.ADMIN)
def feed_poll(source_id: int):
    from focalpoint.notifications.jobs import poll_source

    source = db.get_or_404(FeedSource, source_id)
    if ConfirmForm().validate_on_submit():
        summary = poll_source(source.id)
        if summary.failed:
            flash(_("Polling failed: %(error)s", error=summary.error), "danger")
        elif summary.outcome == "not_modified":
            flash(_("The feed has not changed since the last poll."), "info")
        else:
            flash(_("%(seen)d items read, %(new)d new, %(updated)d updated.", seen=summary.seen, new=summary.new,
                    updated=summary.updated), "success")
    return redirect(url_for("notifications.feed_detail", source_id=source_id))


@bp.post("/feeds/<int:source_id>/delete")
@roles_required(Role.ADMIN)
def feed_delete(source_id: int):
    source = db.get_or_404(FeedSource, source_id)
    if ConfirmForm().validate_on_submit():
        name = source.name
        svc.delete_source(source, actor=current_user)
        db.session.commit()
        flash(_("Source %(name)s deleted; its notifications are kept.", name=name), "success")
    return redirect(url_for("notifications.feeds"))


@bp.app_template_filter("clean_html")
def clean_html(value: str | None):
    """Feed HTML, sanitised again at render time (it was sanitised at ingestion too)."""
    from markupsafe import Markup

    from focalpoint.notifications.feeds import sanitize_html

    return Markup(sanitize_html(value or ""))  # noqa: S704 - nh3 output is the allow-listed subset


_ACTION_LABELS = {
    "notification.status": _l("Status"),
    "notification.kind": _l("Kind"),
    "notification.assigned": _l("Assigned"),
    "notification.national_deadline": _l("National deadline"),
    "notification.deadline_added": _l("Deadline added"),
    "notification.deadline_corrected": _l("Deadline corrected"),
    "notification.deadline_removed": _l("Deadline marked as not a deadline"),
    "notification.deadline_restored": _l("Deadline restored"),
    "notification.note_added": _l("Note added"),
    "notification.created_manually": _l("Added by hand"),
    "notification.created_from_email": _l("Added from an e-mail"),
    "notification.updated_from_feed": _l("Updated from the feed"),
}


def _value_label(value) -> str:
    if value is None or value == "":
        return str(_("none"))
    for enum, labels in ((NotificationStatus, STATUS_LABELS), (NotificationKind, KIND_LABELS)):
        try:
            return str(labels[enum(value)])
        except ValueError:
            continue
    return str(value)


@bp.app_template_global()
def audit_line(entry) -> str:
    """A person-readable line for an audit entry of a notification."""
    label = str(_ACTION_LABELS.get(entry.action, entry.action.split(".")[-1].replace("_", " ")))
    data = entry.data or {}
    if "new" in data and "previous" in data:
        return f"{label}: {_value_label(data['previous'])} → {_value_label(data['new'])}"
    if "date" in data and "label" in data:
        return f"{label}: {data['date']} ({data['label']})"
    if "after" in data:
        return f"{label}: {data['before'].get('date')} → {data['after'].get('date')} ({data['after'].get('label')})"
    return label
