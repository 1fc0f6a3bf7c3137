"""Invitations: templates and sending (staff), an expert's own list, and answering from the signed link."""
from __future__ import annotations

import sqlalchemy as sa
from flask import Blueprint, abort, current_app, flash, make_response, redirect, render_template, request, url_for
from flask_babel import force_locale
from flask_babel import gettext as _
from flask_babel import ngettext
from flask_login import current_user
from sqlalchemy.exc import IntegrityError
from werkzeug.routing import BuildError

from focalpoint.auth.models import Role
from focalpoint.db import utcnow
from focalpoint.experts.models import Expert, ExpertStatus
from focalpoint.extensions import db
from focalpoint.forms import ConfirmForm
from focalpoint.invitations import services as svc
from focalpoint.invitations.forms import (LANGUAGE_LABELS, STATE_LABELS, AcceptForm, ComposeForm, DeclineForm,
                                          LinkRequestForm, TemplateForm)
from focalpoint.invitations.models import Invitation, InvitationState, InvitationTemplate
from focalpoint.nominations.models import NominationCall
from focalpoint.reference.services import terms
from focalpoint.security import public, roles_required

bp = Blueprint("invitations", __name__)

MAX_SELECTED = 1000


@bp.record_once
def _labels(state):
    state.app.jinja_env.globals.update(INVITATION_STATE_LABELS=STATE_LABELS, LANGUAGE_LABELS=LANGUAGE_LABELS)


def _call_url(call_id: int) -> str:
    try:
        return url_for("nominations.detail", call_id=call_id)
    except BuildError:  # the call pages are not there (yet)
        return f"/calls/{call_id}"


def _form_errors(form) -> None:
    for field, errors in form.errors.items():
        label = getattr(getattr(form, field, None), "label", None)
        for error in errors:
            flash(f"{label.text if label else field}: {error}", "danger")


# --- templates (staff) ------------------------------------------------------------------------------
@bp.get("/invitations/templates")
@roles_required(Role.STAFF)
def templates():
    rows = db.session.scalars(sa.select(InvitationTemplate).order_by(InvitationTemplate.name,
                                                                     InvitationTemplate.language)).all()
    return render_template("invitations/templates.html", rows=rows, confirm_form=ConfirmForm())


def _template_form_page(template: InvitationTemplate | None):
    form = TemplateForm(obj=template)
    if form.validate_on_submit():
        try:
            saved = svc.save_template(template, name=form.name.data, language=form.language.data,
                                      subject=form.subject.data, body=form.body.data, actor=current_user)
        except svc.InvitationError as exc:
            db.session.rollback()
            flash(str(exc), "danger")
        else:
            db.session.commit()
            flash(_("Template saved: %(name)s (%(language)s).", name=saved.name,
                    language=LANGUAGE_LABELS[saved.language]), "success")
            return redirect(url_for("invitations.templates"))
    return render_template("invitations/template_form.html", form=form, template=template)


@bp.route("/invitations/templates/new", methods=["GET", "POST"])
@roles_required(Role.STAFF)
def template_new():
    return _template_form_page(None)


@bp.route("/invitations/templates/<int:template_id>", methods=["GET", "POST"])
@roles_required(Role.STAFF)
def template_edit(template_id: int):
    return _template_form_page(db.get_or_404(InvitationTemplate, template_id))


@bp.post("/invitations/templates/<int:template_id>/delete")
@roles_required(Role.STAFF)
def template_delete(template_id: int):
    template = db.get_or_404(InvitationTemplate, template_id)
    if ConfirmForm().validate_on_submit():
        name = template.name
        svc.delete_template(template, actor=current_user)
        db.session.commit()
        flash(_("Template deleted: %(name)s.", name=name), "success")
    return redirect(url_for("invitations.templates"))


# --- composing and sending (staff) -----------------------------------------------------------------
def _selected_ids() -> list[int]:
    ids = []
    for value in request.values.getlist("expert_id"):
        if value.isdigit() and int(value) not in ids:
            ids.append(int(value))
    return ids[:MAX_SELECTED]


@bp.route("/calls/<int:call_id>/invite", methods=["GET", "POST"])
@roles_required(Role.STAFF)
def compose(call_id: int):
    call = db.get_or_404(NominationCall, call_id)
    ids = _selected_ids()
    experts = db.session.scalars(sa.select(Expert).where(Expert.id.in_(ids))
                                 .order_by(Expert.last_name, Expert.first_name, Expert.id)).all() if ids else []
    selection = svc.select_invitees(call, experts)
    form = ComposeForm()
    if request.method == "GET":
        names = svc.template_names()
        form.template.data = svc.DEFAULT_TEMPLATE_NAME if svc.DEFAULT_TEMPLATE_NAME in names else \
            (names[0] if names else "")
    try:
        svc.check_call_accepts_invitations(call)
        problem = None
    except svc.InvitationError as exc:
        problem = str(exc)
    previews = []
    if request.method == "POST":
        if form.validate_on_submit():
            options = {"template_name": form.template.data or None, "subject": form.subject.data or "",
                       "body": form.body.data or ""}
            try:
                if request.form.get("action") == "send":
                    if not selection.invitable:
                        raise svc.InvitationError(_("No one among the selected experts can be invited."))
                    created = svc.send_invitations(call, selection.invitable, actor=current_user, **options)
                    db.session.commit()
                    flash(ngettext("%(num)d invitation is on its way.", "%(num)d invitations are on their way.",
                                   len(created)), "success")
                    return redirect(_call_url(call.id))
                previews = [svc.compose(call, expert, **options) for expert in selection.invitable]
            except svc.InvitationError as exc:
                db.session.rollback()
                flash(str(exc), "danger")
            except IntegrityError:  # someone invited one of them at the same moment
                db.session.rollback()
                flash(_("Someone else invited some of these experts at the same time: nothing was sent. "
                        "Check the call's invitations and try again."), "danger")
        else:
            _form_errors(form)
    return render_template("invitations/compose.html", call=call, selection=selection, form=form,
                           previews=previews, problem=problem, call_url=_call_url(call.id),
                           placeholder_link=svc.placeholder_link())


# --- one invitation: staff actions, and the expert's own view ----------------------------------------
def _load_visible(invitation_id: int) -> Invitation:
    """Staff see any invitation; an expert only their own (another's is "not found", not "forbidden")."""
    invitation = db.get_or_404(Invitation, invitation_id)
    if not current_user.is_staff and (invitation.expert.user_id is None
                                      or invitation.expert.user_id != current_user.id):
        abort(404)
    return invitation


@bp.get("/invitations/<int:invitation_id>")
@roles_required(Role.EXPERT, Role.STAFF)
def detail(invitation_id: int):
    invitation = _load_visible(invitation_id)
    roles = {t.code: t.label for t in terms("expert_role")}
    return render_template("invitations/detail.html", invitation=invitation, roles=roles,
                           history=svc.histories([invitation.id])[invitation.id], confirm_form=ConfirmForm(),
                           call_url=_call_url(invitation.call_id), placeholder_link=svc.placeholder_link(),
                           fill=svc.fill)


@bp.post("/invitations/<int:invitation_id>/remind")
@roles_required(Role.STAFF)
def remind(invitation_id: int):
    invitation = db.get_or_404(Invitation, invitation_id)
    if ConfirmForm().validate_on_submit():
        try:
            queued = svc.remind_now(invitation, actor=current_user)
        except svc.InvitationError as exc:
            db.session.rollback()
            flash(str(exc), "danger")
        else:
            db.session.commit()
            if queued:
                flash(_("A reminder is on its way to %(name)s.", name=invitation.expert.name), "success")
            else:
                flash(_("%(name)s already got a reminder today.", name=invitation.expert.name), "info")
    return redirect(_call_url(invitation.call_id))


@bp.post("/invitations/<int:invitation_id>/resend")
@roles_required(Role.STAFF)
def resend(invitation_id: int):
    invitation = db.get_or_404(Invitation, invitation_id)
    if ConfirmForm().validate_on_submit():
        try:
            svc.resend_invitation(invitation, actor=current_user)
        except svc.InvitationError as exc:
            db.session.rollback()
            flash(str(exc), "danger")
        else:
            db.session.commit()
            flash(_("The invitation was sent again to %(name)s with a new link; the old link no longer works.",
                    name=invitation.expert.name), "success")
    return redirect(_call_url(invitation.call_id))


@bp.get("/invitations")
@roles_required(Role.EXPERT)
def mine():
    expert = db.session.scalar(sa.select(Expert).where(Expert.user_id == current_user.id))
    invitations = []
    if expert is not None:
        invitations = db.session.scalars(sa.select(Invitation).where(Invitation.expert_id == expert.id)
                                         .order_by(Invitation.sent_at.desc().nulls_last(), Invitation.id.desc())).all()
    roles = {t.code: t.label for t in terms("expert_role")}
    return render_template("invitations/mine.html", expert=expert, invitations=invitations, roles=roles,
                           history=svc.histories([i.id for i in invitations]))


# --- the signed link (no account) ---------------------------------------------------------------------
def _staff_contact() -> str | None:
    return current_app.config.get("STAFF_EMAIL") or current_app.config.get("MAIL_SENDER")


def _link_response(body: str, status: int):
    """A page reached through the link: no Referer leaves it, nothing keeps it, no index lists it."""
    response = make_response(body, status)
    response.headers["Referrer-Policy"] = "no-referrer"
    response.headers["Cache-Control"] = "no-store"
    response.headers["X-Robots-Tag"] = "noindex, nofollow"
    return response


def _role_choices(call) -> list[tuple[str, str]]:
    sought = [(t.code, t.label) for t in call.roles_sought]
    return sought or [(t.code, t.label) for t in terms("expert_role")]


@bp.route("/respond/<token>", methods=["GET", "POST"])
@public
def respond(token: str):
    invitation = svc.find_by_token(token)
    if invitation is None or invitation.expert.status == ExpertStatus.ERASED:
        return _link_response(render_template("invitations/link_invalid.html", contact=_staff_contact()), 404)
    with force_locale(svc._language(invitation.expert)):
        body, status = _respond(invitation)
    return _link_response(body, status)


def _respond(invitation: Invitation) -> tuple[str, int]:
    call = invitation.call
    now = utcnow()
    action = request.form.get("action") if request.method == "POST" else None
    roles = _role_choices(call)
    labels = dict(roles) | {t.code: t.label for t in call.roles_sought}
    page = {"invitation": invitation, "call": call, "roles_sought": call.roles_sought, "role_labels": labels,
            "contact": _staff_contact()}
    if call.is_locked:
        return render_template("invitations/link_closed.html", reason="locked", **page), 410
    if svc.link_is_expired(invitation, now):
        if invitation.state in (InvitationState.ACCEPTED, InvitationState.DECLINED):
            return render_template("invitations/link_closed.html", reason="deadline", **page), 410
        request_form = LinkRequestForm(prefix="request")
        requested = False
        if action == "request" and request_form.validate_on_submit():
            requested = svc.request_new_link(invitation, message=request_form.message.data or "")
            db.session.commit()
            return render_template("invitations/link_expired.html", form=request_form, requested=True,
                                   told_staff=requested, **page), 200
        return render_template("invitations/link_expired.html", form=request_form, requested=False,
                               told_staff=False, **page), 410

    accept_form = AcceptForm(prefix="accept", roles=roles)
    decline_form = DeclineForm(prefix="decline")
    done = None
    if action == "accept":
        if accept_form.validate_on_submit():
            try:
                svc.accept_invitation(invitation, role=accept_form.role.data,
                                      motivation=accept_form.motivation.data or "",
                                      availability=accept_form.availability.data or "",
                                      has_conflict=accept_form.has_conflict.data == "yes",
                                      conflict_note=accept_form.conflict_note.data or "",
                                      cv=accept_form.cv.data or None)
            except svc.CVError as exc:
                db.session.rollback()
                accept_form.cv.errors = [str(exc)]
            except svc.InvitationError as exc:
                db.session.rollback()
                flash(str(exc), "danger")
            else:
                db.session.commit()
                done = "accepted"
    elif action == "decline":
        if decline_form.validate_on_submit():
            try:
                svc.decline_invitation(invitation, reason=decline_form.reason.data or "",
                                       colleague_name=decline_form.colleague_name.data or "",
                                       colleague_email=decline_form.colleague_email.data or "")
            except svc.InvitationError as exc:
                db.session.rollback()
                flash(str(exc), "danger")
            else:
                db.session.commit()
                done = "declined"
    if request.method == "GET" or done:
        _prefill(invitation, accept_form, decline_form)
    status = 400 if request.method == "POST" and action not in ("accept", "decline") else 200
    return render_template("invitations/respond.html", accept_form=accept_form, decline_form=decline_form,
                           done=done, **page), status


def _prefill(invitation: Invitation, accept_form: AcceptForm, decline_form: DeclineForm) -> None:
    if invitation.state == InvitationState.ACCEPTED:
        accept_form.role.data = invitation.role_wanted
        accept_form.motivation.data = invitation.motivation
        accept_form.availability.data = invitation.availability
        accept_form.has_conflict.data = "yes" if invitation.has_conflict else "no"
        accept_form.conflict_note.data = invitation.conflict_note
    elif invitation.state == InvitationState.DECLINED:
        decline_form.reason.data = invitation.decline_reason
