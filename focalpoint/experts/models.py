"""The national expert registry."""
from __future__ import annotations

import datetime as dt
from enum import StrEnum

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from focalpoint.db import TimestampMixin, enum_column
from focalpoint.extensions import db


class Gender(StrEnum):
    FEMALE = "female"
    MALE = "male"
    NON_BINARY = "non_binary"
    UNDISCLOSED = "undisclosed"


class CareerStage(StrEnum):
    #: Students, PhD candidates and researchers within about ten years of their PhD (IPBES fellows).
    EARLY = "early"
    MID = "mid"
    SENIOR = "senior"


class Availability(StrEnum):
    AVAILABLE = "available"
    LIMITED = "limited"
    UNAVAILABLE = "unavailable"


class ExpertStatus(StrEnum):
    ACTIVE = "active"
    #: Came in by themselves (public face): staff review before they take part in matching.
    PENDING_REVIEW = "pending_review"
    #: Personal data removed at the person's request; the row stays for anonymised counts.
    ERASED = "erased"


#: Tags attached to an expert: reference terms of the vocabularies discipline, expert_role
#: (roles wanted), gbf_target and ecosystem.
expert_terms = sa.Table(
    "expert_terms", db.metadata,
    sa.Column("expert_id", sa.ForeignKey("experts.id", ondelete="CASCADE"), primary_key=True),
    sa.Column("term_id", sa.ForeignKey("reference_terms.id", ondelete="CASCADE"), primary_key=True, index=True),
)

#: IPBES deliverables an expert declares expertise in.
expert_deliverables = sa.Table(
    "expert_deliverables", db.metadata,
    sa.Column("expert_id", sa.ForeignKey("experts.id", ondelete="CASCADE"), primary_key=True),
    sa.Column("deliverable_id", sa.ForeignKey("deliverables.id", ondelete="CASCADE"), primary_key=True, index=True),
)


class Expert(TimestampMixin, db.Model):
    __tablename__ = "experts"
    __table_args__ = (
        sa.CheckConstraint("email = lower(email)", name="email_lowercase"),
        sa.Index("ix_experts_names", "last_name", "first_name"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    status: Mapped[ExpertStatus] = enum_column(ExpertStatus, length=16, default=ExpertStatus.ACTIVE, index=True)
    first_name: Mapped[str] = mapped_column(sa.String(100), default="")
    last_name: Mapped[str] = mapped_column(sa.String(100), default="")
    #: Lower-case; None only once erased.
    email: Mapped[str | None] = mapped_column(sa.String(254), unique=True)
    affiliation: Mapped[str] = mapped_column(sa.String(300), default="")
    #: Region of the country, a code from the country's configuration (Belgium: flanders, wallonia, …).
    region: Mapped[str | None] = mapped_column(sa.String(40), index=True)
    gender: Mapped[Gender | None] = enum_column(Gender, length=16, nullable=True, index=True)
    career_stage: Mapped[CareerStage | None] = enum_column(CareerStage, length=10, nullable=True, index=True)
    #: "0000-0002-1825-0097" (checksum validated).
    orcid: Mapped[str | None] = mapped_column(sa.String(19), unique=True)
    #: Free keywords, separated by ";" as typed.
    keywords: Mapped[str] = mapped_column(sa.Text, default="")
    #: ISO 639-1 codes of the languages the expert works in ("en;fr;nl").
    languages: Mapped[str] = mapped_column(sa.String(100), default="")
    #: Language of the e-mails sent to the expert (en, fr, nl).
    preferred_language: Mapped[str] = mapped_column(sa.String(8), default="en")
    availability: Mapped[Availability] = enum_column(Availability, length=12, default=Availability.AVAILABLE)
    availability_note: Mapped[str] = mapped_column(sa.String(500), default="")
    #: Consent to be contacted about calls, and to the processing of the data (GDPR), with the version
    #: of the text consented to. None = not given (or withdrawn).
    consent_contact_at: Mapped[dt.datetime | None]
    consent_processing_at: Mapped[dt.datetime | None]
    consent_text_version: Mapped[str | None] = mapped_column(sa.String(20))
    #: The CV, stored under a random name in the instance folder; never served but to staff and the owner.
    cv_file: Mapped[str | None] = mapped_column(sa.String(100))
    cv_filename: Mapped[str | None] = mapped_column(sa.String(255))
    cv_content_type: Mapped[str | None] = mapped_column(sa.String(100))
    cv_size: Mapped[int | None]
    cv_uploaded_at: Mapped[dt.datetime | None]
    user_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id", ondelete="SET NULL"), unique=True)
    #: Staff notes (never shown to the expert).
    notes: Mapped[str] = mapped_column(sa.Text, default="")
    erasure_requested_at: Mapped[dt.datetime | None]
    erased_at: Mapped[dt.datetime | None]
    #: The expert this record was merged into (kept as a tombstone for links and counts).
    merged_into_id: Mapped[int | None] = mapped_column(sa.ForeignKey("experts.id", ondelete="SET NULL"), index=True)
    version: Mapped[int] = mapped_column(default=1)

    __mapper_args__ = {"version_id_col": version}

    terms = relationship("ReferenceTerm", secondary=expert_terms, lazy="selectin", order_by="ReferenceTerm.position")
    deliverables = relationship("Deliverable", secondary=expert_deliverables, lazy="selectin")
    user = relationship("User", lazy="joined")
    roles_held: Mapped[list[PastRole]] = relationship(back_populates="expert", cascade="all, delete-orphan",
                                                      passive_deletes=True, order_by="PastRole.year_from")

    @property
    def name(self) -> str:
        return f"{self.first_name} {self.last_name}".strip() or (self.email or f"#{self.id}")

    def terms_of(self, vocabulary: str) -> list:
        return [t for t in self.terms if t.vocabulary == vocabulary]

    @property
    def is_ilk(self) -> bool:
        return any(t.code == "ilk" for t in self.terms_of("discipline"))

    @property
    def has_consent(self) -> bool:
        return self.consent_contact_at is not None and self.consent_processing_at is not None

    def can_view(self, user) -> bool:
        """Staff see every record; an expert sees only their own."""
        return bool(user and user.is_authenticated and (user.is_staff or (self.user_id and self.user_id == user.id)))

    def __str__(self) -> str:
        return self.name


class PastRole(db.Model):
    """A role an expert held in IPBES: declared by them, or recorded from a selection."""

    __tablename__ = "expert_past_roles"

    id: Mapped[int] = mapped_column(primary_key=True)
    expert_id: Mapped[int] = mapped_column(sa.ForeignKey("experts.id", ondelete="CASCADE"), index=True)
    deliverable_id: Mapped[int | None] = mapped_column(sa.ForeignKey("deliverables.id", ondelete="SET NULL"))
    #: Free text when the deliverable is not in the reference list.
    deliverable_text: Mapped[str] = mapped_column(sa.String(300), default="")
    #: A code of the expert_role vocabulary (CLA, LA, RE, FELLOW …).
    role: Mapped[str] = mapped_column(sa.String(40))
    year_from: Mapped[int | None]
    year_to: Mapped[int | None]
    #: declared (by the expert or staff) or selection (recorded from a nomination call's outcome).
    source: Mapped[str] = mapped_column(sa.String(20), default="declared")
    nomination_id: Mapped[int | None] = mapped_column(sa.ForeignKey("nominations.id", ondelete="SET NULL"))

    expert: Mapped[Expert] = relationship(back_populates="roles_held")
    deliverable = relationship("Deliverable", lazy="joined")
