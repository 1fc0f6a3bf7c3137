"""Personal review links: a secret per participant, stored only as its SHA-256.

The link lets an invited expert without an account open their review workspace; it works while the
participant is not removed and until the consultation's close (after the close it shows the
expert's comments read-only). Sending the invitation again replaces the secret.
"""
from __future__ import annotations

import re
import secrets

import sqlalchemy as sa

from focalpoint.consultations.models import Participant
from focalpoint.extensions import db
from focalpoint.invitations.services import hash_token

_SECRET_SHAPE = re.compile(r"[A-Za-z0-9_-]{20,100}")


def new_secret(participant: Participant) -> str:
    """A fresh secret for ``participant`` (the previous link stops working). Flush before use."""
    secret = secrets.token_urlsafe(32)
    participant.token_hash = hash_token(secret)
    return secret


def find_participant(secret: str) -> Participant | None:
    """The participant whose link holds ``secret`` (None for a malformed, unknown or revoked one)."""
    if not secret or not _SECRET_SHAPE.fullmatch(secret):
        return None
    return db.session.scalar(sa.select(Participant).where(Participant.token_hash == hash_token(secret),
                                                          Participant.removed_at.is_(None)))


def review_url(secret: str) -> str:
    """The absolute address of the personal link (built from BASE_URL, never from the request's Host)."""
    from focalpoint.security import external_url

    return external_url("consultations.join", secret=secret)
