"""Position notes: drafting with versions, review by administrations, comments and clearance.

Staff see every note; a reviewer only the notes whose review was asked of their administration (any
other id answers 404, as if it did not exist). The services check the same rules again.
"""
from __future__ import annotations

import datetime as dt

import sqlalchemy as sa
from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import format_date
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import contains_eager, lazyload
from sqlalchemy.orm.exc import StaleDataError

from focalpoint.audit import entries_for
from focalpoint.extensions import db
from focalpoint.forms import ConfirmForm
from focalpoint.listing import Listing
from focalpoint.positions import services as svc
from focalpoint.positions.forms import (ACTION_LABELS, DECISION_LABELS, REVIEW_STATE_LABELS,
                                        REVIEWER_STATE_LABELS, SECTION_LABELS, STATUS_LABELS, AnswerForm,
                                        ClearanceForm, CommentForm, NoteForm, ReopenForm, ReviewRequestForm)
from focalpoint.positions.markdown import blocks, render
from focalpoint.positions.models import (NOTE_SECTIONS, AgendaItem, NoteComment, NoteStatus, PositionNote,
                                         ReviewRequest)
from focalpoint.reference.models import PlenarySession
from focalpoint.security import roles_required

bp = Blueprint("positions", __name__)

STAFF = ("staff",)
#: Default time given to administrations to review.
DEFAULT_REVIEW_DAYS = 14


@bp.record_once
def _globals(state):
    state.app.jinja_env.globals.update(
        NOTE_SECTIONS=NOTE_SECTIONS, NOTE_SECTION_LABELS=SECTION_LABELS, NOTE_STATUS_LABELS=STATUS_LABELS,
        REVIEW_STATE_LABELS=REVIEW_STATE_LABELS, REVIEWER_STATE_LABELS=REVIEWER_STATE_LABELS,
        DECISION_LABELS=DECISION_LABELS, NOTE_ACTION_LABELS=ACTION_LABELS)


def _load_note(note_id: int) -> PositionNote:
    note = db.session.get(PositionNote, note_id)
    if note is None or not svc.can_view(note, current_user):
        abort(404)
    return note


def _detail_url(note: PositionNote, anchor: str = "") -> str:
    return url_for("positions.detail", note_id=note.id) + (f"#{anchor}" if anchor else "")


def _flash_errors(form) -> None:
    for name, errors in form.errors.items():
        label = getattr(getattr(form, name, None), "label", None)
        for error in errors:
            flash(f"{label.text if label else name}: {error}", "danger")


def _int_arg(name: str) -> int | None:
    value = (request.args.get(name) or "").strip()
    return int(value) if value.isdigit() and len(value) < 10 else None


# --- the list ---------------------------------------------------------------------------------------
class _NoteListing(Listing):
    """Ties broken in agenda order: session (newest first), item, note."""

    def order_by(self, stmt, tiebreak=None):
        return super().order_by(stmt).order_by(PlenarySession.start_date.desc().nulls_last(), PlenarySession.code,
                                               AgendaItem.position, AgendaItem.number, PositionNote.id)


def _search(stmt, listing: Listing):
    if listing.q:
        like = listing.like()
        stmt = stmt.where(sa.or_(*(column.ilike(like, escape="\\") for column in (
            AgendaItem.number, AgendaItem.title, PositionNote.title, PlenarySession.code, PositionNote.background,
            PositionNote.national_position, PositionNote.eu_position, PositionNote.fallback))))
    return stmt


def _note_select(*columns):
    return (sa.select(PositionNote, *columns).join(AgendaItem, AgendaItem.id == PositionNote.agenda_item_id)
            .join(PlenarySession, PlenarySession.id == AgendaItem.session_id)
            .options(contains_eager(PositionNote.agenda_item).contains_eager(AgendaItem.session),
                     lazyload(PositionNote.documents)))


@bp.get("/positions")
@roles_required("staff", "reviewer")
def index():
    sessions = db.session.scalars(sa.select(PlenarySession).order_by(PlenarySession.start_date.desc().nulls_last(),
                                                                     PlenarySession.code)).all()
    if svc.is_staff(current_user):
        return _staff_index(sessions)
    return _reviewer_index(sessions)


def _staff_index(sessions):
    today = svc.local_today()
    next_due = svc.next_due_column().label("next_due")
    listing = _NoteListing(request.args, sorts={
        "session": PlenarySession.start_date, "item": AgendaItem.position, "status": PositionNote.status,
        "updated": PositionNote.updated_at, "due": next_due, "version": PositionNote.current_version},
        default_sort="session", default_dir="desc")
    filters = {"session": _int_arg("session"), "status": request.args.get("status", ""),
               "administration": _int_arg("administration"), "overdue": request.args.get("overdue") == "1"}
    stmt = _search(_note_select(next_due), listing)
    if filters["session"]:
        stmt = stmt.where(AgendaItem.session_id == filters["session"])
    if filters["status"] in {s.value for s in NoteStatus}:
        stmt = stmt.where(PositionNote.status == NoteStatus(filters["status"]))
    else:
        filters["status"] = ""
    if filters["administration"]:
        stmt = stmt.where(PositionNote.id.in_(sa.select(ReviewRequest.note_id).where(
            ReviewRequest.administration_id == filters["administration"], ReviewRequest.withdrawn_at.is_(None))))
    if filters["overdue"]:
        stmt = stmt.where(svc.overdue_clause(today))
    page = listing.paginate(stmt, scalars=False)
    reviews = svc.note_reviews([note.id for note, _due in page.items])
    return render_template("positions/index.html", listing=listing, page=page, filters=filters, sessions=sessions,
                           administrations=svc.review_administrations(), reviews=reviews, today=today)


def _reviewer_index(sessions):
    administration_id = svc.reviewer_administration_id(current_user)
    listing = _NoteListing(request.args, sorts={
        "due": ReviewRequest.due_date, "session": PlenarySession.start_date, "item": AgendaItem.position,
        "updated": PositionNote.updated_at}, default_sort="due", default_dir="asc")
    filters = {"session": _int_arg("session")}
    stmt = _note_select(ReviewRequest).join(ReviewRequest, sa.and_(
        ReviewRequest.note_id == PositionNote.id, ReviewRequest.administration_id == administration_id,
        ReviewRequest.withdrawn_at.is_(None)))
    if administration_id is None:
        stmt = stmt.where(sa.false())
    stmt = _search(stmt, listing)
    if filters["session"]:
        stmt = stmt.where(AgendaItem.session_id == filters["session"])
    page = listing.paginate(stmt, scalars=False)
    latest = svc.latest_clearances(r.id for _note, r in page.items)
    states = {}
    for note, r in page.items:
        review = svc.AdministrationReview(r, svc.review_state(r, latest.get(r.id), note.current_version),
                                          latest.get(r.id))
        states[note.id] = svc.reviewer_state(review, note.current_version)
    return render_template("positions/review_list.html", listing=listing, page=page, filters=filters,
                           sessions=sessions, states=states, today=svc.local_today())


# --- creating ---------------------------------------------------------------------------------------
@bp.route("/plenary/items/<int:item_id>/note", methods=["GET", "POST"])
@roles_required(*STAFF)
def create(item_id: int):
    item = db.get_or_404(AgendaItem, item_id)
    note = db.session.scalar(sa.select(PositionNote).where(PositionNote.agenda_item_id == item.id))
    if note is not None:
        return redirect(_detail_url(note))
    form = ConfirmForm()
    if form.validate_on_submit():
        note = svc.create_note(item, actor=current_user)
        db.session.commit()
        flash(_("Position note created: write its first version."), "success")
        return redirect(url_for("positions.edit", note_id=note.id))
    return render_template("positions/create.html", item=item, form=form), 200 if request.method == "GET" else 400


# --- the note ---------------------------------------------------------------------------------------
def _targets(note: PositionNote, sections: dict) -> list[tuple[str, str]]:
    """The comment form's choices: each section, and each numbered paragraph with its first words."""
    out = []
    for section in NOTE_SECTIONS:
        numbered = [b for b in sections[section] if b.number is not None]
        if not numbered:
            continue
        label = str(SECTION_LABELS[section])
        out.append((section, _("%(section)s (the whole section)", section=label)))
        for b in numbered:
            words = " ".join(b.source.split())
            out.append((f"{section}:{b.number}", _("%(section)s, paragraph %(n)d: %(words)s", section=label,
                                                    n=b.number, words=words[:70] + ("…" if len(words) > 70 else ""))))
    return out


def _render_detail(note: PositionNote, *, comment_form: CommentForm | None = None,
                   clearance_form: ClearanceForm | None = None, status: int = 200):
    staff = svc.is_staff(current_user)
    sections = {section: blocks(getattr(note, section)) for section in NOTE_SECTIONS}
    reviews = svc.note_reviews([note.id], include_withdrawn=staff)[note.id]
    context = {
        "note": note, "item": note.agenda_item, "session": note.agenda_item.session, "sections": sections,
        "current": svc.current_version_row(note), "reviews": reviews,
        "threads": svc.comment_threads(note, current_user), "staff": staff, "confirm_form": ConfirmForm(),
        "answer_form": AnswerForm(),
    }
    if staff:
        today = svc.local_today()
        context.update(
            request_form=ReviewRequestForm(administrations=svc.review_administrations(),
                                           data={"due_date": today + dt.timedelta(days=DEFAULT_REVIEW_DAYS)}),
            reopen_form=ReopenForm(), history=entries_for(note, 100), decisions=svc.clearance_history(note),
            today=today)
    else:
        mine = next((r for r in reviews if r.request.administration_id == svc.reviewer_administration_id(current_user)),
                    None)
        if comment_form is None:
            comment_form = CommentForm(targets=_targets(note, sections), data={
                "target": request.args.get("on", ""), "note_version": str(note.current_version)})
        if clearance_form is None:
            clearance_form = ClearanceForm(data={"note_version": str(note.current_version)})
        context.update(mine=mine, my_state=svc.reviewer_state(mine, note.current_version) if mine else None,
                       comment_form=comment_form, clearance_form=clearance_form)
    return render_template("positions/detail.html", **context), status


@bp.get("/positions/<int:note_id>")
@roles_required("staff", "reviewer")
def detail(note_id: int):
    return _render_detail(_load_note(note_id))


# --- editing ----------------------------------------------------------------------------------------
@bp.route("/positions/<int:note_id>/edit", methods=["GET", "POST"])
@roles_required(*STAFF)
def edit(note_id: int):
    note = _load_note(note_id)
    if note.is_locked and request.method != "POST":
        flash(_("The note is approved and locked: reopen it to change it."), "warning")
        return redirect(_detail_url(note))
    documents = svc.session_documents(note)
    defaults = None
    if request.method != "POST":
        defaults = {**svc.note_texts(note), "documents": [d.id for d in note.documents], "version": str(note.version),
                    "base": str(note.current_version)}
    form = NoteForm(documents=documents, data=defaults)
    preview, conflict, status = None, None, 200
    if request.method == "POST":
        if not form.validate_on_submit():
            if form.version.errors:
                flash(_("The form was incomplete: reload the page and try again."), "danger")
            status = 422
        elif form.preview.data:
            preview = {section: render(text) for section, text in form.texts().items()}
        else:
            chosen = set(form.documents.data or [])
            try:
                result = svc.save_version(note, texts=form.texts(), expected_version=form.version.data,
                                          documents=[d for d in documents if d.id in chosen],
                                          summary=form.summary.data or "", actor=current_user)
                db.session.commit()
            except svc.StaleNoteError:
                db.session.rollback()
                conflict = True
            except (StaleDataError, IntegrityError):
                # Someone's save won the race between our check and our write: nothing of ours was kept.
                db.session.rollback()
                conflict = True
            except svc.NoteLocked:
                # Approved since the form was opened: nothing saved, the typed text is shown back.
                db.session.rollback()
                conflict = True
            except svc.PositionError as exc:
                db.session.rollback()
                flash(str(exc), "danger")
                status = 422
            else:
                if result.version is not None:
                    flash(_("Version %(n)d saved.", n=result.version.number), "success")
                elif result.changed:
                    flash(_("Linked documents saved; the text did not change, so no new version."), "success")
                else:
                    flash(_("Nothing changed: no new version."), "info")
                return redirect(_detail_url(note))
    if conflict:
        note = db.session.get(PositionNote, note_id, populate_existing=True)
        base = int(form.base.data) if (form.base.data or "").isdigit() else None
        current, diffs = svc.conflict_diff(note, base)
        conflict = {"current": current, "diffs": diffs, "base": base,
                    "documents": list(note.documents)}
        # The next save is knowingly over this version (the other change was shown).
        form.version.data, form.base.data = str(note.version), str(note.current_version)
        status = 409
        if note.is_locked:
            flash(_("The note was approved in the meantime and is locked: nothing was saved."), "warning")
    return render_template("positions/edit.html", note=note, item=note.agenda_item, form=form, preview=preview,
                           conflict=conflict, documents=documents), status


# --- versions and diffs -----------------------------------------------------------------------------
@bp.get("/positions/<int:note_id>/versions")
@roles_required("staff", "reviewer")
def versions(note_id: int):
    note = _load_note(note_id)
    return render_template("positions/versions.html", note=note, item=note.agenda_item, versions=svc.versions(note))


@bp.get("/positions/<int:note_id>/diff")
@roles_required("staff", "reviewer")
def diff(note_id: int):
    note = _load_note(note_id)
    if not note.current_version:
        flash(_("The note has no version yet."), "info")
        return redirect(_detail_url(note))
    to = _int_arg("to") or note.current_version
    from_ = _int_arg("from")
    if from_ is None:
        from_ = max(to - 1, 1)
    old, new = svc.version_row(note, from_), svc.version_row(note, to)
    if old is None or new is None:
        flash(_("Choose two versions between 1 and %(n)d.", n=note.current_version), "danger")
        return redirect(url_for("positions.versions", note_id=note.id))
    diffs = svc.diff_sections(svc.note_texts(old), svc.note_texts(new))
    return render_template("positions/diff.html", note=note, item=note.agenda_item, old=old, new=new, diffs=diffs,
                           numbers=list(range(note.current_version, 0, -1)))


# --- review requests --------------------------------------------------------------------------------
@bp.post("/positions/<int:note_id>/reviews")
@roles_required(*STAFF)
def request_review(note_id: int):
    note = _load_note(note_id)
    administrations = svc.review_administrations()
    form = ReviewRequestForm(administrations=administrations)
    if not form.validate_on_submit():
        _flash_errors(form)
        return redirect(_detail_url(note, "reviews"))
    chosen = set(form.administrations.data or [])
    try:
        outcome = svc.request_review(note, [a for a in administrations if a.id in chosen], form.due_date.data,
                                     actor=current_user)
        db.session.commit()
    except svc.PositionError as exc:
        db.session.rollback()
        flash(str(exc), "danger")
        return redirect(_detail_url(note, "reviews"))
    flash(_("Review asked of %(names)s by %(due)s; %(n)d e-mail(s) queued.",
            names=", ".join(r.administration.name for r in outcome.requests), due=format_date(form.due_date.data),
            n=outcome.mailed), "success")
    if outcome.without_reviewers:
        flash(_("No active reviewer account in: %(names)s. Nobody there was told.",
                names=", ".join(a.name for a in outcome.without_reviewers)), "warning")
    return redirect(_detail_url(note, "reviews"))


@bp.post("/positions/<int:note_id>/reviews/<int:request_id>/withdraw")
@roles_required(*STAFF)
def withdraw_review(note_id: int, request_id: int):
    note = _load_note(note_id)
    review = db.session.get(ReviewRequest, request_id)
    if review is None or review.note_id != note.id:
        abort(404)
    if ConfirmForm().validate_on_submit():
        try:
            svc.withdraw_review(review, actor=current_user)
            db.session.commit()
            flash(_("The review request to %(name)s is withdrawn.", name=review.administration.name), "success")
        except svc.PositionError as exc:
            db.session.rollback()
            flash(str(exc), "danger")
    return redirect(_detail_url(note, "reviews"))


# --- comments ---------------------------------------------------------------------------------------
@bp.post("/positions/<int:note_id>/comments")
@roles_required("reviewer")
def comment(note_id: int):
    note = _load_note(note_id)
    sections = {section: blocks(getattr(note, section)) for section in NOTE_SECTIONS}
    form = CommentForm(targets=_targets(note, sections))
    if not form.validate_on_submit():
        return _render_detail(note, comment_form=form, status=422)
    section, paragraph = form.section_and_paragraph()
    try:
        svc.add_comment(note, actor=current_user, section=section, paragraph=paragraph, body=form.body.data,
                        note_version=form.note_version.data)
        db.session.commit()
    except svc.AccessDenied as exc:
        db.session.rollback()
        flash(str(exc), "danger")
        return redirect(_detail_url(note))
    except svc.OutdatedVersionError as exc:
        db.session.rollback()
        flash(str(exc), "warning")
        form.note_version.data = str(note.current_version)
        return _render_detail(note, comment_form=form, status=409)
    except svc.PositionError as exc:
        db.session.rollback()
        flash(str(exc), "danger")
        return _render_detail(note, comment_form=form, status=422)
    flash(_("Your comment is recorded."), "success")
    return redirect(_detail_url(note, "comments"))


def _load_comment(note: PositionNote, comment_id: int) -> NoteComment:
    comment = db.session.get(NoteComment, comment_id)
    if comment is None or comment.note_id != note.id:
        abort(404)
    return comment


@bp.post("/positions/<int:note_id>/comments/<int:comment_id>/answer")
@roles_required(*STAFF)
def answer(note_id: int, comment_id: int):
    note = _load_note(note_id)
    comment = _load_comment(note, comment_id)
    form = AnswerForm()
    if not form.validate_on_submit():
        _flash_errors(form)
    else:
        try:
            svc.answer_comment(comment, actor=current_user, body=form.body.data)
            db.session.commit()
            flash(_("Your answer is recorded."), "success")
        except svc.PositionError as exc:
            db.session.rollback()
            flash(str(exc), "danger")
    return redirect(_detail_url(note, f"comment-{comment.parent_id or comment.id}"))


@bp.post("/positions/<int:note_id>/comments/<int:comment_id>/resolve")
@roles_required(*STAFF)
def resolve(note_id: int, comment_id: int):
    note = _load_note(note_id)
    comment = _load_comment(note, comment_id)
    if ConfirmForm().validate_on_submit():
        try:
            svc.resolve_comment(comment, actor=current_user)
            db.session.commit()
            flash(_("Comment marked as resolved."), "success")
        except svc.PositionError as exc:
            db.session.rollback()
            flash(str(exc), "danger")
    return redirect(_detail_url(note, "comments"))


# --- clearance and reopening ------------------------------------------------------------------------
@bp.post("/positions/<int:note_id>/clearance")
@roles_required("reviewer")
def clearance(note_id: int):
    note = _load_note(note_id)
    form = ClearanceForm()
    if not form.validate_on_submit():
        return _render_detail(note, clearance_form=form, status=422)
    try:
        decision = svc.decide_clearance(note, actor=current_user, decision=form.decision.data,
                                        reason=form.reason.data or "", note_version=form.note_version.data)
        db.session.commit()
    except svc.AccessDenied as exc:
        db.session.rollback()
        flash(str(exc), "danger")
        return redirect(_detail_url(note))
    except svc.OutdatedVersionError as exc:
        db.session.rollback()
        flash(str(exc), "warning")
        form.note_version.data = str(note.current_version)
        return _render_detail(note, clearance_form=form, status=409)
    except svc.PositionError as exc:
        db.session.rollback()
        flash(str(exc), "danger")
        return _render_detail(note, clearance_form=form, status=422)
    if decision.decision.value == "cleared":
        flash(_("Your administration cleared version %(n)d.", n=decision.note_version), "success")
    else:
        flash(_("Your administration's objection to version %(n)d is recorded.", n=decision.note_version), "success")
    if note.is_locked:
        flash(_("Every administration asked has cleared: the note is approved."), "info")
    return redirect(_detail_url(note, "reviews"))


@bp.post("/positions/<int:note_id>/reopen")
@roles_required(*STAFF)
def reopen(note_id: int):
    note = _load_note(note_id)
    form = ReopenForm()
    if form.validate_on_submit():
        try:
            version = svc.reopen_note(note, actor=current_user, reason=form.reason.data or "")
            db.session.commit()
            flash(_("The note is reopened as version %(n)d: the administrations must clear it again.",
                    n=version.number), "success")
        except svc.PositionError as exc:
            db.session.rollback()
            flash(str(exc), "danger")
    else:
        _flash_errors(form)
    return redirect(_detail_url(note))
