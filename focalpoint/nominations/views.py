"""Nomination calls: the list, a call's page, matching, the slate, endorsement and selection (staff)."""
from __future__ import annotations

import datetime as dt

import sqlalchemy as sa
from flask import Blueprint, Response, abort, current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from werkzeug.routing import BuildError

from focalpoint.audit import AuditEntry
from focalpoint.auth.models import Role
from focalpoint.db import utcnow
from focalpoint.extensions import db
from focalpoint.forms import ConfirmForm
from focalpoint.listing import Listing, Page
from focalpoint.nominations import matching
from focalpoint.nominations import services as svc
from focalpoint.nominations.forms import (CALL_KIND_LABELS, CALL_STATE_LABELS, CAREER_STAGE_LABELS, DECISION_LABELS,
                                          GENDER_LABELS, INVITATION_STATE_LABELS, NOMINATION_STATE_LABELS,
                                          AddCandidateForm, CallForm, DecisionForm, RankForm)
from focalpoint.nominations.models import NOMINATION_TRANSITIONS, Lead, Nomination, NominationCall, NominationState
from focalpoint.security import roles_required

bp = Blueprint("nominations", __name__)

STAFF = (Role.STAFF,)
#: States that make up "the current selection" whose balance is shown beside the matches.
SELECTION_STATES = (NominationState.CANDIDATE, NominationState.ENDORSED, NominationState.SUBMITTED,
                    NominationState.SELECTED)
MATCHES_PER_PAGE = 50


try:  # the invitations' own wording of their states, where it exists
    from focalpoint.invitations.forms import STATE_LABELS as INVITATION_LABELS
except ImportError:  # pragma: no cover
    INVITATION_LABELS = INVITATION_STATE_LABELS


@bp.record_once
def _globals(state):
    state.app.jinja_env.globals.update(
        CALL_KIND_LABELS=CALL_KIND_LABELS, CALL_STATE_LABELS=CALL_STATE_LABELS,
        NOMINATION_STATE_LABELS=NOMINATION_STATE_LABELS)


def _today() -> dt.date:
    # The same "today" as NominationCall.is_open.
    return utcnow().date()


def _load_call(call_id: int) -> NominationCall:
    return db.get_or_404(NominationCall, call_id)


def _load_nomination(call: NominationCall, nomination_id: int) -> Nomination:
    n = db.session.get(Nomination, nomination_id)
    if n is None or n.call_id != call.id:
        abort(404)
    return n


def _flash_errors(form) -> None:
    for name, errors in form.errors.items():
        label = getattr(getattr(form, name, None), "label", None)
        for error in errors:
            flash(f"{label.text if label else name}: {error}", "danger")


def _detail(call: NominationCall, anchor: str = ""):
    return redirect(url_for("nominations.detail", call_id=call.id) + (f"#{anchor}" if anchor else ""))


def expert_url(expert_id: int) -> str | None:
    """The registry page of an expert, when the registry has one."""
    for endpoint in ("experts.detail", "experts.show", "experts.edit"):
        if endpoint in current_app.view_functions:
            try:
                return url_for(endpoint, expert_id=expert_id)
            except BuildError:
                continue
    return None


def invite_url(call_id: int) -> str:
    """The invitations' compose page (it takes ?expert_id=…)."""
    try:
        return url_for("invitations.compose", call_id=call_id)
    except BuildError:
        return f"/calls/{call_id}/invite"


def labels() -> dict[str, dict[str, str]]:
    """Readable labels per dimension (balance, export), in display order, as plain strings."""
    from focalpoint.reference.services import country_regions, terms

    not_stated = str(_("Not stated"))
    return {
        "gender": {**{k: str(v) for k, v in GENDER_LABELS.items()}, matching.NOT_STATED: not_stated},
        "region": {**country_regions(), matching.NOT_STATED: not_stated},
        "discipline": {**{t.code: t.label for t in terms("discipline")}, matching.NOT_STATED: not_stated},
        "career_stage": {**{k: str(v) for k, v in CAREER_STAGE_LABELS.items()}, matching.NOT_STATED: not_stated},
        "ilk": {"yes": str(_("ILK")), "no": str(_("Not ILK"))},
        "state": {k.value: str(v) for k, v in NOMINATION_STATE_LABELS.items()},
    }


BALANCE_TITLES = {
    "gender": _l("Gender"),
    "region": _l("Region"),
    "discipline": _l("Discipline"),
    "career_stage": _l("Career stage"),
    "ilk": _l("Indigenous and local knowledge"),
}


# --- the list --------------------------------------------------------------------------------------
@bp.get("/calls")
@roles_required(*STAFF)
def index():
    from focalpoint.reference.models import Deliverable

    today = _today()
    listing = Listing(request.args, sorts={"national": NominationCall.national_deadline, "title": NominationCall.title,
                                           "application": NominationCall.application_deadline,
                                           "nomination": NominationCall.nomination_deadline,
                                           "created": NominationCall.created_at},
                      default_sort="national", default_dir="desc")
    filters = {key: (request.args.get(key) or "").strip() for key in ("state", "deliverable")}
    stmt = sa.select(NominationCall)
    if listing.q:
        like = listing.like()
        stmt = stmt.where(sa.or_(
            NominationCall.title.ilike(like, escape="\\"), NominationCall.keywords.ilike(like, escape="\\"),
            NominationCall.deliverable_id.in_(sa.select(Deliverable.id).where(
                sa.or_(Deliverable.short_name.ilike(like, escape="\\"), Deliverable.code.ilike(like, escape="\\"))))))
    if filters["state"] in svc.CALL_STATES:
        stmt = stmt.where(svc.call_state_clause(filters["state"], today))
    else:
        filters["state"] = ""
    if filters["deliverable"].isdigit():
        stmt = stmt.where(NominationCall.deliverable_id == int(filters["deliverable"]))
    page = listing.paginate(stmt, NominationCall.id.desc())
    ids = [c.id for c in page.items]
    deliverables = db.session.scalars(sa.select(Deliverable).order_by(Deliverable.short_name)).all()
    return render_template("nominations/index.html", page=page, listing=listing, filters=filters, today=today,
                           states={c.id: svc.call_state(c, today) for c in page.items},
                           invitation_counts=svc.invitation_counts_by_call(ids),
                           nomination_counts=svc.nomination_counts_by_call(ids), deliverables=deliverables,
                           invitation_labels=INVITATION_LABELS)


# --- create and edit --------------------------------------------------------------------------------
def _call_form(**kwargs) -> CallForm:
    from focalpoint.reference.models import Deliverable
    from focalpoint.reference.services import terms

    deliverables = db.session.scalars(sa.select(Deliverable).order_by(Deliverable.short_name)).all()
    return CallForm(deliverables=deliverables, roles=terms("expert_role"), **kwargs)


def _form_values(form: CallForm) -> dict:
    return {
        "title": form.title.data.strip(), "call_kind": form.call_kind.data,
        "deliverable_id": form.deliverable_id.data or None, "description": (form.description.data or "").strip(),
        "keywords": (form.keywords.data or "").strip(), "opens_on": form.opens_on.data,
        "application_deadline": form.application_deadline.data, "nomination_deadline": form.nomination_deadline.data,
        "national_deadline": form.national_deadline.data,
        "reminder_days": ";".join(p.strip() for p in (form.reminder_days.data or "").split(";") if p.strip()),
    }


@bp.route("/calls/new", methods=["GET", "POST"])
@roles_required(*STAFF)
def new():
    from focalpoint.notifications.models import Notification

    notification = None
    raw_id = (request.values.get("notification_id") or "").strip()
    if raw_id:
        if not raw_id.isdigit():
            abort(404)
        notification = db.get_or_404(Notification, int(raw_id))
    if request.method == "GET":
        data = svc.call_prefill(notification) if notification is not None else {
            "call_kind": "expert_call", "roles": matching.guess_roles("expert_call", "")}
        data["deliverable_id"] = data.get("deliverable_id") or 0
        form = _call_form(data=data)
    else:
        form = _call_form()
    if form.validate_on_submit():
        try:
            call = svc.create_call(actor=current_user, roles=form.roles.data, notification=notification,
                                   **_form_values(form))
        except svc.NominationError as exc:
            db.session.rollback()
            flash(str(exc), "danger")
        else:
            db.session.commit()
            flash(_("Call opened."), "success")
            return redirect(url_for("nominations.detail", call_id=call.id))
    elif request.method == "POST":
        _flash_errors(form)
    existing = db.session.scalars(sa.select(NominationCall).where(NominationCall.notification_id == notification.id)
                                  .order_by(NominationCall.id)).all() if notification is not None else []
    return render_template("nominations/form.html", form=form, call=None, notification=notification,
                           existing=existing), 200 if request.method == "GET" else 400


@bp.route("/calls/<int:call_id>/edit", methods=["GET", "POST"])
@roles_required(*STAFF)
def edit(call_id: int):
    call = _load_call(call_id)
    if request.method == "GET":
        data = {k: getattr(call, k) for k in svc.CALL_FIELDS}
        data["deliverable_id"] = call.deliverable_id or 0
        data["roles"] = [t.code for t in call.roles_sought]
        form = _call_form(data=data)
    else:
        form = _call_form()
    if form.validate_on_submit():
        try:
            changed = svc.update_call(call, actor=current_user, roles=form.roles.data, **_form_values(form))
        except svc.NominationError as exc:
            db.session.rollback()
            flash(str(exc), "danger")
        else:
            db.session.commit()
            flash(_("Call saved.") if changed else _("Nothing changed."), "success")
            return redirect(url_for("nominations.detail", call_id=call.id))
    elif request.method == "POST":
        _flash_errors(form)
    return render_template("nominations/form.html", form=form, call=call, notification=call.notification,
                           existing=[])


@bp.post("/calls/<int:call_id>/lock")
@roles_required(*STAFF)
def lock(call_id: int):
    call = _load_call(call_id)
    if ConfirmForm().validate_on_submit():
        if request.form.get("lock") == "1":
            svc.lock_call(call, actor=current_user)
            flash(_("Call locked: answers can no longer change."), "success")
        else:
            svc.unlock_call(call, actor=current_user)
            flash(_("Call unlocked: experts can change their answers until the national deadline."), "success")
        db.session.commit()
    return _detail(call)


# --- a call's page -----------------------------------------------------------------------------------
def _history(call: NominationCall, slate: list[Nomination]) -> list[tuple[AuditEntry, str]]:
    names = {n.id: n.expert.name for n in slate}
    rows = db.session.scalars(
        sa.select(AuditEntry).where(sa.or_(
            sa.and_(AuditEntry.object_type == "nomination_calls", AuditEntry.object_id == call.id),
            sa.and_(AuditEntry.object_type == "nominations", AuditEntry.object_id.in_(list(names) or [0]))))
        .order_by(AuditEntry.at.desc(), AuditEntry.id.desc()).limit(100)).all()
    return [(e, history_line(e, names)) for e in rows]


def history_line(entry: AuditEntry, names: dict[int, str]) -> str:
    data = entry.data or {}
    who = names.get(entry.object_id, "") if entry.object_type == "nominations" else ""
    states = {k.value: str(v) for k, v in NOMINATION_STATE_LABELS.items()}
    if entry.action == "nomination.state":
        line = f"{who}: {states.get(data.get('previous'), data.get('previous'))} → " \
               f"{states.get(data.get('new'), data.get('new'))}"
        if data.get("selected_role"):
            line += f" ({data['selected_role']})"
        if data.get("note"):
            line += f" — {data['note']}"
        return line
    if entry.action == "nomination.rank":
        return _("%(who)s: moved to rank %(n)s", who=who, n=data.get("new"))
    if entry.action == "nomination.created":
        return _("%(who)s: on the slate", who=who)
    if entry.action == "nomination.rationale":
        return _("%(who)s: rationale changed", who=who)
    labels_ = {"call.created": _("Call opened"), "call.updated": _("Call changed"),
               "call.locked": _("Call locked"), "call.unlocked": _("Call unlocked")}
    line = str(labels_.get(entry.action, entry.action))
    if entry.action == "call.updated":
        line += ": " + ", ".join(sorted(data))
    return line


@bp.get("/calls/<int:call_id>")
@roles_required(*STAFF)
def detail(call_id: int):
    from focalpoint.invitations.models import Invitation
    from focalpoint.reference.services import terms

    call = _load_call(call_id)
    today = _today()
    invitations = db.session.scalars(sa.select(Invitation).where(Invitation.call_id == call.id)
                                     .order_by(Invitation.id)).unique().all()
    invitation_counts = {state: 0 for state in INVITATION_LABELS}
    for inv in invitations:
        invitation_counts[inv.state.value] = invitation_counts.get(inv.state.value, 0) + 1
    slate = svc.ordered_slate(call)
    active = [n for n in slate if n.state != NominationState.WITHDRAWN]
    positions = {n.id: i for i, n in enumerate(active, start=1)}
    nomination_counts = {s.value: 0 for s in NominationState}
    for n in slate:
        nomination_counts[n.state.value] += 1
    leads = db.session.scalars(sa.select(Lead).where(Lead.call_id == call.id).order_by(Lead.id)).all()
    return render_template(
        "nominations/detail.html", call=call, state=svc.call_state(call, today), invitations=invitations,
        invitation_counts=invitation_counts, slate=slate, positions=positions, last_position=len(active),
        nomination_counts=nomination_counts, leads=leads, history=_history(call, slate),
        transitions={n.id: [s for s in DECISION_LABELS if s in NOMINATION_TRANSITIONS[n.state]] for n in slate},
        invitation_labels=INVITATION_LABELS,
        decision_labels=DECISION_LABELS, role_choices=[(t.code, t.label) for t in terms("expert_role")],
        confirm_form=ConfirmForm(), decision_form=DecisionForm(), rank_form=RankForm(),
        add_form=AddCandidateForm(), expert_url=expert_url, invite_url=invite_url(call.id))


# --- the slate ----------------------------------------------------------------------------------------
@bp.post("/calls/<int:call_id>/slate")
@roles_required(*STAFF)
def add_to_slate(call_id: int):
    from focalpoint.experts.models import Expert, ExpertStatus

    call = _load_call(call_id)
    form = AddCandidateForm()
    if form.validate_on_submit():
        expert = db.session.scalar(sa.select(Expert).where(Expert.email == form.email.data.strip().lower()))
        if expert is None or expert.status != ExpertStatus.ACTIVE:
            flash(_("No active expert in the registry has this e-mail address."), "danger")
        else:
            svc.add_candidate(call, expert, actor=current_user, came_forward=form.came_forward.data)
            db.session.commit()
            flash(_("%(name)s is on the slate.", name=expert.name), "success")
    else:
        _flash_errors(form)
    return _detail(call, "slate")


@bp.post("/calls/<int:call_id>/slate/<int:nomination_id>/decision")
@roles_required(*STAFF)
def decide(call_id: int, nomination_id: int):
    from focalpoint.reference.services import terms

    call = _load_call(call_id)
    n = _load_nomination(call, nomination_id)
    form = DecisionForm()
    if not form.validate_on_submit():
        _flash_errors(form)
        return _detail(call, "slate")
    try:
        svc.check_version(n, form.version.data)
        try:
            target = NominationState(request.form.get("decision", ""))
        except ValueError:
            raise svc.NominationError(_("Choose a decision.")) from None
        note = (form.rationale.data or "").strip()
        notify = bool(form.notify.data)
        if target in (NominationState.ENDORSED, NominationState.NOT_ENDORSED):
            svc.decide_endorsement(n, endorsed=target == NominationState.ENDORSED, rationale=note,
                                   actor=current_user, notify=notify)
        elif target == NominationState.SUBMITTED:
            svc.mark_submitted(n, actor=current_user, note=note, notify=notify)
        elif target == NominationState.SELECTED:
            role = form.selected_role.data or ""
            if role not in {t.code for t in terms("expert_role")}:
                raise svc.NominationError(_("Say which role the secretariat selected the expert for."))
            svc.record_outcome(n, selected_role=role, actor=current_user, note=note, notify=notify)
        elif target == NominationState.NOT_SELECTED:
            svc.record_outcome(n, selected_role=None, actor=current_user, note=note, notify=notify)
        elif target == NominationState.WITHDRAWN:
            svc.withdraw_nomination(n, actor=current_user, note=note)
        else:
            svc.reopen_nomination(n, actor=current_user, note=note)
    except svc.StaleFormError as exc:
        db.session.rollback()
        flash(str(exc), "warning")
    except svc.NominationError as exc:
        db.session.rollback()
        flash(str(exc), "danger")
    else:
        db.session.commit()
        flash(_("%(name)s: %(state)s.", name=n.expert.name, state=NOMINATION_STATE_LABELS[n.state]), "success")
    return _detail(call, f"nomination-{n.id}")


@bp.post("/calls/<int:call_id>/slate/<int:nomination_id>/rank")
@roles_required(*STAFF)
def rank(call_id: int, nomination_id: int):
    call = _load_call(call_id)
    n = _load_nomination(call, nomination_id)
    form = RankForm()
    if not form.validate_on_submit():
        _flash_errors(form)
        return _detail(call, "slate")
    move = request.form.get("move")
    try:
        svc.check_version(n, form.version.data)
        if move in ("up", "down"):
            position = svc.rank_nomination(n, actor=current_user, delta=-1 if move == "up" else 1)
        elif form.rank.data:
            position = svc.rank_nomination(n, actor=current_user, position=form.rank.data)
        else:
            raise svc.NominationError(_("Give a rank number."))
    except svc.StaleFormError as exc:
        db.session.rollback()
        flash(str(exc), "warning")
    except svc.NominationError as exc:
        db.session.rollback()
        flash(str(exc), "danger")
    else:
        db.session.commit()
        flash(_("%(name)s is now number %(n)d.", name=n.expert.name, n=position), "success")
    return _detail(call, "slate")


@bp.get("/calls/<int:call_id>/slate.xlsx")
@roles_required(*STAFF)
def export_slate(call_id: int):
    call = _load_call(call_id)
    data = svc.slate_xlsx(call, labels())
    return Response(data, mimetype="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
                    headers={"Content-Disposition": f'attachment; filename="slate-call-{call.id}.xlsx"'})


@bp.post("/calls/<int:call_id>/leads/<int:lead_id>")
@roles_required(*STAFF)
def lead_status(call_id: int, lead_id: int):
    call = _load_call(call_id)
    lead = db.session.get(Lead, lead_id)
    if lead is None or lead.call_id != call.id:
        abort(404)
    if ConfirmForm().validate_on_submit():
        try:
            svc.set_lead_status(lead, request.form.get("status", ""), actor=current_user)
        except svc.NominationError as exc:
            flash(str(exc), "danger")
        else:
            db.session.commit()
            flash(_("Lead saved."), "success")
    return _detail(call, "leads")


# --- matching -----------------------------------------------------------------------------------------
def _int_arg(name: str, default: int | None, low: int, high: int) -> int | None:
    try:
        return max(low, min(high, int(request.args.get(name, ""))))
    except ValueError:
        return default


@bp.get("/calls/<int:call_id>/matches")
@roles_required(*STAFF)
def matches(call_id: int):
    from focalpoint.reference.services import terms

    call = _load_call(call_id)
    filters = matching.MatchFilters(
        region=(request.args.get("region") or "").strip(), gender=(request.args.get("gender") or "").strip(),
        career_stage=(request.args.get("career_stage") or "").strip(),
        discipline=(request.args.get("discipline") or "").strip(),
        min_score=_int_arg("min_score", None, -1000, 1000), hide_invited=request.args.get("hide_invited") == "1")
    ranked = matching.match_call(db.session, call, today=_today())
    shown = matching.filter_matches(ranked, filters)
    per_page = _int_arg("limit", MATCHES_PER_PAGE, 10, 500)
    pages = max(1, -(-len(shown) // per_page))
    number = _int_arg("page", 1, 1, pages)
    page = Page(items=shown[(number - 1) * per_page:number * per_page], page=number, per_page=per_page,
                total=len(shown), pages=pages)
    listing = Listing(request.args, sorts={"score": None}, default_sort="score", per_page=per_page)

    preview_ids = [int(v) for v in request.args.getlist("expert_id") if v.isdigit()][:1000]
    if preview_ids:
        selection = matching.load_experts(db.session, ids=preview_ids, active_only=False)
        selection_label = _("the checked experts")
    else:
        ids = db.session.scalars(sa.select(Nomination.expert_id).where(
            Nomination.call_id == call.id, Nomination.state.in_(SELECTION_STATES))).all()
        selection = matching.load_experts(db.session, ids=ids, active_only=False) if ids else []
        selection_label = _("the slate (candidates, endorsed, submitted and selected)")
    label_map = labels()
    return render_template(
        "nominations/matches.html", call=call, page=page, listing=listing, filters=filters,
        total_ranked=len(ranked), preview_ids=set(preview_ids), invite_url=invite_url(call.id),
        balance=matching.balance(selection, label_map), balance_size=len(selection), selection_label=selection_label,
        balance_titles=BALANCE_TITLES, labels=label_map, expert_url=expert_url,
        disciplines=terms("discipline"))
