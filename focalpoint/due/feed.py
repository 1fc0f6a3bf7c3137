"""The secret of a user's personal calendar feed: stored only as its SHA-256, shown once when made.

Regenerating replaces it (the old address stops working at once); revoking removes it.
"""
from __future__ import annotations

import re
import secrets

import sqlalchemy as sa

from focalpoint.audit import log_action
from focalpoint.auth.models import User
from focalpoint.db import utcnow
from focalpoint.extensions import db
from focalpoint.invitations.services import hash_token

_SECRET_SHAPE = re.compile(r"[A-Za-z0-9_-]{20,100}")
#: Feed scopes a staff member can subscribe to (anyone else's feed holds their own rows).
FEED_SCOPES = ("mine", "team")


def regenerate_calendar_secret(user: User, *, actor) -> str:
    """A new secret for ``user``'s feed (any previous address stops working). Flushes; the caller commits."""
    secret = secrets.token_urlsafe(32)
    had_one = user.calendar_token_hash is not None
    user.calendar_token_hash = hash_token(secret)
    user.calendar_token_created_at = utcnow()
    log_action(user, "calendar_feed.regenerated" if had_one else "calendar_feed.created", actor=actor)
    db.session.flush()
    return secret


def revoke_calendar_secret(user: User, *, actor) -> bool:
    """Remove ``user``'s feed address; False when there was none. Flushes; the caller commits."""
    if user.calendar_token_hash is None:
        return False
    user.calendar_token_hash = None
    user.calendar_token_created_at = None
    log_action(user, "calendar_feed.revoked", actor=actor)
    db.session.flush()
    return True


def find_calendar_user(secret: str) -> User | None:
    """The enabled user whose feed address holds ``secret`` (None for a malformed, unknown or revoked one)."""
    if not secret or not _SECRET_SHAPE.fullmatch(secret):
        return None
    user = db.session.scalar(sa.select(User).where(User.calendar_token_hash == hash_token(secret)))
    if user is None or not user.is_enabled:
        return None
    return user


def feed_url(secret: str, scope: str = "mine") -> str:
    """The absolute address of the feed (from BASE_URL, never from the request's Host)."""
    from focalpoint.security import external_url

    return external_url("due.feed", secret=secret, **({"scope": scope} if scope != "mine" else {}))
