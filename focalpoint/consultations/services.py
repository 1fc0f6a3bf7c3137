"""Staff's consultation actions: the consultation, its documents, inviting experts and reminding them,
and the consolidation of comments (``decide_comment`` is the one place that writes a decision).

Every function flushes and none commits: the request, command or job that calls them commits. A
participant's link carries a random secret of which only the hash is stored (links.py); sending the
invitation again, or a reminder, issues a new secret, so the link in the latest e-mail is the one
that works.
"""
from __future__ import annotations

import datetime as dt
import os
import re
import secrets
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

import sqlalchemy as sa
from babel.dates import format_date as babel_format_date
from flask import current_app
from flask_babel import force_locale
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from focalpoint.audit import AuditEntry, log_action
from focalpoint.consultations import comments as cm
from focalpoint.consultations import links
from focalpoint.consultations.models import (Consultation, ConsultationDocument, Decision, DraftKind, Participant,
                                             ReviewComment)
from focalpoint.db import utcnow
from focalpoint.extensions import db
from focalpoint.mail import OutboxMessage, queue_email, render_email

LANGUAGES = ("en", "fr", "nl")


class ConsultationError(ValueError):
    """A user-facing refusal (the message is shown as is); ``field`` names the form field at fault."""

    def __init__(self, message: str, field: str | None = None):
        super().__init__(message)
        self.field = field


class StaleFormError(ConsultationError):
    """The form was made from an older version of the row: someone changed it in the meantime."""


def check_version(obj, version) -> None:
    """Refuse a form built on another version of ``obj`` (optimistic lock across GET → POST)."""
    try:
        submitted = int(version)
    except (TypeError, ValueError):
        submitted = None
    if submitted != obj.version:
        raise StaleFormError(_("Someone changed this since you opened the page; nothing was saved. "
                               "The page now shows the current state: check it and try again."))


# --- labels -----------------------------------------------------------------------------------------------
DRAFT_LABELS = {
    DraftKind.SCOPING: _l("Scoping report"),
    DraftKind.FOD: _l("First order draft"),
    DraftKind.SOD: _l("Second order draft"),
    DraftKind.SPM: _l("Summary for policymakers"),
    DraftKind.OTHER: _l("Other draft"),
}
STATE_LABELS = {"upcoming": _l("Not open yet"), "open": _l("Open"), "closed": _l("Closed")}
DECISION_LABELS = {
    Decision.ADOPT: _l("Adopt"),
    Decision.ADOPT_EDITED: _l("Adopt edited"),
    Decision.MERGE: _l("Merge into another"),
    Decision.REJECT: _l("Reject"),
}


# --- dates ------------------------------------------------------------------------------------------------
def local_today(now: dt.datetime | None = None) -> dt.date:
    """Today in the NFP's time zone (the days of a consultation are days there)."""
    from focalpoint.invitations.services import local_date

    return local_date(now or utcnow())


def state_clause(state: str, today: dt.date):
    """SQL condition for ``upcoming``, ``open`` or ``closed`` on ``today`` (the same as comments.state)."""
    if state == "upcoming":
        return Consultation.opens_on > today
    if state == "open":
        return sa.and_(Consultation.opens_on <= today, Consultation.closes_on >= today)
    return Consultation.closes_on < today


def reminder_marks(text: str | None) -> list[int]:
    """Reminder days ("7;2" → [7, 2], largest first); anything that is not a whole number of days is ignored."""
    marks = set()
    for part in (text or "").replace(",", ";").split(";"):
        part = part.strip()
        if part.isdigit() and int(part) <= 366:
            marks.add(int(part))
    return sorted(marks, reverse=True)


def _format_day(day: dt.date | None, language: str) -> str:
    return babel_format_date(day, format="long", locale=language) if day else "—"


# --- the consultation -------------------------------------------------------------------------------------
CONSULTATION_FIELDS = ("title", "deliverable_id", "draft", "description", "confidentiality_note", "opens_on",
                       "closes_on", "secretariat_deadline", "reminder_days")


def clean_values(values: dict) -> dict:
    """The consultation fields among ``values``, tidied (white space, draft, reminder days)."""
    out = {k: values[k] for k in CONSULTATION_FIELDS if k in values}
    if "title" in out:
        out["title"] = " ".join((out["title"] or "").split())[:300]
    for key in ("description", "confidentiality_note"):
        if key in out:
            out[key] = (out[key] or "").strip()
    if "draft" in out:
        try:
            out["draft"] = DraftKind(out["draft"] or DraftKind.OTHER)
        except ValueError:
            raise ConsultationError(_("Choose the kind of draft."), "draft") from None
    if "deliverable_id" in out:
        out["deliverable_id"] = out["deliverable_id"] or None
    if "reminder_days" in out:
        out["reminder_days"] = ";".join(str(m) for m in reminder_marks(out["reminder_days"]))
    return out


def _check_consultation(values: dict) -> None:
    if not values.get("title"):
        raise ConsultationError(_("A consultation needs a title."), "title")
    if values.get("opens_on") is None:
        raise ConsultationError(_("Set the opening date."), "opens_on")
    if values.get("closes_on") is None:
        raise ConsultationError(_("Set the closing date."), "closes_on")
    if values["closes_on"] < values["opens_on"]:
        raise ConsultationError(_("The consultation closes before it opens: the closing date must be on or "
                                  "after the opening date."), "closes_on")
    if values.get("deliverable_id"):
        from focalpoint.reference.models import Deliverable

        if db.session.get(Deliverable, values["deliverable_id"]) is None:
            raise ConsultationError(_("Choose a deliverable from the list."), "deliverable_id")


def create_consultation(*, actor, notification=None, **values) -> Consultation:
    """A new consultation (from a secretariat notification, or not)."""
    values = clean_values(values)
    _check_consultation(values)
    consultation = Consultation(**values, notification_id=notification.id if notification is not None else None,
                                created_by_id=getattr(actor, "id", None))
    db.session.add(consultation)
    db.session.flush()
    log_action(consultation, "consultation.created", actor=actor,
               data={"notification_id": consultation.notification_id,
                     **{k: values.get(k) for k in ("title", "deliverable_id", "draft", "opens_on", "closes_on")}})
    return consultation


def update_consultation(consultation: Consultation, *, actor, **values) -> list[str]:
    """Change a consultation's fields; returns the names of those that changed (logged)."""
    values = clean_values(values)
    merged = {k: getattr(consultation, k) for k in CONSULTATION_FIELDS} | values
    _check_consultation(merged)
    changed = {}
    for key, value in values.items():
        if value != getattr(consultation, key):
            changed[key] = {"before": getattr(consultation, key), "after": value}
            setattr(consultation, key, value)
    if changed:
        log_action(consultation, "consultation.updated", actor=actor, data=changed)
        db.session.flush()
    return sorted(changed)


_DRAFT_WORDS = (
    (DraftKind.SPM, re.compile(r"summary for policy ?makers|\bSPM\b", re.I)),
    (DraftKind.SOD, re.compile(r"second[- ]order draft|\bSOD\b", re.I)),
    (DraftKind.FOD, re.compile(r"first[- ]order draft|\bFOD\b", re.I)),
    (DraftKind.SCOPING, re.compile(r"scoping", re.I)),
)


def guess_draft(text: str) -> DraftKind:
    for kind, pattern in _DRAFT_WORDS:
        if pattern.search(text or ""):
            return kind
    return DraftKind.OTHER


def consultation_prefill(notification) -> dict:
    """What a consultation opened from a review notification starts with (staff check it before saving):
    its title, the deliverable and the kind of draft read from its text, today as the opening date, the
    national deadline as the close, and the earliest secretariat deadline."""
    from focalpoint.nominations.matching import guess_deliverable
    from focalpoint.nominations.services import deliverable_refs

    text = f"{notification.title}\n{notification.text or ''}"
    year = notification.published_at.year if notification.published_at else None
    deliverable = guess_deliverable(text, deliverable_refs(), year=year)
    dates = sorted(d.date for d in notification.active_deadlines)
    today = local_today()
    closes_on = notification.national_deadline or (dates[0] if dates else None)
    return {
        "title": notification.title[:300],
        "deliverable_id": deliverable.id if deliverable else None,
        "draft": guess_draft(text).value,
        "opens_on": today if closes_on is None or closes_on >= today else closes_on,
        "closes_on": closes_on,
        "secretariat_deadline": dates[0] if dates else None,
        "notification_id": notification.id,
    }


# --- documents --------------------------------------------------------------------------------------------
DOCUMENT_TYPES = {"pdf": "application/pdf",
                  "docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document"}
STORED_NAME = re.compile(r"^[0-9a-f]{32}\.(pdf|docx)$")


def upload_max_bytes() -> int:
    return int(current_app.config.get("CONSULTATION_UPLOAD_MAX_MB", 10)) * 1024 * 1024


def read_upload(stream, limit: int | None = None) -> bytes:
    """At most ``limit`` bytes of an uploaded file; raises ConsultationError when it is larger."""
    limit = limit or upload_max_bytes()
    data = stream.read(limit + 1)
    if len(data) > limit:
        raise ConsultationError(_("The file is larger than %(n)d MB.", n=limit // (1024 * 1024)), "file")
    return data


def document_kind(data: bytes) -> str:
    """``pdf`` or ``docx``, read from the content (never from the name); raises ConsultationError otherwise."""
    from focalpoint.experts.services import ExpertError, check_zip

    if data.startswith(b"%PDF-"):
        return "pdf"
    if data.startswith(b"PK\x03\x04"):
        try:
            check_zip(data, required=("[Content_Types].xml", "word/document.xml"))
        except ExpertError as exc:
            raise ConsultationError(str(exc), "file") from None
        return "docx"
    raise ConsultationError(_("A document must be a PDF or a Word (DOCX) file."), "file")


def documents_dir() -> Path:
    return Path(current_app.instance_path) / "consultation_documents"


def document_path(document: ConsultationDocument) -> Path | None:
    """Where the document's file is stored (None for a link, or a stored name that is not one of ours)."""
    if not document.stored_file or not STORED_NAME.match(document.stored_file):
        return None
    return documents_dir() / document.stored_file


def download_name(document: ConsultationDocument) -> str:
    """An ASCII file name for the download: the title made safe, with the extension of the content."""
    import unicodedata

    ext = "docx" if document.content_type == DOCUMENT_TYPES["docx"] else "pdf"
    folded = unicodedata.normalize("NFKD", document.title).encode("ascii", "ignore").decode()
    safe = re.sub(r"[^A-Za-z0-9._-]+", "_", folded).strip("._-")[:80] or "document"
    return f"{safe}.{ext}"


def _document_title(consultation: Consultation, title: str, *, exclude: int | None = None) -> str:
    title = " ".join((title or "").split())
    if not title:
        raise ConsultationError(_("Give the document a title (it is the name used in the template's Document "
                                  "column)."), "title")
    if len(title) > 200:
        raise ConsultationError(_("The title is longer than %(n)d characters.", n=200), "title")
    if any(d.title.casefold() == title.casefold() and d.id != exclude for d in consultation.documents):
        raise ConsultationError(_("This consultation already has a document titled “%(title)s”.", title=title),
                                "title")
    return title


def check_link(url: str) -> str:
    """A web address staff may link to: http or https with a host, no spaces; raises ConsultationError."""
    url = (url or "").strip()
    parts = urlsplit(url)
    if (parts.scheme.lower() not in ("http", "https") or not parts.hostname or len(url) > 1000
            or any(ch.isspace() or not ch.isprintable() for ch in url)):
        raise ConsultationError(_("A link must be a web address starting with http:// or https://."), "url")
    return url


def _next_position(consultation: Consultation) -> int:
    return max((d.position for d in consultation.documents), default=-1) + 1


def add_document_file(consultation: Consultation, data: bytes, filename: str | None, *, title: str,
                      actor) -> ConsultationDocument:
    """Check and keep an uploaded PDF or DOCX under a random name (removed again if the request fails)."""
    from focalpoint.experts.services import _client_filename, _delete_if_rolled_back

    title = _document_title(consultation, title)
    if not data:
        raise ConsultationError(_("The file is empty."), "file")
    if len(data) > upload_max_bytes():
        raise ConsultationError(_("The file is larger than %(n)d MB.", n=upload_max_bytes() // (1024 * 1024)),
                                "file")
    kind = document_kind(data)
    folder = documents_dir()
    folder.mkdir(parents=True, exist_ok=True)
    name = f"{secrets.token_hex(16)}.{kind}"
    path = folder / name
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(data)
    _delete_if_rolled_back(path)
    document = ConsultationDocument(title=title, position=_next_position(consultation), stored_file=name,
                                    filename=_client_filename(filename)[:255], content_type=DOCUMENT_TYPES[kind],
                                    size=len(data), uploaded_at=utcnow())
    consultation.documents.append(document)
    db.session.flush()
    log_action(consultation, "consultation.document_added", actor=actor,
               data={"document_id": document.id, "title": title, "type": kind, "size": len(data)})
    return document


def add_document_link(consultation: Consultation, url: str, *, title: str, actor) -> ConsultationDocument:
    title = _document_title(consultation, title)
    url = check_link(url)
    document = ConsultationDocument(title=title, position=_next_position(consultation), url=url)
    consultation.documents.append(document)
    db.session.flush()
    log_action(consultation, "consultation.document_added", actor=actor,
               data={"document_id": document.id, "title": title, "url": url})
    return document


def remove_document(document: ConsultationDocument, *, actor) -> None:
    """Remove a document (its file is deleted once committed); comments keep the document's title."""
    from focalpoint.experts.services import _delete_when_committed

    consultation = document.consultation
    path = document_path(document)
    if path is not None:
        _delete_when_committed(path)
    log_action(consultation, "consultation.document_removed", actor=actor,
               data={"document_id": document.id, "title": document.title})
    consultation.documents.remove(document)
    db.session.flush()


def move_document(document: ConsultationDocument, delta: int, *, actor) -> None:
    """Move a document up (-1) or down (+1) in the list (the template's Document order follows)."""
    consultation = document.consultation
    ordered = sorted(consultation.documents, key=lambda d: (d.position, d.id))
    index = ordered.index(document)
    target = max(0, min(len(ordered) - 1, index + delta))
    if target == index:
        return
    ordered.insert(target, ordered.pop(index))
    for position, doc in enumerate(ordered):
        doc.position = position
    log_action(consultation, "consultation.document_moved", actor=actor,
               data={"document_id": document.id, "position": target})
    db.session.flush()


# --- who can be invited -----------------------------------------------------------------------------------
def invitable_clause():
    """Experts who can take part: active (not pending review, not erased) and not merged into another."""
    from focalpoint.experts.models import Expert, ExpertStatus

    return sa.and_(Expert.status == ExpertStatus.ACTIVE, Expert.merged_into_id.is_(None), Expert.email.isnot(None))


#: Nominations that make an expert "involved in the deliverable".
INVOLVED_NOMINATION_STATES = ("endorsed", "submitted", "selected")


def involved_clause(deliverable_id: int):
    """Experts involved in a deliverable: it is among their declared deliverables, or they held a role on it,
    or they were endorsed, nominated or selected on a call for it."""
    from focalpoint.experts.models import Expert, PastRole, expert_deliverables
    from focalpoint.nominations.models import Nomination, NominationCall

    return sa.or_(
        sa.exists().where(expert_deliverables.c.expert_id == Expert.id,
                          expert_deliverables.c.deliverable_id == deliverable_id),
        sa.exists().where(PastRole.expert_id == Expert.id, PastRole.deliverable_id == deliverable_id),
        sa.exists().where(Nomination.expert_id == Expert.id, Nomination.state.in_(INVOLVED_NOMINATION_STATES),
                          Nomination.call_id.in_(sa.select(NominationCall.id).where(
                              NominationCall.deliverable_id == deliverable_id))),
    )


def involvement(deliverable_id: int, expert_ids) -> dict[int, list[str]]:
    """Why each of ``expert_ids`` is involved in the deliverable: "declared", "past role", "nomination"
    (three queries whatever the number)."""
    from focalpoint.experts.models import PastRole, expert_deliverables
    from focalpoint.nominations.models import Nomination, NominationCall

    ids = list(expert_ids)
    reasons: dict[int, list[str]] = {i: [] for i in ids}
    if not ids:
        return reasons
    for (expert_id,) in db.session.execute(sa.select(expert_deliverables.c.expert_id).where(
            expert_deliverables.c.expert_id.in_(ids), expert_deliverables.c.deliverable_id == deliverable_id)):
        reasons[expert_id].append("declared")
    for (expert_id,) in db.session.execute(sa.select(PastRole.expert_id).distinct().where(
            PastRole.expert_id.in_(ids), PastRole.deliverable_id == deliverable_id)):
        reasons[expert_id].append("past_role")
    for (expert_id,) in db.session.execute(sa.select(Nomination.expert_id).distinct().join(NominationCall).where(
            Nomination.expert_id.in_(ids), NominationCall.deliverable_id == deliverable_id,
            Nomination.state.in_(INVOLVED_NOMINATION_STATES))):
        reasons[expert_id].append("nomination")
    return reasons


def involved_experts(consultation: Consultation) -> list:
    """Every expert who can take part and is involved in the consultation's deliverable (none without one)."""
    from focalpoint.experts.models import Expert

    if not consultation.deliverable_id:
        return []
    return list(db.session.scalars(sa.select(Expert).where(invitable_clause(), involved_clause(
        consultation.deliverable_id)).order_by(Expert.last_name, Expert.first_name, Expert.id)))


def participants_by_expert(consultation: Consultation, expert_ids=None) -> dict[int, Participant]:
    stmt = sa.select(Participant).where(Participant.consultation_id == consultation.id)
    if expert_ids is not None:
        stmt = stmt.where(Participant.expert_id.in_(list(expert_ids)))
    return {p.expert_id: p for p in db.session.scalars(stmt)}


def refusal_reason(expert, participant: Participant | None) -> str | None:
    """Why ``expert`` cannot be invited (None when they can)."""
    from focalpoint.experts.models import ExpertStatus

    if expert.status == ExpertStatus.ERASED or expert.merged_into_id is not None or not expert.email:
        return _("no longer in the registry")
    if expert.status == ExpertStatus.PENDING_REVIEW:
        return _("pending review in the registry")
    if participant is not None and participant.removed_at is None:
        return _("already invited")
    if expert.consent_contact_at is None:
        return _("has not consented to be contacted")
    return None


@dataclass
class InviteResult:
    added: list[Participant] = field(default_factory=list)
    #: (expert, reason) for those not invited.
    refused: list = field(default_factory=list)
    sent: int = 0


def add_participants(consultation: Consultation, experts, *, actor, send: bool = True) -> InviteResult:
    """Invite ``experts``: a participant for each who can take part (a removed one comes back), and with
    ``send`` their invitation e-mail. The others are returned with the reason, nothing done for them."""
    result = InviteResult()
    experts = list({e.id: e for e in experts}.values())
    existing = participants_by_expert(consultation, [e.id for e in experts])
    for expert in experts:
        participant = existing.get(expert.id)
        reason = refusal_reason(expert, participant)
        if reason:
            result.refused.append((expert, reason))
            continue
        if participant is None:
            participant = Participant(consultation_id=consultation.id, expert_id=expert.id,
                                      invited_by_id=getattr(actor, "id", None))
            db.session.add(participant)
            db.session.flush()
            log_action(participant, "participant.added", actor=actor,
                       data={"consultation": consultation.id, "expert": expert.id})
        else:  # removed before, invited again: a fresh start (a new link when the mail goes)
            participant.removed_at = None
            participant.sent_at = None
            participant.invited_by_id = getattr(actor, "id", None)
            log_action(participant, "participant.restored", actor=actor,
                       data={"consultation": consultation.id, "expert": expert.id})
        result.added.append(participant)
    db.session.flush()
    if send:
        for participant in result.added:
            send_invitation(participant, actor=actor)
            result.sent += 1
    return result


# --- e-mails ----------------------------------------------------------------------------------------------
def _language(expert) -> str:
    return expert.preferred_language if expert.preferred_language in LANGUAGES else "en"


def _mail_context(participant: Participant, link: str, language: str) -> dict:
    consultation = participant.consultation
    return {"participant": participant, "consultation": consultation, "expert": participant.expert, "link": link,
            "draft_label": DRAFT_LABELS.get(consultation.draft, consultation.draft),
            "deliverable": consultation.deliverable.short_name if consultation.deliverable else "",
            "closes_on": _format_day(consultation.closes_on, language),
            "opens_on": _format_day(consultation.opens_on, language),
            "documents": list(consultation.documents), "columns": cm.TEMPLATE_COLUMNS}


def send_count(participant: Participant) -> int:
    """How many times the invitation was sent (from the history, which outlives the outbox's rows)."""
    return db.session.scalar(sa.select(sa.func.count()).select_from(AuditEntry).where(
        AuditEntry.object_type == Participant.__tablename__, AuditEntry.object_id == participant.id,
        AuditEntry.action == "participant.invited")) or 0


def check_may_send(participant: Participant, now: dt.datetime | None = None) -> None:
    consultation = participant.consultation
    if participant.removed_at is not None:
        raise ConsultationError(_("%(name)s was removed from the consultation.", name=participant.expert.name))
    reason = refusal_reason(participant.expert, None)
    if reason:
        raise ConsultationError(_("%(name)s cannot be invited: %(reason)s.", name=participant.expert.name,
                                  reason=reason))
    if cm.state(consultation, now) == "closed":
        raise ConsultationError(_("The consultation is closed: move its closing date before inviting."))


def send_invitation(participant: Participant, *, actor) -> OutboxMessage:
    """Queue the invitation e-mail with a new personal link (an earlier link stops working)."""
    check_may_send(participant)
    expert = participant.expert
    language = _language(expert)
    secret = links.new_secret(participant)
    participant.sent_at = utcnow()
    db.session.flush()
    number = send_count(participant) + 1
    with force_locale(language):
        text, html = render_email("consultations/emails/invite",
                                  **_mail_context(participant, links.review_url(secret), language))
        subject = _("Invitation to review: %(title)s", title=participant.consultation.title)
    message = queue_email(to=expert.email, subject=subject, text=text, html=html,
                          idem_key=f"consultation:{participant.consultation_id}:participant:{participant.id}"
                                   f":invitation:{number}",
                          category="consultation-invitation", related=participant)
    if message is None:  # sent by someone else at the same moment: this new link must not be kept
        raise ConsultationError(_("The invitation was sent by someone else in the meantime."))
    log_action(participant, "participant.invited", actor=actor,
               data={"consultation": participant.consultation_id, "number": number, "language": language})
    db.session.flush()
    return message


def send_pending(consultation: Consultation, *, actor) -> tuple[int, list]:
    """Send the invitation to every participant not told yet; returns (how many, [(participant, reason)])."""
    pending = db.session.scalars(sa.select(Participant).where(
        Participant.consultation_id == consultation.id, Participant.sent_at.is_(None),
        Participant.removed_at.is_(None)).order_by(Participant.id)).all()
    sent, skipped = 0, []
    if pending and cm.state(consultation) == "closed":
        raise ConsultationError(_("The consultation is closed: move its closing date before inviting."))
    for participant in pending:
        reason = refusal_reason(participant.expert, None)
        if reason:
            skipped.append((participant, reason))
            continue
        send_invitation(participant, actor=actor)
        sent += 1
    return sent, skipped


def resend_invitation(participant: Participant, *, actor) -> OutboxMessage:
    """Send the invitation again with a new link (the one in earlier mails stops working)."""
    return send_invitation(participant, actor=actor)


def remove_participant(participant: Participant, *, actor) -> None:
    """Take the expert off the consultation: their link stops working; their comments stay."""
    if participant.removed_at is not None:
        return
    participant.removed_at = utcnow()
    participant.token_hash = None
    log_action(participant, "participant.removed", actor=actor,
               data={"consultation": participant.consultation_id, "expert": participant.expert_id})
    db.session.flush()


def outbox_has(idem_key: str) -> bool:
    return db.session.scalar(sa.select(OutboxMessage.id).where(OutboxMessage.idem_key == idem_key)) is not None


def remind_participant(participant: Participant, *, actor, idem_key: str, mark: str,
                       now: dt.datetime | None = None) -> bool:
    """Queue a reminder with a new link (it replaces the earlier ones); False when ``idem_key`` was sent."""
    now = now or utcnow()
    check_may_send(participant, now)
    if outbox_has(idem_key):
        return False
    expert = participant.expert
    language = _language(expert)
    secret = links.new_secret(participant)
    db.session.flush()
    with force_locale(language):
        context = _mail_context(participant, links.review_url(secret), language)
        context["days_left"] = (participant.consultation.closes_on - local_today(now)).days
        text, html = render_email("consultations/emails/reminder", **context)
        subject = _("Reminder: your comments on %(title)s", title=participant.consultation.title)
    message = queue_email(to=expert.email, subject=subject, text=text, html=html, idem_key=idem_key,
                          category="consultation-reminder", related=participant)
    if message is None:
        raise ConsultationError(_("This reminder was already sent."))
    participant.reminders_sent = (participant.reminders_sent or 0) + 1
    participant.last_reminded_at = now
    log_action(participant, "participant.reminded", actor=actor,
               data={"consultation": participant.consultation_id, "mark": mark})
    db.session.flush()
    return True


# --- reading ----------------------------------------------------------------------------------------------
def comment_counts(consultation: Consultation) -> dict[int, int]:
    """{participant id: number of comments} (one query)."""
    return dict(db.session.execute(
        sa.select(ReviewComment.participant_id, sa.func.count()).where(
            ReviewComment.consultation_id == consultation.id, ReviewComment.participant_id.isnot(None))
        .group_by(ReviewComment.participant_id)).all())


def progress(consultation: Consultation) -> tuple[int, int]:
    """(decided, total) comments of the consultation (one query)."""
    total, decided = db.session.execute(
        sa.select(sa.func.count(), sa.func.count(ReviewComment.decision))
        .where(ReviewComment.consultation_id == consultation.id)).one()
    return decided or 0, total or 0


def count_columns():
    """Correlated counts for the list: participants (not removed), comments, decided comments."""
    participants = (sa.select(sa.func.count(Participant.id))
                    .where(Participant.consultation_id == Consultation.id, Participant.removed_at.is_(None))
                    .correlate(Consultation).scalar_subquery().label("participants"))
    comments = (sa.select(sa.func.count(ReviewComment.id))
                .where(ReviewComment.consultation_id == Consultation.id)
                .correlate(Consultation).scalar_subquery().label("comments"))
    decided = (sa.select(sa.func.count(ReviewComment.id))
               .where(ReviewComment.consultation_id == Consultation.id, ReviewComment.decision.isnot(None))
               .correlate(Consultation).scalar_subquery().label("decided"))
    return participants, comments, decided


# --- consolidation ----------------------------------------------------------------------------------------
@dataclass
class DecisionResult:
    changed: bool
    #: The comment it was merged into, after following merges (for a merge).
    merged_into: ReviewComment | None = None
    #: The chosen target was itself merged: the merge went to that comment's target instead.
    followed_from: ReviewComment | None = None
    #: Ids of comments that were merged into this one and now follow it to its target.
    moved: list[int] = field(default_factory=list)


def _load_target(comment: ReviewComment, merged_into) -> ReviewComment:
    if merged_into is None or merged_into == "":
        raise ConsultationError(_("Choose the comment to merge into."), "merged_into")
    if isinstance(merged_into, ReviewComment):
        target = merged_into
    else:
        try:
            number = int(merged_into)
        except (TypeError, ValueError):
            number = 0
        # An id no row can have (and beyond a 32-bit integer, which PostgreSQL would refuse) finds nothing.
        target = db.session.get(ReviewComment, number) if 0 < number < 2**31 else None
    if target is None or target.consultation_id != comment.consultation_id:
        raise ConsultationError(_("A comment can only be merged into another comment of the same consultation."),
                                "merged_into")
    if target.id == comment.id:
        raise ConsultationError(_("A comment cannot be merged into itself."), "merged_into")
    return target


def _final_target(comment: ReviewComment, target: ReviewComment) -> ReviewComment:
    """Follow ``target``'s own merges to the comment they end in (refusing one that leads back)."""
    seen = {comment.id}
    while target.decision == Decision.MERGE and target.merged_into_id is not None:
        if target.id in seen:
            break
        seen.add(target.id)
        target = db.session.get(ReviewComment, target.merged_into_id)
        if target is None:
            break
    if target is None or target.id == comment.id:
        raise ConsultationError(_("That comment is merged into this one: merge the other way round, or undo "
                                  "its decision first."), "merged_into")
    return target


def decide_comment(comment: ReviewComment, decision: Decision | str | None, *, actor, staff_note: str | None = None,
                   edited_comment: str | None = None, edited_suggested_change: str | None = None,
                   merged_into=None, version=None) -> DecisionResult:
    """Record staff's decision on a comment (``None`` undoes it): the only writer of ``decision``.

    The author's fields are never touched. ``version`` (when given) must be the comment's current one.
    A merge into a comment that is itself merged goes on to that comment's final target (say so to the
    user: ``followed_from``); comments merged into this one follow it to its new target. ``adopt_edited``
    needs an edited comment. Writes one audit entry per comment changed.
    """
    if version is not None:
        check_version(comment, version)
    if decision in ("", "undo"):
        decision = None
    if decision is not None:
        try:
            decision = Decision(decision)
        except ValueError:
            raise ConsultationError(_("Choose a decision."), "decision") from None
    result = DecisionResult(changed=False)
    before = {"decision": comment.decision.value if comment.decision else None,
              "merged_into": comment.merged_into_id, "staff_note": comment.staff_note,
              "edited_comment": comment.edited_comment, "edited_suggested_change": comment.edited_suggested_change}
    target = None
    if decision == Decision.MERGE:
        chosen = _load_target(comment, merged_into)
        target = _final_target(comment, chosen)
        result.merged_into = target
        result.followed_from = chosen if chosen.id != target.id else None
    if edited_comment is not None:
        edited_comment = edited_comment.strip()
    if edited_suggested_change is not None:
        edited_suggested_change = edited_suggested_change.strip()
    if decision == Decision.ADOPT_EDITED and not (edited_comment if edited_comment is not None
                                                  else comment.edited_comment):
        raise ConsultationError(_("“Adopt edited” needs the edited wording of the comment (if the author's "
                                "words are kept as they are, choose “Adopt”)."), "edited_comment")
    for name, value in (("edited_comment", edited_comment), ("edited_suggested_change", edited_suggested_change)):
        if value is not None and len(value) > cm.MAX_COMMENT:
            raise ConsultationError(_("The edited text is longer than %(n)d characters.", n=cm.MAX_COMMENT), name)
    if staff_note is not None:
        comment.staff_note = staff_note.strip()[:5000]
    if edited_comment is not None:
        comment.edited_comment = edited_comment
    if edited_suggested_change is not None:
        comment.edited_suggested_change = edited_suggested_change
    decision_changed = comment.decision != decision or comment.merged_into_id != (target.id if target else None)
    comment.decision = decision
    comment.merged_into_id = target.id if target is not None else None
    if decision_changed:
        comment.decided_at = utcnow() if decision is not None else None
        comment.decided_by_id = getattr(actor, "id", None) if decision is not None else None
    after = {"decision": decision.value if decision else None, "merged_into": comment.merged_into_id,
             "staff_note": comment.staff_note, "edited_comment": comment.edited_comment,
             "edited_suggested_change": comment.edited_suggested_change}
    changes = {k: after[k] for k in after if after[k] != before[k]}
    if not changes:
        return result
    result.changed = True
    log_action(comment, "comment.decision", actor=actor,
               data={"consultation": comment.consultation_id, "previous": before["decision"],
                     "new": after["decision"], "merged_into": comment.merged_into_id,
                     "followed_from": result.followed_from.id if result.followed_from else None,
                     "note": comment.staff_note, "changed": sorted(changes),
                     "author": comment.reviewer_name})
    db.session.flush()
    if target is not None:
        # Comments merged into this one follow it: nothing is ever merged into a merged comment.
        followers = db.session.scalars(sa.select(ReviewComment).where(
            ReviewComment.merged_into_id == comment.id, ReviewComment.id != target.id)).all()
        for follower in followers:
            follower.merged_into_id = target.id
            log_action(follower, "comment.decision", actor=actor,
                       data={"consultation": comment.consultation_id, "previous": "merge", "new": "merge",
                             "merged_into": target.id, "moved_from": comment.id, "author": follower.reviewer_name})
            result.moved.append(follower.id)
        # A target that was merged into this comment before (the other way round) cannot be: refused above.
        db.session.flush()
    return result


def merge_warnings(comments) -> dict[int, str]:
    """{comment id: warning} for merged comments whose target is not adopted (one query)."""
    merged = [c for c in comments if c.decision == Decision.MERGE and c.merged_into_id]
    if not merged:
        return {}
    targets = dict(db.session.execute(sa.select(ReviewComment.id, ReviewComment.decision).where(
        ReviewComment.id.in_({c.merged_into_id for c in merged}))).all())
    out = {}
    for c in merged:
        target_decision = targets.get(c.merged_into_id)
        if target_decision not in (Decision.ADOPT, Decision.ADOPT_EDITED, "adopt", "adopt_edited"):
            out[c.id] = _("It is merged into #%(id)d, which is not adopted: it will not be in the export until "
                          "#%(id)d is adopted.", id=c.merged_into_id)
    return out


def merged_here(comment_ids) -> dict[int, list[int]]:
    """{comment id: ids of comments merged into it} (one query)."""
    ids = list(comment_ids)
    out: dict[int, list[int]] = defaultdict(list)
    if not ids:
        return out
    for source, target in db.session.execute(sa.select(ReviewComment.id, ReviewComment.merged_into_id).where(
            ReviewComment.merged_into_id.in_(ids)).order_by(ReviewComment.id)):
        out[target].append(source)
    return out
