"""The expert registry (staff) and an expert's own profile."""
from __future__ import annotations

import io
import json
import os
import re
import secrets
import time
from pathlib import Path

import sqlalchemy as sa
from flask import (Blueprint, Response, abort, current_app, flash, redirect, render_template, request, send_file,
                   url_for)
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from sqlalchemy.orm import selectinload

from focalpoint.audit import entries_for
from focalpoint.auth.models import Role, User
from focalpoint.db import utcnow
from focalpoint.experts import services as svc
from focalpoint.experts.forms import (ConsentForm, CVForm, EraseForm, ErasureRequestForm, ExpertForm, ImportConfirmForm,
                                      ImportForm, MergeForm, PastRoleForm, ProfileForm)
from focalpoint.experts.models import Expert, ExpertStatus, PastRole
from focalpoint.extensions import db
from focalpoint.forms import ConfirmForm
from focalpoint.listing import Listing
from focalpoint.reference.models import Deliverable, ReferenceTerm
from focalpoint.reference.services import country_regions
from focalpoint.security import roles_required

bp = Blueprint("experts", __name__)

STAFF = (Role.STAFF,)
#: Form fields an expert edits on their profile → model fields (tags and deliverables handled apart).
PROFILE_SCALARS = ("first_name", "last_name", "affiliation", "region", "gender", "career_stage", "orcid", "keywords",
                   "languages", "preferred_language", "availability", "availability_note")
STAFF_SCALARS = PROFILE_SCALARS + ("email", "status", "notes")
TAG_FIELDS = {"disciplines": "discipline", "roles_wanted": "expert_role", "gbf_targets": "gbf_target",
              "ecosystems": "ecosystem"}


@bp.record_once
def _labels(state):
    state.app.jinja_env.globals.update(
        GENDER_LABELS=svc.GENDER_LABELS, CAREER_STAGE_LABELS=svc.CAREER_STAGE_LABELS,
        AVAILABILITY_LABELS=svc.AVAILABILITY_LABELS, EXPERT_STATUS_LABELS=svc.STATUS_LABELS,
        LANGUAGE_LABELS=svc.LANGUAGE_LABELS)


_ACTION_LABELS = {
    "expert.created": _l("Added"), "expert.updated": _l("Changed"), "expert.past_role_added": _l("IPBES role added"),
    "expert.past_role_removed": _l("IPBES role removed"), "expert.cv_uploaded": _l("CV uploaded"),
    "expert.cv_removed": _l("CV deleted"), "expert.consent": _l("Consent"),
    "expert.erasure_requested": _l("Erasure requested"), "expert.erasure_cancelled": _l("Erasure request cancelled"),
    "expert.erased": _l("Personal data erased"), "expert.merged": _l("Merged with another record"),
    "expert.merged_into": _l("Merged into another record"),
}
_FIELD_NAMES = {"first_name": _l("first name"), "last_name": _l("last name"), "email": _l("e-mail"),
                "affiliation": _l("affiliation"), "region": _l("region"), "gender": _l("gender"),
                "career_stage": _l("career stage"), "orcid": _l("ORCID iD"), "keywords": _l("keywords"),
                "languages": _l("languages"), "preferred_language": _l("language of e-mails"),
                "availability": _l("availability"), "availability_note": _l("availability"), "notes": _l("notes"),
                "status": _l("status"), "user_id": _l("user account"), "tags": _l("tags"),
                "deliverables": _l("deliverables")}


@bp.app_template_global()
def expert_audit_line(entry) -> str:
    """A person-readable line for an audit entry of an expert record."""
    label = str(_ACTION_LABELS.get(entry.action, entry.action))
    data = entry.data or {}
    if entry.action == "expert.created" and data.get("source") == "import":
        return _("Added by an import (line %(n)s)", n=data.get("line"))
    if data.get("fields"):
        names = ", ".join(dict.fromkeys(str(_FIELD_NAMES.get(f, f)) for f in data["fields"]))
        if data.get("source") == "import":
            return _("%(what)s: %(fields)s (import, line %(n)s)", what=label, fields=names, n=data.get("line"))
        return f"{label}: {names}"
    if entry.action == "expert.consent":
        version = data.get("text_version")
        if data.get("contact") and data.get("processing"):
            what = _("given to be contacted and to the processing of the data (text %(v)s)", v=version)
        elif data.get("contact"):
            what = _("given to be contacted (text %(v)s)", v=version)
        elif data.get("processing"):
            what = _("given to the processing of the data (text %(v)s)", v=version)
        else:
            what = _("withdrawn")
        return f"{label}: {what}"
    if entry.action == "expert.merged":
        return f"{label}: #{data.get('merged_id')}"
    if entry.action == "expert.merged_into":
        return f"{label}: #{data.get('into_id')}"
    return label


# --- helpers ------------------------------------------------------------------------------------------
def _load(expert_id: int) -> Expert:
    expert = db.session.get(Expert, expert_id)
    if expert is None:
        abort(404)
    return expert


def _flash_errors(form) -> None:
    for name, errors in form.errors.items():
        label = getattr(getattr(form, name, None), "label", None)
        for error in errors:
            flash(f"{label.text if label and label.text else name}: {error}", "danger")


def _form_kwargs() -> dict:
    return {"vocabularies": svc.terms_by_vocabulary(), "deliverables": svc.all_deliverables(),
            "regions": country_regions()}


def _form_defaults(expert: Expert) -> dict:
    data = {
        "first_name": expert.first_name, "last_name": expert.last_name, "affiliation": expert.affiliation,
        "region": expert.region or "", "gender": expert.gender.value if expert.gender else "",
        "career_stage": expert.career_stage.value if expert.career_stage else "", "orcid": expert.orcid or "",
        "keywords": expert.keywords, "languages": svc.split_list(expert.languages),
        "preferred_language": expert.preferred_language, "availability": expert.availability.value,
        "availability_note": expert.availability_note, "deliverables": [d.code for d in expert.deliverables],
        "version": str(expert.version), "email": expert.email or "", "status": expert.status.value,
        "notes": expert.notes, "user_email": expert.user.email if expert.user else "",
    }
    for name, vocabulary in TAG_FIELDS.items():
        data[name] = [t.code for t in expert.terms_of(vocabulary)]
    return data


def _selected(form) -> tuple[list[ReferenceTerm], list[Deliverable]]:
    wanted = [(vocabulary, code) for name, vocabulary in TAG_FIELDS.items() for code in (getattr(form, name).data or [])]
    terms = []
    if wanted:
        rows = db.session.scalars(sa.select(ReferenceTerm).where(
            ReferenceTerm.vocabulary.in_(list(TAG_FIELDS.values())),
            ReferenceTerm.code.in_([c for _v, c in wanted]))).all()
        index = {(t.vocabulary, t.code): t for t in rows}
        terms = [index[key] for key in wanted if key in index]
    codes = form.deliverables.data or []
    deliverables = db.session.scalars(sa.select(Deliverable).where(Deliverable.code.in_(codes))).all() if codes else []
    return terms, deliverables


def _scalars(form, names) -> dict:
    return {name: getattr(form, name).data for name in names}


def _apply_error(form, exc: svc.ExpertError) -> None:
    target = getattr(form, exc.field, None) if exc.field else None
    if target is not None:
        target.errors = list(target.errors) + [str(exc)]
    else:
        flash(str(exc), "danger")


def _conflict_fields(form, expert: Expert) -> list[tuple[str, str]]:
    """(label, value saved by someone else) for each field where the stored record differs from the form."""
    stored = _form_defaults(expert)
    out = []
    for name, value in stored.items():
        field = getattr(form, name, None)
        if field is None or name == "version" or field.data == value:
            continue
        labels = dict(field.choices) if getattr(field, "choices", None) else {}
        if isinstance(value, list):
            shown = ", ".join(str(labels.get(v, v)) for v in value)
        else:
            shown = str(labels.get(value, value))
        out.append((field.label.text, shown or "—"))
    return out


def _linked_user(form) -> tuple[bool, int | None]:
    email = (form.user_email.data or "").strip().lower()
    if not email:
        return True, None
    user = db.session.scalar(sa.select(User).where(User.email == email))
    if user is None:
        form.user_email.errors = list(form.user_email.errors) + [_("No user account has this e-mail address.")]
        return False, None
    return True, user.id


# --- the registry ---------------------------------------------------------------------------------------
def _listing() -> Listing:
    return Listing(request.args, sorts=svc.SORTS, default_sort="name")


@bp.get("/experts")
@roles_required(*STAFF)
def index():
    listing = _listing()
    filters = svc.read_filters(request.args)
    page = listing.paginate(svc.filter_experts(sa.select(Expert), filters, listing.q))
    export_args = request.args.to_dict(flat=False)
    export_args.pop("page", None)
    return render_template("experts/index.html", page=page, listing=listing, filters=filters,
                           options=_filter_options(), filter_fields=_filter_fields(), regions=country_regions(),
                           export_args=export_args, erasure_count=svc.erasure_request_count())


def _filter_fields() -> list[tuple[str, str, str]]:
    """(name, label, label of the empty choice) of each filter, in the order shown."""
    return [("region", _("Region"), _("Any")), ("gender", _("Gender"), _("Any")),
            ("career_stage", _("Career stage"), _("Any")), ("discipline", _("Discipline"), _("Any")),
            ("role", _("Role wanted"), _("Any")), ("deliverable", _("Deliverable"), _("Any")),
            ("gbf_target", _("GBF target"), _("Any")), ("ecosystem", _("Ecosystem"), _("Any")),
            ("language", _("Language"), _("Any")), ("availability", _("Availability"), _("Any")),
            ("consent", _("Consent"), _("Any")), ("cv", _("CV"), _("Any")),
            ("status", _("Status"), _("Active and pending review"))]


def _filter_options() -> dict[str, list[tuple[str, str]]]:
    vocabularies = svc.terms_by_vocabulary()
    return {
        "region": list(country_regions().items()),
        "gender": [(g.value, label) for g, label in svc.GENDER_LABELS.items()],
        "career_stage": [(c.value, label) for c, label in svc.CAREER_STAGE_LABELS.items()],
        "discipline": [(t.code, t.label) for t in vocabularies["discipline"]],
        "role": [(t.code, t.label) for t in vocabularies["expert_role"]],
        "deliverable": [(d.code, d.short_name) for d in svc.all_deliverables()],
        "gbf_target": [(t.code, t.label) for t in vocabularies["gbf_target"]],
        "ecosystem": [(t.code, t.label) for t in vocabularies["ecosystem"]],
        "language": list(svc.LANGUAGE_LABELS.items()),
        "availability": [(a.value, label) for a, label in svc.AVAILABILITY_LABELS.items()],
        "consent": [("yes", _("Given")), ("no", _("Not given"))],
        "cv": [("yes", _("With a CV")), ("no", _("Without a CV"))],
        "status": [(s.value, svc.STATUS_LABELS[s]) for s in ExpertStatus]
        + [("merged", _("Merged into another")), ("all", _("All"))],
    }


def _export_rows() -> list[list]:
    listing = _listing()
    filters = svc.read_filters(request.args)
    stmt = svc.filter_experts(sa.select(Expert).options(selectinload(Expert.roles_held)), filters, listing.q)
    experts = db.session.scalars(listing.order_by(stmt, Expert.id)).all()
    return [svc.export_row(e) for e in experts]


def _attachment(data: bytes, mimetype: str, ext: str) -> Response:
    name = f"experts-{utcnow():%Y-%m-%d}.{ext}"
    return Response(data, mimetype=mimetype, headers={"Content-Disposition": f'attachment; filename="{name}"'})


@bp.get("/experts/export.csv")
@roles_required(*STAFF)
def export_csv():
    return _attachment(svc.to_csv(_export_rows()), "text/csv; charset=utf-8", "csv")


@bp.get("/experts/export.xlsx")
@roles_required(*STAFF)
def export_xlsx():
    return _attachment(svc.to_xlsx(_export_rows()),
                       "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", "xlsx")


@bp.route("/experts/new", methods=["GET", "POST"])
@roles_required(*STAFF)
def new():
    form = ExpertForm(**_form_kwargs(), data=None if request.method == "POST" else {
        "status": ExpertStatus.ACTIVE.value, "availability": "available", "preferred_language": "en"})
    if form.validate_on_submit():
        ok, user_id = _linked_user(form)
        if ok:
            terms, deliverables = _selected(form)
            data = _scalars(form, STAFF_SCALARS) | {"user_id": user_id}
            try:
                expert = svc.create_expert(data, actor=current_user, terms=terms, deliverables=deliverables)
            except svc.ExpertError as exc:
                _apply_error(form, exc)
            else:
                db.session.commit()
                flash(_("Expert %(name)s added.", name=expert.name), "success")
                return redirect(url_for("experts.detail", expert_id=expert.id))
    return render_template("experts/form.html", form=form, expert=None), 200 if request.method == "GET" else 422


@bp.get("/experts/<int:expert_id>")
@roles_required(*STAFF)
def detail(expert_id: int):
    from focalpoint.invitations.models import Invitation
    from focalpoint.nominations.models import Nomination

    expert = _load(expert_id)
    vocabularies = svc.terms_by_vocabulary()
    deliverables = svc.all_deliverables()
    return render_template(
        "experts/detail.html", expert=expert, history=entries_for(expert, 100),
        similar=svc.similar_experts(expert) if expert.merged_into_id is None else [],
        merged_into=db.session.get(Expert, expert.merged_into_id) if expert.merged_into_id else None,
        merged_from=db.session.scalars(sa.select(Expert).where(Expert.merged_into_id == expert.id)).all(),
        invitations=db.session.scalars(sa.select(Invitation).where(Invitation.expert_id == expert.id)
                                       .order_by(Invitation.id.desc())).all(),
        nominations=db.session.scalars(sa.select(Nomination).where(Nomination.expert_id == expert.id)
                                       .order_by(Nomination.id.desc())).all(),
        role_labels={t.code: t.label for t in vocabularies["expert_role"]}, regions=country_regions(),
        role_form=PastRoleForm(roles=vocabularies["expert_role"], deliverables=deliverables), cv_form=CVForm(),
        erase_form=EraseForm(), confirm_form=ConfirmForm(), cv_max_mb=svc.cv_max_bytes() // (1024 * 1024))


@bp.route("/experts/<int:expert_id>/edit", methods=["GET", "POST"])
@roles_required(*STAFF)
def edit(expert_id: int):
    expert = _load(expert_id)
    if expert.status == ExpertStatus.ERASED or expert.merged_into_id is not None:
        flash(_("This record can no longer be changed."), "warning")
        return redirect(url_for("experts.detail", expert_id=expert.id))
    form = ExpertForm(**_form_kwargs(), data=None if request.method == "POST" else _form_defaults(expert))
    conflict = []
    status = 200
    if form.validate_on_submit():
        if form.version.data != str(expert.version):
            # Someone saved since this form was opened: show what they saved, keep what was typed.
            conflict = _conflict_fields(form, expert)
            form.version.data = str(expert.version)
            status = 409
        else:
            ok, user_id = _linked_user(form)
            if ok:
                terms, deliverables = _selected(form)
                data = _scalars(form, STAFF_SCALARS) | {"user_id": user_id}
                try:
                    changed = svc.update_expert(expert, data, actor=current_user, terms=terms,
                                                deliverables=deliverables)
                except svc.ExpertError as exc:
                    _apply_error(form, exc)
                else:
                    db.session.commit()
                    flash(_("Saved.") if changed else _("Nothing changed."), "success")
                    return redirect(url_for("experts.detail", expert_id=expert.id))
            status = 422
    elif request.method == "POST":
        status = 422
    return render_template("experts/form.html", form=form, expert=expert, conflict=conflict), status


# --- past roles, CV ----------------------------------------------------------------------------------------
def _past_role_form() -> PastRoleForm:
    return PastRoleForm(roles=svc.terms_by_vocabulary()["expert_role"], deliverables=svc.all_deliverables())


def _add_past_role(expert: Expert) -> None:
    form = _past_role_form()
    if not form.validate_on_submit():
        _flash_errors(form)
        return
    deliverable = db.session.get(Deliverable, form.deliverable_id.data) if form.deliverable_id.data else None
    try:
        svc.add_past_role(expert, role=form.role.data, deliverable=deliverable,
                          deliverable_text=form.deliverable_text.data or "", year_from=form.year_from.data,
                          year_to=form.year_to.data, actor=current_user)
    except svc.ExpertError as exc:
        flash(str(exc), "danger")
    else:
        db.session.commit()
        flash(_("Role added."), "success")


def _remove_past_role(expert: Expert, role_id: int, *, declared_only: bool) -> None:
    past = db.session.get(PastRole, role_id)
    if past is None or past.expert_id != expert.id:
        abort(404)
    if declared_only and past.source != "declared":
        flash(_("Roles recorded from a selection can only be corrected by the focal point."), "warning")
        return
    if ConfirmForm().validate_on_submit():
        svc.remove_past_role(expert, past, actor=current_user)
        db.session.commit()
        flash(_("Role removed."), "success")


def _upload_cv(expert: Expert) -> None:
    form = CVForm()
    if not form.validate_on_submit():
        _flash_errors(form)
        return
    try:
        data = svc.read_upload(form.file.data.stream, svc.cv_max_bytes())
        svc.store_cv(expert, data, form.file.data.filename, actor=current_user)
    except svc.ExpertError as exc:
        flash(str(exc), "danger")
    else:
        db.session.commit()
        flash(_("CV saved."), "success")


def _live_or_back(expert: Expert):
    if expert.status == ExpertStatus.ERASED or expert.merged_into_id is not None:
        flash(_("This record can no longer be changed."), "warning")
        return redirect(url_for("experts.detail", expert_id=expert.id))
    return None


@bp.post("/experts/<int:expert_id>/roles")
@roles_required(*STAFF)
def add_role(expert_id: int):
    expert = _load(expert_id)
    if (back := _live_or_back(expert)) is not None:
        return back
    _add_past_role(expert)
    return redirect(url_for("experts.detail", expert_id=expert.id) + "#roles")


@bp.post("/experts/<int:expert_id>/roles/<int:role_id>/delete")
@roles_required(*STAFF)
def remove_role(expert_id: int, role_id: int):
    expert = _load(expert_id)
    _remove_past_role(expert, role_id, declared_only=False)
    return redirect(url_for("experts.detail", expert_id=expert.id) + "#roles")


@bp.post("/experts/<int:expert_id>/cv")
@roles_required(*STAFF)
def upload_cv(expert_id: int):
    expert = _load(expert_id)
    if (back := _live_or_back(expert)) is not None:
        return back
    _upload_cv(expert)
    return redirect(url_for("experts.detail", expert_id=expert.id) + "#cv")


@bp.post("/experts/<int:expert_id>/cv/delete")
@roles_required(*STAFF)
def delete_cv(expert_id: int):
    expert = _load(expert_id)
    if ConfirmForm().validate_on_submit():
        svc.remove_cv(expert, actor=current_user)
        db.session.commit()
        flash(_("CV deleted."), "success")
    return redirect(url_for("experts.detail", expert_id=expert.id) + "#cv")


@bp.get("/experts/<int:expert_id>/cv")
@roles_required(Role.STAFF, Role.EXPERT)
def cv(expert_id: int):
    """The CV, to staff and to its owner only; anyone else gets 404 (the record's existence is not told)."""
    expert = db.session.get(Expert, expert_id)
    if expert is None or not expert.can_view(current_user):
        abort(404)
    path = svc.cv_path(expert)
    if path is None or not path.is_file():
        abort(404)
    # Read at once (at most CV_MAX_MB): no file handle outlives the request.
    response = send_file(io.BytesIO(path.read_bytes()), mimetype=expert.cv_content_type, as_attachment=True,
                         download_name=svc.cv_download_name(expert), etag=False)
    response.headers["Cache-Control"] = "no-store"
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Content-Security-Policy"] = "default-src 'none'; sandbox"
    return response


# --- merging, duplicates, erasure ------------------------------------------------------------------------
@bp.get("/experts/duplicates")
@roles_required(*STAFF)
def duplicates():
    return render_template("experts/duplicates.html", groups=svc.duplicate_groups())


@bp.get("/experts/merge")
@roles_required(*STAFF)
def merge_preview():
    ids = []
    for value in request.args.getlist("expert_id"):
        if value.isdigit() and int(value) not in ids:
            ids.append(int(value))
    if len(ids) != 2:
        flash(_("Tick exactly two records to merge."), "warning")
        return redirect(url_for("experts.index", **{k: v for k, v in request.args.items() if k != "expert_id"}))
    keep_id = request.args.get("keep", type=int)
    if keep_id not in ids:
        keep_id = min(ids)
    other_id = ids[1] if ids[0] == keep_id else ids[0]
    keep, other = _load(keep_id), _load(other_id)
    try:
        plan = svc.plan_merge(keep, other)
    except svc.ExpertError as exc:
        flash(str(exc), "danger")
        return redirect(url_for("experts.detail", expert_id=keep.id))
    regions = country_regions()
    shown = {}
    for name, _old, new in plan.fields:  # values as people read them
        labels = {"region": regions, "gender": svc.GENDER_LABELS, "career_stage": svc.CAREER_STAGE_LABELS,
                  "status": svc.STATUS_LABELS}.get(name, {})
        shown[name] = labels.get(new, new)
    return render_template("experts/merge.html", plan=plan, keep=keep, other=other, shown=shown,
                           field_labels=svc.FIELD_LABELS, form=MergeForm(keep_id=keep.id, other_id=other.id),
                           regions=regions)


@bp.post("/experts/merge")
@roles_required(*STAFF)
def merge():
    form = MergeForm()
    if not form.validate_on_submit():
        _flash_errors(form)
        return redirect(url_for("experts.duplicates"))
    keep, other = _load(form.keep_id.data), _load(form.other_id.data)
    try:
        svc.merge_experts(keep, other, actor=current_user)
    except svc.ExpertError as exc:
        flash(str(exc), "danger")
        return redirect(url_for("experts.detail", expert_id=keep.id))
    db.session.commit()
    flash(_("Record #%(other)d merged into #%(keep)d.", other=other.id, keep=keep.id), "success")
    return redirect(url_for("experts.detail", expert_id=keep.id))


@bp.get("/experts/erasure-requests")
@roles_required(*STAFF)
def erasure_requests():
    return render_template("experts/erasure_requests.html", experts=svc.erasure_requests(), form=EraseForm())


@bp.post("/experts/<int:expert_id>/erase")
@roles_required(*STAFF)
def erase(expert_id: int):
    expert = _load(expert_id)
    form = EraseForm()
    if not form.validate_on_submit():
        _flash_errors(form)
        return redirect(url_for("experts.detail", expert_id=expert.id))
    svc.erase_expert(expert, actor=current_user)
    db.session.commit()
    flash(_("The personal data of record #%(id)d was erased.", id=expert.id), "success")
    return redirect(url_for("experts.erasure_requests"))


# --- import ----------------------------------------------------------------------------------------------
IMPORT_NAME = re.compile(r"^[0-9a-f]{32}\.(csv|xlsx)$")
#: Uploaded spreadsheets wait this long for their confirmation.
IMPORT_KEEP_SECONDS = 24 * 3600


def _imports_dir() -> Path:
    return Path(current_app.instance_path) / "imports"


def _import_path(token: str) -> Path | None:
    if not IMPORT_NAME.match(token or ""):
        return None
    return _imports_dir() / f"{current_user.id}-{token}"


def _forget_old_imports() -> None:
    folder = _imports_dir()
    if not folder.is_dir():
        return
    limit = time.time() - IMPORT_KEEP_SECONDS
    for path in folder.iterdir():
        try:
            if path.stat().st_mtime < limit:
                path.unlink()
        except OSError:
            pass


def _render_report(report, *, token: str | None = None):
    created = [r for r in report.rows if r.outcome == "created"]
    others = [r for r in report.rows if r.outcome != "created"]
    return render_template("experts/import.html", form=ImportForm(), report=report, others=others,
                           created=created[:200], created_more=max(0, len(created) - 200),
                           confirm_form=ImportConfirmForm(token=token) if token else None,
                           columns=svc.IMPORT_COLUMNS)


@bp.route("/experts/import", methods=["GET", "POST"])
@roles_required(*STAFF)
def import_page():
    form = ImportForm()
    if request.method == "GET":
        return render_template("experts/import.html", form=form, report=None, columns=svc.IMPORT_COLUMNS)
    if not form.validate_on_submit():
        _flash_errors(form)
        return render_template("experts/import.html", form=form, report=None, columns=svc.IMPORT_COLUMNS), 422
    upload = form.file.data
    try:
        data = svc.read_upload(upload.stream, current_app.config["MAX_CONTENT_LENGTH"])
        rows, warnings = svc.read_import_file(data, upload.filename or "")
    except svc.ExpertError as exc:
        flash(str(exc), "danger")
        return render_template("experts/import.html", form=form, report=None, columns=svc.IMPORT_COLUMNS), 422
    report = svc.import_experts(rows, dry_run=True, actor=current_user)
    report.warnings = warnings
    db.session.rollback()
    token = None
    if report.imported:
        _forget_old_imports()
        ext = "xlsx" if data.startswith(b"PK\x03\x04") else "csv"
        token = f"{secrets.token_hex(16)}.{ext}"
        path = _import_path(token)
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
    return _render_report(report, token=token)


@bp.post("/experts/import/confirm")
@roles_required(*STAFF)
def import_confirm():
    form = ImportConfirmForm()
    path = _import_path(form.token.data) if form.validate_on_submit() else None
    if path is None or not path.is_file():
        flash(_("This preview is no longer available: upload the file again."), "warning")
        return redirect(url_for("experts.import_page"))
    data = path.read_bytes()
    try:
        rows, warnings = svc.read_import_file(data, path.name)
    except svc.ExpertError as exc:
        flash(str(exc), "danger")
        return redirect(url_for("experts.import_page"))
    report = svc.import_experts(rows, dry_run=False, actor=current_user)
    report.warnings = warnings
    db.session.commit()
    path.unlink(missing_ok=True)
    counts = report.counts
    flash(_("Import done: %(c)d created, %(u)d updated, %(s)d skipped.", c=counts["created"], u=counts["updated"],
            s=counts["skipped"]), "success")
    return _render_report(report)


# --- the expert's own profile ---------------------------------------------------------------------------------
def _own() -> Expert | None:
    return svc.get_expert_for_user(current_user)


def _no_profile():
    flash(_("No expert record is linked to your account."), "warning")
    return redirect(url_for("experts.profile"))


def _profile_page(expert: Expert, form: ProfileForm, status: int = 200, conflict=None):
    vocabularies = svc.terms_by_vocabulary()
    from focalpoint.nominations.models import Nomination

    nominations = db.session.scalars(sa.select(Nomination).where(Nomination.expert_id == expert.id)
                                     .order_by(Nomination.id.desc())).all()
    return render_template(
        "experts/profile.html", expert=expert, form=form, conflict=conflict or [],
        role_form=PastRoleForm(roles=vocabularies["expert_role"], deliverables=svc.all_deliverables()),
        role_labels={t.code: t.label for t in vocabularies["expert_role"]}, cv_form=CVForm(),
        consent_form=ConsentForm(contact=expert.consent_contact_at is not None,
                                 processing=expert.consent_processing_at is not None),
        erasure_form=ErasureRequestForm(), confirm_form=ConfirmForm(), nominations=nominations,
        consent_version=svc.consent_text_version(), cv_max_mb=svc.cv_max_bytes() // (1024 * 1024)), status


@bp.route("/profile", methods=["GET", "POST"])
@roles_required(Role.EXPERT)
def profile():
    expert = _own()
    if expert is None:
        return render_template("experts/no_profile.html")
    form = ProfileForm(**_form_kwargs(), data=None if request.method == "POST" else _form_defaults(expert))
    if request.method == "GET":
        return _profile_page(expert, form)
    if not form.validate_on_submit():
        return _profile_page(expert, form, 422)
    if form.version.data != str(expert.version):
        conflict = _conflict_fields(form, expert)
        form.version.data = str(expert.version)
        return _profile_page(expert, form, 409, conflict)
    terms, deliverables = _selected(form)
    try:
        changed = svc.update_expert(expert, _scalars(form, PROFILE_SCALARS), actor=current_user, terms=terms,
                                    deliverables=deliverables, fields=svc.PROFILE_FIELDS)
    except svc.ExpertError as exc:
        _apply_error(form, exc)
        return _profile_page(expert, form, 422)
    db.session.commit()
    flash(_("Your profile is saved.") if changed else _("Nothing changed."), "success")
    return redirect(url_for("experts.profile"))


@bp.post("/profile/roles")
@roles_required(Role.EXPERT)
def profile_add_role():
    expert = _own()
    if expert is None:
        return _no_profile()
    _add_past_role(expert)
    return redirect(url_for("experts.profile") + "#roles")


@bp.post("/profile/roles/<int:role_id>/delete")
@roles_required(Role.EXPERT)
def profile_remove_role(role_id: int):
    expert = _own()
    if expert is None:
        return _no_profile()
    _remove_past_role(expert, role_id, declared_only=True)
    return redirect(url_for("experts.profile") + "#roles")


@bp.post("/profile/cv")
@roles_required(Role.EXPERT)
def profile_cv():
    expert = _own()
    if expert is None:
        return _no_profile()
    _upload_cv(expert)
    return redirect(url_for("experts.profile") + "#cv")


@bp.post("/profile/cv/delete")
@roles_required(Role.EXPERT)
def profile_delete_cv():
    expert = _own()
    if expert is None:
        return _no_profile()
    if ConfirmForm().validate_on_submit():
        svc.remove_cv(expert, actor=current_user)
        db.session.commit()
        flash(_("CV deleted."), "success")
    return redirect(url_for("experts.profile") + "#cv")


@bp.post("/profile/consent")
@roles_required(Role.EXPERT)
def profile_consent():
    expert = _own()
    if expert is None:
        return _no_profile()
    form = ConsentForm()
    if form.validate_on_submit():
        withdraw = request.form.get("action") == "withdraw"
        svc.give_consent(expert, contact=form.contact.data and not withdraw,
                         processing=form.processing.data and not withdraw, actor=current_user)
        db.session.commit()
        flash(_("Your consent is recorded.") if expert.consent_text_version else _("Your consent is withdrawn."),
              "success")
    return redirect(url_for("experts.profile") + "#consent")


@bp.get("/profile/export.json")
@roles_required(Role.EXPERT)
def profile_export():
    expert = _own()
    if expert is None:
        return _no_profile()
    body = json.dumps(svc.personal_data(expert), indent=2, ensure_ascii=False)
    return Response(body, mimetype="application/json",
                    headers={"Content-Disposition": 'attachment; filename="my-data.json"'})


@bp.post("/profile/erasure")
@roles_required(Role.EXPERT)
def profile_erasure():
    expert = _own()
    if expert is None:
        return _no_profile()
    form = ErasureRequestForm()
    if form.validate_on_submit():
        svc.request_erasure(expert, actor=current_user)
        db.session.commit()
        flash(_("Your request is recorded: the focal point will erase your data and confirm."), "success")
    else:
        _flash_errors(form)
    return redirect(url_for("experts.profile") + "#erasure")


@bp.post("/profile/erasure/cancel")
@roles_required(Role.EXPERT)
def profile_erasure_cancel():
    expert = _own()
    if expert is None:
        return _no_profile()
    if ConfirmForm().validate_on_submit():
        svc.cancel_erasure_request(expert, actor=current_user)
        db.session.commit()
        flash(_("Your erasure request is cancelled."), "success")
    return redirect(url_for("experts.profile") + "#erasure")
