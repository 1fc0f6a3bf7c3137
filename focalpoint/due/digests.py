"""E-mail digests: what is due and what is new since the last digest, daily or weekly, per person.

Each person chooses none, daily or weekly on their account page (``User.digest_frequency``). The
scheduler job (``due.jobs.send_digests_job``) runs every few minutes; a person's digest for a period
goes out on the first run at or after ``DIGEST_HOUR`` (default 7:00) of the period's first day in
their time zone (the day for daily digests; Monday for weekly ones, caught up later in the week
after a stop). The period is computed in the person's zone: "2026-11-23" or the ISO week "2026-W48".

Sent once per period, whatever happens: the outbox key is ``digest:<user id>:<period key>``, unique in
the database, so a job run twice, two scheduler processes at once or a restart find it queued and
send nothing more; ``User.last_digest_at`` (the moment the digest was written) marks the period done
and is where the next digest's "new since" starts. A period with nothing due and nothing new sends no
mail (it is still marked done).

Staff get the team's due items (their own marked) and what is new: notifications received, comments
on consultations, clearances and objections on position notes, answers to invitations. Other users
(experts, administration reviewers) who choose a digest get their own due items only. The "new"
part is read once for everyone (one query per kind), whatever the number of people.

Experts' reminders before each deadline are the invitations' and consultations' own jobs (a reminder
per reminder day of the call or consultation, with a fresh personal link, to whoever has not answered
or commented). Nothing here repeats them: a second mail per deadline would double every reminder, and
each personal link replaces the previous one. What experts with an account can add is this digest of
their open invitations and consultations, with links to their account's pages (no link is renewed).
"""
from __future__ import annotations

import datetime as dt
import logging
from collections import Counter
from contextlib import contextmanager
from dataclasses import dataclass, field
from zoneinfo import ZoneInfo

import pytz
import sqlalchemy as sa
from flask import current_app
from flask_babel import force_locale
from flask_babel import gettext as _
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import selectinload

from focalpoint.auth.models import Administration, User
from focalpoint.db import utcnow
from focalpoint.due.services import due_items, user_zone
from focalpoint.extensions import db
from focalpoint.mail import OutboxMessage, queue_email, render_email

log = logging.getLogger(__name__)

NONE, DAILY, WEEKLY = "none", "daily", "weekly"
FREQUENCIES = (NONE, DAILY, WEEKLY)
#: How far ahead a digest looks for what is due (overdue items always come first).
DUE_WINDOW_DAYS = {DAILY: 7, WEEKLY: 14}
PERIOD_LENGTH = {DAILY: dt.timedelta(days=1), WEEKLY: dt.timedelta(days=7)}
#: "New since the last digest" never reaches further back than this (a digest chosen again after months).
MAX_LOOKBACK = dt.timedelta(days=31)
#: Rows listed per section; the rest are counted, with a link to the full list.
MAX_LISTED = 20


class DigestError(ValueError):
    """A user-facing refusal (the message is shown as is)."""


# --- periods ----------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Period:
    frequency: str
    #: "2026-11-23" (daily) or "2026-W48" (weekly, ISO week).
    key: str
    #: The first day of the period, in the person's zone.
    first_day: dt.date
    starts_at: dt.datetime
    ends_at: dt.datetime
    #: When the digest of this period is due to go out.
    sends_at: dt.datetime


def user_language(user: User) -> str:
    languages = current_app.config.get("LANGUAGES", ["en"])
    return user.locale if user.locale in languages else current_app.config.get("BABEL_DEFAULT_LOCALE", "en")


def digest_hour() -> int:
    try:
        hour = int(current_app.config.get("DIGEST_HOUR", 7))
    except (TypeError, ValueError):
        return 7
    return hour if 0 <= hour <= 23 else 7


def period_for(frequency: str, now: dt.datetime, zone: ZoneInfo, hour: int | None = None) -> Period:
    """The daily or weekly period ``now`` falls in, in ``zone``."""
    if frequency not in PERIOD_LENGTH:
        raise ValueError(f"no digest period for {frequency!r}")
    hour = digest_hour() if hour is None else hour
    today = now.astimezone(zone).date()
    if frequency == DAILY:
        first, key, days = today, today.isoformat(), 1
    else:
        first = today - dt.timedelta(days=today.weekday())
        year, week, _weekday = today.isocalendar()
        key, days = f"{year}-W{week:02d}", 7

    def at(day: dt.date, hours: int = 0) -> dt.datetime:
        return dt.datetime.combine(day, dt.time(hours), tzinfo=zone).astimezone(dt.timezone.utc)

    return Period(frequency=frequency, key=key, first_day=first, starts_at=at(first),
                  ends_at=at(first + dt.timedelta(days=days)), sends_at=at(first, hour))


def idem_key(user_id: int, period: Period) -> str:
    return f"digest:{user_id}:{period.key}"


# --- the preference ---------------------------------------------------------------------------------
def set_digest_frequency(user: User, frequency: str) -> bool:
    """Choose none, daily or weekly; returns whether it changed (flushes; the caller commits).

    Starting again after "none" forgets the old digest moment, so the first digest says what is new over
    one period rather than since a digest months ago.
    """
    if frequency not in FREQUENCIES:
        raise DigestError(_("Choose no digest, daily or weekly."))
    previous = user.digest_frequency or NONE
    if frequency == previous:
        return False
    user.digest_frequency = frequency
    if previous == NONE:
        user.last_digest_at = None
    db.session.flush()
    return True


# --- what is new ------------------------------------------------------------------------------------
@dataclass(frozen=True)
class NewNotification:
    at: dt.datetime
    id: int
    title: str
    reference: str | None
    url: str

    @property
    def label(self) -> str:
        """The title, led by the reference when the title does not carry it ("EM/2026/31: …")."""
        if self.reference and self.reference not in self.title:
            return f"{self.reference}: {self.title}"
        return self.title


@dataclass(frozen=True)
class NewComments:
    """Comments added to one consultation since the last digest."""

    at: dt.datetime
    consultation_id: int
    title: str
    count: int
    url: str


@dataclass(frozen=True)
class NewClearance:
    at: dt.datetime
    decision: str  # "cleared" or "objected"
    administration: str
    note_version: int
    item_number: str
    item_title: str
    session_code: str
    reason: str
    url: str


@dataclass(frozen=True)
class NewAnswer:
    at: dt.datetime
    state: str  # "accepted" or "declined"
    expert: str
    call_title: str
    url: str


@dataclass
class NewSince:
    """Everything new since a moment, read once for all the people getting a digest (one query per kind)."""

    since: dt.datetime
    notifications: list[NewNotification] = field(default_factory=list)
    #: (consultation id, title, created_at) of each comment, oldest first.
    comment_rows: list[tuple[int, str, dt.datetime]] = field(default_factory=list)
    clearances: list[NewClearance] = field(default_factory=list)
    answers: list[NewAnswer] = field(default_factory=list)

    @classmethod
    def load(cls, since: dt.datetime, until: dt.datetime) -> NewSince:
        from focalpoint.consultations.models import Consultation, ReviewComment
        from focalpoint.experts.models import Expert
        from focalpoint.invitations.models import Invitation, InvitationState
        from focalpoint.nominations.models import NominationCall
        from focalpoint.notifications.models import Notification
        from focalpoint.positions.models import AgendaItem, Clearance, PositionNote, ReviewRequest
        from focalpoint.reference.models import PlenarySession
        from focalpoint.security import external_url

        found = cls(since=since)
        for row in db.session.execute(
                sa.select(Notification.id, Notification.title, Notification.reference,
                          Notification.created_at)
                .where(Notification.created_at > since, Notification.created_at <= until,
                       Notification.duplicate_of_id.is_(None))
                .order_by(Notification.created_at, Notification.id)):
            found.notifications.append(NewNotification(
                at=row.created_at, id=row.id, title=row.title, reference=row.reference,
                url=external_url("notifications.detail", notification_id=row.id)))
        found.comment_rows = [tuple(row) for row in db.session.execute(
            sa.select(ReviewComment.consultation_id, Consultation.title, ReviewComment.created_at)
            .join(Consultation, Consultation.id == ReviewComment.consultation_id)
            .where(ReviewComment.created_at > since, ReviewComment.created_at <= until)
            .order_by(ReviewComment.created_at, ReviewComment.id))]
        for row in db.session.execute(
                sa.select(Clearance.created_at, Clearance.decision, Clearance.note_version, Clearance.reason,
                          PositionNote.id.label("note_id"), AgendaItem.number,
                          AgendaItem.title.label("item_title"),
                          PlenarySession.code, Administration.name.label("administration"))
                .join(ReviewRequest, ReviewRequest.id == Clearance.request_id)
                .join(PositionNote, PositionNote.id == ReviewRequest.note_id)
                .join(AgendaItem, AgendaItem.id == PositionNote.agenda_item_id)
                .join(PlenarySession, PlenarySession.id == AgendaItem.session_id)
                .join(Administration, Administration.id == ReviewRequest.administration_id)
                .where(Clearance.created_at > since, Clearance.created_at <= until)
                .order_by(Clearance.created_at, Clearance.id)):
            found.clearances.append(NewClearance(
                at=row.created_at, decision=str(row.decision), administration=row.administration,
                note_version=row.note_version, item_number=row.number, item_title=row.item_title,
                session_code=row.code, reason=row.reason or "",
                url=external_url("positions.detail", note_id=row.note_id)))
        for row in db.session.execute(
                sa.select(Invitation.id, Invitation.state, Invitation.responded_at, NominationCall.title,
                          Expert.first_name, Expert.last_name, Expert.email, Expert.id.label("expert_id"))
                .join(NominationCall, NominationCall.id == Invitation.call_id)
                .join(Expert, Expert.id == Invitation.expert_id)
                .where(Invitation.state.in_([InvitationState.ACCEPTED, InvitationState.DECLINED]),
                       Invitation.responded_at > since, Invitation.responded_at <= until)
                .order_by(Invitation.responded_at, Invitation.id)):
            name = f"{row.first_name} {row.last_name}".strip() or row.email or f"#{row.expert_id}"
            found.answers.append(NewAnswer(
                at=row.responded_at, state=str(row.state), expert=name, call_title=row.title,
                url=external_url("invitations.detail", invitation_id=row.id)))
        return found

    def comments_after(self, since: dt.datetime) -> list[NewComments]:
        from focalpoint.security import external_url

        counts: Counter = Counter()
        titles: dict[int, str] = {}
        latest: dict[int, dt.datetime] = {}
        for consultation_id, title, at in self.comment_rows:
            if at > since:
                counts[consultation_id] += 1
                titles[consultation_id] = title
                latest[consultation_id] = at
        found = [NewComments(at=latest[cid], consultation_id=cid, title=titles[cid], count=n,
                             url=external_url("consultations.comments", consultation_id=cid))
                 for cid, n in counts.items()]
        return sorted(found, key=lambda c: (-c.count, c.title.lower(), c.consultation_id))


# --- one digest -------------------------------------------------------------------------------------
@dataclass
class Section:
    """A list shown in the digest: the first MAX_LISTED rows, and how many more there are."""

    items: list
    total: int

    @classmethod
    def of(cls, items: list) -> Section:
        return cls(items=list(items[:MAX_LISTED]), total=len(items))

    @property
    def more(self) -> int:
        return self.total - len(self.items)

    def __bool__(self) -> bool:
        return self.total > 0


@dataclass
class Digest:
    user: User
    period: Period
    #: "New" covers (since, until].
    since: dt.datetime
    until: dt.datetime
    today: dt.date
    window_days: int
    is_staff: bool
    overdue: Section
    upcoming: Section
    notifications: Section
    comments: Section
    clearances: Section
    answers: Section
    #: New comments over all consultations (``comments`` lists them per consultation).
    comment_count: int = 0
    links: dict = field(default_factory=dict)

    @property
    def due_count(self) -> int:
        return self.overdue.total + self.upcoming.total

    @property
    def new_count(self) -> int:
        return self.notifications.total + self.comment_count + self.clearances.total + self.answers.total

    @property
    def is_empty(self) -> bool:
        return not (self.overdue or self.upcoming or self.notifications or self.comments or self.clearances
                    or self.answers)


def since_for(user: User, period: Period, now: dt.datetime) -> dt.datetime:
    """Where "new" starts for ``user``: their last digest; one period back for a first digest; never
    more than MAX_LOOKBACK."""
    start = user.last_digest_at or (now - PERIOD_LENGTH[period.frequency])
    return max(start, now - MAX_LOOKBACK)


def _absolute(url: str) -> str:
    """A path from due_items as an address on BASE_URL (as external_url builds them; never the Host)."""
    if not url or url.startswith(("http://", "https://")):
        return url
    return current_app.config["BASE_URL"].rstrip("/") + "/" + url.lstrip("/")


def _due(user: User, *, is_staff: bool, today: dt.date, now: dt.datetime,
         window_days: int) -> tuple[list, list]:
    """(overdue, due in the next ``window_days`` days): the team's rows for staff, anyone else's own."""
    items = due_items(user, scope="team" if is_staff else "mine", today=today, now=now)
    last_day = today + dt.timedelta(days=window_days)
    overdue = [i for i in items if i.overdue]
    upcoming = [i for i in items if not i.overdue and i.date <= last_day]
    return overdue, upcoming


@contextmanager
def _timezone(zone: ZoneInfo):
    """Render dates in ``zone`` (the `dt`/`d` filters read Flask-Babel's zone of the current context)."""
    from flask import g
    from flask_babel import get_timezone

    get_timezone()  # makes sure the context holds Flask-Babel's namespace
    ctx = getattr(g, "_flask_babel", None)
    if ctx is None:
        yield
        return
    previous = getattr(ctx, "babel_tzinfo", None)
    ctx.babel_tzinfo = pytz.timezone(zone.key)  # Flask-Babel 4 works with pytz zones
    try:
        yield
    finally:
        ctx.babel_tzinfo = previous


@contextmanager
def as_recipient(user: User):
    """Language and time zone of ``user`` while their digest is read and rendered."""
    with force_locale(user_language(user)), _timezone(user_zone(user)):
        yield


def compose(user: User, period: Period, now: dt.datetime, new: NewSince | None) -> Digest:
    """The digest of ``user`` for ``period``; call inside ``as_recipient(user)``. ``new``: read for staff."""
    from focalpoint.security import external_url

    is_staff = user.is_staff
    zone = user_zone(user)
    today = now.astimezone(zone).date()
    window = DUE_WINDOW_DAYS[period.frequency]
    overdue, upcoming = _due(user, is_staff=is_staff, today=today, now=now, window_days=window)
    since = since_for(user, period, now)
    notifications, comments, clearances, answers = [], [], [], []
    if is_staff and new is not None:
        since = max(since, new.since)  # what was read (the person's mark moved back in the meantime)
        notifications = [n for n in new.notifications if n.at > since]
        notifications.reverse()  # newest first
        comments = new.comments_after(since)
        clearances = [c for c in new.clearances if c.at > since]
        answers = [a for a in new.answers if a.at > since]
    links = {"account": external_url("auth.account"), "home": external_url("core.index")}
    if is_staff:
        links.update(due=external_url("due.index"), notifications=external_url("notifications.index"),
                     consultations=external_url("consultations.index"),
                     positions=external_url("positions.index"),
                     calls=external_url("nominations.index"))
    return Digest(user=user, period=period, since=since, until=now, today=today, window_days=window,
                  is_staff=is_staff, overdue=Section.of(overdue), upcoming=Section.of(upcoming),
                  notifications=Section.of(notifications), comments=Section.of(comments),
                  clearances=Section.of(clearances), answers=Section.of(answers),
                  comment_count=sum(c.count for c in comments), links=links)


def subject_of(digest: Digest) -> str:
    from flask_babel import format_date

    if digest.period.frequency == DAILY:
        return _("Focal Point digest for %(day)s", day=format_date(digest.period.first_day, "long"))
    return _("Focal Point digest for the week of %(day)s", day=format_date(digest.period.first_day, "long"))


def render(digest: Digest) -> tuple[str, str, str]:
    """(subject, text, html) of ``digest``; call inside ``as_recipient(user)``."""
    text, html = render_email("due/emails/digest", digest=digest, user=digest.user, period=digest.period,
                              absolute=_absolute)
    return subject_of(digest), text, html


# --- the run ----------------------------------------------------------------------------------------
@dataclass
class Outcome:
    """What a run did (or, dry, would do) for one person."""

    user_id: int
    email: str
    frequency: str
    period: str
    #: queued, empty (nothing to say: marked done), already (sent before), dry (would be queued / empty)
    result: str
    due: int = 0
    new: int = 0
    subject: str = ""

    def as_dict(self) -> dict:
        return {"user_id": self.user_id, "email": self.email, "frequency": self.frequency,
                "period": self.period, "result": self.result, "due": self.due, "new": self.new,
                "subject": self.subject}


@dataclass
class Run:
    outcomes: list[Outcome] = field(default_factory=list)
    #: People with a digest whose period's sending time has not come yet.
    waiting: int = 0

    def count(self, result: str) -> int:
        return sum(1 for o in self.outcomes if o.result == result)

    @property
    def counts(self) -> dict[str, int]:
        return {"queued": self.count("queued"), "empty": self.count("empty"),
                "already": self.count("already"), "waiting": self.waiting}


def subscribers() -> list[User]:
    """Enabled users who chose a digest (one query, roles loaded with them)."""
    return list(db.session.scalars(
        sa.select(User).where(User.is_enabled.is_(True), User.digest_frequency.in_([DAILY, WEEKLY]))
        .options(selectinload(User.role_rows)).order_by(User.id)))


def send_digests(now: dt.datetime | None = None, *, dry_run: bool = False) -> Run:
    """Queue the digest of every person whose period's digest is due and not sent yet (commits per person).

    Safe in several processes at once and after a restart: the outbox key ``digest:<user>:<period>`` is
    unique, so exactly one run queues each digest; a run that loses the race sends nothing.
    ``dry_run``: compose, queue nothing and change nothing (what would go out). ``now`` is for tests.
    """
    now = now or utcnow()
    run = Run()
    due: list[tuple[User, Period]] = []
    for user in subscribers():
        period = period_for(user.digest_frequency, now, user_zone(user))
        if now < period.sends_at:
            run.waiting += 1
            continue
        if user.last_digest_at is not None and user.last_digest_at >= period.starts_at:
            continue  # this period's digest went out already (or had nothing to say)
        due.append((user, period))
    if due:
        sent_keys = set(db.session.scalars(sa.select(OutboxMessage.idem_key).where(
            OutboxMessage.idem_key.in_([idem_key(u.id, p) for u, p in due]))))
        for user, period in due:
            if idem_key(user.id, period) in sent_keys:
                run.outcomes.append(Outcome(user.id, user.email, period.frequency, period.key, "already"))
        due = [(u, p) for u, p in due if idem_key(u.id, p) not in sent_keys]
    staff = [(u, p) for u, p in due if u.is_staff]
    new = NewSince.load(min(since_for(u, p, now) for u, p in staff), now) if staff else None
    user_ids = [(u.id, p) for u, p in due]
    db.session.commit()  # nothing written: ends the reading transaction (SQLite holds its lock until here)
    for user_id, period in user_ids:
        outcome = _send_one(user_id, period, now, new, dry_run=dry_run)
        if outcome is not None:
            run.outcomes.append(outcome)
    if run.count("queued"):
        log.info("queued %d digest(s)", run.count("queued"))
    return run


def _send_one(user_id: int, period: Period, now: dt.datetime, new: NewSince | None, *,
              dry_run: bool) -> Outcome | None:
    """Compose and queue one person's digest in its own transaction (committed; rolled back when dry)."""
    try:
        user = db.session.get(User, user_id, populate_existing=True)
        if user is None or not user.is_enabled or user.digest_frequency != period.frequency:
            return None  # changed since the list was read
        if user.last_digest_at is not None and user.last_digest_at >= period.starts_at:
            return Outcome(user.id, user.email, period.frequency, period.key, "already")
        with as_recipient(user):
            digest = compose(user, period, now, new)
            subject, text, html = render(digest) if not digest.is_empty else ("", "", "")
        outcome = Outcome(user.id, user.email, period.frequency, period.key,
                          "empty" if digest.is_empty else "queued", due=digest.due_count,
                          new=digest.new_count, subject=subject)
        if dry_run:
            outcome.result = f"dry-{outcome.result}"
            db.session.rollback()
            return outcome
        key = idem_key(user.id, period)
        try:
            with db.session.begin_nested():
                if not digest.is_empty:
                    message = queue_email(to=user.email, subject=subject, text=text, html=html, idem_key=key,
                                          category="digest", related=user,
                                          headers={"Auto-Submitted": "auto-generated"})
                    if message is None:  # another run queued it a moment ago
                        raise _AlreadySent()
                user.last_digest_at = now
                db.session.flush()
        except (IntegrityError, _AlreadySent):
            outcome.result = "already"
            db.session.rollback()
            return outcome
        db.session.commit()
        return outcome
    except Exception:
        db.session.rollback()
        log.exception("digest for user %s failed; the next run tries again", user_id)
        return None


class _AlreadySent(Exception):
    pass
