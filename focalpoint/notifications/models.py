"""Feed sources, fetch logs, notifications and their deadlines."""
from __future__ import annotations

import datetime as dt
from enum import StrEnum

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from focalpoint.db import TimestampMixin, enum_column, utcnow
from focalpoint.extensions import db


class NotificationKind(StrEnum):
    EXPERT_CALL = "expert_call"
    FELLOW_CALL = "fellow_call"
    OFFICIALS_CALL = "officials_call"
    REVIEW = "review"
    PLENARY = "plenary"
    INPUTS_CALL = "inputs_call"
    OFFERS_CALL = "offers_call"
    EVENT = "event"
    OTHER = "other"


class NotificationStatus(StrEnum):
    NEW = "new"
    IN_PROGRESS = "in_progress"
    DONE = "done"
    ARCHIVED = "archived"


#: Allowed status moves. Reopening (done → in_progress) and restoring (archived → new) are deliberate.
STATUS_TRANSITIONS: dict[NotificationStatus, frozenset[NotificationStatus]] = {
    NotificationStatus.NEW: frozenset({NotificationStatus.IN_PROGRESS, NotificationStatus.DONE,
                                       NotificationStatus.ARCHIVED}),
    NotificationStatus.IN_PROGRESS: frozenset({NotificationStatus.NEW, NotificationStatus.DONE,
                                               NotificationStatus.ARCHIVED}),
    NotificationStatus.DONE: frozenset({NotificationStatus.IN_PROGRESS, NotificationStatus.ARCHIVED}),
    NotificationStatus.ARCHIVED: frozenset({NotificationStatus.NEW}),
}


class Origin(StrEnum):
    FEED = "feed"
    MANUAL = "manual"
    EMAIL = "email"


class FeedSource(TimestampMixin, db.Model):
    __tablename__ = "feed_sources"
    __table_args__ = (sa.CheckConstraint("interval_minutes >= 5", name="interval_min"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(sa.String(100), unique=True)
    url: Mapped[str] = mapped_column(sa.String(2000))
    is_active: Mapped[bool] = mapped_column(default=True)
    interval_minutes: Mapped[int] = mapped_column(default=60)
    #: Validators from the last 200 answer, sent back for a conditional GET.
    etag: Mapped[str | None] = mapped_column(sa.String(500))
    last_modified: Mapped[str | None] = mapped_column(sa.String(100))
    last_polled_at: Mapped[dt.datetime | None]
    last_success_at: Mapped[dt.datetime | None]
    last_error: Mapped[str | None] = mapped_column(sa.String(500))
    last_error_at: Mapped[dt.datetime | None]
    #: Failures in a row since the last success.
    error_count: Mapped[int] = mapped_column(default=0)
    #: When the scheduler should poll next; claimed with a conditional UPDATE so one process polls.
    next_poll_at: Mapped[dt.datetime | None] = mapped_column(index=True)

    logs: Mapped[list[FetchLog]] = relationship(back_populates="source", cascade="all, delete-orphan",
                                                passive_deletes=True, order_by="FetchLog.id.desc()",
                                                lazy="raise")

    @property
    def has_error(self) -> bool:
        return self.last_error is not None

    def __str__(self) -> str:
        return self.name


class FetchLog(db.Model):
    """One poll of one source: what happened and how long it took."""

    __tablename__ = "fetch_logs"

    id: Mapped[int] = mapped_column(primary_key=True)
    source_id: Mapped[int] = mapped_column(sa.ForeignKey("feed_sources.id", ondelete="CASCADE"), index=True)
    started_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    duration_ms: Mapped[int] = mapped_column(default=0)
    #: ok, not_modified or error
    outcome: Mapped[str] = mapped_column(sa.String(20))
    http_status: Mapped[int | None]
    items_seen: Mapped[int] = mapped_column(default=0)
    items_new: Mapped[int] = mapped_column(default=0)
    items_updated: Mapped[int] = mapped_column(default=0)
    error_code: Mapped[str | None] = mapped_column(sa.String(40))
    error: Mapped[str | None] = mapped_column(sa.String(500))

    source: Mapped[FeedSource] = relationship(back_populates="logs")


class Notification(TimestampMixin, db.Model):
    __tablename__ = "notifications"
    __table_args__ = (
        sa.UniqueConstraint("source_id", "guid"),
        sa.Index("ix_notifications_status_published", "status", "published_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    source_id: Mapped[int | None] = mapped_column(sa.ForeignKey("feed_sources.id", ondelete="SET NULL"))
    origin: Mapped[Origin] = enum_column(Origin, length=10, default=Origin.FEED)
    #: The feed's entry id (or "manual:…" / "email:<Message-ID>").
    guid: Mapped[str] = mapped_column(sa.String(500))
    link: Mapped[str | None] = mapped_column(sa.String(2000))
    title: Mapped[str] = mapped_column(sa.String(1000))
    #: The body as sanitised HTML (nh3 at ingestion, and again when rendered).
    summary_html: Mapped[str] = mapped_column(sa.Text, default="")
    #: The body as plain text (search, extraction).
    text: Mapped[str] = mapped_column(sa.Text, default="")
    #: sha256 of title + text + link, to notice a changed feed entry.
    content_hash: Mapped[str] = mapped_column(sa.String(64), default="")
    published_at: Mapped[dt.datetime | None]

    reference: Mapped[str | None] = mapped_column(sa.String(40), index=True)
    is_reminder: Mapped[bool] = mapped_column(default=False)
    related_references: Mapped[list[str]] = mapped_column(sa.JSON, default=list)
    kind: Mapped[NotificationKind] = enum_column(NotificationKind, length=20, default=NotificationKind.OTHER)
    #: The classifier's own answer and the rule that decided (kept when staff override ``kind``).
    kind_auto: Mapped[NotificationKind] = enum_column(NotificationKind, length=20, default=NotificationKind.OTHER)
    kind_rule: Mapped[str] = mapped_column(sa.String(200), default="")
    is_kind_overridden: Mapped[bool] = mapped_column(default=False)

    #: The notification this one reminds of or extends (by cited reference).
    original_id: Mapped[int | None] = mapped_column(sa.ForeignKey("notifications.id", ondelete="SET NULL"),
                                                     index=True)
    #: The first notification received with the same reference (a relay's copy points to it).
    duplicate_of_id: Mapped[int | None] = mapped_column(sa.ForeignKey("notifications.id", ondelete="SET NULL"),
                                                         index=True)

    status: Mapped[NotificationStatus] = enum_column(NotificationStatus, length=16, default=NotificationStatus.NEW)
    assignee_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id", ondelete="SET NULL"), index=True)
    #: The NFP's own deadline; computed from the secretariat's unless set by staff.
    national_deadline: Mapped[dt.date | None]
    is_national_deadline_manual: Mapped[bool] = mapped_column(default=False)
    #: Optimistic lock: every UPDATE checks it (RELIABILITY 2.1).
    version: Mapped[int] = mapped_column(default=1)

    __mapper_args__ = {"version_id_col": version}

    source: Mapped[FeedSource | None] = relationship(lazy="joined")
    assignee = relationship("User", lazy="joined")
    deadlines: Mapped[list[Deadline]] = relationship(
        back_populates="notification", cascade="all, delete-orphan", passive_deletes=True,
        order_by="(Deadline.date, Deadline.id)")
    notes: Mapped[list[NotificationNote]] = relationship(
        back_populates="notification", cascade="all, delete-orphan", passive_deletes=True,
        order_by="NotificationNote.id")
    original: Mapped[Notification | None] = relationship(
        remote_side="Notification.id", foreign_keys=[original_id])
    duplicate_of: Mapped[Notification | None] = relationship(
        remote_side="Notification.id", foreign_keys=[duplicate_of_id])

    @property
    def active_deadlines(self) -> list[Deadline]:
        return [d for d in self.deadlines if not d.is_removed]

    @property
    def earliest_deadline(self) -> Deadline | None:
        items = self.active_deadlines
        return min(items, key=lambda d: d.due_at) if items else None

    def __str__(self) -> str:
        return self.title


class Deadline(db.Model):
    """A secretariat deadline found in (or added to) a notification."""

    __tablename__ = "notification_deadlines"

    id: Mapped[int] = mapped_column(primary_key=True)
    notification_id: Mapped[int] = mapped_column(sa.ForeignKey("notifications.id", ondelete="CASCADE"),
                                                 index=True)
    #: The calendar date as the secretariat wrote it.
    date: Mapped[dt.date]
    #: The time of day when stated, else None (the end of that day is meant).
    time: Mapped[dt.time | None]
    #: IANA zone of the stated time (the secretariat's zone when none was stated).
    tz: Mapped[str | None] = mapped_column(sa.String(64))
    #: The moment it falls due, in UTC: what lists sort and compare on.
    due_at: Mapped[dt.datetime] = mapped_column(index=True)
    label: Mapped[str] = mapped_column(sa.String(60), default="deadline")
    #: The sentence it came from ("" for one staff added).
    text: Mapped[str] = mapped_column(sa.String(1000), default="")
    #: title, text or staff
    source: Mapped[str] = mapped_column(sa.String(10), default="text")
    #: Staff marked a wrongly extracted deadline as not a deadline; kept so re-extraction respects it.
    is_removed: Mapped[bool] = mapped_column(default=False)
    #: Staff changed date, time or label.
    is_corrected: Mapped[bool] = mapped_column(default=False)

    notification: Mapped[Notification] = relationship(back_populates="deadlines")


class NotificationNote(db.Model):
    __tablename__ = "notification_notes"

    id: Mapped[int] = mapped_column(primary_key=True)
    notification_id: Mapped[int] = mapped_column(sa.ForeignKey("notifications.id", ondelete="CASCADE"),
                                                 index=True)
    author_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id", ondelete="SET NULL"))
    body: Mapped[str] = mapped_column(sa.Text)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)

    notification: Mapped[Notification] = relationship(back_populates="notes")
    author = relationship("User", lazy="joined")
