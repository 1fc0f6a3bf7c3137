"""National consultations on IPBES drafts: documents, invited experts, comments and their consolidation."""
from __future__ import annotations

import datetime as dt
from enum import StrEnum

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from focalpoint.db import TimestampMixin, enum_column
from focalpoint.extensions import db


class DraftKind(StrEnum):
    SCOPING = "scoping"
    FOD = "fod"  # first order draft
    SOD = "sod"  # second order draft
    SPM = "spm"  # summary for policymakers
    OTHER = "other"


class CommentType(StrEnum):
    GENERAL = "general"
    SPECIFIC = "specific"
    EDITORIAL = "editorial"


class Decision(StrEnum):
    """Staff's decision on a comment during consolidation (None on the row = not decided yet)."""

    ADOPT = "adopt"
    ADOPT_EDITED = "adopt_edited"
    MERGE = "merge"
    REJECT = "reject"


class CommentSource(StrEnum):
    BROWSER = "browser"
    UPLOAD = "upload"  # the review template uploaded in the browser (by the expert or staff)
    COMMAND = "command"  # focalpoint consultations import


class Consultation(TimestampMixin, db.Model):
    """A national consultation on one IPBES draft. Open or closed follows from the dates."""

    __tablename__ = "consultations"

    id: Mapped[int] = mapped_column(primary_key=True)
    title: Mapped[str] = mapped_column(sa.String(300))
    deliverable_id: Mapped[int | None] = mapped_column(sa.ForeignKey("deliverables.id", ondelete="SET NULL"),
                                                       index=True)
    draft: Mapped[DraftKind] = enum_column(DraftKind, length=10, default=DraftKind.OTHER)
    #: The secretariat notification announcing the review, when it came from the inbox.
    notification_id: Mapped[int | None] = mapped_column(sa.ForeignKey("notifications.id", ondelete="SET NULL"),
                                                        index=True)
    description: Mapped[str] = mapped_column(sa.Text, default="")
    #: Shown to every invited expert before the documents (e.g. "drafts are confidential, do not cite").
    confidentiality_note: Mapped[str] = mapped_column(sa.Text, default="")
    opens_on: Mapped[dt.date]
    #: Comments can be added and edited until the end of this day (in the NFP's time zone).
    closes_on: Mapped[dt.date] = mapped_column(index=True)
    #: Days before the close on which invited experts who have not commented get a reminder ("7;2").
    reminder_days: Mapped[str] = mapped_column(sa.String(50), default="7;2")
    #: The secretariat's own deadline for the integrated comments, when known.
    secretariat_deadline: Mapped[dt.date | None]
    created_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id", ondelete="SET NULL"))
    version: Mapped[int] = mapped_column(default=1)

    __mapper_args__ = {"version_id_col": version}

    deliverable = relationship("Deliverable", lazy="joined")
    notification = relationship("Notification", lazy="joined")
    documents: Mapped[list[ConsultationDocument]] = relationship(
        back_populates="consultation", cascade="all, delete-orphan", passive_deletes=True,
        order_by="ConsultationDocument.position, ConsultationDocument.id", lazy="selectin")

    def __str__(self) -> str:
        return self.title


class ConsultationDocument(db.Model):
    """A draft under review: an uploaded PDF/DOCX (stored under a random name) or a link."""

    __tablename__ = "consultation_documents"
    __table_args__ = (sa.UniqueConstraint("consultation_id", "title"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    consultation_id: Mapped[int] = mapped_column(sa.ForeignKey("consultations.id", ondelete="CASCADE"),
                                                 index=True)
    #: The name used in the template's Document column ("SPM", "Chapter 3" …), unique per consultation.
    title: Mapped[str] = mapped_column(sa.String(200))
    position: Mapped[int] = mapped_column(default=0)
    url: Mapped[str | None] = mapped_column(sa.String(1000))
    stored_file: Mapped[str | None] = mapped_column(sa.String(100))
    filename: Mapped[str | None] = mapped_column(sa.String(255))
    content_type: Mapped[str | None] = mapped_column(sa.String(100))
    size: Mapped[int | None]
    uploaded_at: Mapped[dt.datetime | None]

    consultation: Mapped[Consultation] = relationship(back_populates="documents")


class Participant(TimestampMixin, db.Model):
    """An expert invited to a consultation, with the secret of their personal link (hashed)."""

    __tablename__ = "consultation_participants"
    __table_args__ = (sa.UniqueConstraint("consultation_id", "expert_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    consultation_id: Mapped[int] = mapped_column(sa.ForeignKey("consultations.id", ondelete="CASCADE"),
                                                 index=True)
    expert_id: Mapped[int] = mapped_column(sa.ForeignKey("experts.id", ondelete="CASCADE"), index=True)
    #: SHA-256 of the secret in the personal link; replaced when the invitation is sent again.
    token_hash: Mapped[str | None] = mapped_column(sa.String(64), unique=True)
    invited_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id", ondelete="SET NULL"))
    #: When the invitation e-mail was last queued (None: added but not yet told).
    sent_at: Mapped[dt.datetime | None]
    reminders_sent: Mapped[int] = mapped_column(default=0)
    last_reminded_at: Mapped[dt.datetime | None]
    #: Removed from the consultation by staff: the link stops working, their comments stay.
    removed_at: Mapped[dt.datetime | None]

    consultation: Mapped[Consultation] = relationship(lazy="joined")
    expert = relationship("Expert", lazy="joined")


class ReviewComment(TimestampMixin, db.Model):
    """One comment in the fields of the secretariat's review template, and staff's decision on it.

    The author is kept as written (reviewer name, e-mail, affiliation, country) besides the expert link,
    so the consolidated table keeps who wrote what. Decide only through services.decide_comment().
    """

    __tablename__ = "consultation_comments"
    __table_args__ = (
        sa.Index("ix_consultation_comments_order", "consultation_id", "document_id", "page_from", "line_from"),
        # A target only with a merge decision. (A merge whose target row was deleted keeps the decision with no
        # target — SET NULL — and reads as undecided; services clear such merges when they delete a target.)
        sa.CheckConstraint("merged_into_id IS NULL OR decision = 'merge'", name="target_only_when_merged"),
        sa.CheckConstraint("page_to IS NULL OR page_from IS NULL OR page_to >= page_from", name="page_order"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    consultation_id: Mapped[int] = mapped_column(sa.ForeignKey("consultations.id", ondelete="CASCADE"),
                                                 index=True)
    participant_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("consultation_participants.id", ondelete="SET NULL"), index=True)
    expert_id: Mapped[int | None] = mapped_column(sa.ForeignKey("experts.id", ondelete="SET NULL"), index=True)
    reviewer_name: Mapped[str] = mapped_column(sa.String(200), default="")
    reviewer_email: Mapped[str] = mapped_column(sa.String(254), default="")
    affiliation: Mapped[str] = mapped_column(sa.String(300), default="")
    country: Mapped[str] = mapped_column(sa.String(100), default="")
    document_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("consultation_documents.id", ondelete="SET NULL"))
    #: The document as named when the comment was written (kept if the document is removed).
    document_title: Mapped[str] = mapped_column(sa.String(200), default="")
    chapter: Mapped[str] = mapped_column(sa.String(200), default="")
    page_from: Mapped[int | None]
    line_from: Mapped[int | None]
    page_to: Mapped[int | None]
    line_to: Mapped[int | None]
    comment: Mapped[str] = mapped_column(sa.Text)
    suggested_change: Mapped[str] = mapped_column(sa.Text, default="")
    comment_type: Mapped[CommentType] = enum_column(CommentType, length=10, default=CommentType.SPECIFIC)
    source: Mapped[CommentSource] = enum_column(CommentSource, length=10, default=CommentSource.BROWSER)
    #: Consolidation: None = not decided yet.
    decision: Mapped[Decision | None] = enum_column(Decision, length=14, nullable=True, index=True)
    #: The wording adopted when staff edit it (adopt_edited, or the target of merges).
    edited_comment: Mapped[str] = mapped_column(sa.Text, default="")
    edited_suggested_change: Mapped[str] = mapped_column(sa.Text, default="")
    merged_into_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("consultation_comments.id", ondelete="SET NULL"), index=True)
    staff_note: Mapped[str] = mapped_column(sa.Text, default="")
    decided_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id", ondelete="SET NULL"))
    decided_at: Mapped[dt.datetime | None]
    version: Mapped[int] = mapped_column(default=1)

    __mapper_args__ = {"version_id_col": version}

    document = relationship("ConsultationDocument", lazy="joined")
    participant = relationship("Participant", lazy="select")
    merged_into = relationship("ReviewComment", remote_side="ReviewComment.id", lazy="select")

    @property
    def final_comment(self) -> str:
        return self.edited_comment if self.decision == Decision.ADOPT_EDITED and self.edited_comment \
            else self.comment

    @property
    def final_suggested_change(self) -> str:
        return self.edited_suggested_change if self.decision == Decision.ADOPT_EDITED \
            and self.edited_suggested_change else self.suggested_change
