"""Notification actions: ingestion, extraction, triage and feed sources.

Every function flushes and none commits; the request, command or job that calls them commits.
"""
from __future__ import annotations

import datetime as dt
import email
import email.policy
import hashlib
import uuid
from dataclasses import dataclass, field
from email.utils import parsedate_to_datetime
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import sqlalchemy as sa
from flask import current_app
from flask_babel import gettext as _

from focalpoint.audit import log_action
from focalpoint.db import utcnow
from focalpoint.extensions import db
from focalpoint.notifications import extract as ex
from focalpoint.notifications.feeds import FeedEntry, FeedError, html_to_text, sanitize_html
from focalpoint.notifications.models import (STATUS_TRANSITIONS, Deadline, FeedSource, FetchLog, Notification,
                                             NotificationKind, NotificationNote, NotificationStatus, Origin)


class NotificationError(ValueError):
    """A user-facing refusal (the message is shown as is)."""


class TransitionError(NotificationError):
    def __init__(self, previous, new):
        super().__init__(_("A notification cannot go from %(previous)s to %(new)s.",
                           previous=previous, new=new))
        self.previous, self.new = previous, new


# --- time -----------------------------------------------------------------------------------------
def _zone(name: str | None) -> ZoneInfo:
    try:
        return ZoneInfo(name or current_app.config["SECRETARIAT_TIMEZONE"])
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo(current_app.config["SECRETARIAT_TIMEZONE"])


def due_moment(date: dt.date, time: dt.time | None, tz: str | None) -> dt.datetime:
    """The UTC moment a deadline falls due: its stated time, else the end of that day, in its zone."""
    moment = dt.datetime.combine(date, time or dt.time(23, 59), tzinfo=_zone(tz))
    return moment.astimezone(dt.timezone.utc)


def content_hash(title: str, text: str, link: str | None) -> str:
    return hashlib.sha256("\x1f".join([title or "", text or "", link or ""]).encode("utf-8", "replace")).hexdigest()


# --- extraction -----------------------------------------------------------------------------------
def apply_extraction(n: Notification) -> None:
    """(Re)compute reference, reminder flag, kind and deadlines from the text, keeping staff decisions.

    Staff-added and corrected deadlines stay; deadlines staff removed are not added again;
    an overridden kind stays overridden.
    """
    published = n.published_at.date() if n.published_at else None
    result = ex.extract(n.title or "", n.text or "", published)
    n.reference = result.reference
    n.is_reminder = result.is_reminder
    n.related_references = [r for r in result.related_references if r != result.reference]
    n.kind_auto = NotificationKind(result.kind)
    n.kind_rule = result.kind_rule[:200]
    if not n.is_kind_overridden:
        n.kind = n.kind_auto

    kept: list[Deadline] = []
    suppressed: set[tuple[dt.date, str]] = set()
    for d in list(n.deadlines):
        if d.source == "staff" or d.is_corrected:
            kept.append(d)
        elif d.is_removed:
            kept.append(d)
            suppressed.add((d.date, d.label))
        else:
            n.deadlines.remove(d)
    present = {(d.date, d.label) for d in kept}
    for item in result.deadlines:
        key = (item.date, item.label[:60])
        if key in suppressed or key in present:
            continue
        present.add(key)
        n.deadlines.append(Deadline(
            date=item.date, time=item.time, tz=item.tz, due_at=due_moment(item.date, item.time, item.tz),
            label=item.label[:60], text=item.text[:1000], source=item.source if item.source in ("title", "text") else "text"))
    recompute_national_deadline(n)


def recompute_national_deadline(n: Notification) -> None:
    if n.is_national_deadline_manual:
        return
    dates = [d.date for d in n.deadlines if not d.is_removed]
    n.national_deadline = ex.national_deadline(dates, current_app.config["NATIONAL_DEADLINE_WORKING_DAYS"])


def _link_related(n: Notification, by_reference: dict[str, Notification]) -> None:
    """Attach a reminder to its original and a relay's copy to the first notification received."""
    if n.is_reminder:
        for ref in [*n.related_references, *([n.reference] if n.reference else [])]:
            original = by_reference.get(ref)
            if original is not None and original is not n and not original.is_reminder:
                n.original = original
                break
    elif n.reference:
        first = by_reference.get(n.reference)
        if first is not None and first is not n:
            n.duplicate_of = first.duplicate_of or first


def _originals_by_reference(refs: set[str]) -> dict[str, Notification]:
    if not refs:
        return {}
    found: dict[str, Notification] = {}
    refs = sorted(refs)
    for start in range(0, len(refs), 500):
        rows = db.session.scalars(
            sa.select(Notification)
            .where(Notification.reference.in_(refs[start:start + 500]), Notification.is_reminder.is_(False))
            .order_by(Notification.id)
        )
        for row in rows:
            found.setdefault(row.reference, row)
    return found


def _adopt_waiting_reminders(originals: list[Notification]) -> None:
    """Reminders that arrived before their original: attach them now."""
    refs = {n.reference for n in originals if n.reference and not n.is_reminder}
    if not refs:
        return
    # Reminders come within weeks of their original: look back two years, not over all history.
    since = utcnow() - dt.timedelta(days=730)
    waiting = db.session.scalars(
        sa.select(Notification).where(Notification.is_reminder.is_(True), Notification.original_id.is_(None),
                                      Notification.created_at >= since)
    ).all()
    index = {n.reference: n for n in originals if n.reference and not n.is_reminder}
    for reminder in waiting:
        for ref in [*reminder.related_references, *([reminder.reference] if reminder.reference else [])]:
            if ref in index:
                reminder.original = index[ref]
                break


# --- ingestion ------------------------------------------------------------------------------------
@dataclass
class IngestCounts:
    seen: int = 0
    new: int = 0
    updated: int = 0
    new_ids: list[int] = field(default_factory=list)


def ingest_entries(source: FeedSource, entries: list[FeedEntry]) -> IngestCounts:
    """Insert new entries and update changed ones; idempotent by (source, guid)."""
    counts = IngestCounts(seen=len(entries))
    unique: dict[str, FeedEntry] = {}
    for entry in entries:
        unique.setdefault(entry.guid, entry)  # a feed that repeats a guid: first wins
    guids = list(unique)
    existing: dict[str, Notification] = {}
    for start in range(0, len(guids), 500):
        for row in db.session.scalars(sa.select(Notification).where(
                Notification.source_id == source.id, Notification.guid.in_(guids[start:start + 500]))):
            existing[row.guid] = row

    created: list[Notification] = []
    for guid, entry in unique.items():
        digest = content_hash(entry.title, entry.text, entry.link)
        row = existing.get(guid)
        if row is None:
            row = Notification(source=source, origin=Origin.FEED, guid=guid, link=entry.link,
                               title=entry.title, summary_html=entry.summary_html, text=entry.text,
                               content_hash=digest, published_at=entry.published,
                               status=NotificationStatus.NEW, related_references=[], deadlines=[])
            apply_extraction(row)
            db.session.add(row)
            created.append(row)
        elif row.content_hash != digest:
            row.title, row.link, row.summary_html, row.text = entry.title, entry.link, entry.summary_html, entry.text
            row.published_at = entry.published or row.published_at
            row.content_hash = digest
            apply_extraction(row)
            log_action(row, "notification.updated_from_feed", data={"source": source.name})
            counts.updated += 1
    if created:
        refs = {r for n in created for r in [n.reference, *n.related_references] if r}
        by_reference = _originals_by_reference(refs)
        for n in created:  # earlier items of this batch count as originals too
            _link_related(n, by_reference)
            if n.reference and not n.is_reminder:
                by_reference.setdefault(n.reference, n)
        db.session.flush()
        _adopt_waiting_reminders(created)
        counts.new = len(created)
        counts.new_ids = [n.id for n in created]
    db.session.flush()
    return counts


def record_poll(source: FeedSource, *, started_at: dt.datetime, duration_ms: int, outcome: str,
                http_status: int | None = None, counts: IngestCounts | None = None,
                error: FeedError | None = None, etag: str | None = None,
                last_modified: str | None = None) -> FetchLog:
    """Write the outcome of one poll on the source and in its fetch log."""
    now = utcnow()
    source.last_polled_at = now
    if error is None:
        source.last_success_at = now
        source.last_error = None
        source.last_error_at = None
        source.error_count = 0
        if outcome == "ok":
            source.etag = etag
            source.last_modified = last_modified
    else:
        source.last_error = str(error)[:500]
        source.last_error_at = now
        source.error_count = (source.error_count or 0) + 1
    log = FetchLog(source_id=source.id, started_at=started_at, duration_ms=duration_ms, outcome=outcome,
                   http_status=http_status, items_seen=counts.seen if counts else 0,
                   items_new=counts.new if counts else 0, items_updated=counts.updated if counts else 0,
                   error_code=getattr(error, "code", None) if error else None,
                   error=str(error)[:500] if error else None)
    db.session.add(log)
    db.session.flush()
    return log


def schedule_next_poll(source: FeedSource, *, after: dt.datetime | None = None) -> None:
    """Next poll after the interval, backing off (up to a day) while the source keeps failing."""
    base = after or utcnow()
    minutes = source.interval_minutes
    if source.error_count:
        minutes = min(minutes * (2 ** min(source.error_count - 1, 5)), 24 * 60)
    source.next_poll_at = base + dt.timedelta(minutes=minutes)


def claim_source(source_id: int, now: dt.datetime) -> bool:
    """Claim a due poll with a conditional UPDATE: True for exactly one process."""
    lease = now + dt.timedelta(minutes=15)
    result = db.session.execute(
        sa.update(FeedSource)
        .where(FeedSource.id == source_id, FeedSource.is_active.is_(True),
               sa.or_(FeedSource.next_poll_at.is_(None), FeedSource.next_poll_at <= now))
        .values(next_poll_at=lease)
        .execution_options(synchronize_session=False)
    )
    return result.rowcount == 1


def due_source_ids(now: dt.datetime) -> list[int]:
    return db.session.scalars(
        sa.select(FeedSource.id).where(
            FeedSource.is_active.is_(True),
            sa.or_(FeedSource.next_poll_at.is_(None), FeedSource.next_poll_at <= now))
        .order_by(FeedSource.next_poll_at.asc().nulls_first(), FeedSource.id)
    ).all()


# --- sources --------------------------------------------------------------------------------------
def validate_feed_url(url: str) -> str:
    from urllib.parse import urlsplit

    url = (url or "").strip()
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname or len(url) > 2000:
        raise NotificationError(_("The feed address must be an http:// or https:// URL."))
    return url


def add_source(name: str, url: str, *, interval_minutes: int | None = None, actor=None) -> FeedSource:
    name = (name or "").strip()
    if not name or len(name) > 100:
        raise NotificationError(_("A source needs a name of at most 100 characters."))
    url = validate_feed_url(url)
    if db.session.scalar(sa.select(FeedSource.id).where(FeedSource.name == name)) is not None:
        raise NotificationError(_("A source named %(name)s already exists.", name=repr(name)))
    interval = interval_minutes or current_app.config["FEED_DEFAULT_INTERVAL_MINUTES"]
    if interval < 5:
        raise NotificationError(_("The polling interval must be at least 5 minutes."))
    source = FeedSource(name=name, url=url, interval_minutes=interval, is_active=True, next_poll_at=utcnow())
    db.session.add(source)
    db.session.flush()
    log_action(source, "feed_source.created", actor=actor, data={"name": name, "url": url})
    return source


def update_source(source: FeedSource, *, name: str, url: str, interval_minutes: int, is_active: bool,
                  actor=None) -> None:
    name = (name or "").strip()
    url = validate_feed_url(url)
    if not name or len(name) > 100:
        raise NotificationError(_("A source needs a name of at most 100 characters."))
    clash = db.session.scalar(sa.select(FeedSource.id).where(FeedSource.name == name, FeedSource.id != source.id))
    if clash is not None:
        raise NotificationError(_("A source named %(name)s already exists.", name=repr(name)))
    if interval_minutes < 5:
        raise NotificationError(_("The polling interval must be at least 5 minutes."))
    changes = {}
    for attr, value in (("name", name), ("url", url), ("interval_minutes", interval_minutes),
                        ("is_active", is_active)):
        if getattr(source, attr) != value:
            changes[attr] = [getattr(source, attr), value]
            setattr(source, attr, value)
    if "url" in changes:
        source.etag = source.last_modified = None
        source.next_poll_at = utcnow()
    if changes:
        log_action(source, "feed_source.updated", actor=actor, data=changes)
    db.session.flush()


def delete_source(source: FeedSource, *, actor=None) -> None:
    """Remove a source; its notifications stay (without a source)."""
    log_action(source, "feed_source.deleted", actor=actor, data={"name": source.name, "url": source.url})
    db.session.delete(source)
    db.session.flush()


def find_source(name: str) -> FeedSource | None:
    return db.session.scalar(sa.select(FeedSource).where(FeedSource.name == name))


# --- manual entry and e-mail ----------------------------------------------------------------------
def create_manual(*, title: str, text: str, link: str | None, published: dt.date | None, actor) -> Notification:
    title = " ".join((title or "").split())[:1000]
    if not title:
        raise NotificationError(_("A notification needs a title."))
    text = (text or "").strip()[:100_000]
    link = _clean_link(link)
    published_at = (dt.datetime.combine(published, dt.time(12), tzinfo=dt.timezone.utc) if published else utcnow())
    n = Notification(origin=Origin.MANUAL, guid=f"manual:{uuid.uuid4()}", title=title, text=text,
                     summary_html=_text_to_html(text), link=link, published_at=published_at,
                     content_hash=content_hash(title, text, link), status=NotificationStatus.NEW,
                     related_references=[], deadlines=[])
    return _store_new(n, actor, "notification.created_manually")


def create_from_email(raw: bytes, *, actor) -> Notification:
    """A notification from a forwarded e-mail (.eml): subject, sender date, body text."""
    if not raw or not raw.strip():
        raise NotificationError(_("The file is empty."))
    if len(raw) > current_app.config["MAX_EML_BYTES"]:
        raise NotificationError(_("The e-mail is too large."))
    try:
        message = email.message_from_bytes(raw, policy=email.policy.default)
        subject = str(message.get("Subject", "") or "")
        message_id = str(message.get("Message-ID", "") or "").strip()
    except Exception as exc:  # the e-mail package raises many kinds on malformed headers
        raise NotificationError(_("This file is not a readable e-mail message.")) from exc
    subject = _strip_forward_prefix(" ".join(subject.split()))
    if not subject:
        raise NotificationError(_("This file is not an e-mail message (it has no subject)."))
    html, text = _email_body(message)
    published_at = None
    try:
        if message.get("Date"):
            published_at = parsedate_to_datetime(str(message["Date"]))
            if published_at.tzinfo is None:
                published_at = published_at.replace(tzinfo=dt.timezone.utc)
    except (TypeError, ValueError, IndexError):
        published_at = None
    guid = f"email:{message_id[:480]}" if message_id else f"email:{hashlib.sha256(raw).hexdigest()}"
    if db.session.scalar(sa.select(Notification.id).where(Notification.source_id.is_(None),
                                                          Notification.guid == guid)) is not None:
        raise NotificationError(_("This e-mail was already added."))
    n = Notification(origin=Origin.EMAIL, guid=guid, title=subject[:1000], text=text[:100_000],
                     summary_html=html[:200_000], link=None, published_at=published_at or utcnow(),
                     content_hash=content_hash(subject, text, None), status=NotificationStatus.NEW,
                     related_references=[], deadlines=[])
    return _store_new(n, actor, "notification.created_from_email")


def _store_new(n: Notification, actor, action: str) -> Notification:
    apply_extraction(n)
    db.session.add(n)
    refs = {r for r in [n.reference, *n.related_references] if r}
    _link_related(n, _originals_by_reference(refs))
    db.session.flush()
    _adopt_waiting_reminders([n])
    log_action(n, action, actor=actor, data={"title": n.title})
    db.session.flush()
    return n


def _strip_forward_prefix(subject: str) -> str:
    prefixes = ("fwd:", "fw:", "tr:", "wg:", "re:", "doorst:", "fwd :")
    changed = True
    while changed:
        changed = False
        for prefix in prefixes:
            if subject.lower().startswith(prefix):
                subject = subject[len(prefix):].strip()
                changed = True
    return subject


def _email_body(message) -> tuple[str, str]:
    try:
        part = message.get_body(preferencelist=("plain", "html"))
    except Exception:
        part = None
    if part is None:
        return "", ""
    try:
        content = part.get_content()
    except (LookupError, UnicodeError, ValueError, AssertionError):
        payload = part.get_payload(decode=True) or b""
        content = payload.decode("utf-8", "replace")
    if not isinstance(content, str):
        content = content.decode("utf-8", "replace") if isinstance(content, bytes) else ""
    content = content[:1_000_000]
    if part.get_content_subtype() == "html":
        html = sanitize_html(content)
        return html, html_to_text(html)
    text = content.strip()
    return _text_to_html(text), " ".join(text.split())


def _text_to_html(text: str) -> str:
    from markupsafe import escape

    paragraphs = [p.strip() for p in (text or "").split("\n\n") if p.strip()]
    return sanitize_html("".join(f"<p>{escape(p)}</p>" for p in paragraphs))


def _clean_link(link: str | None) -> str | None:
    link = (link or "").strip()
    if not link:
        return None
    if not link.lower().startswith(("http://", "https://")) or len(link) > 2000:
        raise NotificationError(_("The link must be an http:// or https:// address."))
    return link


# --- triage ---------------------------------------------------------------------------------------
def set_status(n: Notification, new_status: NotificationStatus, *, actor) -> None:
    """The one place that writes ``Notification.status``."""
    new_status = NotificationStatus(new_status)
    previous = n.status
    if new_status == previous:
        return
    if new_status not in STATUS_TRANSITIONS[previous]:
        raise TransitionError(previous, new_status)
    n.status = new_status
    log_action(n, "notification.status", actor=actor, data={"previous": previous, "new": new_status})
    db.session.flush()


def assign(n: Notification, user, *, actor) -> None:
    previous = n.assignee
    if (previous.id if previous else None) == (user.id if user else None):
        return
    if user is not None and not user.is_staff:
        raise NotificationError(_("Only focal point staff can be assigned."))
    n.assignee = user
    log_action(n, "notification.assigned", actor=actor,
               data={"previous": previous.email if previous else None, "new": user.email if user else None})
    db.session.flush()


def override_kind(n: Notification, kind: NotificationKind, *, actor) -> None:
    """Set the kind by hand; choosing the classifier's own answer clears the override."""
    kind = NotificationKind(kind)
    previous = n.kind
    if kind == previous and n.is_kind_overridden == (kind != n.kind_auto):
        return
    n.kind = kind
    n.is_kind_overridden = kind != n.kind_auto
    log_action(n, "notification.kind", actor=actor,
               data={"previous": previous, "new": kind, "classifier": n.kind_auto, "rule": n.kind_rule})
    db.session.flush()


def add_deadline(n: Notification, *, date: dt.date, time: dt.time | None, label: str, actor) -> Deadline:
    label = (label or "deadline").strip()[:60] or "deadline"
    d = Deadline(date=date, time=time, tz=None, due_at=due_moment(date, time, None), label=label,
                 text="", source="staff")
    n.deadlines.append(d)
    recompute_national_deadline(n)
    db.session.flush()
    log_action(n, "notification.deadline_added", actor=actor,
               data={"deadline_id": d.id, "date": date, "time": time, "label": label})
    return d


def correct_deadline(d: Deadline, *, date: dt.date, time: dt.time | None, label: str, actor) -> None:
    label = (label or "deadline").strip()[:60] or "deadline"
    before = {"date": d.date, "time": d.time, "label": d.label}
    if (d.date, d.time, d.label) == (date, time, label):
        return
    d.date, d.time, d.label = date, time, label
    d.due_at = due_moment(date, time, d.tz)
    d.is_corrected = True
    recompute_national_deadline(d.notification)
    log_action(d.notification, "notification.deadline_corrected", actor=actor,
               data={"deadline_id": d.id, "before": before, "after": {"date": date, "time": time, "label": label}})
    db.session.flush()


def set_deadline_removed(d: Deadline, removed: bool, *, actor) -> None:
    if d.is_removed == removed:
        return
    d.is_removed = removed
    recompute_national_deadline(d.notification)
    log_action(d.notification, "notification.deadline_removed" if removed else "notification.deadline_restored",
               actor=actor, data={"deadline_id": d.id, "date": d.date, "label": d.label})
    db.session.flush()


def set_national_deadline(n: Notification, date: dt.date | None, *, actor) -> None:
    """Set the national deadline by hand, or (None) go back to the computed one."""
    previous = n.national_deadline
    if date is None:
        n.is_national_deadline_manual = False
        recompute_national_deadline(n)
    else:
        n.is_national_deadline_manual = True
        n.national_deadline = date
    if previous != n.national_deadline or date is None:
        log_action(n, "notification.national_deadline", actor=actor,
                   data={"previous": previous, "new": n.national_deadline, "manual": n.is_national_deadline_manual})
    db.session.flush()


def add_note(n: Notification, body: str, *, actor) -> NotificationNote:
    body = (body or "").strip()
    if not body:
        raise NotificationError(_("A note cannot be empty."))
    note = NotificationNote(body=body[:20_000], author_id=actor.id if actor else None)
    n.notes.append(note)
    db.session.flush()
    log_action(n, "notification.note_added", actor=actor, data={"note_id": note.id})
    return note


# --- reading --------------------------------------------------------------------------------------
def notification_as_dict(n: Notification) -> dict:
    return {
        "id": n.id,
        "guid": n.guid,
        "link": n.link,
        "title": n.title,
        "reference": n.reference,
        "kind": str(n.kind),
        "kind_auto": str(n.kind_auto),
        "kind_rule": n.kind_rule,
        "is_kind_overridden": n.is_kind_overridden,
        "is_reminder": n.is_reminder,
        "related_references": list(n.related_references or []),
        "published": n.published_at.isoformat() if n.published_at else None,
        "deadlines": [
            {"date": d.date.isoformat(), "time": d.time.strftime("%H:%M") if d.time else None,
             "tz": d.tz, "due_at": d.due_at.isoformat(), "label": d.label, "text": d.text, "source": d.source}
            for d in n.deadlines if not d.is_removed
        ],
        "national_deadline": n.national_deadline.isoformat() if n.national_deadline else None,
        "status": str(n.status),
        "origin": str(n.origin),
        "source": n.source.name if n.source else None,
        "original_id": n.original_id,
        "duplicate_of_id": n.duplicate_of_id,
        "assignee": n.assignee.email if n.assignee else None,
    }
