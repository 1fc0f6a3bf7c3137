"""Nomination calls and the national slate: candidate → endorsed → submitted → selected."""
from __future__ import annotations

import datetime as dt
from enum import StrEnum

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from focalpoint.db import TimestampMixin, enum_column, utcnow
from focalpoint.extensions import db


class NominationState(StrEnum):
    CANDIDATE = "candidate"
    ENDORSED = "endorsed"
    NOT_ENDORSED = "not_endorsed"
    SUBMITTED = "submitted"
    SELECTED = "selected"
    NOT_SELECTED = "not_selected"
    WITHDRAWN = "withdrawn"


#: Allowed moves; "withdrawn" from any state before the selection. Undo edges are deliberate.
NOMINATION_TRANSITIONS: dict[NominationState, frozenset[NominationState]] = {
    NominationState.CANDIDATE: frozenset({NominationState.ENDORSED, NominationState.NOT_ENDORSED,
                                          NominationState.WITHDRAWN}),
    NominationState.ENDORSED: frozenset({NominationState.NOT_ENDORSED, NominationState.SUBMITTED,
                                         NominationState.CANDIDATE, NominationState.WITHDRAWN}),
    NominationState.NOT_ENDORSED: frozenset({NominationState.ENDORSED, NominationState.CANDIDATE,
                                             NominationState.WITHDRAWN}),
    NominationState.SUBMITTED: frozenset({NominationState.SELECTED, NominationState.NOT_SELECTED,
                                          NominationState.WITHDRAWN}),
    NominationState.SELECTED: frozenset(),
    NominationState.NOT_SELECTED: frozenset(),
    NominationState.WITHDRAWN: frozenset({NominationState.CANDIDATE}),
}


#: calls and the roles they seek (codes of the expert_role vocabulary).
call_roles = sa.Table(
    "nomination_call_roles", db.metadata,
    sa.Column("call_id", sa.ForeignKey("nomination_calls.id", ondelete="CASCADE"), primary_key=True),
    sa.Column("term_id", sa.ForeignKey("reference_terms.id", ondelete="CASCADE"), primary_key=True),
)


class NominationCall(TimestampMixin, db.Model):
    """National work on one secretariat call for nominations.

    Open or closed follows from the dates (``is_open``); only human decisions are stored (locking).
    """

    __tablename__ = "nomination_calls"

    id: Mapped[int] = mapped_column(primary_key=True)
    notification_id: Mapped[int | None] = mapped_column(sa.ForeignKey("notifications.id", ondelete="SET NULL"),
                                                        index=True)
    title: Mapped[str] = mapped_column(sa.String(500))
    #: expert_call, fellow_call or officials_call (from the notification's kind).
    call_kind: Mapped[str] = mapped_column(sa.String(20), default="expert_call")
    deliverable_id: Mapped[int | None] = mapped_column(sa.ForeignKey("deliverables.id", ondelete="SET NULL"))
    description: Mapped[str] = mapped_column(sa.Text, default="")
    #: Free keywords used by matching besides the deliverable and roles (";"-separated).
    keywords: Mapped[str] = mapped_column(sa.Text, default="")
    opens_on: Mapped[dt.date | None]
    #: The secretariat's deadlines: experts apply by the first, nominators submit by the second.
    application_deadline: Mapped[dt.date | None]
    nomination_deadline: Mapped[dt.date | None]
    #: The NFP's own deadline for experts' answers (invitation links expire at its end).
    national_deadline: Mapped[dt.date]
    #: Days before the national deadline on which non-responders get a reminder ("7;2").
    reminder_days: Mapped[str] = mapped_column(sa.String(50), default="7;2")
    #: Set by staff: answers can no longer change.
    locked_at: Mapped[dt.datetime | None]
    created_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id", ondelete="SET NULL"))

    notification = relationship("Notification", lazy="joined")
    deliverable = relationship("Deliverable", lazy="joined")
    roles_sought = relationship("ReferenceTerm", secondary=call_roles, lazy="selectin")

    def is_open_on(self, day: dt.date) -> bool:
        return (self.opens_on is None or self.opens_on <= day) and day <= self.national_deadline \
            and self.locked_at is None

    @property
    def is_open(self) -> bool:
        return self.is_open_on(utcnow().date())

    @property
    def is_locked(self) -> bool:
        return self.locked_at is not None

    def __str__(self) -> str:
        return self.title


class Nomination(TimestampMixin, db.Model):
    """An expert on a call's national slate. Change ``state`` only through services.set_nomination_state()."""

    __tablename__ = "nominations"
    __table_args__ = (
        sa.UniqueConstraint("call_id", "expert_id"),
        sa.CheckConstraint("(state = 'selected') = (selected_role IS NOT NULL)", name="selected_has_role"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    call_id: Mapped[int] = mapped_column(sa.ForeignKey("nomination_calls.id", ondelete="CASCADE"), index=True)
    expert_id: Mapped[int] = mapped_column(sa.ForeignKey("experts.id", ondelete="CASCADE"), index=True)
    state: Mapped[NominationState] = enum_column(NominationState, length=16, default=NominationState.CANDIDATE)
    #: Staff's ranking among the candidates (1 = first).
    rank: Mapped[int | None]
    #: Role the national slate puts the expert forward for (expert_role code).
    role: Mapped[str | None] = mapped_column(sa.String(40))
    rationale: Mapped[str] = mapped_column(sa.Text, default="")
    #: The secretariat's outcome: the role the expert was selected for.
    selected_role: Mapped[str | None] = mapped_column(sa.String(40))
    submitted_at: Mapped[dt.datetime | None]
    decided_at: Mapped[dt.datetime | None]
    #: True when the person came forward by themselves (expression of interest), not by invitation.
    came_forward: Mapped[bool] = mapped_column(default=False)
    version: Mapped[int] = mapped_column(default=1)

    __mapper_args__ = {"version_id_col": version}

    call: Mapped[NominationCall] = relationship(lazy="joined")
    expert = relationship("Expert", lazy="joined")


class Lead(db.Model):
    """A colleague suggested by an expert who declined: someone for staff to consider."""

    __tablename__ = "nomination_leads"

    id: Mapped[int] = mapped_column(primary_key=True)
    call_id: Mapped[int] = mapped_column(sa.ForeignKey("nomination_calls.id", ondelete="CASCADE"), index=True)
    suggested_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("experts.id", ondelete="SET NULL"))
    name: Mapped[str] = mapped_column(sa.String(200))
    email: Mapped[str] = mapped_column(sa.String(254), default="")
    note: Mapped[str] = mapped_column(sa.String(1000), default="")
    #: new, invited (an expert record exists and was invited) or dismissed
    status: Mapped[str] = mapped_column(sa.String(12), default="new")
    expert_id: Mapped[int | None] = mapped_column(sa.ForeignKey("experts.id", ondelete="SET NULL"))
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
