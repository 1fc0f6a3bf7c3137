"""The experts' review workspace: a consultation's documents, their own comments, the template upload.

One set of handlers serves two doors:

- ``/review/<secret>/…``: the personal link of the invitation e-mail (no account needed; the secret
  is checked on every request, and the pages send no Referer);
- ``/consultations/<id>/review/…``: an expert logged in, acting for their own Participant row.

Each handler takes a :class:`Workspace` (the participant, and how to build the addresses of its
door) and is registered under both prefixes by :func:`_workspace_route`. An expert only ever sees
their own comments and the consultations they are invited to; anything else is "not found".
"""
from __future__ import annotations

import datetime as dt
import io
from email.utils import parseaddr

import sqlalchemy as sa
from flask import abort, current_app, flash, redirect, render_template, request, send_file, url_for
from flask_babel import force_locale
from flask_babel import gettext as _
from flask_babel import ngettext
from flask_login import current_user
from sqlalchemy.orm.exc import StaleDataError

from focalpoint.auth.models import Role
from focalpoint.consultations import comments as svc
from focalpoint.consultations import links
from focalpoint.consultations.blueprint import bp
from focalpoint.consultations.models import (CommentSource, Consultation, ConsultationDocument, Participant,
                                             ReviewComment)
from focalpoint.consultations.review_forms import CommentForm, UploadForm
from focalpoint.consultations.services import DRAFT_LABELS, STATE_LABELS, document_path, download_name
from focalpoint.db import utcnow
from focalpoint.experts.models import ExpertStatus
from focalpoint.experts.services import get_expert_for_user
from focalpoint.extensions import db
from focalpoint.forms import ConfirmForm
from focalpoint.security import public, roles_required

LINK_PREFIX = "/review/<secret>"
ACCOUNT_PREFIX = "/consultations/<int:consultation_id>/review"
#: Endpoints reached through the personal link (their pages send no Referer: the path is the secret).
LINK_ENDPOINTS: set[str] = set()
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
LANGUAGES = ("en", "fr", "nl")


class Workspace:
    """The participant a request acts for, and the addresses of the door it came through."""

    def __init__(self, participant: Participant, secret: str | None = None):
        self.participant = participant
        self.consultation: Consultation = participant.consultation
        self.expert = participant.expert
        #: The personal link's secret (None when the expert is logged in).
        self.secret = secret

    @property
    def via_link(self) -> bool:
        return self.secret is not None

    @property
    def actor(self):
        """Who the audit trail names: the logged-in user, or through the link the expert's account if any."""
        if self.via_link:
            return self.expert.user
        return current_user._get_current_object()

    @property
    def via(self) -> str | None:
        return "link" if self.via_link else None

    def url(self, name: str, **values) -> str:
        """The address of page ``name`` (workspace, edit, delete, template, upload, document) on this door."""
        if self.via_link:
            return url_for(_endpoints(name)[0], secret=self.secret, **values)
        return url_for(_endpoints(name)[1], consultation_id=self.consultation.id, **values)


def _endpoints(name: str) -> tuple[str, str]:
    """(link endpoint, account endpoint) of page ``name``; the link's workspace is ``consultations.join``."""
    if name == "workspace":
        return "consultations.join", "consultations.review"
    return f"consultations.review_link_{name}", f"consultations.review_{name}"


# --- the two doors ------------------------------------------------------------------------------------
def _staff_contact() -> str | None:
    configured = current_app.config.get("STAFF_EMAIL") or current_app.config.get("MAIL_SENDER") or ""
    return parseaddr(configured)[1] or None


def _invalid_link():
    return render_template("consultations/review_link_invalid.html", contact=_staff_contact()), 404


def _link_participant(secret: str) -> Participant | None:
    participant = links.find_participant(secret)
    if participant is None or participant.expert is None or participant.expert.status == ExpertStatus.ERASED:
        return None
    return participant


def _own_participant(consultation_id: int) -> Participant:
    """The logged-in expert's active Participant row in the consultation; 404 otherwise (nothing leaks)."""
    expert = get_expert_for_user(current_user)
    if expert is None:
        abort(404)
    participant = db.session.scalar(sa.select(Participant).where(
        Participant.consultation_id == consultation_id, Participant.expert_id == expert.id,
        Participant.removed_at.is_(None)))
    if participant is None:
        abort(404)
    return participant


def _language(ws: Workspace) -> str | None:
    """Through the link without an account, the pages speak the expert's language."""
    if current_user.is_authenticated:
        return None
    language = ws.expert.preferred_language
    return language if language in current_app.config.get("LANGUAGES", LANGUAGES) else None


def _workspace_route(suffix: str, name: str, methods=("GET",)):
    """Register ``handler(ws, **values)`` under the link prefix (public) and the account prefix (experts)."""
    link_endpoint, account_endpoint = (e.split(".", 1)[1] for e in _endpoints(name))

    def register(handler):
        def by_link(secret: str, **values):
            participant = _link_participant(secret)
            if participant is None:
                return _invalid_link()
            ws = Workspace(participant, secret=secret)
            language = _language(ws)
            if language is None:
                return handler(ws, **values)
            with force_locale(language):
                return handler(ws, **values)

        def by_account(consultation_id: int, **values):
            return handler(Workspace(_own_participant(consultation_id)), **values)

        by_link.__name__ = f"{handler.__name__}_by_link"
        by_account.__name__ = f"{handler.__name__}_by_account"
        bp.add_url_rule(LINK_PREFIX + suffix, link_endpoint, public(by_link), methods=list(methods))
        bp.add_url_rule(ACCOUNT_PREFIX + suffix, account_endpoint, roles_required(Role.EXPERT)(by_account),
                        methods=list(methods))
        LINK_ENDPOINTS.add(f"{bp.name}.{link_endpoint}")
        return handler

    return register


@bp.after_request
def _no_referrer_on_link_pages(response):
    """The personal link's path is its secret: its pages (errors included) never send it as a Referer."""
    if request.endpoint in LINK_ENDPOINTS:
        response.headers["Referrer-Policy"] = "no-referrer"
        response.headers["Cache-Control"] = "no-store"
        response.headers["X-Robots-Tag"] = "noindex, nofollow"
    return response


# --- the workspace page -------------------------------------------------------------------------------
def _moments(consultation: Consultation) -> dict:
    closes = svc.closes_at(consultation)
    return {"state": svc.state(consultation), "opens_at": svc.opens_at(consultation),
            # The last minute comments are taken, in the viewer's zone ("until 15 March, 23:59").
            "last_moment": closes - dt.timedelta(minutes=1), "closes_at": closes}


def _own_comments(ws: Workspace) -> list[ReviewComment]:
    return svc.comments_in_order(ws.consultation, participant=ws.participant)


def _page(ws: Workspace, form: CommentForm | None = None, *, status: int = 200, report=None,
          upload_form: UploadForm | None = None, upload_error: str | None = None):
    consultation = ws.consultation
    now = utcnow()
    own = _own_comments(ws)
    return render_template(
        "consultations/review_workspace.html", ws=ws, consultation=consultation, expert=ws.expert,
        documents=consultation.documents, comments=own,
        changeable={c.id for c in own if svc.may_change(c, ws.participant, now)},
        is_open=svc.is_open(consultation, now), form=form or _new_comment_form(consultation),
        upload_form=upload_form or UploadForm(), delete_form=ConfirmForm(), report=report,
        upload_error=upload_error, draft_labels=DRAFT_LABELS, state_labels=STATE_LABELS,
        type_labels=svc.TYPE_LABELS, **_moments(consultation)), status


def _new_comment_form(consultation: Consultation, **kwargs) -> CommentForm:
    return CommentForm(consultation=consultation, **kwargs)


@_workspace_route("", "workspace", methods=("GET", "POST"))
def workspace(ws: Workspace):
    """The workspace; a POST adds a comment."""
    if request.method == "GET":
        return _page(ws)
    form = _new_comment_form(ws.consultation)
    if not form.validate_on_submit():  # only the CSRF token can fail here
        flash(_("The form has expired. Reload the page and try again."), "danger")
        return _page(ws, form, status=400)
    try:
        comment = svc.add_comment(ws.consultation, form.values(), participant=ws.participant, actor=ws.actor,
                                  source=CommentSource.BROWSER, via=ws.via)
    except svc.CommentError as exc:
        db.session.rollback()
        for message in form.show_errors(exc.errors):
            flash(message, "danger")
        return _page(ws, form, status=422)
    except svc.ClosedError as exc:
        db.session.rollback()
        flash(str(exc), "warning")
        return _page(ws, form, status=409)
    db.session.commit()
    flash(_("Your comment is saved."), "success")
    return redirect(ws.url("workspace") + f"#comment-{comment.id}")


def expert_index():
    """``/consultations`` for an expert: the consultations they are invited to, with their comment count."""
    expert = get_expert_for_user(current_user)
    if expert is None:
        return render_template("consultations/review_no_expert.html", contact=_staff_contact())
    count = (sa.select(sa.func.count(ReviewComment.id)).where(ReviewComment.participant_id == Participant.id)
             .correlate(Participant).scalar_subquery())
    rows = db.session.execute(
        sa.select(Participant, count).join(Consultation, Participant.consultation_id == Consultation.id)
        .where(Participant.expert_id == expert.id, Participant.removed_at.is_(None))
        .order_by(Consultation.closes_on.desc(), Consultation.id.desc())).all()
    now = utcnow()
    items = [{"consultation": p.consultation, "comments": n, "state": svc.state(p.consultation, now),
              "last_moment": svc.closes_at(p.consultation) - dt.timedelta(minutes=1)} for p, n in rows]
    return render_template("consultations/review_index.html", expert=expert, items=items,
                           draft_labels=DRAFT_LABELS, state_labels=STATE_LABELS)


def expert_detail(consultation_id: int):
    """``/consultations/<id>`` for an expert: their workspace, or 404 when they are not invited."""
    return _page(Workspace(_own_participant(consultation_id)))


# --- one comment ----------------------------------------------------------------------------------------
def _own_comment(ws: Workspace, comment_id: int) -> ReviewComment:
    """The expert's own comment in this consultation; anyone else's is "not found"."""
    comment = db.session.get(ReviewComment, comment_id)
    if comment is None or comment.participant_id != ws.participant.id \
            or comment.consultation_id != ws.consultation.id:
        abort(404)
    return comment


def _why_locked(ws: Workspace) -> str:
    """Why the expert's comments (or this one) can no longer change."""
    if not svc.is_open(ws.consultation):
        if svc.state(ws.consultation) == "upcoming":
            return _("The consultation is not open yet.")
        return _("The consultation is closed: comments can no longer be added or changed.")
    return _("The focal point has already decided on this comment: it can no longer change.")


@_workspace_route("/comments/<int:comment_id>/edit", "edit", methods=("GET", "POST"))
def edit(ws: Workspace, comment_id: int):
    comment = _own_comment(ws, comment_id)
    back = ws.url("workspace") + f"#comment-{comment.id}"
    if not svc.may_change(comment, ws.participant):
        flash(_why_locked(ws), "warning")
        return redirect(back)
    form = CommentForm(consultation=ws.consultation)
    status, saved = 200, None
    if request.method == "GET":
        form.fill(comment)
    elif not form.validate_on_submit():
        flash(_("The form has expired. Reload the page and try again."), "danger")
        status = 400
    elif form.version.data != str(comment.version):
        # Changed since this form was opened (another tab): show what is saved, keep what was typed.
        saved, status = comment, 409
        form.version.data = str(comment.version)
        flash(_("This comment was changed elsewhere since you opened it (in another window?); nothing was "
                "saved. The saved version is shown below: check it, then save again if you wish."), "warning")
    else:
        try:
            changed = svc.update_comment(comment, form.values(), participant=ws.participant, actor=ws.actor,
                                         via=ws.via)
            db.session.commit()
        except svc.CommentError as exc:
            db.session.rollback()
            for message in form.show_errors(exc.errors):
                flash(message, "danger")
            status = 422
        except svc.ClosedError as exc:
            db.session.rollback()
            flash(str(exc), "warning")
            return redirect(back)
        except StaleDataError:
            db.session.rollback()
            flash(_("This comment was changed elsewhere at the same moment; nothing was saved. "
                    "Check the saved version and try again."), "warning")
            return redirect(ws.url("edit", comment_id=comment_id))
        else:
            flash(_("Your comment is saved.") if changed else _("Nothing changed."), "success")
            return redirect(back)
    return render_template("consultations/review_edit.html", ws=ws, consultation=ws.consultation, form=form,
                           comment=comment, saved=saved, type_labels=svc.TYPE_LABELS), status


@_workspace_route("/comments/<int:comment_id>/delete", "delete", methods=("POST",))
def delete(ws: Workspace, comment_id: int):
    comment = _own_comment(ws, comment_id)
    back = ws.url("workspace")
    form = ConfirmForm()
    if not form.validate_on_submit():
        flash(_("The form has expired. Reload the page and try again."), "danger")
        return redirect(back)
    if not svc.may_change(comment, ws.participant):
        flash(_why_locked(ws), "warning")
        return redirect(back + f"#comment-{comment.id}")
    version = request.form.get("version", "")
    if version and version != str(comment.version):
        flash(_("This comment was changed elsewhere since the page was shown; it was not deleted. "
                "Check it and try again."), "warning")
        return redirect(back + f"#comment-{comment.id}")
    try:
        svc.delete_comment(comment, participant=ws.participant, actor=ws.actor, via=ws.via)
        db.session.commit()
    except svc.ClosedError as exc:
        db.session.rollback()
        flash(str(exc), "warning")
    except StaleDataError:
        db.session.rollback()
        flash(_("This comment was changed elsewhere at the same moment; it was not deleted."), "warning")
    else:
        flash(_("Your comment is deleted."), "success")
    return redirect(back)


# --- the review template ----------------------------------------------------------------------------
@_workspace_route("/template.xlsx", "template")
def template(ws: Workspace):
    """The blank review template, the reviewer's columns filled with the expert's identity."""
    from focalpoint.consultations import sheets

    data = sheets.template_xlsx(ws.consultation, ws.expert)
    return send_file(io.BytesIO(data), mimetype=XLSX, as_attachment=True,
                     download_name=sheets.template_filename(ws.consultation), max_age=0)


@_workspace_route("/upload", "upload", methods=("POST",))
def upload(ws: Workspace):
    """The filled template: every good row is saved, every bad one reported by row and column."""
    from focalpoint.consultations import sheets

    form = UploadForm()
    if not form.validate_on_submit():
        return _page(ws, upload_form=form, status=400,
                     upload_error=_("The form has expired. Reload the page and try again."))
    if not svc.is_open(ws.consultation):
        return _page(ws, upload_form=form, status=409, upload_error=_why_locked(ws))
    storage = form.file.data
    if storage is None or not getattr(storage, "filename", ""):
        return _page(ws, upload_form=form, status=422, upload_error=_("Choose the filled template to send."))
    dry_run = bool(form.dry_run.data)
    try:
        data = sheets.read_upload(storage.stream)
        report = sheets.import_comments(ws.consultation, data, actor=ws.actor, participant=ws.participant,
                                        source=CommentSource.UPLOAD, dry_run=dry_run)
    except sheets.SheetError as exc:
        db.session.rollback()
        return _page(ws, upload_form=form, status=422, upload_error=str(exc))
    if dry_run or not report.imported:
        db.session.rollback()
    else:
        if ws.via_link:
            from focalpoint.audit import log_action

            log_action(ws.participant, "consultation.upload", actor=ws.actor,
                       data={"via": "link", "imported": report.imported, "failed": report.failed})
        db.session.commit()
    if report.imported and not dry_run:
        flash(ngettext("%(num)d comment imported.", "%(num)d comments imported.", report.imported), "success")
    return _page(ws, upload_form=UploadForm() if report.imported and not dry_run else form, report=report,
                 status=200 if report.imported or (dry_run and not report.failed) else 422)


# --- documents ------------------------------------------------------------------------------------------
@_workspace_route("/documents/<int:document_id>", "document")
def document(ws: Workspace, document_id: int):
    """A stored document of this consultation, as an attachment (link documents are plain links)."""
    doc = db.session.get(ConsultationDocument, document_id)
    if doc is None or doc.consultation_id != ws.consultation.id or not doc.stored_file:
        abort(404)
    path = document_path(doc)
    if path is None or not path.is_file():
        abort(404)
    return send_file(path, mimetype=doc.content_type or "application/octet-stream", as_attachment=True,
                     download_name=download_name(doc), max_age=0)

