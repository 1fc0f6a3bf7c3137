"""The e-mail outbox: mail is written in the same transaction as the change that causes it, and
delivered later by the scheduler (SMTP, or a local maildir when no SMTP server is configured).

A mail server being down loses nothing: rows wait with back-off until delivery works.
"""
from __future__ import annotations

import datetime as dt
from enum import StrEnum

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from focalpoint.db import enum_column, utcnow
from focalpoint.extensions import db


class OutboxStatus(StrEnum):
    PENDING = "pending"
    SENDING = "sending"
    SENT = "sent"
    #: Gave up after the maximum number of attempts.
    DEAD = "dead"


class OutboxMessage(db.Model):
    __tablename__ = "outbox_messages"
    __table_args__ = (sa.Index("ix_outbox_messages_due", "status", "next_attempt_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    #: Unique per logical e-mail (e.g. "invitation:12:sent:1"): queueing twice adds one row.
    idem_key: Mapped[str] = mapped_column(sa.String(200), unique=True)
    to_addr: Mapped[str] = mapped_column(sa.String(254))
    subject: Mapped[str] = mapped_column(sa.String(300))
    text_body: Mapped[str] = mapped_column(sa.Text)
    html_body: Mapped[str] = mapped_column(sa.Text)
    #: Extra headers (e.g. Reply-To, List-Unsubscribe) as a dict.
    headers: Mapped[dict] = mapped_column(sa.JSON, default=dict)
    status: Mapped[OutboxStatus] = enum_column(OutboxStatus, length=10, default=OutboxStatus.PENDING)
    attempts: Mapped[int] = mapped_column(default=0)
    next_attempt_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    last_error: Mapped[str | None] = mapped_column(sa.String(500))
    claimed_by: Mapped[str | None] = mapped_column(sa.String(100))
    claimed_at: Mapped[dt.datetime | None]
    sent_at: Mapped[dt.datetime | None]
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    #: What the mail is about (for the record and for tests): "invitation", "reminder", …
    category: Mapped[str] = mapped_column(sa.String(40), default="")
    related_type: Mapped[str | None] = mapped_column(sa.String(40))
    related_id: Mapped[int | None]


def queue_email(*, to: str, subject: str, text: str, html: str, idem_key: str, category: str = "",
                related=None, headers: dict | None = None) -> OutboxMessage | None:
    """Put an e-mail in the outbox, in the caller's transaction (flushes; the caller commits).

    Returns None when a mail with the same ``idem_key`` was queued before (nothing is added), so a
    double click or a job run twice never sends twice. Every mail has a plain-text and an HTML part.
    """
    if not to or not subject or not text or not html:
        raise ValueError("an e-mail needs a recipient, a subject, a text part and an HTML part")
    exists = db.session.scalar(sa.select(OutboxMessage.id).where(OutboxMessage.idem_key == idem_key))
    if exists is not None:
        return None
    message = OutboxMessage(
        idem_key=idem_key[:200], to_addr=to.strip()[:254], subject=" ".join(subject.split())[:300], text_body=text,
        html_body=html, headers=dict(headers or {}), status=OutboxStatus.PENDING, attempts=0,
        next_attempt_at=utcnow(), category=category[:40],
        related_type=type(related).__tablename__ if related is not None else None,
        related_id=getattr(related, "id", None),
    )
    db.session.add(message)
    db.session.flush()
    return message


def render_email(template_base: str, **context) -> tuple[str, str]:
    """Render ``templates/<template_base>.txt`` and ``.html`` (the two parts of one e-mail)."""
    from flask import render_template

    return render_template(f"{template_base}.txt", **context), render_template(f"{template_base}.html", **context)
