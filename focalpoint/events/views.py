"""Events: staff manage sessions, registrations and attendance; experts register; anyone registered
without an account manages their registration through a personal link."""
from __future__ import annotations

import sqlalchemy as sa
from flask import (
    Blueprint,
    Response,
    abort,
    current_app,
    flash,
    make_response,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_babel import force_locale, get_timezone
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from sqlalchemy.orm import joinedload, lazyload

from focalpoint.audit import AuditEntry
from focalpoint.auth.models import Role
from focalpoint.db import utcnow
from focalpoint.events import services as svc
from focalpoint.events.forms import KIND_LABELS, STATUS_LABELS, EventForm, RegistrantForm
from focalpoint.events.ics import event_ics
from focalpoint.events.models import Event, EventKind, Registration, RegistrationStatus
from focalpoint.extensions import db
from focalpoint.forms import ConfirmForm
from focalpoint.listing import Listing
from focalpoint.security import public, roles_required

bp = Blueprint("events", __name__)

STAFF = (Role.STAFF,)
#: Experts found by the search on an event's page (to add them).
EXPERT_RESULTS = 20
WHEN_CHOICES = ("upcoming", "past", "all")
STATUS_CHOICES = ("active", "cancelled")
EXPORT_COLUMNS = ("Name", "E-mail", "Affiliation", "Registry expert", "Status", "Registered at", "Attended",
                  "Cancelled at")
_ACTION_LABELS = {
    "event.created": _l("Event created"), "event.updated": _l("Event changed"),
    "event.cancelled": _l("Event cancelled"), "registration.created": _l("registered"),
    "registration.reactivated": _l("registered again"), "registration.cancelled": _l("registration cancelled"),
    "registration.promoted": _l("moved up from the waiting list"), "registration.attendance": _l("attendance"),
}


@bp.record_once
def _labels(state):
    state.app.jinja_env.globals.update(EVENT_KIND_LABELS=KIND_LABELS, REGISTRATION_STATUS_LABELS=STATUS_LABELS)


def _zone() -> str:
    """The zone the viewer reads and types times in (their own, else the display zone)."""
    return str(get_timezone())


def _flash_errors(form) -> None:
    for name, errors in form.errors.items():
        label = getattr(getattr(form, name, None), "label", None)
        for error in errors:
            flash(f"{label.text if label else name}: {error}", "danger")


def _own_expert():
    """The registry record of the logged-in user (None when their account is not linked to one)."""
    from focalpoint.experts.models import Expert, ExpertStatus

    expert = db.session.scalar(sa.select(Expert).where(Expert.user_id == current_user.id))
    if expert is None or expert.status == ExpertStatus.ERASED or expert.merged_into_id is not None:
        return None
    return expert


def _own_registration(event: Event, expert) -> Registration | None:
    if expert is None:
        return None
    conditions = [Registration.expert_id == expert.id]
    if expert.email:
        conditions.append(Registration.email == expert.email)
    # An active registration first (a cancelled one under an older e-mail address may exist too).
    cancelled_last = sa.case((Registration.status == RegistrationStatus.CANCELLED, 1), else_=0)
    return db.session.scalar(sa.select(Registration).where(Registration.event_id == event.id, sa.or_(*conditions))
                             .order_by(cancelled_last, Registration.id).limit(1))


def _load_visible(event_id: int) -> Event:
    """Staff see every event; experts only those not cancelled (another is "not found")."""
    event = db.get_or_404(Event, event_id)
    if not current_user.is_staff and event.cancelled_at is not None:
        abort(404)
    return event


def _detail(event: Event, anchor: str = ""):
    return redirect(url_for("events.detail", event_id=event.id) + (f"#{anchor}" if anchor else ""))


# --- the list ------------------------------------------------------------------------------------------
def _list_options():
    from focalpoint.consultations.models import Consultation

    return [joinedload(Event.consultation).lazyload(Consultation.notification),
            joinedload(Event.consultation).lazyload(Consultation.documents)]


@bp.get("/events")
@roles_required(Role.STAFF, Role.EXPERT)
def index():
    if current_user.is_staff:
        return _staff_index()
    return _expert_index()


def _staff_index():
    from focalpoint.consultations.models import Consultation

    now = utcnow()
    listing = Listing(request.args, sorts={"starts": Event.starts_at, "title": Event.title, "kind": Event.kind,
                                           "created": Event.created_at}, default_sort="starts")
    filters = {key: (request.args.get(key) or "").strip() for key in ("kind", "when", "status", "consultation")}
    stmt = sa.select(Event).options(*_list_options())
    if listing.q:
        like = listing.like()
        stmt = stmt.where(sa.or_(Event.title.ilike(like, escape="\\"), Event.place.ilike(like, escape="\\"),
                                 Event.description.ilike(like, escape="\\")))
    if filters["kind"] in {k.value for k in EventKind}:
        stmt = stmt.where(Event.kind == EventKind(filters["kind"]))
    else:
        filters["kind"] = ""
    if filters["when"] not in WHEN_CHOICES:
        filters["when"] = "upcoming"
    if filters["when"] == "upcoming":
        stmt = stmt.where(Event.ends_at >= now)
    elif filters["when"] == "past":
        stmt = stmt.where(Event.ends_at < now)
    if filters["status"] == "active":
        stmt = stmt.where(Event.cancelled_at.is_(None))
    elif filters["status"] == "cancelled":
        stmt = stmt.where(Event.cancelled_at.isnot(None))
    else:
        filters["status"] = ""
    if filters["consultation"].isdigit():
        stmt = stmt.where(Event.consultation_id == int(filters["consultation"]))
    else:
        filters["consultation"] = ""
    page = listing.paginate(stmt, Event.id)
    consultations = db.session.execute(sa.select(Consultation.id, Consultation.title)
                                       .order_by(Consultation.opens_on.desc(), Consultation.id.desc())).all()
    return render_template("events/index.html", page=page, listing=listing, filters=filters, now=now,
                           counts=svc.registration_counts([e.id for e in page.items]), consultations=consultations,
                           staff=True)


def _expert_index():
    now = utcnow()
    expert = _own_expert()
    listing = Listing(request.args, sorts={"starts": Event.starts_at, "title": Event.title}, default_sort="starts")
    visible = Event.ends_at >= now
    if expert is not None:
        conditions = [Registration.expert_id == expert.id]
        if expert.email:
            conditions.append(Registration.email == expert.email)
        mine = sa.select(Registration.event_id).where(sa.or_(*conditions),
                                                      Registration.status != RegistrationStatus.CANCELLED)
        visible = sa.or_(visible, Event.id.in_(mine))
    stmt = sa.select(Event).options(*_list_options()).where(Event.cancelled_at.is_(None), visible)
    if listing.q:
        like = listing.like()
        stmt = stmt.where(sa.or_(Event.title.ilike(like, escape="\\"), Event.place.ilike(like, escape="\\")))
    page = listing.paginate(stmt, Event.id)
    registrations = {}
    if expert is not None and page.items:
        conditions = [Registration.expert_id == expert.id]
        if expert.email:
            conditions.append(Registration.email == expert.email)
        for registration in db.session.scalars(sa.select(Registration).options(lazyload("*")).where(
                Registration.event_id.in_([e.id for e in page.items]), sa.or_(*conditions))):
            registrations[registration.event_id] = registration
    return render_template("events/index.html", page=page, listing=listing, filters={}, now=now, expert=expert,
                           registrations=registrations, confirm_form=ConfirmForm(), staff=False,
                           is_open=svc.is_open_for_registration)


# --- create and edit -------------------------------------------------------------------------------------
def _event_form(**kwargs) -> EventForm:
    from focalpoint.consultations.models import Consultation
    from focalpoint.reference.models import Deliverable

    consultations = db.session.scalars(sa.select(Consultation).options(lazyload("*"))
                                       .order_by(Consultation.opens_on.desc(), Consultation.id.desc())).all()
    deliverables = db.session.scalars(sa.select(Deliverable).order_by(Deliverable.short_name)).all()
    return EventForm(consultations=consultations, deliverables=deliverables, zone=_zone(), **kwargs)


def _form_values(form: EventForm) -> dict:
    return {"kind": form.kind.data, "title": form.title.data, "description": form.description.data or "",
            "starts_at": form.starts_at.data, "ends_at": form.ends_at.data, "place": form.place.data or "",
            "online_url": form.online_url.data or "", "capacity": form.capacity.data,
            "registration_closes_at": form.registration_closes_at.data,
            "consultation_id": form.consultation_id.data or None, "deliverable_id": form.deliverable_id.data or None,
            "is_public": bool(form.is_public.data)}


def _show_error(form: EventForm, exc: svc.EventError) -> None:
    field = getattr(form, exc.field, None) if exc.field else None
    if field is not None:
        field.errors = list(field.errors or []) + [str(exc)]
    else:
        flash(str(exc), "danger")


@bp.route("/events/new", methods=["GET", "POST"])
@roles_required(*STAFF)
def new():
    from focalpoint.consultations.models import Consultation

    consultation = None
    raw = (request.args.get("consultation") or "").strip()
    if raw:
        if not raw.isdigit():
            abort(404)
        consultation = db.get_or_404(Consultation, int(raw))
    if request.method == "GET":
        data = {"kind": EventKind.INFORMATION_SESSION.value, "consultation_id": 0, "deliverable_id": 0}
        if consultation is not None:
            data.update(consultation_id=consultation.id, deliverable_id=consultation.deliverable_id or 0,
                        title=_("Information session: %(title)s", title=consultation.title)[:300])
        form = _event_form(data=data)
    else:
        form = _event_form()
    status = 200
    if form.validate_on_submit():
        try:
            event = svc.create_event(actor=current_user, zone=_zone(), **_form_values(form))
        except svc.EventError as exc:
            db.session.rollback()
            _show_error(form, exc)
        else:
            db.session.commit()
            flash(_("Event created."), "success")
            return redirect(url_for("events.detail", event_id=event.id))
    if request.method == "POST":
        status = 400
    return render_template("events/form.html", form=form, event=None, consultation=consultation, zone=_zone(),
                           conflict=None), status


@bp.route("/events/<int:event_id>/edit", methods=["GET", "POST"])
@roles_required(*STAFF)
def edit(event_id: int):
    event = db.get_or_404(Event, event_id)
    if event.cancelled_at is not None:
        flash(_("The event is cancelled: it can no longer be changed."), "warning")
        return _detail(event)
    zone = _zone()
    if request.method == "GET":
        data = {k: getattr(event, k) for k in svc.EVENT_FIELDS}
        for key in ("starts_at", "ends_at", "registration_closes_at"):
            data[key] = svc.to_local(data[key], zone)
        data.update(kind=event.kind.value, consultation_id=event.consultation_id or 0,
                    deliverable_id=event.deliverable_id or 0, version=event.version)
        form = _event_form(data=data)
    else:
        form = _event_form()
    status, conflict = 200, None
    if form.validate_on_submit():
        try:
            changed = svc.update_event(event, actor=current_user, zone=zone, version=form.version.data,
                                       **_form_values(form))
        except svc.StaleFormError as exc:
            db.session.rollback()
            flash(str(exc), "warning")
            conflict = db.session.get(Event, event_id)
            form.version.data = conflict.version
            status = 409
        except svc.EventError as exc:
            db.session.rollback()
            _show_error(form, exc)
            status = 400
        else:
            db.session.commit()
            if not changed:
                flash(_("Nothing changed."), "info")
            elif any(k in changed for k in svc.CALENDAR_FIELDS):
                flash(_("Event saved. Registered people get the new time and place with an updated calendar file."),
                      "success")
            else:
                flash(_("Event saved."), "success")
            return _detail(event)
    elif request.method == "POST":
        status = 400
    return render_template("events/form.html", form=form, event=event, consultation=None, zone=zone,
                           conflict=conflict), status


@bp.post("/events/<int:event_id>/cancel")
@roles_required(*STAFF)
def cancel(event_id: int):
    event = db.get_or_404(Event, event_id)
    if ConfirmForm().validate_on_submit():
        try:
            done = svc.cancel_event(event, actor=current_user, version=request.form.get("version") or None)
        except svc.StaleFormError as exc:
            db.session.rollback()
            flash(str(exc), "warning")
        except svc.EventError as exc:
            db.session.rollback()
            flash(str(exc), "danger")
        else:
            db.session.commit()
            if done:
                flash(_("Event cancelled. Everyone registered or waiting is told by e-mail."), "success")
            else:
                flash(_("The event was cancelled already."), "info")
    return _detail(event)


# --- an event's page ---------------------------------------------------------------------------------------
def _history(event: Event, registrations: list[Registration]) -> list[tuple[AuditEntry, str]]:
    names = {r.id: r.name for r in registrations}
    entries = db.session.scalars(
        sa.select(AuditEntry).where(sa.or_(
            sa.and_(AuditEntry.object_type == Event.__tablename__, AuditEntry.object_id == event.id),
            sa.and_(AuditEntry.object_type == Registration.__tablename__,
                    AuditEntry.object_id.in_(list(names) or [0]))))
        .order_by(AuditEntry.at.desc(), AuditEntry.id.desc()).limit(100)).all()
    lines = []
    for entry in entries:
        label = str(_ACTION_LABELS.get(entry.action, entry.action))
        data = entry.data or {}
        if entry.object_type == Registration.__tablename__:
            line = f"{names.get(entry.object_id, '?')}: {label}"
            if entry.action == "registration.attendance":
                line += ": " + {True: _("came"), False: _("did not come")}.get(data.get("attended"), _("not recorded"))
            elif entry.action in ("registration.created", "registration.reactivated") and \
                    data.get("status") == RegistrationStatus.WAITLISTED:
                line += " (" + str(STATUS_LABELS[RegistrationStatus.WAITLISTED]) + ")"
        else:
            line = label
            if entry.action == "event.updated":
                line += ": " + ", ".join(sorted(data))
        lines.append((entry, line))
    return lines


def _expert_matches(event: Event, q: str):
    from focalpoint.experts.models import Expert, ExpertStatus

    q = q.strip()[:200]
    if not q:
        return []
    like = "%" + q.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
    full = Expert.first_name + " " + Expert.last_name
    reverse = Expert.last_name + " " + Expert.first_name
    return db.session.scalars(
        sa.select(Expert).options(lazyload("*"))
        .where(Expert.status == ExpertStatus.ACTIVE, Expert.merged_into_id.is_(None), Expert.email.isnot(None),
               sa.or_(*(c.ilike(like, escape="\\") for c in (full, reverse, Expert.email, Expert.affiliation))))
        .order_by(Expert.last_name, Expert.first_name, Expert.id).limit(EXPERT_RESULTS)).all()


STATUS_ORDER = {RegistrationStatus.REGISTERED: 0, RegistrationStatus.WAITLISTED: 1, RegistrationStatus.CANCELLED: 2}


def _registrations(event: Event) -> list[Registration]:
    rows = db.session.scalars(sa.select(Registration).options(lazyload(Registration.event))
                              .where(Registration.event_id == event.id)).unique().all()
    return sorted(rows, key=lambda r: (STATUS_ORDER[r.status], r.created_at, r.id))


@bp.get("/events/<int:event_id>")
@roles_required(Role.STAFF, Role.EXPERT)
def detail(event_id: int):
    event = _load_visible(event_id)
    now = utcnow()
    page = {"event": event, "now": now, "started": svc.has_started(event, now), "ended": svc.has_ended(event, now),
            "open": svc.is_open_for_registration(event, now), "closes": svc.registration_closes(event),
            "confirm_form": ConfirmForm(), "counts": svc.registration_counts([event.id])[event.id]}
    if not current_user.is_staff:
        expert = _own_expert()
        return render_template("events/detail.html", staff=False, expert=expert,
                               registration=_own_registration(event, expert), **page)
    registrations = _registrations(event)
    expert_q = (request.args.get("expert_q") or "").strip()
    matches = _expert_matches(event, expert_q)
    taken = {r.expert_id for r in registrations if r.status != RegistrationStatus.CANCELLED} | \
        {r.email for r in registrations if r.status != RegistrationStatus.CANCELLED}
    return render_template("events/detail.html", staff=True, registrations=registrations, expert_q=expert_q,
                           matches=matches, taken=taken, registrant_form=RegistrantForm(),
                           history=_history(event, registrations), **page)


@bp.get("/events/<int:event_id>/event.ics")
@roles_required(Role.STAFF, Role.EXPERT)
def ics(event_id: int):
    event = _load_visible(event_id)
    registration = None
    if not current_user.is_staff:
        registration = _own_registration(event, _own_expert())
        if registration is not None and registration.status == RegistrationStatus.CANCELLED:
            registration = None
    return _ics_response(event, registration)


def _ics_response(event: Event, registration: Registration | None) -> Response:
    return Response(event_ics(event, registration, "PUBLISH"), mimetype="text/calendar",
                    headers={"Content-Disposition": f'attachment; filename="event-{event.id}.ics"'})


# --- registrations (staff) -----------------------------------------------------------------------------------
def _outcome_message(registration: Registration, created: bool) -> tuple[str, str]:
    if not created:
        if registration.status == RegistrationStatus.WAITLISTED:
            return _("%(name)s is already on the waiting list.", name=registration.name), "info"
        return _("%(name)s is already registered.", name=registration.name), "info"
    if registration.status == RegistrationStatus.WAITLISTED:
        return _("The event is full: %(name)s is on the waiting list.", name=registration.name), "warning"
    return _("%(name)s is registered.", name=registration.name), "success"


@bp.post("/events/<int:event_id>/registrations")
@roles_required(*STAFF)
def add_registration(event_id: int):
    from focalpoint.experts.models import Expert

    event = db.get_or_404(Event, event_id)
    raw_expert = (request.form.get("expert_id") or "").strip()
    try:
        if raw_expert:
            expert = db.session.get(Expert, int(raw_expert)) if raw_expert.isdigit() else None
            if expert is None or not ConfirmForm().validate_on_submit():
                raise svc.EventError(_("Choose an expert of the registry."))
            registration, created = svc.register(event, expert=expert, actor=current_user, late=True)
        else:
            form = RegistrantForm()
            if not form.validate_on_submit():
                _flash_errors(form)
                return _detail(event, "add")
            registration, created = svc.register(event, name=form.name.data, email=form.email.data,
                                                 affiliation=form.affiliation.data or "", actor=current_user,
                                                 late=True)
    except svc.EventError as exc:
        db.session.rollback()
        flash(str(exc), "danger")
        return _detail(event, "add")
    db.session.commit()
    flash(*_outcome_message(registration, created))
    return _detail(event, "registrations")


def _load_registration(event: Event, registration_id: int) -> Registration:
    registration = db.session.get(Registration, registration_id)
    if registration is None or registration.event_id != event.id:
        abort(404)
    return registration


@bp.post("/events/<int:event_id>/registrations/<int:registration_id>/cancel")
@roles_required(*STAFF)
def cancel_registration(event_id: int, registration_id: int):
    event = db.get_or_404(Event, event_id)
    registration = _load_registration(event, registration_id)
    if ConfirmForm().validate_on_submit():
        try:
            done = svc.cancel_registration(registration, actor=current_user,
                                           version=request.form.get("version") or None)
        except svc.StaleFormError as exc:
            db.session.rollback()
            flash(str(exc), "warning")
        except svc.EventError as exc:
            db.session.rollback()
            flash(str(exc), "danger")
        else:
            db.session.commit()
            if done:
                flash(_("Registration of %(name)s cancelled.", name=registration.name), "success")
            else:
                flash(_("The registration of %(name)s was cancelled already.", name=registration.name), "info")
    return _detail(event, "registrations")


ATTENDANCE_VALUES = {"": None, "yes": True, "no": False}


@bp.post("/events/<int:event_id>/attendance")
@roles_required(*STAFF)
def attendance(event_id: int):
    event = db.get_or_404(Event, event_id)
    if not ConfirmForm().validate_on_submit():
        return _detail(event, "registrations")
    marks = {}
    for key, value in request.form.items():
        if key.startswith("attended-") and key[9:].isdigit() and value in ATTENDANCE_VALUES:
            marks[int(key[9:])] = (ATTENDANCE_VALUES[value], request.form.get(f"version-{key[9:]}"))
    try:
        changed = svc.record_attendance(event, marks, actor=current_user)
    except svc.StaleFormError:
        db.session.rollback()
        flash(_("Someone changed these registrations since you opened the page; nothing was saved. "
                "The page now shows the current attendance: check it and save again."), "warning")
    except svc.EventError as exc:
        db.session.rollback()
        flash(str(exc), "danger")
    else:
        db.session.commit()
        flash(_("Attendance saved (%(n)d changed).", n=changed) if changed else _("Nothing changed."), "success")
    return _detail(event, "registrations")


def _export_rows(event: Event) -> list[list]:
    zone = svc.zone_of(_zone())
    statuses = {s: str(label) for s, label in STATUS_LABELS.items()}

    def local(moment):
        return moment.astimezone(zone).strftime("%Y-%m-%d %H:%M") if moment else ""

    return [[r.name, r.email, r.affiliation, r.expert_id or "", statuses[r.status], local(r.created_at),
             {True: _("yes"), False: _("no")}.get(r.attended, ""), local(r.cancelled_at)]
            for r in _registrations(event)]


def _export(event: Event, data: bytes, mimetype: str, ext: str) -> Response:
    return Response(data, mimetype=mimetype, headers={
        "Content-Disposition": f'attachment; filename="event-{event.id}-registrations.{ext}"'})


@bp.get("/events/<int:event_id>/registrations.csv")
@roles_required(*STAFF)
def export_csv(event_id: int):
    from focalpoint.experts.services import to_csv

    event = db.get_or_404(Event, event_id)
    return _export(event, to_csv(_export_rows(event), header=EXPORT_COLUMNS), "text/csv", "csv")


@bp.get("/events/<int:event_id>/registrations.xlsx")
@roles_required(*STAFF)
def export_xlsx(event_id: int):
    from focalpoint.experts.services import to_xlsx

    event = db.get_or_404(Event, event_id)
    return _export(event, to_xlsx(_export_rows(event), header=EXPORT_COLUMNS, title="Registrations"),
                   "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", "xlsx")


# --- an expert registers themselves ------------------------------------------------------------------------
@bp.post("/events/<int:event_id>/register")
@roles_required(Role.EXPERT)
def register(event_id: int):
    event = _load_visible(event_id)
    if not ConfirmForm().validate_on_submit():
        return _detail(event)
    expert = _own_expert()
    if expert is None:
        flash(_("Your account is not linked to a record of the expert registry: ask the focal point team."), "danger")
        return _detail(event)
    try:
        registration, created = svc.register(event, expert=expert, actor=current_user)
    except svc.EventError as exc:
        db.session.rollback()
        flash(str(exc), "danger")
        return _detail(event)
    db.session.commit()
    if not created:
        flash(_("You are already registered.") if registration.status == RegistrationStatus.REGISTERED
              else _("You are already on the waiting list."), "info")
    elif registration.status == RegistrationStatus.WAITLISTED:
        flash(_("The event is full: you are on the waiting list. We will write to you if a seat becomes free."),
              "warning")
    else:
        flash(_("You are registered. The calendar invitation is on its way by e-mail."), "success")
    return _detail(event)


@bp.post("/events/<int:event_id>/unregister")
@roles_required(Role.EXPERT)
def unregister(event_id: int):
    event = _load_visible(event_id)
    if not ConfirmForm().validate_on_submit():
        return _detail(event)
    registration = _own_registration(event, _own_expert())
    if registration is None or registration.status == RegistrationStatus.CANCELLED:
        flash(_("You are not registered for this event."), "info")
        return _detail(event)
    try:
        svc.cancel_registration(registration, actor=current_user)
    except svc.EventError as exc:
        db.session.rollback()
        flash(str(exc), "danger")
        return _detail(event)
    db.session.commit()
    flash(_("Your registration is cancelled."), "success")
    return _detail(event)


# --- the personal link (no account) -------------------------------------------------------------------------
def _link_response(body: str, status: int) -> Response:
    """A page reached through the link: no Referer leaves it, nothing keeps it, no index lists it."""
    response = make_response(body, status)
    response.headers["Referrer-Policy"] = "no-referrer"
    response.headers["Cache-Control"] = "no-store"
    response.headers["X-Robots-Tag"] = "noindex, nofollow"
    return response


def _invalid_link() -> Response:
    contact = current_app.config.get("STAFF_EMAIL") or current_app.config.get("MAIL_SENDER")
    return _link_response(render_template("events/link_invalid.html", contact=contact), 404)


def _link_page(registration: Registration, secret: str, done: str | None = None, status: int = 200) -> Response:
    event = registration.event
    now = utcnow()
    with force_locale(svc.registrant_language(registration)):
        body = render_template("events/link.html", registration=registration, event=event, secret=secret,
                               done=done, started=svc.has_started(event, now), confirm_form=ConfirmForm())
    return _link_response(body, status)


@bp.get("/events/r/<secret>")
@public
def registration_link(secret: str):
    registration = svc.find_registration(secret)
    if registration is None:
        return _invalid_link()
    return _link_page(registration, secret)


@bp.post("/events/r/<secret>/cancel")
@public
def registration_link_cancel(secret: str):
    registration = svc.find_registration(secret)
    if registration is None:
        return _invalid_link()
    if not ConfirmForm().validate_on_submit():
        return _link_page(registration, secret, status=400)
    with force_locale(svc.registrant_language(registration)):
        try:
            done = svc.cancel_registration(registration, actor=None, via="link")
        except svc.EventError as exc:
            db.session.rollback()
            flash(str(exc), "danger")
            return _link_page(registration, secret, status=409)
    db.session.commit()
    return _link_page(registration, secret, done="cancelled" if done else None)


@bp.get("/events/r/<secret>/event.ics")
@public
def registration_link_ics(secret: str):
    registration = svc.find_registration(secret)
    if registration is None:
        return _invalid_link()
    response = _ics_response(registration.event, registration
                             if registration.status != RegistrationStatus.CANCELLED else None)
    response.headers["Referrer-Policy"] = "no-referrer"
    response.headers["X-Robots-Tag"] = "noindex, nofollow"
    return response
