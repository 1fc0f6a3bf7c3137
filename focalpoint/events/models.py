"""Information sessions and uptake events: registrations, a waiting list and attendance."""
from __future__ import annotations

import datetime as dt
from enum import StrEnum

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from focalpoint.db import TimestampMixin, enum_column
from focalpoint.extensions import db


class EventKind(StrEnum):
    INFORMATION_SESSION = "information_session"
    UPTAKE_EVENT = "uptake_event"


class RegistrationStatus(StrEnum):
    REGISTERED = "registered"
    #: Beyond the capacity: moves up (first come, first served) when someone cancels.
    WAITLISTED = "waitlisted"
    CANCELLED = "cancelled"


class Event(TimestampMixin, db.Model):
    __tablename__ = "events"
    __table_args__ = (sa.CheckConstraint("ends_at >= starts_at", name="ends_after_start"),
                      sa.CheckConstraint("capacity IS NULL OR capacity > 0", name="capacity_positive"))

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[EventKind] = enum_column(EventKind, length=20, default=EventKind.INFORMATION_SESSION)
    title: Mapped[str] = mapped_column(sa.String(300))
    description: Mapped[str] = mapped_column(sa.Text, default="")
    consultation_id: Mapped[int | None] = mapped_column(sa.ForeignKey("consultations.id", ondelete="SET NULL"),
                                                        index=True)
    deliverable_id: Mapped[int | None] = mapped_column(sa.ForeignKey("deliverables.id", ondelete="SET NULL"))
    starts_at: Mapped[dt.datetime] = mapped_column(index=True)
    ends_at: Mapped[dt.datetime]
    place: Mapped[str] = mapped_column(sa.String(300), default="")
    online_url: Mapped[str] = mapped_column(sa.String(1000), default="")
    #: None = no limit.
    capacity: Mapped[int | None]
    #: Registration closes at this moment (None: at the start).
    registration_closes_at: Mapped[dt.datetime | None]
    #: Shown under /open and open to registration by anyone (the public face); else experts and staff only.
    is_public: Mapped[bool] = mapped_column(default=False)
    cancelled_at: Mapped[dt.datetime | None]
    #: iCalendar: a stable UID, and SEQUENCE bumped at each change attendees should see.
    uid: Mapped[str] = mapped_column(sa.String(100), unique=True)
    sequence: Mapped[int] = mapped_column(default=0)
    created_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id", ondelete="SET NULL"))
    version: Mapped[int] = mapped_column(default=1)

    __mapper_args__ = {"version_id_col": version}

    consultation = relationship("Consultation", lazy="joined")
    deliverable = relationship("Deliverable", lazy="joined")

    def __str__(self) -> str:
        return self.title


class Registration(TimestampMixin, db.Model):
    """Someone registered for an event: an expert of the registry, or anyone else by name and e-mail."""

    __tablename__ = "event_registrations"
    __table_args__ = (sa.UniqueConstraint("event_id", "email"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    event_id: Mapped[int] = mapped_column(sa.ForeignKey("events.id", ondelete="CASCADE"), index=True)
    expert_id: Mapped[int | None] = mapped_column(sa.ForeignKey("experts.id", ondelete="SET NULL"), index=True)
    name: Mapped[str] = mapped_column(sa.String(200))
    #: Lower-case.
    email: Mapped[str] = mapped_column(sa.String(254))
    affiliation: Mapped[str] = mapped_column(sa.String(300), default="")
    status: Mapped[RegistrationStatus] = enum_column(RegistrationStatus, length=12,
                                                     default=RegistrationStatus.REGISTERED, index=True)
    #: None = not recorded yet; True attended; False did not come.
    attended: Mapped[bool | None]
    #: SHA-256 of the secret in the registrant's link (cancel, calendar file) when they have no account.
    token_hash: Mapped[str | None] = mapped_column(sa.String(64), unique=True)
    cancelled_at: Mapped[dt.datetime | None]
    version: Mapped[int] = mapped_column(default=1)

    __mapper_args__ = {"version_id_col": version}

    event: Mapped[Event] = relationship(lazy="joined")
    expert = relationship("Expert", lazy="joined")
