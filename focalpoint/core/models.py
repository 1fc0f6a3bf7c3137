"""Infrastructure tables: job leases, so a job runs once however many schedulers run."""
from __future__ import annotations

import datetime as dt

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from focalpoint.extensions import db


class JobLease(db.Model):
    """A named lease: whoever holds an unexpired lease runs the job; others skip it."""

    __tablename__ = "job_leases"

    name: Mapped[str] = mapped_column(sa.String(100), primary_key=True)
    holder: Mapped[str] = mapped_column(sa.String(100))
    expires_at: Mapped[dt.datetime]
    last_run_at: Mapped[dt.datetime | None]
