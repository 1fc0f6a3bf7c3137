"""Plenary preparation: sessions' agendas and documents, position notes, their versions, review and clearance."""
from __future__ import annotations

import datetime as dt
from enum import StrEnum

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from focalpoint.db import TimestampMixin, enum_column, utcnow
from focalpoint.extensions import db


class NoteStatus(StrEnum):
    DRAFT = "draft"
    IN_REVIEW = "in_review"
    #: Every requested administration cleared the latest version: the note is locked.
    APPROVED = "approved"


class ClearanceDecision(StrEnum):
    CLEARED = "cleared"
    OBJECTED = "objected"


#: The sections of a position note, in order (Markdown each).
NOTE_SECTIONS = ("background", "national_position", "eu_position", "fallback")


class AgendaItem(db.Model):
    __tablename__ = "plenary_agenda_items"
    __table_args__ = (sa.UniqueConstraint("session_id", "number"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    session_id: Mapped[int] = mapped_column(sa.ForeignKey("plenary_sessions.id", ondelete="CASCADE"), index=True)
    #: As the provisional agenda writes it: "7 (b)", "12".
    number: Mapped[str] = mapped_column(sa.String(20))
    title: Mapped[str] = mapped_column(sa.String(500))
    #: Sort key (natural order of the numbers, set by the services).
    position: Mapped[int] = mapped_column(default=0)

    session = relationship("PlenarySession", lazy="joined")

    def __str__(self) -> str:
        return f"Item {self.number}: {self.title}"


class SessionDocument(db.Model):
    """A working document (IPBES/12/3) or an information document (IPBES/12/INF/4) of a session."""

    __tablename__ = "plenary_documents"
    __table_args__ = (sa.UniqueConstraint("session_id", "symbol"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    session_id: Mapped[int] = mapped_column(sa.ForeignKey("plenary_sessions.id", ondelete="CASCADE"), index=True)
    symbol: Mapped[str] = mapped_column(sa.String(40))
    title: Mapped[str] = mapped_column(sa.String(500))
    url: Mapped[str] = mapped_column(sa.String(1000), default="")
    #: The agenda item the document belongs to, when known.
    agenda_item_id: Mapped[int | None] = mapped_column(sa.ForeignKey("plenary_agenda_items.id", ondelete="SET NULL"),
                                                       index=True)
    position: Mapped[int] = mapped_column(default=0)

    agenda_item = relationship("AgendaItem", lazy="joined")

    @property
    def is_information(self) -> bool:
        return "/INF/" in self.symbol.upper()


note_documents = sa.Table(
    "position_note_documents", db.metadata,
    sa.Column("note_id", sa.ForeignKey("position_notes.id", ondelete="CASCADE"), primary_key=True),
    sa.Column("document_id", sa.ForeignKey("plenary_documents.id", ondelete="CASCADE"), primary_key=True, index=True),
)


class PositionNote(TimestampMixin, db.Model):
    """The national position on one agenda item. Its texts are those of the latest version.

    Saving goes through services (a new NoteVersion each time); ``version`` is the optimistic lock, so a
    save over a newer version is refused, never silently overwriting.
    """

    __tablename__ = "position_notes"

    id: Mapped[int] = mapped_column(primary_key=True)
    agenda_item_id: Mapped[int] = mapped_column(sa.ForeignKey("plenary_agenda_items.id", ondelete="CASCADE"),
                                                unique=True)
    title: Mapped[str] = mapped_column(sa.String(300), default="")
    status: Mapped[NoteStatus] = enum_column(NoteStatus, length=12, default=NoteStatus.DRAFT, index=True)
    background: Mapped[str] = mapped_column(sa.Text, default="")
    national_position: Mapped[str] = mapped_column(sa.Text, default="")
    eu_position: Mapped[str] = mapped_column(sa.Text, default="")
    fallback: Mapped[str] = mapped_column(sa.Text, default="")
    #: Number of the latest NoteVersion (0 before the first save).
    current_version: Mapped[int] = mapped_column(default=0)
    approved_at: Mapped[dt.datetime | None]
    created_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id", ondelete="SET NULL"))
    version: Mapped[int] = mapped_column(default=1)

    __mapper_args__ = {"version_id_col": version}

    agenda_item: Mapped[AgendaItem] = relationship(lazy="joined")
    documents = relationship("SessionDocument", secondary=note_documents, lazy="selectin",
                             order_by="SessionDocument.position, SessionDocument.symbol")

    @property
    def is_locked(self) -> bool:
        return self.status == NoteStatus.APPROVED


class NoteVersion(db.Model):
    """Every save of a note, kept whole (diffs are computed between any two)."""

    __tablename__ = "position_note_versions"
    __table_args__ = (sa.UniqueConstraint("note_id", "number"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    note_id: Mapped[int] = mapped_column(sa.ForeignKey("position_notes.id", ondelete="CASCADE"), index=True)
    number: Mapped[int]
    background: Mapped[str] = mapped_column(sa.Text, default="")
    national_position: Mapped[str] = mapped_column(sa.Text, default="")
    eu_position: Mapped[str] = mapped_column(sa.Text, default="")
    fallback: Mapped[str] = mapped_column(sa.Text, default="")
    #: What changed, in the author's words (optional).
    summary: Mapped[str] = mapped_column(sa.String(500), default="")
    author_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)

    author = relationship("User", lazy="joined")


class ReviewRequest(TimestampMixin, db.Model):
    """Staff asked one administration to review a note by a due date."""

    __tablename__ = "position_review_requests"
    __table_args__ = (sa.UniqueConstraint("note_id", "administration_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    note_id: Mapped[int] = mapped_column(sa.ForeignKey("position_notes.id", ondelete="CASCADE"), index=True)
    administration_id: Mapped[int] = mapped_column(sa.ForeignKey("administrations.id", ondelete="CASCADE"),
                                                   index=True)
    due_date: Mapped[dt.date] = mapped_column(index=True)
    requested_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id", ondelete="SET NULL"))
    requested_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    #: Withdrawn by staff: no longer needed for approval (the history stays).
    withdrawn_at: Mapped[dt.datetime | None]
    version: Mapped[int] = mapped_column(default=1)

    __mapper_args__ = {"version_id_col": version}

    note: Mapped[PositionNote] = relationship(lazy="joined")
    administration = relationship("Administration", lazy="joined")


class Clearance(db.Model):
    """A reviewer's decision on one version of a note for their administration (the latest per request counts)."""

    __tablename__ = "position_clearances"

    id: Mapped[int] = mapped_column(primary_key=True)
    request_id: Mapped[int] = mapped_column(sa.ForeignKey("position_review_requests.id", ondelete="CASCADE"),
                                            index=True)
    #: The NoteVersion.number decided on: a newer version of the note reopens clearance.
    note_version: Mapped[int]
    decision: Mapped[ClearanceDecision] = enum_column(ClearanceDecision, length=10)
    reason: Mapped[str] = mapped_column(sa.Text, default="")
    user_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)

    request: Mapped[ReviewRequest] = relationship(lazy="joined")
    user = relationship("User", lazy="joined")


class NoteComment(TimestampMixin, db.Model):
    """A reviewer's comment on a paragraph of a note, or staff's answer to one (``parent_id``)."""

    __tablename__ = "position_note_comments"

    id: Mapped[int] = mapped_column(primary_key=True)
    note_id: Mapped[int] = mapped_column(sa.ForeignKey("position_notes.id", ondelete="CASCADE"), index=True)
    #: The version the comment was written on.
    note_version: Mapped[int]
    #: Which section (NOTE_SECTIONS) and paragraph (1-based) it is about; None = the note as a whole.
    section: Mapped[str | None] = mapped_column(sa.String(30))
    paragraph: Mapped[int | None]
    #: The paragraph's text when the comment was written (it may change afterwards).
    quote: Mapped[str] = mapped_column(sa.Text, default="")
    body: Mapped[str] = mapped_column(sa.Text)
    author_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id", ondelete="SET NULL"))
    #: The reviewer's administration (None for staff answers).
    administration_id: Mapped[int | None] = mapped_column(sa.ForeignKey("administrations.id", ondelete="SET NULL"))
    parent_id: Mapped[int | None] = mapped_column(sa.ForeignKey("position_note_comments.id", ondelete="CASCADE"),
                                                  index=True)
    resolved_at: Mapped[dt.datetime | None]

    author = relationship("User", lazy="joined")
    administration = relationship("Administration", lazy="joined")
