"""Plenary sessions: the list, a session's agenda and documents, the clearance matrix and the briefing pack (staff)."""
from __future__ import annotations

import re

import sqlalchemy as sa
from flask import Blueprint, Response, abort, current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy.exc import IntegrityError
from werkzeug.routing import BuildError

from focalpoint.auth.models import Role
from focalpoint.extensions import db
from focalpoint.forms import ConfirmForm
from focalpoint.i18n import local_today
from focalpoint.listing import Listing
from focalpoint.positions import plenary_services as svc
from focalpoint.positions.models import AgendaItem, SessionDocument
from focalpoint.positions.plenary_forms import (CLEARANCE_CLASSES, CLEARANCE_LABELS, CLEARANCE_SYMBOLS,
                                                NOTE_STATUS_LABELS, AgendaItemForm, AgendaPasteForm, DocumentForm,
                                                SessionForm)
from focalpoint.reference.models import PlenarySession
from focalpoint.security import roles_required

bp = Blueprint("plenary", __name__)

STAFF = (Role.STAFF,)


@bp.record_once
def _globals(state):
    state.app.jinja_env.globals.update(NOTE_STATUS_LABELS=NOTE_STATUS_LABELS, CLEARANCE_LABELS=CLEARANCE_LABELS,
                                       CLEARANCE_CLASSES=CLEARANCE_CLASSES, CLEARANCE_SYMBOLS=CLEARANCE_SYMBOLS,
                                       note_url=note_url, create_note_url=create_note_url)


def _endpoint_url(endpoints: tuple[str, ...], fallback: str, **values) -> str:
    for endpoint in endpoints:
        if endpoint in current_app.view_functions:
            try:
                return url_for(endpoint, **values)
            except BuildError:
                continue
    return fallback


def note_url(note_id: int) -> str:
    """The position note's page (/positions/<id>)."""
    return _endpoint_url(("positions.detail", "positions.show", "positions.note"), f"/positions/{note_id}",
                         note_id=note_id)


def create_note_url(item_id: int) -> str:
    """Where a POST creates the note of an agenda item (/plenary/items/<id>/note, on the positions blueprint)."""
    return _endpoint_url(("positions.create_note", "positions.create", "positions.new_note"),
                         f"/plenary/items/{item_id}/note", item_id=item_id)


def _load_session(session_id: int) -> PlenarySession:
    return db.get_or_404(PlenarySession, session_id)


def _detail(session_id: int, anchor: str = ""):
    return redirect(url_for("plenary.detail", session_id=session_id) + (f"#{anchor}" if anchor else ""))


def _apply_error(form, exc: svc.PlenaryError) -> None:
    """Show a service refusal beside its field (or as a message when it belongs to none)."""
    target = getattr(form, exc.field, None) if exc.field else None
    if target is not None:
        target.errors = list(target.errors or []) + [str(exc)]
    else:
        flash(str(exc), "danger")


def _conflict() -> None:
    """Two people saved the same number, symbol or code at the same moment: the database refused the second."""
    db.session.rollback()
    flash(_("Someone else saved the same thing at the same moment: nothing was changed. Check the page and try "
            "again."), "warning")


# --- the list ------------------------------------------------------------------------------------------
@bp.get("/plenary")
@roles_required(*STAFF)
def index():
    items, notes, approved = svc.count_columns()
    number = sa.cast(sa.func.substr(PlenarySession.code, 7), sa.Integer)
    listing = Listing(request.args, sorts={"start": PlenarySession.start_date, "code": number,
                                           "place": PlenarySession.place, "items": items, "notes": notes},
                      default_sort="start", default_dir="desc")
    stmt = sa.select(PlenarySession, items, notes, approved)
    if listing.q:
        like = listing.like()
        stmt = stmt.where(sa.or_(PlenarySession.code.ilike(like, escape="\\"),
                                 PlenarySession.place.ilike(like, escape="\\")))
    page = listing.paginate(stmt, PlenarySession.id.desc(), scalars=False)
    return render_template("positions/plenary_index.html", page=page, listing=listing, today=local_today(),
                           form=SessionForm())


# --- create, edit, remove a session ----------------------------------------------------------------------
def _notification_from_args():
    from focalpoint.notifications.models import Notification

    raw = (request.values.get("notification") or "").strip()
    if not raw:
        return None
    if not raw.isdigit():
        abort(404)
    return db.get_or_404(Notification, int(raw))


def _session_values(form: SessionForm) -> dict:
    return {"code": form.code.data, "place": form.place.data or "", "start_date": form.start_date.data,
            "end_date": form.end_date.data}


@bp.route("/plenary/new", methods=["GET", "POST"])
@roles_required(*STAFF)
def new():
    notification = _notification_from_args()
    prefill = svc.session_prefill(notification) if notification is not None else {}
    form = SessionForm(data=prefill) if request.method == "GET" else SessionForm()
    if form.validate_on_submit():
        try:
            session = svc.create_session(actor=current_user, notification=notification, **_session_values(form))
        except svc.PlenaryError as exc:
            db.session.rollback()
            _apply_error(form, exc)
        except IntegrityError:
            _conflict()
        else:
            db.session.commit()
            flash(_("Session %(code)s added.", code=session.code), "success")
            return redirect(url_for("plenary.detail", session_id=session.id))
    code = form.code.data or prefill.get("code")
    existing = db.session.scalar(sa.select(PlenarySession).where(PlenarySession.code == code)) if code else None
    return render_template("positions/plenary_form.html", form=form, session=None, notification=notification,
                           existing=existing), 400 if request.method == "POST" else 200


@bp.route("/plenary/<int:session_id>/edit", methods=["GET", "POST"])
@roles_required(*STAFF)
def edit(session_id: int):
    session = _load_session(session_id)
    form = SessionForm(obj=session) if request.method == "GET" else SessionForm()
    if form.validate_on_submit():
        try:
            changed = svc.update_session(session, actor=current_user, **_session_values(form))
        except svc.PlenaryError as exc:
            db.session.rollback()
            _apply_error(form, exc)
        except IntegrityError:
            _conflict()
        else:
            db.session.commit()
            flash(_("Session saved.") if changed else _("Nothing changed."), "success")
            return _detail(session.id)
    return render_template("positions/plenary_form.html", form=form, session=session, notification=None,
                           existing=None, confirm_form=ConfirmForm(),
                           is_reference=svc.is_reference_session(session)), 400 if request.method == "POST" else 200


@bp.post("/plenary/<int:session_id>/delete")
@roles_required(*STAFF)
def delete(session_id: int):
    session = _load_session(session_id)
    if not ConfirmForm().validate_on_submit():
        flash(_("The form has expired. Try again."), "danger")
        return _detail(session.id)
    code = session.code
    try:
        svc.delete_session(session, actor=current_user)
    except svc.PlenaryError as exc:
        db.session.rollback()
        flash(str(exc), "danger")
        return _detail(session_id)
    db.session.commit()
    flash(_("Session %(code)s removed.", code=code), "success")
    return redirect(url_for("plenary.index"))


# --- a session's page --------------------------------------------------------------------------------
def _render_detail(session: PlenarySession, *, item_form=None, paste_form=None, document_form=None, status=200):
    from focalpoint.notifications.models import Notification

    items = svc.agenda(session)
    documents = svc.documents(session)
    notes = svc.notes_by_item(items)
    by_item: dict[int | None, list[SessionDocument]] = {}
    for document in documents:
        by_item.setdefault(document.agenda_item_id, []).append(document)
    notification = db.session.get(Notification, session.notification_id) if session.notification_id else None
    return render_template(
        "positions/plenary_detail.html", session=session, items=items, documents=documents, notes=notes,
        documents_by_item=by_item, notification=notification,
        item_form=item_form or AgendaItemForm(prefix="item"), paste_form=paste_form or AgendaPasteForm(prefix="paste"),
        document_form=document_form or DocumentForm(prefix="doc", items=items), confirm_form=ConfirmForm(),
        approved=sum(1 for n in notes.values() if str(n.status) == "approved")), status


@bp.get("/plenary/<int:session_id>")
@roles_required(*STAFF)
def detail(session_id: int):
    return _render_detail(_load_session(session_id))


# --- agenda items --------------------------------------------------------------------------------------
@bp.post("/plenary/<int:session_id>/items")
@roles_required(*STAFF)
def add_item(session_id: int):
    session = _load_session(session_id)
    form = AgendaItemForm(prefix="item")
    if form.validate_on_submit():
        try:
            item = svc.add_agenda_item(session, number=form.number.data, title=form.title.data, actor=current_user)
        except svc.PlenaryError as exc:
            db.session.rollback()
            _apply_error(form, exc)
        except IntegrityError:
            _conflict()
        else:
            db.session.commit()
            flash(_("Item %(number)s added to the agenda.", number=item.number), "success")
            return _detail(session.id, f"item-{item.id}")
    return _render_detail(session, item_form=form, status=400)


@bp.post("/plenary/<int:session_id>/items/paste")
@roles_required(*STAFF)
def paste_items(session_id: int):
    session = _load_session(session_id)
    form = AgendaPasteForm(prefix="paste")
    if form.validate_on_submit():
        try:
            added = svc.add_agenda_items(session, form.lines.data, actor=current_user)
        except svc.PlenaryError as exc:
            db.session.rollback()
            _apply_error(form, exc)
        except IntegrityError:
            _conflict()
        else:
            db.session.commit()
            flash(_("%(n)d items added to the agenda.", n=len(added)), "success")
            return _detail(session.id, "agenda")
    return _render_detail(session, paste_form=form, status=400)


def _load_item(item_id: int) -> AgendaItem:
    return db.get_or_404(AgendaItem, item_id)


@bp.route("/plenary/items/<int:item_id>/edit", methods=["GET", "POST"])
@roles_required(*STAFF)
def edit_item(item_id: int):
    item = _load_item(item_id)
    form = AgendaItemForm(obj=item) if request.method == "GET" else AgendaItemForm()
    if form.validate_on_submit():
        try:
            changed = svc.update_agenda_item(item, number=form.number.data, title=form.title.data,
                                             actor=current_user)
        except svc.PlenaryError as exc:
            db.session.rollback()
            _apply_error(form, exc)
        except IntegrityError:
            _conflict()
        else:
            db.session.commit()
            flash(_("Item saved.") if changed else _("Nothing changed."), "success")
            return _detail(item.session_id, f"item-{item.id}")
    return render_template("positions/plenary_item_form.html", form=form, item=item, session=item.session), \
        400 if request.method == "POST" else 200


@bp.post("/plenary/items/<int:item_id>/delete")
@roles_required(*STAFF)
def delete_item(item_id: int):
    item = _load_item(item_id)
    session_id, number = item.session_id, item.number
    if not ConfirmForm().validate_on_submit():
        flash(_("The form has expired. Try again."), "danger")
        return _detail(session_id, "agenda")
    try:
        svc.remove_agenda_item(item, actor=current_user)
    except svc.PlenaryError as exc:
        db.session.rollback()
        flash(str(exc), "danger")
        return _detail(session_id, f"item-{item_id}")
    db.session.commit()
    flash(_("Item %(number)s removed from the agenda.", number=number), "success")
    return _detail(session_id, "agenda")


# --- documents -------------------------------------------------------------------------------------------
def _document_values(form: DocumentForm) -> dict:
    return {"symbol": form.symbol.data, "title": form.title.data, "url": form.url.data or "",
            "agenda_item_id": form.agenda_item_id.data or None}


@bp.post("/plenary/<int:session_id>/documents")
@roles_required(*STAFF)
def add_document(session_id: int):
    session = _load_session(session_id)
    form = DocumentForm(prefix="doc", items=svc.agenda(session))
    if form.validate_on_submit():
        try:
            document = svc.add_document(session, actor=current_user, **_document_values(form))
        except svc.PlenaryError as exc:
            db.session.rollback()
            _apply_error(form, exc)
        except IntegrityError:
            _conflict()
        else:
            db.session.commit()
            flash(_("%(symbol)s added.", symbol=document.symbol), "success")
            return _detail(session.id, "documents")
    return _render_detail(session, document_form=form, status=400)


def _load_document(document_id: int) -> SessionDocument:
    return db.get_or_404(SessionDocument, document_id)


@bp.route("/plenary/documents/<int:plenary_document_id>/edit", methods=["GET", "POST"])
@roles_required(*STAFF)
def edit_document(plenary_document_id: int):
    document = _load_document(plenary_document_id)
    session = _load_session(document.session_id)
    items = svc.agenda(session)
    if request.method == "GET":
        form = DocumentForm(obj=document, items=items, data={"agenda_item_id": document.agenda_item_id or 0})
    else:
        form = DocumentForm(items=items)
    if form.validate_on_submit():
        try:
            changed = svc.update_document(document, actor=current_user, **_document_values(form))
        except svc.PlenaryError as exc:
            db.session.rollback()
            _apply_error(form, exc)
        except IntegrityError:
            _conflict()
        else:
            db.session.commit()
            flash(_("Document saved.") if changed else _("Nothing changed."), "success")
            return _detail(session.id, "documents")
    return render_template("positions/plenary_document_form.html", form=form, document=document, session=session), \
        400 if request.method == "POST" else 200


@bp.post("/plenary/documents/<int:plenary_document_id>/delete")
@roles_required(*STAFF)
def delete_document(plenary_document_id: int):
    document = _load_document(plenary_document_id)
    session_id, symbol = document.session_id, document.symbol
    if not ConfirmForm().validate_on_submit():
        flash(_("The form has expired. Try again."), "danger")
        return _detail(session_id, "documents")
    try:
        svc.remove_document(document, actor=current_user)
    except svc.PlenaryError as exc:
        db.session.rollback()
        flash(str(exc), "danger")
        return _detail(session_id, "documents")
    db.session.commit()
    flash(_("%(symbol)s removed.", symbol=symbol), "success")
    return _detail(session_id, "documents")


# --- the clearance matrix and the briefing pack --------------------------------------------------------------
@bp.get("/plenary/<int:session_id>/clearance")
@roles_required(*STAFF)
def clearance(session_id: int):
    session = _load_session(session_id)
    matrix = svc.clearance_matrix(session)
    totals = {state: 0 for state in CLEARANCE_LABELS}
    for row in matrix.rows:
        for cell in row.cells.values():
            totals[cell.state] = totals.get(cell.state, 0) + 1
    return render_template("positions/plenary_clearance.html", session=session, matrix=matrix, totals=totals)


@bp.get("/plenary/<int:session_id>/briefing.docx")
@roles_required(*STAFF)
def briefing(session_id: int):
    from focalpoint.positions.briefing import briefing_docx

    session = _load_session(session_id)
    data = briefing_docx(session)
    filename = "briefing-" + re.sub(r"[^A-Za-z0-9-]", "", session.code) + ".docx"
    return Response(data, mimetype="application/vnd.openxmlformats-officedocument.wordprocessingml.document",
                    headers={"Content-Disposition": f'attachment; filename="{filename}"'})
