"""Consultations: staff's pages (list, detail, documents, invitations, consolidation, export and import).

``/consultations`` and ``/consultations/<id>`` also serve experts: they get their own list and their
review workspace from review_views.py.
"""
from __future__ import annotations

import datetime as dt
import re

import sqlalchemy as sa
from flask import Response, abort, current_app, flash, redirect, render_template, request, send_file, url_for
from flask_babel import format_date
from flask_babel import gettext as _
from flask_babel import ngettext
from flask_login import current_user
from sqlalchemy.exc import IntegrityError
from werkzeug.routing import BuildError

from focalpoint.auth.models import Role
from focalpoint.consultations import comments as cm
from focalpoint.consultations import services as svc
from focalpoint.consultations.blueprint import bp
from focalpoint.consultations.forms import ConsultationForm, DecisionForm, DocumentForm, ImportForm
from focalpoint.consultations.models import (CommentSource, CommentType, Consultation, ConsultationDocument, Decision,
                                             DraftKind, Participant, ReviewComment)
from focalpoint.extensions import db
from focalpoint.forms import ConfirmForm
from focalpoint.listing import Listing, Page
from focalpoint.security import roles_required, safe_next

STAFF = (Role.STAFF,)
COMMENTS_PER_PAGE = 50
INVITE_PER_PAGE = 50
#: At most this many experts are invited in one go ("everyone matching the filters").
MAX_INVITED_AT_ONCE = 2000
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


@bp.record_once
def _globals(state):
    state.app.jinja_env.globals.update(
        CONSULTATION_DRAFT_LABELS=svc.DRAFT_LABELS, CONSULTATION_STATE_LABELS=svc.STATE_LABELS,
        CONSULTATION_DECISION_LABELS=svc.DECISION_LABELS, COMMENT_TYPE_LABELS=cm.TYPE_LABELS)


def _expert_view(name: str, *args):
    """The experts' own page from review_views.py (404 until it exists)."""
    from focalpoint.consultations import review_views

    view = getattr(review_views, name, None)
    if view is None:
        abort(404)
    return view(*args)


def _load(consultation_id: int) -> Consultation:
    return db.get_or_404(Consultation, consultation_id)


def _load_child(model, consultation: Consultation, child_id: int):
    row = db.session.get(model, child_id)
    if row is None or row.consultation_id != consultation.id:
        abort(404)
    return row


def _flash_errors(form) -> None:
    for name, errors in form.errors.items():
        label = getattr(getattr(form, name, None), "label", None)
        for error in errors:
            flash(f"{label.text if label else name}: {error}", "danger")


def _detail(consultation: Consultation, anchor: str = ""):
    return redirect(url_for("consultations.detail", consultation_id=consultation.id)
                    + (f"#{anchor}" if anchor else ""))


def _deliverables():
    from focalpoint.reference.models import Deliverable

    return db.session.scalars(sa.select(Deliverable).order_by(Deliverable.short_name)).all()


def expert_url(expert_id: int) -> str | None:
    try:
        return url_for("experts.detail", expert_id=expert_id)
    except BuildError:
        return None


# --- the list ---------------------------------------------------------------------------------------------
@bp.get("/consultations")
@roles_required(Role.STAFF, Role.EXPERT)
def index():
    if not current_user.is_staff:
        return _expert_view("expert_index")
    from focalpoint.reference.models import Deliverable

    today = svc.local_today()
    participants, comments, decided = svc.count_columns()
    listing = Listing(request.args, sorts={"title": sa.func.lower(Consultation.title),
                                           "closes_on": Consultation.closes_on, "opens_on": Consultation.opens_on,
                                           "comments": comments, "decided": decided},
                      default_sort="closes_on", default_dir="desc")
    filters = {key: (request.args.get(key) or "").strip() for key in ("state", "draft", "deliverable")}
    stmt = sa.select(Consultation, participants, comments, decided)
    if listing.q:
        like = listing.like()
        stmt = stmt.where(sa.or_(
            Consultation.title.ilike(like, escape="\\"),
            Consultation.deliverable_id.in_(sa.select(Deliverable.id).where(sa.or_(
                Deliverable.short_name.ilike(like, escape="\\"), Deliverable.code.ilike(like, escape="\\"),
                Deliverable.title.ilike(like, escape="\\"))))))
    if filters["state"] in svc.STATE_LABELS:
        stmt = stmt.where(svc.state_clause(filters["state"], today))
    else:
        filters["state"] = ""
    if filters["draft"] in {k.value for k in DraftKind}:
        stmt = stmt.where(Consultation.draft == DraftKind(filters["draft"]))
    else:
        filters["draft"] = ""
    if filters["deliverable"].isdigit():
        stmt = stmt.where(Consultation.deliverable_id == int(filters["deliverable"]))
    else:
        filters["deliverable"] = ""
    page = listing.paginate(stmt, Consultation.id.desc(), scalars=False)
    return render_template("consultations/index.html", page=page, listing=listing, filters=filters,
                           states={row[0].id: cm.state(row[0]) for row in page.items},
                           deliverables=_deliverables())


# --- create and edit --------------------------------------------------------------------------------------
def _form_values(form: ConsultationForm) -> dict:
    return {"title": form.title.data or "", "deliverable_id": form.deliverable_id.data or None,
            "draft": form.draft.data, "description": form.description.data or "",
            "confidentiality_note": form.confidentiality_note.data or "", "opens_on": form.opens_on.data,
            "closes_on": form.closes_on.data, "secretariat_deadline": form.secretariat_deadline.data,
            "reminder_days": form.reminder_days.data or ""}


def _apply_error(form, exc: svc.ConsultationError) -> None:
    target = getattr(form, exc.field, None) if exc.field else None
    if target is not None:
        target.errors = list(target.errors) + [str(exc)]
    else:
        flash(str(exc), "danger")


def _source_notification():
    from focalpoint.notifications.models import Notification

    raw = (request.values.get("notification") or request.values.get("notification_id") or "").strip()
    if not raw:
        return None
    if not raw.isdigit():
        abort(404)
    return db.get_or_404(Notification, int(raw))


@bp.route("/consultations/new", methods=["GET", "POST"])
@roles_required(*STAFF)
def new():
    notification = _source_notification()
    if request.method == "GET":
        data = svc.consultation_prefill(notification) if notification is not None else {
            "draft": DraftKind.SOD.value, "opens_on": svc.local_today(), "reminder_days": "7;2"}
        data["deliverable_id"] = data.get("deliverable_id") or 0
        form = ConsultationForm(deliverables=_deliverables(), data=data)
    else:
        form = ConsultationForm(deliverables=_deliverables())
    if form.validate_on_submit():
        try:
            consultation = svc.create_consultation(actor=current_user, notification=notification,
                                                   **_form_values(form))
        except svc.ConsultationError as exc:
            db.session.rollback()
            _apply_error(form, exc)
        else:
            db.session.commit()
            flash(_("Consultation created. Add its documents, then invite experts."), "success")
            return _detail(consultation)
    existing = db.session.scalars(sa.select(Consultation).where(Consultation.notification_id == notification.id)
                                  .order_by(Consultation.id)).all() if notification is not None else []
    return render_template("consultations/form.html", form=form, consultation=None, notification=notification,
                           existing=existing, conflicts=[]), 200 if request.method == "GET" else 400


def _conflicts(form: ConsultationForm, consultation: Consultation) -> list[tuple[str, str]]:
    """(label, value saved by someone else) for each field where the stored consultation differs from the form."""
    submitted = svc.clean_values(_form_values(form))
    out = []
    for name in svc.CONSULTATION_FIELDS:
        stored = getattr(consultation, name)
        if submitted.get(name) == stored or (submitted.get(name) in (None, "") and stored in (None, "")):
            continue
        field = getattr(form, name)
        if name == "deliverable_id":
            shown = consultation.deliverable.short_name if consultation.deliverable else None
        elif name == "draft":
            shown = svc.DRAFT_LABELS[stored]
        elif isinstance(stored, dt.date):
            shown = format_date(stored)
        else:
            shown = stored
        out.append((field.label.text, str(shown) if shown not in (None, "") else "—"))
    return out


@bp.route("/consultations/<int:consultation_id>/edit", methods=["GET", "POST"])
@roles_required(*STAFF)
def edit(consultation_id: int):
    consultation = _load(consultation_id)
    conflicts = []
    if request.method == "GET":
        data = {k: getattr(consultation, k) for k in svc.CONSULTATION_FIELDS}
        data.update(deliverable_id=consultation.deliverable_id or 0, draft=consultation.draft.value,
                    version=consultation.version)
        form = ConsultationForm(deliverables=_deliverables(), data=data)
    else:
        form = ConsultationForm(deliverables=_deliverables())
    if form.validate_on_submit():
        try:
            svc.check_version(consultation, form.version.data)
            changed = svc.update_consultation(consultation, actor=current_user, **_form_values(form))
        except svc.StaleFormError as exc:
            db.session.rollback()
            flash(str(exc), "warning")
            conflicts = _conflicts(form, consultation)
            form.version.data = consultation.version
        except svc.ConsultationError as exc:
            db.session.rollback()
            _apply_error(form, exc)
        else:
            db.session.commit()
            flash(_("Consultation saved.") if changed else _("Nothing changed."), "success")
            return _detail(consultation)
    return render_template("consultations/form.html", form=form, consultation=consultation,
                           notification=consultation.notification, existing=[], conflicts=conflicts), \
        200 if request.method == "GET" else 400


# --- a consultation's page --------------------------------------------------------------------------------
def _events(consultation: Consultation) -> list[tuple]:
    """(event, its page or None) for the events linked to the consultation."""
    from focalpoint.events.models import Event

    events = db.session.scalars(sa.select(Event).where(Event.consultation_id == consultation.id)
                                .order_by(Event.starts_at, Event.id)).all()
    out = []
    for event in events:
        link = None
        if "events.detail" in current_app.view_functions:
            try:
                link = url_for("events.detail", event_id=event.id)
            except BuildError:
                link = None
        out.append((event, link))
    return out


@bp.get("/consultations/<int:consultation_id>")
@roles_required(Role.STAFF, Role.EXPERT)
def detail(consultation_id: int):
    if not current_user.is_staff:
        return _expert_view("expert_detail", consultation_id)
    from focalpoint.experts.models import Expert

    consultation = _load(consultation_id)
    participants = db.session.scalars(
        sa.select(Participant).join(Expert, Participant.expert_id == Expert.id)
        .where(Participant.consultation_id == consultation.id)
        .order_by(Participant.removed_at.isnot(None), Expert.last_name, Expert.first_name, Participant.id)).all()
    decided, total = svc.progress(consultation)
    return render_template(
        "consultations/detail.html", consultation=consultation, state=cm.state(consultation),
        participants=participants, comment_counts=svc.comment_counts(consultation), decided=decided, total=total,
        events=_events(consultation), document_form=DocumentForm(), confirm_form=ConfirmForm(),
        upload_max_mb=svc.upload_max_bytes() // (1024 * 1024), expert_url=expert_url,
        not_sent=sum(1 for p in participants if p.sent_at is None and p.removed_at is None))


# --- documents --------------------------------------------------------------------------------------------
@bp.post("/consultations/<int:consultation_id>/documents")
@roles_required(*STAFF)
def add_document(consultation_id: int):
    consultation = _load(consultation_id)
    form = DocumentForm()
    if not form.validate_on_submit():
        _flash_errors(form)
        return _detail(consultation, "documents")
    upload = form.file.data
    has_file = upload is not None and bool(getattr(upload, "filename", ""))
    url = (form.url.data or "").strip()
    try:
        if has_file and url:
            raise svc.ConsultationError(_("Give either a file or a link, not both."))
        if has_file:
            data = svc.read_upload(upload.stream)
            document = svc.add_document_file(consultation, data, upload.filename, title=form.title.data,
                                             actor=current_user)
        elif url:
            document = svc.add_document_link(consultation, url, title=form.title.data, actor=current_user)
        else:
            raise svc.ConsultationError(_("Choose a file to upload or give a link."))
    except svc.ConsultationError as exc:
        db.session.rollback()
        flash(str(exc), "danger")
    else:
        db.session.commit()
        flash(_("Document added: %(title)s.", title=document.title), "success")
    return _detail(consultation, "documents")


@bp.get("/consultations/<int:consultation_id>/documents/<int:document_id>")
@roles_required(*STAFF)
def document(consultation_id: int, document_id: int):
    consultation = _load(consultation_id)
    doc = _load_child(ConsultationDocument, consultation, document_id)
    path = svc.document_path(doc)
    if path is None or not path.is_file():
        abort(404)
    return send_file(path, mimetype=doc.content_type or "application/octet-stream", as_attachment=True,
                     download_name=svc.download_name(doc), max_age=0)


@bp.post("/consultations/<int:consultation_id>/documents/<int:document_id>/remove")
@roles_required(*STAFF)
def remove_document(consultation_id: int, document_id: int):
    consultation = _load(consultation_id)
    doc = _load_child(ConsultationDocument, consultation, document_id)
    if ConfirmForm().validate_on_submit():
        title = doc.title
        svc.remove_document(doc, actor=current_user)
        db.session.commit()
        flash(_("Document removed: %(title)s. Comments on it keep its title.", title=title), "success")
    return _detail(consultation, "documents")


@bp.post("/consultations/<int:consultation_id>/documents/<int:document_id>/move")
@roles_required(*STAFF)
def move_document(consultation_id: int, document_id: int):
    consultation = _load(consultation_id)
    doc = _load_child(ConsultationDocument, consultation, document_id)
    direction = request.form.get("direction")
    if ConfirmForm().validate_on_submit() and direction in ("up", "down"):
        svc.move_document(doc, -1 if direction == "up" else 1, actor=current_user)
        db.session.commit()
    return _detail(consultation, "documents")


# --- inviting ---------------------------------------------------------------------------------------------
def _invite_filters(values) -> dict[str, str]:
    from focalpoint.experts.services import read_filters

    filters = read_filters(values)
    filters["status"] = ""  # only active experts can be invited
    return filters


def _invite_filter_widgets():
    """The registry's own filter widgets, without the status filter (only active experts are listed)."""
    from focalpoint.experts.views import _filter_fields, _filter_options

    return [f for f in _filter_fields() if f[0] != "status"], _filter_options()


def _invite_statement(consultation: Consultation, filters: dict, q: str, involved: bool):
    from focalpoint.experts.models import Expert
    from focalpoint.experts.services import filter_experts

    stmt = sa.select(Expert).where(svc.invitable_clause())
    if involved:
        stmt = stmt.where(svc.involved_clause(consultation.deliverable_id))
    return filter_experts(stmt, filters, q)


@bp.get("/consultations/<int:consultation_id>/invite")
@roles_required(*STAFF)
def invite(consultation_id: int):
    from focalpoint.experts.services import SORTS
    from focalpoint.reference.services import country_regions

    consultation = _load(consultation_id)
    listing = Listing(request.args, sorts={k: SORTS[k] for k in ("name", "email", "affiliation", "region")},
                      default_sort="name", per_page=INVITE_PER_PAGE)
    filters = _invite_filters(request.args)
    involved = request.args.get("involved") == "1" and consultation.deliverable_id is not None
    page = listing.paginate(_invite_statement(consultation, filters, listing.q, involved))
    ids = [e.id for e in page.items]
    participants = svc.participants_by_expert(consultation, ids)
    filter_fields, options = _invite_filter_widgets()
    return render_template(
        "consultations/invite.html", consultation=consultation, page=page, listing=listing, filters=filters,
        involved=involved, filter_fields=filter_fields, options=options, regions=country_regions(),
        reasons={e.id: svc.refusal_reason(e, participants.get(e.id)) for e in page.items},
        participants=participants,
        involvement=svc.involvement(consultation.deliverable_id, ids) if consultation.deliverable_id else {},
        closed=cm.state(consultation) == "closed", confirm_form=ConfirmForm())


def _refused_message(refused) -> str:
    shown = "; ".join(f"{expert.name} ({reason})" for expert, reason in refused[:20])
    if len(refused) > 20:
        shown += " " + _("and %(n)d more", n=len(refused) - 20)
    return _("Not invited: %(list)s.", list=shown)


@bp.post("/consultations/<int:consultation_id>/invite")
@roles_required(*STAFF)
def invite_post(consultation_id: int):
    from focalpoint.experts.models import Expert

    consultation = _load(consultation_id)
    if not ConfirmForm().validate_on_submit():
        flash(_("The form has expired: try again."), "danger")
        return redirect(url_for("consultations.invite", consultation_id=consultation.id))
    mode = request.form.get("mode", "selected")
    send = request.form.get("send") == "1"
    if mode == "deliverable":
        if consultation.deliverable_id is None:
            flash(_("The consultation has no deliverable: pick the experts from the registry."), "danger")
            return redirect(url_for("consultations.invite", consultation_id=consultation.id))
        experts = svc.involved_experts(consultation)
    elif mode == "filters":
        filters = _invite_filters(request.form)
        q = (request.form.get("q") or "").strip()[:200]
        involved = request.form.get("involved") == "1" and consultation.deliverable_id is not None
        stmt = _invite_statement(consultation, filters, q, involved).order_by(Expert.last_name, Expert.id)
        experts = db.session.scalars(stmt.limit(MAX_INVITED_AT_ONCE)).all()
    else:
        ids = list(dict.fromkeys(int(v) for v in request.form.getlist("expert_id") if v.isdigit()))
        experts = db.session.scalars(sa.select(Expert).where(Expert.id.in_(ids[:MAX_INVITED_AT_ONCE]))
                                     .order_by(Expert.last_name, Expert.id)).all() if ids else []
    if not experts:
        flash(_("Nobody to invite: check at least one expert."), "warning")
        return redirect(url_for("consultations.invite", consultation_id=consultation.id))
    try:
        result = svc.add_participants(consultation, experts, actor=current_user, send=send)
    except svc.ConsultationError as exc:
        db.session.rollback()
        flash(str(exc), "danger")
        return redirect(url_for("consultations.invite", consultation_id=consultation.id))
    except IntegrityError:  # someone invited one of them at the same moment
        db.session.rollback()
        flash(_("Someone else invited experts to this consultation at the same moment: nothing was saved. "
                "Check the list and try again."), "warning")
        return redirect(url_for("consultations.invite", consultation_id=consultation.id))
    db.session.commit()
    if result.added:
        if send:
            flash(ngettext("%(num)d expert invited; the invitation is on its way.",
                           "%(num)d experts invited; the invitations are on their way.", len(result.added)),
                  "success")
        else:
            flash(ngettext("%(num)d expert added; the invitation is not sent yet.",
                           "%(num)d experts added; the invitations are not sent yet.", len(result.added)),
                  "success")
    else:
        flash(_("No one was added."), "warning")
    if result.refused:
        flash(_refused_message(result.refused), "warning")
    return _detail(consultation, "participants")


@bp.post("/consultations/<int:consultation_id>/send")
@roles_required(*STAFF)
def send(consultation_id: int):
    consultation = _load(consultation_id)
    if ConfirmForm().validate_on_submit():
        try:
            sent, skipped = svc.send_pending(consultation, actor=current_user)
        except svc.ConsultationError as exc:
            db.session.rollback()
            flash(str(exc), "danger")
        else:
            db.session.commit()
            if sent:
                flash(ngettext("%(num)d invitation is on its way.", "%(num)d invitations are on their way.", sent),
                      "success")
            else:
                flash(_("Every participant has been sent the invitation already."), "info")
            if skipped:
                flash(_refused_message([(p.expert, reason) for p, reason in skipped]), "warning")
    return _detail(consultation, "participants")


@bp.post("/consultations/<int:consultation_id>/participants/<int:participant_id>/resend")
@roles_required(*STAFF)
def resend(consultation_id: int, participant_id: int):
    consultation = _load(consultation_id)
    participant = _load_child(Participant, consultation, participant_id)
    if ConfirmForm().validate_on_submit():
        try:
            svc.resend_invitation(participant, actor=current_user)
        except svc.ConsultationError as exc:
            db.session.rollback()
            flash(str(exc), "danger")
        else:
            db.session.commit()
            flash(_("The invitation was sent again to %(name)s with a new link; the earlier link no longer works.",
                    name=participant.expert.name), "success")
    return _detail(consultation, "participants")


@bp.post("/consultations/<int:consultation_id>/participants/<int:participant_id>/remove")
@roles_required(*STAFF)
def remove_participant(consultation_id: int, participant_id: int):
    consultation = _load(consultation_id)
    participant = _load_child(Participant, consultation, participant_id)
    if ConfirmForm().validate_on_submit():
        svc.remove_participant(participant, actor=current_user)
        db.session.commit()
        flash(_("%(name)s was removed from the consultation: their link no longer works; their comments stay.",
                name=participant.expert.name), "success")
    return _detail(consultation, "participants")


# --- consolidation ----------------------------------------------------------------------------------------
def _comment_filters(consultation: Consultation) -> dict[str, str]:
    filters = {key: (request.args.get(key) or "").strip()[:200] for key in
               ("document", "type", "decision", "reviewer")}
    if filters["document"] not in ({str(d.id) for d in consultation.documents} | {"none"}):
        filters["document"] = ""
    if filters["type"] not in {t.value for t in CommentType}:
        filters["type"] = ""
    if filters["decision"] not in {d.value for d in Decision} | {"undecided", "decided"}:
        filters["decision"] = ""
    return filters


def _comments_statement(consultation: Consultation, filters: dict, q: str):
    stmt = sa.select(ReviewComment).where(ReviewComment.consultation_id == consultation.id)
    if filters["document"] == "none":
        stmt = stmt.where(ReviewComment.document_id.is_(None))
    elif filters["document"]:
        stmt = stmt.where(ReviewComment.document_id == int(filters["document"]))
    if filters["type"]:
        stmt = stmt.where(ReviewComment.comment_type == CommentType(filters["type"]))
    if filters["decision"] == "undecided":
        stmt = stmt.where(ReviewComment.decision.is_(None))
    elif filters["decision"] == "decided":
        stmt = stmt.where(ReviewComment.decision.isnot(None))
    elif filters["decision"]:
        stmt = stmt.where(ReviewComment.decision == Decision(filters["decision"]))
    if filters["reviewer"]:
        stmt = stmt.where(ReviewComment.reviewer_name == filters["reviewer"])
    if q:
        like = "%" + q.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        stmt = stmt.where(sa.or_(*(column.ilike(like, escape="\\") for column in (
            ReviewComment.comment, ReviewComment.suggested_change, ReviewComment.edited_comment,
            ReviewComment.chapter, ReviewComment.staff_note, ReviewComment.reviewer_name))))
    return stmt


MERGE_LABEL_CHARS = 70


def _shorten(text: str, limit: int = MERGE_LABEL_CHARS) -> str:
    """``text`` on one line, cut at a word boundary with an ellipsis when longer than ``limit``."""
    text = " ".join(text.split())
    if len(text) <= limit:
        return text
    cut = text[:limit].rsplit(" ", 1)[0] if " " in text[:limit] else text[:limit]
    return cut.rstrip(" ,;:.") + "…"


def _comment_number(text: str | None) -> str | None:
    """The comment number typed or picked ("12", "#12", "#12 · p.3 …"); None when there is none.

    Anything that is not a plausible number comes back as typed, so the service refuses it with its message.
    """
    text = (text or "").strip().lstrip("#").strip()
    if not text:
        return None
    head = re.match(r"\d+", text)
    return head.group(0) if head else text[:20]


def _merge_choices(consultation: Consultation, comments) -> dict:
    """{document id (or None): [(id, short label)]}: the comments a comment of that document may be merged
    into (one query)."""
    doc_ids = {c.document_id for c in comments}
    if not doc_ids:
        return {}
    condition = ReviewComment.document_id.in_([d for d in doc_ids if d is not None])
    if None in doc_ids:
        condition = sa.or_(condition, ReviewComment.document_id.is_(None))
    rows = db.session.execute(
        sa.select(ReviewComment.id, ReviewComment.document_id, ReviewComment.page_from, ReviewComment.line_from,
                  ReviewComment.reviewer_name, sa.func.substr(ReviewComment.comment, 1, MERGE_LABEL_CHARS + 1),
                  ReviewComment.decision)
        .where(ReviewComment.consultation_id == consultation.id, condition)
        .order_by(sa.func.coalesce(ReviewComment.page_from, 0), sa.func.coalesce(ReviewComment.line_from, 0),
                  ReviewComment.id)).all()
    out: dict = {}
    for comment_id, document_id, page, line, reviewer, text, decision in rows:
        place = ""
        if page is not None:
            place = f"p.{page}" + (f" l.{line}" if line is not None else "") + " · "
        label = f"#{comment_id} · {place}{reviewer or '—'}: {_shorten(text or '')}"
        out.setdefault(document_id, []).append((comment_id, label, decision))
    return out


@bp.get("/consultations/<int:consultation_id>/comments")
@roles_required(*STAFF)
def comments(consultation_id: int):
    from focalpoint.consultations.models import ConsultationDocument as Doc

    consultation = _load(consultation_id)
    listing = Listing(request.args, sorts={"template": None}, default_sort="template", per_page=COMMENTS_PER_PAGE)
    filters = _comment_filters(consultation)
    stmt = _comments_statement(consultation, filters, listing.q)
    total = db.session.scalar(sa.select(sa.func.count()).select_from(stmt.order_by(None).subquery()))
    pages = max(1, -(-total // COMMENTS_PER_PAGE))
    number = min(listing.page, pages)
    rows = db.session.scalars(
        stmt.outerjoin(Doc, ReviewComment.document_id == Doc.id).order_by(*cm.order_key())
        .limit(COMMENTS_PER_PAGE).offset((number - 1) * COMMENTS_PER_PAGE)).all()
    page = Page(items=rows, page=number, per_page=COMMENTS_PER_PAGE, total=total, pages=pages)
    decided, all_comments = svc.progress(consultation)
    reviewers = db.session.scalars(sa.select(ReviewComment.reviewer_name).distinct().where(
        ReviewComment.consultation_id == consultation.id).order_by(ReviewComment.reviewer_name)).all()
    return render_template(
        "consultations/comments.html", consultation=consultation, page=page, listing=listing, filters=filters,
        decided=decided, total=all_comments, reviewers=reviewers, merge_choices=_merge_choices(consultation, rows),
        warnings=svc.merge_warnings(rows), merged_here=svc.merged_here([c.id for c in rows]),
        next_url=request.full_path if request.query_string else request.path)


def _edited(field, original: str, stored: str) -> str | None:
    """The edited wording sent, or None when it was not sent or is still the author's (the page fills the
    box with the author's words until staff edit them)."""
    if field.name not in request.form:
        return None
    value = (field.data or "").strip()
    if not stored and value == (original or "").strip():
        return None
    return value


@bp.post("/consultations/<int:consultation_id>/comments/<int:comment_id>")
@roles_required(*STAFF)
def decide(consultation_id: int, comment_id: int):
    consultation = _load(consultation_id)
    comment = _load_child(ReviewComment, consultation, comment_id)
    form = DecisionForm()
    back = safe_next(form.next.data, url_for("consultations.comments", consultation_id=consultation.id))
    back = f"{back}#comment-{comment.id}"
    if not form.validate_on_submit():
        _flash_errors(form)
        return redirect(back)
    undo = request.form.get("action") == "undo"
    decision = None if undo else (form.decision.data or "")
    try:
        if decision == "":
            raise svc.ConsultationError(_("Choose a decision."))
        result = svc.decide_comment(
            comment, decision, actor=current_user, version=form.version.data,
            staff_note=form.staff_note.data if "staff_note" in request.form else None,
            edited_comment=_edited(form.edited_comment, comment.comment, comment.edited_comment),
            edited_suggested_change=_edited(form.edited_suggested_change, comment.suggested_change,
                                            comment.edited_suggested_change),
            merged_into=_comment_number(form.merged_into.data) if decision == Decision.MERGE.value else None)
    except svc.StaleFormError as exc:
        db.session.rollback()
        flash(str(exc), "warning")
    except svc.ConsultationError as exc:
        db.session.rollback()
        flash(f"#{comment.id}: {exc}", "danger")
    else:
        db.session.commit()
        if not result.changed:
            flash(_("#%(id)d: nothing changed.", id=comment.id), "info")
        elif undo:
            flash(_("#%(id)d: decision undone; the comment is undecided again.", id=comment.id), "success")
        else:
            flash(_("#%(id)d: %(decision)s.", id=comment.id, decision=svc.DECISION_LABELS[comment.decision]),
                  "success")
        if result.followed_from is not None:
            flash(_("#%(chosen)d is itself merged into #%(target)d: #%(id)d was merged into #%(target)d.",
                    chosen=result.followed_from.id, target=result.merged_into.id, id=comment.id), "info")
        if result.moved:
            flash(ngettext("%(num)d comment merged into #%(id)d now follows it into #%(target)d.",
                           "%(num)d comments merged into #%(id)d now follow it into #%(target)d.",
                           len(result.moved), id=comment.id, target=result.merged_into.id), "info")
    return redirect(back)


@bp.route("/consultations/<int:consultation_id>/comments/new", methods=["GET", "POST"])
@roles_required(*STAFF)
def add_comment(consultation_id: int):
    """Staff type in a comment an invited expert sent another way (by e-mail, on paper), as its author."""
    from focalpoint.consultations.forms import staff_comment_form

    consultation = _load(consultation_id)
    _form, participants = _import_form(consultation)
    form = staff_comment_form(consultation, participants)
    if request.method == "GET":
        wanted = request.args.get("participant", "")
        form.participant_id.data = int(wanted) if wanted.isdigit() else 0
        return render_template("consultations/comment_form.html", consultation=consultation, form=form,
                               participants=participants)
    status = 422
    participant = next((p for p in participants if p.id == form.participant_id.data), None)
    if not form.validate_on_submit():
        _flash_errors(form)
    elif participant is None:
        form.participant_id.errors = [_("Choose the participant the comment is from.")]
    else:
        try:
            comment = cm.add_comment(consultation, form.values(), participant=participant, actor=current_user,
                                     source=CommentSource.BROWSER, check_dates=False)
        except cm.CommentError as exc:
            db.session.rollback()
            for name, message in exc.errors.items():
                target = getattr(form, name, None)
                if target is not None:
                    target.errors = list(target.errors) + [message]
                else:
                    flash(message, "danger")
        else:
            db.session.commit()
            flash(_("Comment #%(id)d recorded for %(name)s.", id=comment.id, name=participant.expert.name),
                  "success")
            return redirect(url_for("consultations.comments", consultation_id=consultation.id)
                            + f"#comment-{comment.id}")
    return render_template("consultations/comment_form.html", consultation=consultation, form=form,
                           participants=participants), status


# --- spreadsheets -----------------------------------------------------------------------------------------
def _xlsx(data: bytes, name: str) -> Response:
    return Response(data, mimetype=XLSX, headers={"Content-Disposition": f'attachment; filename="{name}"'})


@bp.get("/consultations/<int:consultation_id>/export.xlsx")
@roles_required(*STAFF)
def export(consultation_id: int):
    from focalpoint.consultations import sheets

    consultation = _load(consultation_id)
    return _xlsx(sheets.export_consolidated(consultation),
                 f"consultation-{consultation.id}-consolidated-{svc.local_today():%Y-%m-%d}.xlsx")


@bp.get("/consultations/<int:consultation_id>/export-full.xlsx")
@roles_required(*STAFF)
def export_full(consultation_id: int):
    from focalpoint.consultations import sheets

    consultation = _load(consultation_id)
    return _xlsx(sheets.export_full(consultation),
                 f"consultation-{consultation.id}-full-{svc.local_today():%Y-%m-%d}.xlsx")


@bp.get("/consultations/<int:consultation_id>/template.xlsx")
@roles_required(*STAFF)
def template(consultation_id: int):
    from focalpoint.consultations import sheets

    consultation = _load(consultation_id)
    return _xlsx(sheets.template_xlsx(consultation), f"consultation-{consultation.id}-review-template.xlsx")


def _import_form(consultation: Consultation) -> tuple[ImportForm, list[Participant]]:
    from focalpoint.experts.models import Expert

    participants = db.session.scalars(
        sa.select(Participant).join(Expert, Participant.expert_id == Expert.id)
        .where(Participant.consultation_id == consultation.id, Participant.removed_at.is_(None))
        .order_by(Expert.last_name, Expert.first_name, Participant.id)).all()
    form = ImportForm()
    form.participant_id.choices = [(0, _("— choose —"))] + [(p.id, f"{p.expert.name} <{p.expert.email or ''}>")
                                                            for p in participants]
    return form, participants


@bp.route("/consultations/<int:consultation_id>/import", methods=["GET", "POST"])
@roles_required(*STAFF)
def import_comments(consultation_id: int):
    from focalpoint.consultations import sheets

    consultation = _load(consultation_id)
    form, participants = _import_form(consultation)
    if request.method == "GET":
        wanted = request.args.get("participant", "")
        if wanted.isdigit():
            form.participant_id.data = int(wanted)
        return render_template("consultations/import.html", consultation=consultation, form=form, report=None,
                               participants=participants, dry_run=False)
    dry_run = request.form.get("action") == "check"
    if not form.validate_on_submit():
        _flash_errors(form)
        return render_template("consultations/import.html", consultation=consultation, form=form, report=None,
                               participants=participants, dry_run=dry_run), 422
    participant = next((p for p in participants if p.id == form.participant_id.data), None)
    if participant is None:
        form.participant_id.errors = [_("Choose the participant the comments are from.")]
        return render_template("consultations/import.html", consultation=consultation, form=form, report=None,
                               participants=participants, dry_run=dry_run), 422
    try:
        data = svc.read_upload(form.file.data.stream)
        report = sheets.import_comments(consultation, data, actor=current_user, participant=participant,
                                        source=CommentSource.UPLOAD, dry_run=dry_run, check_dates=False)
    except (svc.ConsultationError, sheets.SheetError) as exc:
        db.session.rollback()
        flash(str(exc), "danger")
        return render_template("consultations/import.html", consultation=consultation, form=form, report=None,
                               participants=participants, dry_run=dry_run), 422
    if dry_run:
        db.session.rollback()
    else:
        db.session.commit()
        if report.imported:
            flash(ngettext("%(num)d comment imported for %(name)s.", "%(num)d comments imported for %(name)s.",
                           report.imported, name=participant.expert.name), "success")
    return render_template("consultations/import.html", consultation=consultation, form=form, report=report,
                           participants=participants, dry_run=dry_run), \
        200 if report.imported or dry_run else 422
