"""Reference data shipped with the package (IPBES deliverables, vocabularies, plenary sessions)."""
from __future__ import annotations

import datetime as dt

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from focalpoint.extensions import db


class Deliverable(db.Model):
    """An IPBES deliverable: an assessment, a task force, ... (calls and consultations refer to it)."""

    __tablename__ = "deliverables"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(sa.String(60), unique=True)
    short_name: Mapped[str] = mapped_column(sa.String(200))
    title: Mapped[str] = mapped_column(sa.String(500))
    #: thematic, methodological, regional, global, task force ...
    type: Mapped[str] = mapped_column(sa.String(60))
    year: Mapped[int | None]
    status: Mapped[str] = mapped_column(sa.String(300), default="")
    doi: Mapped[str | None] = mapped_column(sa.String(100))

    def __str__(self) -> str:
        return self.short_name


class ReferenceTerm(db.Model):
    """An entry of a controlled vocabulary: expert_role, discipline, un_region, gbf_target."""

    __tablename__ = "reference_terms"
    __table_args__ = (sa.UniqueConstraint("vocabulary", "code"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    vocabulary: Mapped[str] = mapped_column(sa.String(40), index=True)
    code: Mapped[str] = mapped_column(sa.String(60))
    label: Mapped[str] = mapped_column(sa.String(300))
    note: Mapped[str] = mapped_column(sa.String(300), default="")
    position: Mapped[int] = mapped_column(default=0)

    def __str__(self) -> str:
        return self.label


class PlenarySession(db.Model):
    """A session of the IPBES Plenary (IPBES-12 ...)."""

    __tablename__ = "plenary_sessions"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(sa.String(20), unique=True)
    place: Mapped[str] = mapped_column(sa.String(200), default="")
    start_date: Mapped[dt.date | None]
    end_date: Mapped[dt.date | None]
    #: The secretariat notification the session was started from (staff-added sessions).
    notification_id: Mapped[int | None] = mapped_column(sa.ForeignKey("notifications.id", ondelete="SET NULL"))

    def __str__(self) -> str:
        return self.code
