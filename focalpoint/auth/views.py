"""Log in, log out, one's own account."""
from zoneinfo import available_timezones


from flask import Blueprint, current_app, flash, redirect, render_template, request, session, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_user, logout_user

from focalpoint.auth.forms import ChangePasswordForm, DigestForm, LoginForm, PreferencesForm
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


def _preferences_form(**kwargs) -> PreferencesForm:
    form = PreferencesForm(obj=current_user, **kwargs)
    form.timezone.choices = [("", _("Default (%(tz)s)", tz=current_app.config["DISPLAY_TIMEZONE"]))] + [
        (tz, tz) for tz in sorted(available_timezones()) if "/" in tz and not tz.startswith(("Etc/", "SystemV/"))]
    return form


def _account_page(form, **extra):
    from focalpoint.due.feed import FEED_SCOPES, feed_url

    secret = extra.pop("calendar_secret", None)
    calendar_urls = None
    if secret:  # shown once, right after it was made: only its hash is kept
        scopes = FEED_SCOPES if current_user.is_staff else ("mine",)
        calendar_urls = [(scope, feed_url(secret, scope)) for scope in scopes]
    return render_template("auth/account.html", form=form, calendar_urls=calendar_urls,
                           calendar_form=ConfirmForm(),
                           digest_form=DigestForm(prefix="digest", frequency=current_user.digest_frequency),
                           **extra)


@bp.route("/account", methods=["GET", "POST"])
@authenticated
def account():
    form = _preferences_form()
    if form.validate_on_submit():
        current_user.name = (form.name.data or "").strip()
        current_user.locale = form.locale.data or None
        current_user.timezone = form.timezone.data or None
        db.session.commit()
        flash(_("Your preferences are saved."), "success")
        return redirect(url_for("auth.account"))
    return _account_page(form)


@bp.post("/account/calendar")
@authenticated
def calendar_regenerate():
    """A new address for the personal calendar feed, shown on the page this once (the old one stops working)."""
    from focalpoint.due.feed import regenerate_calendar_secret

    if not ConfirmForm().validate_on_submit():
        flash(_("Your form expired; please try again."), "warning")
        return redirect(url_for("auth.account"))
    secret = regenerate_calendar_secret(current_user, actor=current_user)
    db.session.commit()
    flash(_("Your calendar feed has a new address. Copy it now: it is shown only this once."), "success")
    return _account_page(_preferences_form(formdata=None), calendar_secret=secret)


@bp.post("/account/calendar/revoke")
@authenticated
def calendar_revoke():
    from focalpoint.due.feed import revoke_calendar_secret

    if ConfirmForm().validate_on_submit():
        if revoke_calendar_secret(current_user, actor=current_user):
            db.session.commit()
            flash(_("Your calendar feed is revoked: its address no longer works."), "success")
        else:
            flash(_("You have no calendar feed."), "info")
    else:
        flash(_("Your form expired; please try again."), "warning")
    return redirect(url_for("auth.account") + "#calendar-h")


@bp.post("/account/digest")
@authenticated
def digest():
    """Choose the e-mail digest: none, daily or weekly (its own form on the account page)."""
    from focalpoint.due.digests import DigestError, set_digest_frequency

    form = DigestForm(prefix="digest")
    if not form.validate_on_submit():
        flash(" ".join(e for errors in form.errors.values() for e in errors)
              or _("Your form expired; please try again."), "danger")
        return redirect(url_for("auth.account") + "#digest")
    try:
        changed = set_digest_frequency(current_user, form.frequency.data)
    except DigestError as exc:
        db.session.rollback()
        flash(str(exc), "danger")
        return redirect(url_for("auth.account") + "#digest")
    db.session.commit()
    if changed:
        messages = {"none": _("You will get no digest."), "daily": _("You will get a digest every day."),
                    "weekly": _("You will get a digest every Monday.")}
        flash(messages[form.frequency.data], "success")
    return redirect(url_for("auth.account") + "#digest")


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


