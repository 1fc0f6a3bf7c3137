"""Account actions: hashing, authentication with throttling, and user management.

Services flush and never commit: the request or command that calls them commits once.
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import sqlalchemy as sa
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from flask import current_app
from flask_babel import gettext as _

from focalpoint.audit import log_action
from focalpoint.auth.models import Administration, LoginFailure, Role, User
from focalpoint.db import utcnow
from focalpoint.extensions import db

#: argon2id at OWASP's minimum profile (m=19 MiB, t=2, p=1): about 20 ms a check on this hardware.
hasher = PasswordHasher(time_cost=2, memory_cost=19456, parallelism=1, hash_len=32, salt_len=16)

#: A hash of a random password, verified against when the account does not exist, so that the
#: answer takes as long for an unknown address as for a known one.
_DUMMY_HASH = hasher.hash("focalpoint-dummy-password-for-timing")

MIN_PASSWORD_LENGTH = 10


class AccountError(ValueError):
    """A user-facing refusal (the message is shown as is)."""


def hash_password(password: str) -> str:
    return hasher.hash(password)


def normalise_email(email: str) -> str:
    return (email or "").strip().lower()


def check_password_strength(password: str, *, email: str = "") -> None:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise AccountError(_("The password must have at least %(n)d characters.", n=MIN_PASSWORD_LENGTH))
    if len(password) > 1024:
        raise AccountError(_("The password is too long."))
    if email and password.lower() == email.lower():
        raise AccountError(_("The password must not be the e-mail address."))


# --- throttling -----------------------------------------------------------------------------------
@dataclass
class Throttle:
    blocked: bool
    retry_after_seconds: int = 0


def login_throttle(email: str, address: str) -> Throttle:
    """Whether further attempts for this account or from this address are refused for now."""
    cfg = current_app.config
    window = dt.timedelta(minutes=cfg["LOGIN_THROTTLE_MINUTES"])
    since = utcnow() - window
    per_account = db.session.execute(
        sa.select(sa.func.count(), sa.func.min(LoginFailure.at))
        .where(LoginFailure.email == email, LoginFailure.at > since)
    ).one()
    per_address = db.session.execute(
        sa.select(sa.func.count(), sa.func.min(LoginFailure.at))
        .where(LoginFailure.address == address, LoginFailure.at > since)
    ).one()
    for (count, oldest), limit in ((per_account, cfg["LOGIN_MAX_FAILURES_PER_ACCOUNT"]),
                                   (per_address, cfg["LOGIN_MAX_FAILURES_PER_ADDRESS"])):
        if count >= limit:
            retry = int(((oldest + window) - utcnow()).total_seconds()) + 1
            return Throttle(True, max(retry, 1))
    return Throttle(False)


def record_login_failure(email: str, address: str) -> None:
    db.session.add(LoginFailure(email=email[:254], address=address[:64]))
    # Keep the table small: forget failures older than a day.
    db.session.execute(sa.delete(LoginFailure).where(LoginFailure.at < utcnow() - dt.timedelta(days=1)))
    db.session.flush()


def authenticate(email: str, password: str, address: str) -> User | None:
    """The user whose credentials these are, or None (the failure is recorded).

    Callers check ``login_throttle`` first. Rehashes the password when the parameters changed.
    """
    email = normalise_email(email)
    user = db.session.scalar(sa.select(User).where(User.email == email))
    password = password or ""
    ok = False
    if user is None or not user.password_hash:
        try:
            hasher.verify(_DUMMY_HASH, password)
        except VerificationError:
            pass
    else:
        try:
            ok = hasher.verify(user.password_hash, password)
        except (VerifyMismatchError, VerificationError, InvalidHashError):
            ok = False
    if not ok or user is None or not user.is_enabled:
        record_login_failure(email, address)
        return None
    if hasher.check_needs_rehash(user.password_hash):
        user.password_hash = hasher.hash(password)
    user.last_login_at = utcnow()
    db.session.execute(sa.delete(LoginFailure).where(LoginFailure.email == email))
    db.session.flush()
    return user


def verify_password(user: User, password: str) -> bool:
    if not user.password_hash:
        return False
    try:
        return hasher.verify(user.password_hash, password or "")
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


# --- sessions -------------------------------------------------------------------------------------
def revoke_sessions(user: User) -> None:
    """Invalidate every session cookie issued to ``user`` so far."""
    user.session_version = (user.session_version or 0) + 1
    db.session.flush()


# --- management -----------------------------------------------------------------------------------
def find_administration(key: str) -> Administration | None:
    key = (key or "").strip()
    if not key:
        return None
    return db.session.scalar(
        sa.select(Administration).where(
            sa.or_(sa.func.lower(Administration.code) == key.lower(),
                   sa.func.lower(Administration.name) == key.lower())
        )
    )


def create_user(email: str, *, roles, password: str | None, name: str = "",
                administration: Administration | None = None, actor: User | None = None) -> User:
    email = normalise_email(email)
    if not email or "@" not in email or len(email) > 254:
        raise AccountError(_("A valid e-mail address is required."))
    if db.session.scalar(sa.select(User.id).where(User.email == email)) is not None:
        raise AccountError(_("A user with the e-mail address %(email)s already exists.", email=email))
    roles = {Role(r) for r in roles}
    if not roles:
        raise AccountError(_("A user needs at least one role."))
    _check_reviewer(roles, administration)
    user = User(email=email, name=(name or "").strip()[:200], administration=administration)
    user.set_roles(roles)
    if password is not None:
        check_password_strength(password, email=email)
        user.password_hash = hash_password(password)
    db.session.add(user)
    db.session.flush()
    log_action(user, "user.created", actor=actor,
               data={"roles": sorted(roles), "administration": administration.code if administration else None})
    return user


def update_user(user: User, *, email: str, name: str, roles, administration: Administration | None,
                is_enabled: bool, actor: User | None) -> None:
    email = normalise_email(email)
    if email != user.email and db.session.scalar(sa.select(User.id).where(User.email == email)) is not None:
        raise AccountError(_("A user with the e-mail address %(email)s already exists.", email=email))
    roles = {Role(r) for r in roles}
    if not roles:
        raise AccountError(_("A user needs at least one role."))
    _check_reviewer(roles, administration)
    if actor is not None and actor.id == user.id and (Role.ADMIN not in roles or not is_enabled):
        raise AccountError(_("You cannot remove your own admin role or disable your own account."))
    before = {"email": user.email, "name": user.name, "roles": sorted(user.roles),
              "administration": user.administration.code if user.administration else None,
              "is_enabled": user.is_enabled}
    user.email = email
    user.name = (name or "").strip()[:200]
    user.set_roles(roles)
    user.administration = administration if Role.REVIEWER in roles else None
    was_enabled = user.is_enabled
    user.is_enabled = is_enabled
    if was_enabled and not is_enabled:
        revoke_sessions(user)
    after = {"email": user.email, "name": user.name, "roles": sorted(roles),
             "administration": user.administration.code if user.administration else None,
             "is_enabled": user.is_enabled}
    changed = {k: [before[k], after[k]] for k in after if before[k] != after[k]}
    if changed:
        log_action(user, "user.updated", actor=actor, data=changed)
    db.session.flush()


def set_password(user: User, new_password: str, *, actor: User | None) -> None:
    """Set a new password and revoke every existing session of the user."""
    check_password_strength(new_password, email=user.email)
    user.password_hash = hash_password(new_password)
    revoke_sessions(user)
    log_action(user, "user.password_changed", actor=actor)


def _check_reviewer(roles: set[Role], administration: Administration | None) -> None:
    if Role.REVIEWER in roles and administration is None:
        raise AccountError(_("A reviewer must belong to an administration."))
