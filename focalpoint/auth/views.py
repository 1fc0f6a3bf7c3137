"""Log in, log out, one's own account."""
from zoneinfo import available_timezones


from flask import Blueprint, current_app, flash, redirect, render_template, request, session, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_user, logout_user

from focalpoint.auth.forms import ChangePasswordForm, LoginForm, PreferencesForm
from focalpoint.auth.models import User
from focalpoint.auth.services import (AccountError, authenticate, login_throttle, normalise_email,
                                      revoke_sessions, set_password, verify_password)
from focalpoint.extensions import db, login_manager
from focalpoint.forms import ConfirmForm
from focalpoint.security import authenticated, client_address, public, safe_next

bp = Blueprint("auth", __name__)


@login_manager.user_loader
def load_user(user_id: str):
    """Sessions carry "id:session_version"; a bumped version revokes older cookies."""
    try:
        raw_id, raw_version = user_id.split(":", 1)
        uid, version = int(raw_id), int(raw_version)
    except (ValueError, AttributeError):
        return None
    user = db.session.get(User, uid)
    if user is None or not user.is_enabled or user.session_version != version:
        return None
    return user


@bp.route("/login", methods=["GET", "POST"])
@public
def login():
    if current_user.is_authenticated:
        return redirect(safe_next(request.args.get("next"), url_for("core.index")))
    form = LoginForm(next=request.args.get("next", ""))
    status = 200
    if form.validate_on_submit():
        email = normalise_email(form.email.data)
        address = client_address()
        throttle = login_throttle(email, address)
        if throttle.blocked:
            minutes = max(1, (throttle.retry_after_seconds + 59) // 60)
            flash(_("Too many failed attempts. Try again in %(n)d minutes.", n=minutes), "danger")
            response = current_app.make_response((render_template("auth/login.html", form=form), 429))
            response.headers["Retry-After"] = str(throttle.retry_after_seconds)
            return response
        user = authenticate(email, form.password.data, address)
        if user is None:
            db.session.commit()  # keep the failure, for throttling
            flash(_("Invalid e-mail address or password."), "danger")
            status = 401
        else:
            next_url = safe_next(form.next.data, url_for("core.index"))
            session.clear()  # no session fixation: a fresh session for the logged-in user
            login_user(user)
            session.permanent = True
            db.session.commit()
            return redirect(next_url)
    return render_template("auth/login.html", form=form), status


@bp.post("/logout")
@authenticated
def logout():
    form = ConfirmForm()
    if form.validate_on_submit():
        revoke_sessions(current_user)
        db.session.commit()
        logout_user()
        session.clear()
        flash(_("You are logged out."), "info")
        return redirect(url_for("auth.login"))
    flash(_("Your form expired; please try again."), "warning")
    return redirect(url_for("core.index"))


@bp.route("/account", methods=["GET", "POST"])
@authenticated
def account():
    form = PreferencesForm(obj=current_user)
    form.timezone.choices = [("", _("Default (%(tz)s)", tz=current_app.config["DISPLAY_TIMEZONE"]))] + [
        (tz, tz) for tz in sorted(available_timezones()) if "/" in tz and not tz.startswith(("Etc/", "SystemV/"))]
    if form.validate_on_submit():
        current_user.name = (form.name.data or "").strip()
        current_user.locale = form.locale.data or None
        current_user.timezone = form.timezone.data or None
        db.session.commit()
        flash(_("Your preferences are saved."), "success")
        return redirect(url_for("auth.account"))
    return render_template("auth/account.html", form=form)


@bp.route("/account/password", methods=["GET", "POST"])
@authenticated
def change_password():
    form = ChangePasswordForm()
    if form.validate_on_submit():
        if not verify_password(current_user, form.current_password.data):
            form.current_password.errors.append(_("The current password is not right."))
        else:
            try:
                set_password(current_user, form.new_password.data, actor=current_user)
            except AccountError as exc:
                form.new_password.errors.append(str(exc))
            else:
                db.session.commit()
                # Other sessions are revoked; this one continues with the new session version.
                session.clear()
                login_user(current_user._get_current_object())
                flash(_("Your password is changed. Other sessions were logged out."), "success")
                return redirect(url_for("auth.account"))
    return render_template("auth/change_password.html", form=form)


