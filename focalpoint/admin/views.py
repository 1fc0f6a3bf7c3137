"""Admin: users and administrations."""
import sqlalchemy as sa
from sqlalchemy.orm import selectinload
from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user

from focalpoint.audit import entries_for, log_action
from focalpoint.auth.forms import AdministrationForm, UserForm
from focalpoint.auth.models import Administration, Role, User, UserRole
from focalpoint.auth.services import AccountError, create_user, set_password, update_user
from focalpoint.extensions import db
from focalpoint.listing import Listing
from focalpoint.security import roles_required

bp = Blueprint("admin", __name__, url_prefix="/admin")


def _administration_choices():
    rows = db.session.scalars(sa.select(Administration).order_by(Administration.name)).all()
    return [(0, _("— none —"))] + [(a.id, a.name) for a in rows]


@bp.get("/users")
@roles_required(Role.ADMIN)
def users():
    listing = Listing(request.args, sorts={"email": User.email, "name": User.name,
                                           "last_login": User.last_login_at, "created": User.created_at},
                      default_sort="email")
    stmt = sa.select(User).options(selectinload(User.role_rows))
    if listing.q:
        like = listing.like()
        stmt = stmt.where(sa.or_(User.email.ilike(like, escape="\\"), User.name.ilike(like, escape="\\")))
    role = request.args.get("role", "")
    if role in {r.value for r in Role}:
        stmt = stmt.where(User.id.in_(sa.select(UserRole.user_id).where(UserRole.role == Role(role))))
    state = request.args.get("state", "")
    if state == "enabled":
        stmt = stmt.where(User.is_enabled.is_(True))
    elif state == "disabled":
        stmt = stmt.where(User.is_enabled.is_(False))
    page = listing.paginate(stmt)
    return render_template("admin/users.html", page=page, listing=listing, roles=list(Role),
                           role=role, state=state)


@bp.route("/users/new", methods=["GET", "POST"])
@roles_required(Role.ADMIN)
def user_new():
    form = UserForm()
    form.administration_id.choices = _administration_choices()
    if form.validate_on_submit():
        if not form.password.data:
            form.password.errors.append(_("A new user needs a password."))
        else:
            try:
                user = create_user(form.email.data, roles=form.roles.data, password=form.password.data,
                                   name=form.name.data,
                                   administration=db.session.get(Administration, form.administration_id.data or 0),
                                   actor=current_user)
                user.is_enabled = form.is_enabled.data
            except AccountError as exc:
                flash(str(exc), "danger")
            else:
                db.session.commit()
                flash(_("User %(email)s created.", email=user.email), "success")
                return redirect(url_for("admin.users"))
    return render_template("admin/user_form.html", form=form, user=None)


@bp.route("/users/<int:user_id>", methods=["GET", "POST"])
@roles_required(Role.ADMIN)
def user_edit(user_id: int):
    user = db.get_or_404(User, user_id)
    form = UserForm(obj=user)
    form.administration_id.choices = _administration_choices()
    if request.method == "GET":
        form.roles.data = sorted(r.value for r in user.roles)
        form.administration_id.data = user.administration_id or 0
    if form.validate_on_submit():
        try:
            update_user(user, email=form.email.data, name=form.name.data, roles=form.roles.data,
                        administration=db.session.get(Administration, form.administration_id.data or 0),
                        is_enabled=form.is_enabled.data, actor=current_user)
            if form.password.data:
                set_password(user, form.password.data, actor=current_user)
        except AccountError as exc:
            db.session.rollback()
            flash(str(exc), "danger")
        else:
            db.session.commit()
            flash(_("User %(email)s saved.", email=user.email), "success")
            return redirect(url_for("admin.users"))
    return render_template("admin/user_form.html", form=form, user=user, history=entries_for(user, 50))


@bp.get("/administrations")
@roles_required(Role.ADMIN)
def administrations():
    rows = db.session.execute(
        sa.select(Administration, sa.func.count(User.id))
        .outerjoin(User, User.administration_id == Administration.id)
        .group_by(Administration.id).order_by(Administration.name)
    ).all()
    return render_template("admin/administrations.html", rows=rows)


@bp.route("/administrations/new", methods=["GET", "POST"], defaults={"admin_id": None})
@bp.route("/administrations/<int:admin_id>", methods=["GET", "POST"])
@roles_required(Role.ADMIN)
def administration_edit(admin_id):
    administration = db.get_or_404(Administration, admin_id) if admin_id else None
    form = AdministrationForm(obj=administration)
    if form.validate_on_submit():
        code = form.code.data.strip().upper()
        name = form.name.data.strip()
        clash = db.session.scalar(sa.select(Administration).where(
            sa.or_(Administration.code == code, Administration.name == name),
            Administration.id != (administration.id if administration else -1)))
        if clash is not None:
            flash(_("Another administration already has this code or name."), "danger")
        else:
            if administration is None:
                administration = Administration(code=code, name=name)
                db.session.add(administration)
            administration.code, administration.name = code, name
            administration.is_active = form.is_active.data
            log_action(administration, "administration.saved", actor=current_user, data={"code": code, "name": name})
            db.session.commit()
            flash(_("Administration saved."), "success")
            return redirect(url_for("admin.administrations"))
    if administration is None and request.method == "GET":
        form.is_active.data = True
    return render_template("admin/administration_form.html", form=form, administration=administration)


@bp.app_template_global()
def role_label(role) -> str:
    from focalpoint.auth.forms import ROLE_LABELS
    try:
        return str(ROLE_LABELS[Role(role)])
    except ValueError:
        return str(role)
