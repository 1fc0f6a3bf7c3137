"""Position notes: drafting with versions, review requests to administrations, comments and clearance.

One function per move (``create_note``, ``save_version``, ``request_review``, ``withdraw_review``,
``add_comment``, ``answer_comment``, ``resolve_comment``, ``decide_clearance``, ``reopen_note``); each
checks who may do it, writes the audit trail and calls ``_recompute_status``, the one place that writes
``PositionNote.status``. Services flush and never commit: the request, command or job commits.

The rules (DESIGN.md 2.4): a note is approved only when every requested (not withdrawn) administration's
latest decision is "cleared" on the note's current version; a new version reopens clearance; an approved
note is locked (no edit, comment or decision) until staff reopen it, which makes a new version (the same
text) so that every administration clears again. Reviewers act only for their own administration, and
only on notes whose review was asked of it.
"""
from __future__ import annotations

import datetime as dt
import difflib
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from flask import current_app
from sqlalchemy.orm import defaultload
from flask_babel import force_locale
from flask_babel import gettext as _

from focalpoint.audit import log_action
from focalpoint.auth.models import Administration, Role, User, UserRole
from focalpoint.db import utcnow
from focalpoint.extensions import db
from focalpoint.mail import queue_email, render_email
from focalpoint.positions.markdown import clean_text, paragraphs
from focalpoint.positions.models import (NOTE_SECTIONS, AgendaItem, Clearance, ClearanceDecision, NoteComment,
                                         NoteStatus, NoteVersion, PositionNote, ReviewRequest, SessionDocument)
from focalpoint.reference.models import PlenarySession

#: Loader options for queries that reach notes through requests or decisions: the note's linked documents are
#: not needed there (they would cost one more query each time).
_REQUEST_NO_DOCUMENTS = defaultload(ReviewRequest.note).lazyload(PositionNote.documents)
_CLEARANCE_NO_DOCUMENTS = defaultload(Clearance.request).defaultload(ReviewRequest.note).lazyload(
    PositionNote.documents)

MAX_SECTION_CHARS = 100_000
MAX_COMMENT_CHARS = 10_000
MAX_SUMMARY_CHARS = 500


# --- refusals -----------------------------------------------------------------------------------------
class PositionError(ValueError):
    """A user-facing refusal (the message is shown as is)."""


class AccessDenied(PositionError):
    """The user may not do this to this note (not staff, or not a reviewer of a requested administration)."""


class NoteLocked(PositionError):
    def __init__(self):
        super().__init__(_("The note is approved and locked: staff must reopen it before it can change."))


class StaleNoteError(PositionError):
    """The edit form was loaded at another version of the note: someone saved in the meantime."""

    def __init__(self, note: PositionNote, base: int | None):
        super().__init__(_("Someone else saved this note since you opened the form; nothing was saved. "
                           "Their change is shown below and your text is kept in the form."))
        self.note, self.base = note, base


class OutdatedVersionError(PositionError):
    """A reviewer's comment or decision refers to a version that is no longer the current one."""

    def __init__(self, current: int):
        super().__init__(_("A new version (%(n)d) of the note was saved since you opened the page: read it, then "
                           "send again.", n=current))
        self.current = current


# --- who may do what ----------------------------------------------------------------------------------
def is_staff(user) -> bool:
    return bool(user is not None and getattr(user, "is_authenticated", False) and user.is_staff)


def reviewer_administration_id(user) -> int | None:
    """The administration a (non-staff) reviewer acts for; None for anyone else."""
    if user is None or not getattr(user, "is_authenticated", False) or user.is_staff:
        return None
    if not user.has_role(Role.REVIEWER):
        return None
    return user.administration_id


def _require_staff(actor) -> None:
    # actor None: the system (command line, demo data, jobs).
    if actor is not None and not is_staff(actor):
        raise AccessDenied(_("Only the focal point staff can do this."))


def active_request_for(note: PositionNote, administration_id: int | None) -> ReviewRequest | None:
    """The note's review request to the administration, unless withdrawn."""
    if administration_id is None or note.id is None:
        return None
    return db.session.scalar(sa.select(ReviewRequest).where(
        ReviewRequest.note_id == note.id, ReviewRequest.administration_id == administration_id,
        ReviewRequest.withdrawn_at.is_(None)))


def can_view(note: PositionNote, user) -> bool:
    """Staff see every note; a reviewer only the notes whose review was asked of their administration."""
    if is_staff(user):
        return True
    return active_request_for(note, reviewer_administration_id(user)) is not None


def visible_notes_clause(user):
    """SQL condition on PositionNote for the notes ``user`` may see."""
    if is_staff(user):
        return sa.true()
    administration_id = reviewer_administration_id(user)
    if administration_id is None:
        return sa.false()
    return PositionNote.id.in_(sa.select(ReviewRequest.note_id).where(
        ReviewRequest.administration_id == administration_id, ReviewRequest.withdrawn_at.is_(None)))


def _reviewer_request(note: PositionNote, actor) -> ReviewRequest:
    request = active_request_for(note, reviewer_administration_id(actor))
    if request is None:
        raise AccessDenied(_("Only reviewers of an administration asked to review this note can do this."))
    return request


def lock_note(note: PositionNote) -> None:
    """Hold the note's row until the transaction ends and read its latest state.

    Every move that reads the note's state to change it (a version, a decision, a request) takes this lock
    first, so two of them at once run one after the other: two administrations clearing at the same moment
    both count, and a decision cannot slip past a new version. (PostgreSQL; SQLite transactions already run
    one at a time.)
    """
    if note.id is None:
        return
    db.session.execute(sa.select(PositionNote.id).where(PositionNote.id == note.id).with_for_update())
    db.session.expire(note)


# --- dates --------------------------------------------------------------------------------------------
def display_zone() -> ZoneInfo:
    return ZoneInfo(current_app.config["DISPLAY_TIMEZONE"])


def local_today(now: dt.datetime | None = None) -> dt.date:
    """Today where the focal point works (due dates are days there)."""
    return (now or utcnow()).astimezone(display_zone()).date()


# --- creating and saving ------------------------------------------------------------------------------
def create_note(agenda_item: AgendaItem, *, actor) -> PositionNote:
    """The position note of ``agenda_item`` (created empty, at version 0, if it has none yet)."""
    _require_staff(actor)
    note = db.session.scalar(sa.select(PositionNote).where(PositionNote.agenda_item_id == agenda_item.id))
    if note is not None:
        return note
    note = PositionNote(agenda_item_id=agenda_item.id, title=(agenda_item.title or "")[:300], status=NoteStatus.DRAFT,
                        current_version=0, created_by_id=getattr(actor, "id", None))
    db.session.add(note)
    db.session.flush()
    log_action(note, "position_note.created", actor=actor,
               data={"agenda_item_id": agenda_item.id, "session_id": agenda_item.session_id,
                     "item": agenda_item.number})
    db.session.flush()
    return note


def normalise_section(text: str | None) -> str:
    """A section as stored: no control characters, LF line ends, no blank lines around it, no trailing spaces."""
    text = clean_text(text)
    text = re.sub(r"^(?:[ \t]*\n)+", "", text)
    return text.rstrip()


def note_texts(obj) -> dict[str, str]:
    """The four sections of a note or a NoteVersion."""
    return {section: getattr(obj, section) or "" for section in NOTE_SECTIONS}


def session_documents(note: PositionNote) -> list[SessionDocument]:
    """The documents of the note's session (what can be linked to the note)."""
    return db.session.scalars(sa.select(SessionDocument).where(
        SessionDocument.session_id == note.agenda_item.session_id)
        .order_by(SessionDocument.position, SessionDocument.symbol)).all()


@dataclass
class SaveResult:
    #: The version made by the save; None when the texts did not change.
    version: NoteVersion | None
    documents_changed: bool

    @property
    def changed(self) -> bool:
        return self.version is not None or self.documents_changed


def save_version(note: PositionNote, *, texts: Mapping[str, str | None], actor, expected_version,
                 documents: Iterable[SessionDocument] | None = None, summary: str = "") -> SaveResult:
    """Save the note's sections (and its linked documents) as they were edited from ``expected_version``.

    Changed texts make a new NoteVersion (author, time, summary), reopen clearance and tell the requested
    administrations' reviewers; unchanged texts make none. Refused when the note is locked, and when the
    note is no longer at ``expected_version`` (StaleNoteError: someone saved in the meantime). Two saves at
    once run one after the other (``lock_note``); the version column stays the last guard: a write over a
    newer row fails at the flush (StaleDataError), never overwriting.
    """
    _require_staff(actor)
    lock_note(note)
    if note.is_locked:
        raise NoteLocked()
    try:
        expected = int(expected_version)
    except (TypeError, ValueError):
        expected = None
    if expected != note.version:
        raise StaleNoteError(note, None)
    new = {section: normalise_section(texts.get(section)) for section in NOTE_SECTIONS}
    for section, text in new.items():
        if len(text) > MAX_SECTION_CHARS:
            raise PositionError(_("A section may have at most %(n)d characters.", n=MAX_SECTION_CHARS))
    summary = " ".join((summary or "").split())[:MAX_SUMMARY_CHARS]
    changed_sections = [s for s in NOTE_SECTIONS if new[s] != (getattr(note, s) or "")]
    documents_changed = False
    if documents is not None:
        wanted = list(documents)
        session_id = note.agenda_item.session_id
        if any(d.session_id != session_id for d in wanted):
            raise PositionError(_("Only documents of the note's session can be linked."))
        documents_changed = {d.id for d in wanted} != {d.id for d in note.documents}
    if not changed_sections and not documents_changed:
        return SaveResult(None, False)

    version = None
    if changed_sections:
        number = note.current_version + 1
        for section in NOTE_SECTIONS:
            setattr(note, section, new[section])
        note.current_version = number
    if documents_changed:
        before = sorted(d.symbol for d in note.documents)
        note.documents = wanted
        note.updated_at = utcnow()  # the note row changes too, so its version moves on
    # The note's UPDATE first: it is the optimistic lock (a race loser stops here, before its version row).
    db.session.flush()
    if changed_sections:
        version = NoteVersion(note_id=note.id, number=note.current_version, summary=summary,
                              author_id=getattr(actor, "id", None), **new)
        db.session.add(version)
        db.session.flush()
        log_action(note, "position_note.version_saved", actor=actor,
                   data={"number": version.number, "sections": changed_sections, "summary": summary})
    if documents_changed:
        log_action(note, "position_note.documents", actor=actor,
                   data={"previous": before, "new": sorted(d.symbol for d in wanted)})
    if version is not None:
        _recompute_status(note, actor=actor)
        _mail_requests(note, _active_requests(note), kind="new_version", actor=actor)
    db.session.flush()
    return SaveResult(version, documents_changed)


def current_version_row(note: PositionNote) -> NoteVersion | None:
    if not note.current_version:
        return None
    return version_row(note, note.current_version)


def version_row(note: PositionNote, number: int) -> NoteVersion | None:
    return db.session.scalar(sa.select(NoteVersion).where(NoteVersion.note_id == note.id,
                                                          NoteVersion.number == number))


def versions(note: PositionNote) -> list[NoteVersion]:
    return db.session.scalars(sa.select(NoteVersion).where(NoteVersion.note_id == note.id)
                              .order_by(NoteVersion.number.desc())).all()


# --- review requests ----------------------------------------------------------------------------------
@dataclass
class ReviewOutcome:
    requests: list[ReviewRequest]
    #: E-mails queued (one per active reviewer of each administration, not already told of this version).
    mailed: int
    #: Administrations with no active reviewer account: nobody was told.
    without_reviewers: list[Administration] = field(default_factory=list)


def review_administrations() -> list[Administration]:
    """The administrations a review can be asked of (the configured country's, as loaded; active ones)."""
    return db.session.scalars(sa.select(Administration).where(Administration.is_active.is_(True))
                              .order_by(Administration.name)).all()


def _active_requests(note: PositionNote) -> list[ReviewRequest]:
    return db.session.scalars(sa.select(ReviewRequest).where(
        ReviewRequest.note_id == note.id, ReviewRequest.withdrawn_at.is_(None)).order_by(ReviewRequest.id)
        .options(_REQUEST_NO_DOCUMENTS)).all()


def request_review(note: PositionNote, administrations: Iterable[Administration], due_date: dt.date, *, actor,
                   today: dt.date | None = None) -> ReviewOutcome:
    """Ask each administration to review the note by ``due_date`` (e-mail to its reviewers).

    Asking an administration again updates the due date (a withdrawn request comes back). The e-mail is
    keyed per request and version, so asking twice for the same version tells nobody twice.
    """
    _require_staff(actor)
    lock_note(note)
    if note.is_locked:
        raise NoteLocked()
    if not note.current_version:
        raise PositionError(_("Save a first version of the note before asking for its review."))
    administrations = list({a.id: a for a in administrations}.values())
    if not administrations:
        raise PositionError(_("Choose at least one administration."))
    today = today or local_today()
    if due_date is None or due_date < today:
        raise PositionError(_("The due date cannot be in the past."))
    existing = {r.administration_id: r for r in db.session.scalars(
        sa.select(ReviewRequest).where(ReviewRequest.note_id == note.id).options(_REQUEST_NO_DOCUMENTS))}
    now = utcnow()
    requests = []
    for administration in administrations:
        request = existing.get(administration.id)
        if request is None:
            request = ReviewRequest(note_id=note.id, administration_id=administration.id, due_date=due_date,
                                    requested_by_id=getattr(actor, "id", None), requested_at=now)
            db.session.add(request)
            db.session.flush()
            log_action(note, "position_note.review_requested", actor=actor,
                       data={"request_id": request.id, "administration": administration.code,
                             "due_date": due_date, "version": note.current_version})
        else:
            previous_due, renewed = request.due_date, request.withdrawn_at is not None
            if renewed:
                request.withdrawn_at = None
                request.requested_at = now
                request.requested_by_id = getattr(actor, "id", None)
            request.due_date = due_date
            if renewed or previous_due != due_date:
                db.session.flush()
                log_action(note, "position_note.review_requested", actor=actor,
                           data={"request_id": request.id, "administration": administration.code,
                                 "due_date": due_date, "previous_due_date": previous_due, "renewed": renewed,
                                 "version": note.current_version})
        requests.append(request)
    db.session.flush()
    _recompute_status(note, actor=actor)
    mailed, told = _mail_requests(note, requests, kind="request", actor=actor)
    db.session.flush()
    without = [a for a in administrations if a.id not in told]
    return ReviewOutcome(requests, mailed, without)


def withdraw_review(request: ReviewRequest, *, actor) -> None:
    """Staff no longer need this administration's clearance (the history stays)."""
    _require_staff(actor)
    note = request.note
    lock_note(note)
    if note.is_locked:
        raise NoteLocked()
    if request.withdrawn_at is not None:
        return
    request.withdrawn_at = utcnow()
    db.session.flush()
    log_action(note, "position_note.review_withdrawn", actor=actor,
               data={"request_id": request.id, "administration": request.administration.code})
    _recompute_status(note, actor=actor)
    db.session.flush()


def reviewers_by_administration(administration_ids: Iterable[int]) -> dict[int, list[User]]:
    """The active reviewer accounts of each administration (one query)."""
    ids = set(administration_ids)
    out: dict[int, list[User]] = {i: [] for i in ids}
    if not ids:
        return out
    users = db.session.scalars(sa.select(User).join(UserRole, UserRole.user_id == User.id).where(
        UserRole.role == Role.REVIEWER, User.is_enabled.is_(True), User.administration_id.in_(ids))
        .order_by(User.id)).unique().all()
    for user in users:
        out[user.administration_id].append(user)
    return out


def _language(user) -> str:
    languages = current_app.config.get("LANGUAGES", ["en"])
    return user.locale if user.locale in languages else current_app.config.get("BABEL_DEFAULT_LOCALE", "en")


def _mail_requests(note: PositionNote, requests: list[ReviewRequest], *, kind: str, actor) -> tuple[int, set[int]]:
    """E-mail every active reviewer of each request's administration about the note's current version.

    ``kind``: "request" (asked to review) or "new_version" (a new version awaits clearance). One key per
    request, version and reviewer, so a second call for the same version adds nothing.
    Returns (how many queued, ids of the administrations that have reviewers).
    """
    if not requests or not note.current_version:
        return 0, set()
    reviewers = reviewers_by_administration(r.administration_id for r in requests)
    queued = 0
    for request in requests:
        for user in reviewers.get(request.administration_id, []):
            key = f"position-review:{request.id}:v{note.current_version}:{user.id}"
            if queue_review_mail(note, request, user, template=kind, key=key, actor=actor) is not None:
                queued += 1
    return queued, {i for i, users in reviewers.items() if users}


SUBJECTS = {
    "request": lambda item, session: _("Position note to review: %(item)s (%(session)s)", item=item, session=session),
    "new_version": lambda item, session: _("New version to clear: %(item)s (%(session)s)", item=item,
                                           session=session),
    "reminder": lambda item, session: _("Reminder: review due for %(item)s (%(session)s)", item=item,
                                        session=session),
}


def queue_review_mail(note: PositionNote, request: ReviewRequest, user: User, *, template: str, key: str,
                       actor=None, days_left: int | None = None):
    from focalpoint.security import external_url

    item = note.agenda_item
    with force_locale(_language(user)):
        item_label = _("Item %(number)s: %(title)s", number=item.number, title=item.title)
        text, html = render_email(
            f"positions/emails/{template}", note=note, request=request, reviewer=user, item=item,
            item_label=item_label, session=item.session, administration=request.administration,
            version=note.current_version, requested_by=actor if template == "request" else None,
            days_left=days_left, link=external_url("positions.detail", note_id=note.id),
            versions_link=external_url("positions.versions", note_id=note.id))
        subject = SUBJECTS[template](item_label, item.session.code)
    return queue_email(to=user.email, subject=subject, text=text, html=html, idem_key=key,
                       category=f"position-{template.replace('_', '-')}", related=request)


# --- comments -----------------------------------------------------------------------------------------
def _clean_body(body: str | None) -> str:
    body = clean_text(body).strip()
    if not body:
        raise PositionError(_("Write a comment."))
    if len(body) > MAX_COMMENT_CHARS:
        raise PositionError(_("A comment may have at most %(n)d characters.", n=MAX_COMMENT_CHARS))
    return body


def _check_current(note: PositionNote, note_version) -> None:
    try:
        number = int(note_version)
    except (TypeError, ValueError):
        number = None
    if number != note.current_version:
        raise OutdatedVersionError(note.current_version)


def add_comment(note: PositionNote, *, actor, section: str | None, paragraph: int | None, body: str,
                note_version) -> NoteComment:
    """A reviewer's comment on a paragraph (or a whole section, or the whole note) of the current version.

    The paragraph's text is kept as the quote (the paragraph may change in later versions).
    """
    lock_note(note)
    request = _reviewer_request(note, actor)
    if note.is_locked:
        raise NoteLocked()
    if not note.current_version:
        raise PositionError(_("The note has no text yet."))
    _check_current(note, note_version)
    body = _clean_body(body)
    quote = ""
    if section in (None, ""):
        section, paragraph = None, None
    elif section not in NOTE_SECTIONS:
        raise PositionError(_("Choose a section of the note."))
    elif paragraph is not None:
        texts = paragraphs(getattr(note, section))
        if not 1 <= paragraph <= len(texts):
            raise PositionError(_("This section has no paragraph %(n)d.", n=paragraph))
        quote = texts[paragraph - 1]
    comment = NoteComment(note_id=note.id, note_version=note.current_version, section=section, paragraph=paragraph,
                          quote=quote, body=body, author_id=actor.id, administration_id=request.administration_id)
    db.session.add(comment)
    db.session.flush()
    log_action(note, "position_note.commented", actor=actor,
               data={"comment_id": comment.id, "administration": request.administration.code, "section": section,
                     "paragraph": paragraph, "version": note.current_version})
    db.session.flush()
    return comment


def _root(comment: NoteComment) -> NoteComment:
    return db.session.get(NoteComment, comment.parent_id) if comment.parent_id else comment


def answer_comment(comment: NoteComment, *, actor, body: str) -> NoteComment:
    """Staff's answer to a reviewer's comment (answers hang on the comment that opened the thread)."""
    _require_staff(actor)
    note = db.session.get(PositionNote, comment.note_id)
    lock_note(note)
    if note.is_locked:
        raise NoteLocked()
    root = _root(comment)
    answer = NoteComment(note_id=note.id, note_version=note.current_version, section=root.section,
                         paragraph=root.paragraph, quote="", body=_clean_body(body),
                         author_id=getattr(actor, "id", None), administration_id=None, parent_id=root.id)
    db.session.add(answer)
    db.session.flush()
    log_action(note, "position_note.comment_answered", actor=actor,
               data={"comment_id": root.id, "answer_id": answer.id})
    db.session.flush()
    return answer


def resolve_comment(comment: NoteComment, *, actor) -> None:
    """Mark a comment's thread as dealt with (shown collapsed). A repeat is a no-op."""
    _require_staff(actor)
    root = _root(comment)
    if root.resolved_at is not None:
        return
    root.resolved_at = utcnow()
    log_action(db.session.get(PositionNote, root.note_id), "position_note.comment_resolved", actor=actor,
               data={"comment_id": root.id})
    db.session.flush()


def comment_threads(note: PositionNote, user) -> list[tuple[NoteComment, list[NoteComment]]]:
    """(comment, its answers) in the order of the note (section, paragraph, time); one query.

    A reviewer sees only the threads opened by their own administration.
    """
    rows = db.session.scalars(sa.select(NoteComment).where(NoteComment.note_id == note.id)
                              .order_by(NoteComment.created_at, NoteComment.id)).all()
    answers: dict[int, list[NoteComment]] = {}
    roots = []
    for row in rows:
        if row.parent_id is None:
            roots.append(row)
        else:
            answers.setdefault(row.parent_id, []).append(row)
    if not is_staff(user):
        mine = reviewer_administration_id(user)
        roots = [r for r in roots if mine is not None and r.administration_id == mine]
    order = {s: i for i, s in enumerate(NOTE_SECTIONS)}
    roots.sort(key=lambda r: (-1 if r.section is None else order.get(r.section, 99), r.paragraph or 0,
                              r.created_at, r.id))
    return [(root, answers.get(root.id, [])) for root in roots]


# --- clearance ----------------------------------------------------------------------------------------
def decide_clearance(note: PositionNote, *, actor, decision, reason: str = "", note_version) -> Clearance:
    """The reviewer's administration clears or objects to the note's current version (a reason is needed to
    object). The latest decision per administration counts; the note is approved when all have cleared."""
    lock_note(note)
    request = _reviewer_request(note, actor)
    if note.is_locked:
        raise NoteLocked()
    if not note.current_version:
        raise PositionError(_("The note has no text yet."))
    _check_current(note, note_version)
    try:
        decision = ClearanceDecision(decision)
    except ValueError:
        raise PositionError(_("Choose to clear or to object.")) from None
    reason = clean_text(reason).strip()
    if len(reason) > MAX_COMMENT_CHARS:
        raise PositionError(_("A reason may have at most %(n)d characters.", n=MAX_COMMENT_CHARS))
    if decision == ClearanceDecision.OBJECTED and not reason:
        raise PositionError(_("Say why your administration objects."))
    clearance = Clearance(request_id=request.id, note_version=note.current_version, decision=decision, reason=reason,
                          user_id=actor.id)
    db.session.add(clearance)
    db.session.flush()
    log_action(note, f"position_note.{decision.value}", actor=actor,
               data={"request_id": request.id, "administration": request.administration.code,
                     "version": note.current_version, "reason": reason})
    _recompute_status(note, actor=actor)
    db.session.flush()
    return clearance


def reopen_note(note: PositionNote, *, actor, reason: str = "") -> NoteVersion:
    """Unlock an approved note. Its text becomes a new version, so every administration clears it again."""
    _require_staff(actor)
    lock_note(note)
    if not note.is_locked:
        raise PositionError(_("Only an approved note can be reopened."))
    reason = " ".join((reason or "").split())[:300]
    note.current_version += 1
    note.approved_at = None
    db.session.flush()
    version = NoteVersion(note_id=note.id, number=note.current_version, author_id=getattr(actor, "id", None),
                          summary=(_("Reopened: %(reason)s", reason=reason) if reason else _("Reopened"))[:500],
                          **note_texts(note))
    db.session.add(version)
    db.session.flush()
    log_action(note, "position_note.reopened", actor=actor, data={"version": version.number, "reason": reason})
    _recompute_status(note, actor=actor, force=True)
    _mail_requests(note, _active_requests(note), kind="new_version", actor=actor)
    db.session.flush()
    return version


# --- the status ---------------------------------------------------------------------------------------
class ReviewState(StrEnum):
    NOT_REQUESTED = "not_requested"
    #: Asked, no decision yet (or an objection to an older version).
    PENDING = "pending"
    CLEARED = "cleared"
    OBJECTED = "objected"
    #: Cleared an older version: the current one awaits the administration's clearance.
    STALE = "stale"


def review_state(request: ReviewRequest | None, latest: Clearance | None, current_version: int) -> ReviewState:
    """An administration's state for a note, from its request and its latest decision."""
    if request is None or request.withdrawn_at is not None:
        return ReviewState.NOT_REQUESTED
    if latest is None:
        return ReviewState.PENDING
    if latest.note_version != current_version:
        return ReviewState.STALE if latest.decision == ClearanceDecision.CLEARED else ReviewState.PENDING
    return ReviewState.CLEARED if latest.decision == ClearanceDecision.CLEARED else ReviewState.OBJECTED


def reviewer_state(review: AdministrationReview, current_version: int) -> str:
    """The state as the administration's reviewers read it: "to_clear", "cleared", "objected" or "new_version"
    (they decided on an older version)."""
    if review.state in (ReviewState.CLEARED, ReviewState.OBJECTED):
        return review.state.value
    if review.latest is not None and review.latest.note_version != current_version:
        return "new_version"
    return "to_clear"


def latest_clearances(request_ids: Iterable[int]) -> dict[int, Clearance]:
    """The latest decision per review request (one query)."""
    ids = list(set(request_ids))
    if not ids:
        return {}
    latest = sa.select(sa.func.max(Clearance.id)).where(Clearance.request_id.in_(ids)).group_by(Clearance.request_id)
    return {c.request_id: c for c in db.session.scalars(sa.select(Clearance).where(Clearance.id.in_(latest))
                                                        .options(_CLEARANCE_NO_DOCUMENTS))}


def _recompute_status(note: PositionNote, *, actor=None, force: bool = False) -> NoteStatus:
    """Derive the note's status from its requests and decisions; the only writer of ``status``.

    No request: draft. Every requested administration cleared the current version: approved (locked).
    Otherwise: in review. An approved note changes only through ``reopen_note`` (``force``).
    """
    if note.is_locked and not force:
        return note.status
    requests = _active_requests(note)
    if not requests:
        new = NoteStatus.DRAFT
    else:
        latest = latest_clearances(r.id for r in requests)
        states = [review_state(r, latest.get(r.id), note.current_version) for r in requests]
        new = NoteStatus.APPROVED if note.current_version and all(s == ReviewState.CLEARED for s in states) \
            else NoteStatus.IN_REVIEW
    previous = note.status
    if new != previous:
        note.status = new
        note.approved_at = utcnow() if new == NoteStatus.APPROVED else None
        db.session.flush()
        log_action(note, "position_note.status", actor=actor,
                   data={"previous": previous, "new": new, "version": note.current_version})
        if new == NoteStatus.APPROVED:
            log_action(note, "position_note.approved", actor=actor, data={"version": note.current_version})
    return new


# --- what pages and other domains read ------------------------------------------------------------------
@dataclass
class AdministrationReview:
    """One administration's part in a note's review."""

    request: ReviewRequest
    state: ReviewState
    latest: Clearance | None


def note_reviews(note_ids: Iterable[int], *, include_withdrawn: bool = False) -> dict[int, list[AdministrationReview]]:
    """Per note, its review requests with each administration's state (two queries, whatever the number)."""
    ids = list(set(note_ids))
    out: dict[int, list[AdministrationReview]] = {i: [] for i in ids}
    if not ids:
        return out
    stmt = sa.select(ReviewRequest).where(ReviewRequest.note_id.in_(ids)).options(_REQUEST_NO_DOCUMENTS)
    if not include_withdrawn:
        stmt = stmt.where(ReviewRequest.withdrawn_at.is_(None))
    requests = db.session.scalars(stmt).all()
    latest = latest_clearances(r.id for r in requests)
    for r in sorted(requests, key=lambda r: (r.withdrawn_at is not None, r.administration.name)):
        out[r.note_id].append(AdministrationReview(r, review_state(r, latest.get(r.id), r.note.current_version),
                                                   latest.get(r.id)))
    return out


def clearance_history(note: PositionNote) -> list[Clearance]:
    """Every decision on the note, newest first (one query)."""
    return db.session.scalars(sa.select(Clearance).join(ReviewRequest, ReviewRequest.id == Clearance.request_id)
                              .where(ReviewRequest.note_id == note.id).options(_CLEARANCE_NO_DOCUMENTS)
                              .order_by(Clearance.created_at.desc(), Clearance.id.desc())).all()


@dataclass
class NoteStatusRow:
    """A row of the clearance matrix: an agenda item, its note (or None) and each administration's state."""

    item: AgendaItem
    note: PositionNote | None
    #: Administration id → "not_requested" | "pending" | "cleared" | "objected" | "stale", for every active
    #: administration and every administration asked.
    states: dict[int, str]
    #: Administration id → its (not withdrawn) request, for the due date.
    requests: dict[int, ReviewRequest] = field(default_factory=dict)
    #: Administration id → its latest decision (reason of an objection ...).
    latest: dict[int, Clearance] = field(default_factory=dict)

    def state(self, administration_id: int) -> str:
        return self.states.get(administration_id, ReviewState.NOT_REQUESTED.value)


def note_status_rows(session: PlenarySession) -> list[NoteStatusRow]:
    """The clearance matrix of a session: per agenda item (in agenda order) its note and per administration
    its state. A constant number of queries, whatever the number of items, notes and administrations."""
    rows = db.session.execute(
        sa.select(AgendaItem, PositionNote).outerjoin(PositionNote, PositionNote.agenda_item_id == AgendaItem.id)
        .where(AgendaItem.session_id == session.id).order_by(AgendaItem.position, AgendaItem.number, AgendaItem.id)
    ).unique().all()
    reviews = note_reviews([note.id for _item, note in rows if note is not None])
    base = {a.id: ReviewState.NOT_REQUESTED.value for a in review_administrations()}
    out = []
    for item, note in rows:
        states, requests, latest = dict(base), {}, {}
        for review in reviews.get(note.id, []) if note is not None else []:
            administration_id = review.request.administration_id
            states[administration_id] = review.state.value
            requests[administration_id] = review.request
            if review.latest is not None:
                latest[administration_id] = review.latest
        out.append(NoteStatusRow(item, note, states, requests, latest))
    return out


def open_requests_clause(today: dt.date | None = None):
    """SQL condition on ReviewRequest (joined to its PositionNote): asked, not withdrawn, the note not approved,
    and no decision yet on the note's current version."""
    decided = sa.select(Clearance.id).where(Clearance.request_id == ReviewRequest.id,
                                            Clearance.note_version == PositionNote.current_version)
    return sa.and_(ReviewRequest.withdrawn_at.is_(None), PositionNote.status != NoteStatus.APPROVED,
                   ~decided.exists())


def next_due_column():
    """Correlated SQL value on PositionNote: the earliest due date among its open requests (None when none)."""
    return (sa.select(sa.func.min(ReviewRequest.due_date))
            .where(ReviewRequest.note_id == PositionNote.id, open_requests_clause())
            .correlate(PositionNote).scalar_subquery())


def overdue_clause(today: dt.date):
    """SQL condition on PositionNote: an open request is past its due date."""
    return (sa.select(ReviewRequest.id)
            .where(ReviewRequest.note_id == PositionNote.id, open_requests_clause(), ReviewRequest.due_date < today)
            .correlate(PositionNote).exists())


def due_reviews(today: dt.date) -> list[ReviewRequest]:
    """Review requests still awaiting a decision on the current version, due date first (for the dashboard).

    Requests of sessions that ended before ``today`` are left out. Constant queries.
    """
    stmt = (sa.select(ReviewRequest).join(PositionNote, PositionNote.id == ReviewRequest.note_id)
            .join(AgendaItem, AgendaItem.id == PositionNote.agenda_item_id)
            .join(PlenarySession, PlenarySession.id == AgendaItem.session_id)
            .where(open_requests_clause(), sa.or_(PlenarySession.end_date.is_(None), PlenarySession.end_date >= today))
            .order_by(ReviewRequest.due_date, ReviewRequest.id).options(_REQUEST_NO_DOCUMENTS))
    return db.session.scalars(stmt).all()


# --- diffs --------------------------------------------------------------------------------------------
@dataclass
class DiffRow:
    #: "equal", "delete", "insert", "replace" or "skip" (unchanged lines left out).
    kind: str
    left_number: int | None
    left: list[tuple[str, bool]]
    right_number: int | None
    right: list[tuple[str, bool]]
    #: For "skip": how many unchanged lines.
    skipped: int = 0


@dataclass
class SectionDiff:
    section: str
    changed: bool
    rows: list[DiffRow]


_WORDS = re.compile(r"\s+|\w+|[^\w\s]", re.UNICODE)


def _word_parts(old: str, new: str) -> tuple[list[tuple[str, bool]], list[tuple[str, bool]]]:
    a, b = _WORDS.findall(old), _WORDS.findall(new)
    left, right = [], []
    for tag, i1, i2, j1, j2 in difflib.SequenceMatcher(None, a, b, autojunk=False).get_opcodes():
        if i2 > i1:
            left.append(("".join(a[i1:i2]), tag != "equal"))
        if j2 > j1:
            right.append(("".join(b[j1:j2]), tag != "equal"))
    return left, right


def diff_text(old: str, new: str, *, context: int = 2) -> list[DiffRow]:
    """Line by line (words inside changed lines), with at most ``context`` unchanged lines around changes."""
    a, b = (old or "").split("\n") if old else [], (new or "").split("\n") if new else []
    rows: list[DiffRow] = []
    for tag, i1, i2, j1, j2 in difflib.SequenceMatcher(None, a, b, autojunk=False).get_opcodes():
        if tag == "equal":
            length = i2 - i1
            keep_head = context if rows else 0
            keep_tail = context if i2 < len(a) or j2 < len(b) else 0
            if length > keep_head + keep_tail + 1:
                ranges = [(0, keep_head), (length - keep_tail, length)]
                for k in range(*ranges[0]):
                    rows.append(DiffRow("equal", i1 + k + 1, [(a[i1 + k], False)], j1 + k + 1, [(b[j1 + k], False)]))
                rows.append(DiffRow("skip", None, [], None, [], skipped=length - keep_head - keep_tail))
                for k in range(*ranges[1]):
                    rows.append(DiffRow("equal", i1 + k + 1, [(a[i1 + k], False)], j1 + k + 1, [(b[j1 + k], False)]))
            else:
                for k in range(length):
                    rows.append(DiffRow("equal", i1 + k + 1, [(a[i1 + k], False)], j1 + k + 1, [(b[j1 + k], False)]))
        elif tag == "replace":
            for k in range(max(i2 - i1, j2 - j1)):
                i, j = i1 + k, j1 + k
                if i < i2 and j < j2:
                    left, right = _word_parts(a[i], b[j])
                    rows.append(DiffRow("replace", i + 1, left, j + 1, right))
                elif i < i2:
                    rows.append(DiffRow("delete", i + 1, [(a[i], True)], None, []))
                else:
                    rows.append(DiffRow("insert", None, [], j + 1, [(b[j], True)]))
        elif tag == "delete":
            rows.extend(DiffRow("delete", i + 1, [(a[i], True)], None, []) for i in range(i1, i2))
        else:
            rows.extend(DiffRow("insert", None, [], j + 1, [(b[j], True)]) for j in range(j1, j2))
    return rows


def diff_sections(old: Mapping[str, str], new: Mapping[str, str]) -> list[SectionDiff]:
    """Each section of two versions compared (``old`` / ``new``: section → text)."""
    out = []
    for section in NOTE_SECTIONS:
        before, after = old.get(section) or "", new.get(section) or ""
        out.append(SectionDiff(section, before != after, diff_text(before, after)))
    return out


def conflict_diff(note: PositionNote, base: int | None) -> tuple[NoteVersion | None, list[SectionDiff]]:
    """What someone else saved since version ``base`` (what the editor loaded): (the current version, diff)."""
    current = current_version_row(note)
    loaded = version_row(note, base) if base else None
    before = note_texts(loaded) if loaded is not None else {s: "" for s in NOTE_SECTIONS}
    if base is not None and base == note.current_version:
        before = note_texts(note)
    return current, diff_sections(before, note_texts(note))
