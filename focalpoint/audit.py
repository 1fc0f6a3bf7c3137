"""The audit trail: who did what to which object, and when."""
from __future__ import annotations

import datetime as dt
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from focalpoint.db import utcnow
from focalpoint.extensions import db


class AuditEntry(db.Model):
    __tablename__ = "audit_entries"
    __table_args__ = (sa.Index("ix_audit_entries_object", "object_type", "object_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[dt.datetime] = mapped_column(default=utcnow, index=True)
    #: None for the system (scheduler, command line without a user).
    actor_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id", ondelete="SET NULL"))
    object_type: Mapped[str] = mapped_column(sa.String(40))
    object_id: Mapped[int | None]
    #: Dotted verb, e.g. "notification.status".
    action: Mapped[str] = mapped_column(sa.String(60))
    data: Mapped[dict[str, Any]] = mapped_column(sa.JSON, default=dict)

    actor = relationship("User", lazy="joined")


def log_action(obj, action: str, *, actor=None, data: dict[str, Any] | None = None) -> AuditEntry:
    """Record ``action`` on ``obj`` (flushes; the caller commits)."""
    if hasattr(obj, "_get_current_object"):  # current_user and other proxies
        obj = obj._get_current_object()
    if obj is not None and getattr(obj, "id", None) is None:
        db.session.flush()
    entry = AuditEntry(
        actor_id=getattr(actor, "id", None),
        object_type=type(obj).__tablename__ if obj is not None else "system",
        object_id=getattr(obj, "id", None),
        action=action,
        data=_jsonable(data or {}),
    )
    db.session.add(entry)
    return entry


def _jsonable(value):
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set)):
        return [_jsonable(v) for v in value]
    if isinstance(value, (dt.date, dt.datetime, dt.time)):
        return value.isoformat()
    if value is None or isinstance(value, (str, int, float, bool)):
        return value
    return str(value)


def entries_for(obj, limit: int = 200) -> list[AuditEntry]:
    return db.session.scalars(
        sa.select(AuditEntry)
        .where(AuditEntry.object_type == type(obj).__tablename__, AuditEntry.object_id == obj.id)
        .order_by(AuditEntry.at.desc(), AuditEntry.id.desc())
        .limit(limit)
    ).all()
