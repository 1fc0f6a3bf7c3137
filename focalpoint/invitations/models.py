"""Invitations to answer a nomination call, answered from a signed link without an account."""
from __future__ import annotations

import datetime as dt
from enum import StrEnum

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from focalpoint.db import TimestampMixin, enum_column
from focalpoint.extensions import db


class InvitationState(StrEnum):
    PENDING = "pending"
    ACCEPTED = "accepted"
    DECLINED = "declined"
    EXPIRED = "expired"


#: An answer may change until the call is locked; an expired invitation can be sent again.
INVITATION_TRANSITIONS: dict[InvitationState, frozenset[InvitationState]] = {
    InvitationState.PENDING: frozenset({InvitationState.ACCEPTED, InvitationState.DECLINED, InvitationState.EXPIRED}),
    InvitationState.ACCEPTED: frozenset({InvitationState.DECLINED}),
    InvitationState.DECLINED: frozenset({InvitationState.ACCEPTED}),
    InvitationState.EXPIRED: frozenset({InvitationState.PENDING}),
}


class Invitation(TimestampMixin, db.Model):
    """Change ``state`` only through services.set_invitation_state()."""

    __tablename__ = "invitations"
    __table_args__ = (
        sa.UniqueConstraint("call_id", "expert_id"),
        sa.CheckConstraint("(state IN ('accepted', 'declined')) = (responded_at IS NOT NULL)",
                           name="responded_iff_answered"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    call_id: Mapped[int] = mapped_column(sa.ForeignKey("nomination_calls.id", ondelete="CASCADE"), index=True)
    expert_id: Mapped[int] = mapped_column(sa.ForeignKey("experts.id", ondelete="CASCADE"), index=True)
    state: Mapped[InvitationState] = enum_column(InvitationState, length=10, default=InvitationState.PENDING,
                                                 index=True)
    #: SHA-256 of the secret in the link (the secret itself is never stored). Replaced on resend.
    token_hash: Mapped[str] = mapped_column(sa.String(64), unique=True)
    #: The link stops working at the end of the call's national deadline.
    expires_at: Mapped[dt.datetime]
    sent_at: Mapped[dt.datetime | None]
    responded_at: Mapped[dt.datetime | None]
    reminders_sent: Mapped[int] = mapped_column(default=0)
    last_reminded_at: Mapped[dt.datetime | None]
    #: The answer (accept): role wanted, motivation, availability, conflicts of interest.
    role_wanted: Mapped[str | None] = mapped_column(sa.String(40))
    motivation: Mapped[str] = mapped_column(sa.Text, default="")
    availability: Mapped[str] = mapped_column(sa.String(500), default="")
    has_conflict: Mapped[bool] = mapped_column(default=False)
    conflict_note: Mapped[str] = mapped_column(sa.Text, default="")
    #: The answer (decline).
    decline_reason: Mapped[str] = mapped_column(sa.Text, default="")
    subject: Mapped[str] = mapped_column(sa.String(300), default="")
    #: The personalised message as sent (placeholders filled in), for the record.
    body: Mapped[str] = mapped_column(sa.Text, default="")
    version: Mapped[int] = mapped_column(default=1)

    __mapper_args__ = {"version_id_col": version}

    call = relationship("NominationCall", lazy="joined")
    expert = relationship("Expert", lazy="joined")

    def can_respond(self, now: dt.datetime) -> bool:
        return self.state != InvitationState.EXPIRED and now < self.expires_at and not self.call.is_locked


class InvitationTemplate(TimestampMixin, db.Model):
    """A reusable invitation text in one language, with {placeholders}."""

    __tablename__ = "invitation_templates"
    __table_args__ = (sa.UniqueConstraint("name", "language"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(sa.String(100))
    language: Mapped[str] = mapped_column(sa.String(8), default="en")
    subject: Mapped[str] = mapped_column(sa.String(300))
    #: Plain text with {name}, {first_name}, {call}, {deliverable}, {national_deadline},
    #: {application_deadline}, {nomination_deadline}, {link}.
    body: Mapped[str] = mapped_column(sa.Text)
