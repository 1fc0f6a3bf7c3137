"""Polling feed sources: thin jobs that own their transactions.

A poll never holds a database transaction while it waits for the network: the source is read,
the transaction ends, the feed is fetched and parsed, then one transaction stores the result.
"""
from __future__ import annotations

import datetime as dt
import logging
import time
from dataclasses import dataclass

import sqlalchemy as sa
from flask import current_app

from focalpoint.db import utcnow
from focalpoint.extensions import db
from focalpoint.notifications.feeds import FeedError, fetch, parse_feed
from focalpoint.notifications.models import FeedSource
from focalpoint.notifications.services import (IngestCounts, claim_source, due_source_ids, ingest_entries,
                                               record_poll, schedule_next_poll)

log = logging.getLogger(__name__)


@dataclass
class PollSummary:
    source: str
    outcome: str  # ok, not_modified, error
    seen: int = 0
    new: int = 0
    updated: int = 0
    duration_ms: int = 0
    error: str | None = None

    @property
    def failed(self) -> bool:
        return self.outcome == "error"

    def line(self) -> str:
        if self.failed:
            return f"{self.source}: ERROR {self.error} ({self.duration_ms} ms)"
        if self.outcome == "not_modified":
            return f"{self.source}: not modified ({self.duration_ms} ms)"
        return (f"{self.source}: {self.seen} items, {self.new} new, {self.updated} updated "
                f"({self.duration_ms} ms)")


def poll_source(source_id: int) -> PollSummary:
    """Fetch, parse and store one source now; commits. Never raises for a bad feed."""
    cfg = current_app.config
    source = db.session.get(FeedSource, source_id)
    if source is None:
        db.session.rollback()
        return PollSummary(source=f"#{source_id}", outcome="error", error="no such source")
    name, url, etag, last_modified = source.name, source.url, source.etag, source.last_modified
    db.session.commit()  # no lock held while waiting for the network

    started_at = utcnow()
    t0 = time.monotonic()
    error: FeedError | None = None
    result = parsed = None
    try:
        result = fetch(url, etag=etag, last_modified=last_modified, total_timeout=cfg["FEED_TOTAL_TIMEOUT"],
                       max_bytes=cfg["FEED_MAX_BYTES"], max_redirects=cfg["FEED_MAX_REDIRECTS"],
                       block_private=cfg["FEED_BLOCK_PRIVATE"])
        if result.status != 304:
            # The final URL resolves the feed's relative links (unless the server named another base).
            parsed = parse_feed(result.body, {"content-location": result.url, **result.headers})
    except FeedError as exc:
        error = exc
    except Exception as exc:  # a bug or an exotic failure must not stop the other sources
        log.exception("unexpected error polling %s", name)
        error = FeedError(f"Unexpected error: {type(exc).__name__}")
        error.code = "internal"

    outcome = "error" if error else ("not_modified" if result.status == 304 else "ok")
    counts = IngestCounts()
    try:
        source = db.session.get(FeedSource, source_id)
        if source is None:  # deleted while we were fetching
            db.session.rollback()
            return PollSummary(source=name, outcome="error", error="source deleted during the poll")
        if parsed is not None:
            counts = ingest_entries(source, parsed.entries)
        duration_ms = int((time.monotonic() - t0) * 1000)
        record_poll(source, started_at=started_at, duration_ms=duration_ms, outcome=outcome,
                    http_status=result.status if result else None, counts=counts, error=error,
                    etag=result.etag if result else None, last_modified=result.last_modified if result else None)
        schedule_next_poll(source, after=started_at - dt.timedelta(seconds=30))
        db.session.commit()
    except Exception as exc:
        db.session.rollback()
        log.exception("could not store the poll of %s", name)
        error = FeedError(f"Could not store the feed's items: {type(exc).__name__}")
        error.code = "storage"
        source = db.session.get(FeedSource, source_id)
        if source is not None:
            duration_ms = int((time.monotonic() - t0) * 1000)
            record_poll(source, started_at=started_at, duration_ms=duration_ms, outcome="error", error=error)
            schedule_next_poll(source)
            db.session.commit()
        counts, outcome = IngestCounts(), "error"
    duration_ms = int((time.monotonic() - t0) * 1000)
    return PollSummary(source=name, outcome=outcome, seen=counts.seen, new=counts.new, updated=counts.updated,
                       duration_ms=duration_ms, error=str(error) if error else None)


def poll_sources(names: list[str] | None = None) -> list[PollSummary]:
    """Poll the named sources (all active ones when none are named), one after the other."""
    stmt = sa.select(FeedSource.id).order_by(FeedSource.name)
    stmt = stmt.where(FeedSource.name.in_(names)) if names else stmt.where(FeedSource.is_active.is_(True))
    ids = db.session.scalars(stmt).all()
    db.session.commit()
    return [poll_source(source_id) for source_id in ids]


def poll_if_due(source_id: int) -> PollSummary | None:
    """Scheduler job for one source: poll only if this process wins the claim."""
    if not claim_source(source_id, utcnow()):
        db.session.rollback()
        return None
    db.session.commit()
    return poll_source(source_id)


def poll_due_sources() -> list[PollSummary]:
    """Poll every source that is due; safe to run in several processes at once."""
    ids = due_source_ids(utcnow())
    db.session.commit()
    done = []
    for source_id in ids:
        summary = poll_if_due(source_id)
        if summary is not None:
            done.append(summary)
    return done
