"""Invitation actions: templates, composing and sending, the signed link, answers and reminders.

``set_invitation_state`` is the one place that writes ``Invitation.state``. The link carries a random
secret (``secrets.token_urlsafe(32)``, 256 bits); only its SHA-256 is stored, so the database alone
never gives a working link. Sending again or reminding issues a new secret: the older link stops
working. Every function flushes and none commits; the request, command or job that calls them commits.
"""
from __future__ import annotations

import datetime as dt
import hashlib
import re
import secrets
from dataclasses import dataclass
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from babel.dates import format_date as babel_format_date
from flask import current_app
from flask_babel import force_locale, get_locale
from flask_babel import gettext as _
from markupsafe import Markup, escape

from focalpoint.audit import AuditEntry, log_action
from focalpoint.db import utcnow
from focalpoint.extensions import db
from focalpoint.invitations.models import INVITATION_TRANSITIONS, Invitation, InvitationState, InvitationTemplate
from focalpoint.mail import OutboxMessage, queue_email, render_email

LANGUAGES = ("en", "fr", "nl")
PLACEHOLDERS = ("name", "first_name", "call", "deliverable", "national_deadline", "application_deadline",
                "nomination_deadline", "link")
#: Anything between braces that could be meant as a placeholder ("{call}", "{Call}", "{deadline}").
_PLACEHOLDER = re.compile(r"\{([^{}\s]{1,40})\}")
#: What a link's secret looks like (token_urlsafe(32) gives 43 of these characters).
_TOKEN_SHAPE = re.compile(r"[A-Za-z0-9_-]{20,100}")
#: Shown instead of the personal link in previews and in the stored copy of a message.
LINK_PLACEHOLDER_TOKEN = "personal-link-made-when-sending"


class InvitationError(ValueError):
    """A user-facing refusal (the message is shown as is)."""


class CVError(InvitationError):
    """The uploaded CV was refused (type or size)."""


class TransitionError(InvitationError):
    def __init__(self, previous, new):
        super().__init__(_("An invitation cannot go from %(previous)s to %(new)s.", previous=previous, new=new))
        self.previous, self.new = previous, new


# --- tokens and dates -------------------------------------------------------------------------------
def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def _new_token(invitation: Invitation) -> str:
    """A fresh secret for the link; only its hash is kept (the previous link stops working)."""
    token = secrets.token_urlsafe(32)
    invitation.token_hash = hash_token(token)
    return token


def find_by_token(token: str) -> Invitation | None:
    """The invitation whose link carries ``token``, or None.

    The lookup is by the SHA-256 of the token, so comparing never leaks how much of a guess matched.
    """
    if not token or not _TOKEN_SHAPE.fullmatch(token):
        return None
    return db.session.scalar(sa.select(Invitation).where(Invitation.token_hash == hash_token(token)))


def display_zone() -> ZoneInfo:
    return ZoneInfo(current_app.config["DISPLAY_TIMEZONE"])


def local_date(moment: dt.datetime) -> dt.date:
    return moment.astimezone(display_zone()).date()


def link_expiry(call) -> dt.datetime:
    """The end of the call's national deadline in the display time zone, in UTC."""
    end = dt.datetime.combine(call.national_deadline + dt.timedelta(days=1), dt.time(), tzinfo=display_zone())
    return end.astimezone(dt.timezone.utc)


def sync_expiry(call) -> int:
    """Make the links of ``call``'s invitations follow its national deadline (after a change of date);
    expired invitations stay expired until sent again. Returns how many changed."""
    expires_at = link_expiry(call)
    result = db.session.execute(
        sa.update(Invitation)
        .where(Invitation.call_id == call.id, Invitation.state != InvitationState.EXPIRED,
               Invitation.expires_at != expires_at)
        .values(expires_at=expires_at, version=Invitation.version + 1)
        .execution_options(synchronize_session="fetch"))
    return result.rowcount


def link_is_expired(invitation: Invitation, now: dt.datetime | None = None) -> bool:
    """Expired by state, or because the end of the call's national deadline has passed (read from the
    call, so a deadline moved a minute ago counts at once)."""
    return invitation.state == InvitationState.EXPIRED or (now or utcnow()) >= link_expiry(invitation.call)


def respond_url(token: str) -> str:
    from focalpoint.security import external_url

    return external_url("invitations.respond", token=token)


def placeholder_link() -> str:
    return respond_url(LINK_PLACEHOLDER_TOKEN)


# --- templates --------------------------------------------------------------------------------------
def unknown_placeholders(text: str) -> list[str]:
    return sorted({name for name in _PLACEHOLDER.findall(text or "") if name not in PLACEHOLDERS})


def template_text_errors(subject: str, body: str) -> dict[str, str]:
    """Problems with a subject and body, by field: unknown placeholders, a missing or misplaced link."""
    errors = {}
    known = ", ".join("{%s}" % p for p in PLACEHOLDERS)
    for field, text in (("subject", subject), ("body", body)):
        unknown = unknown_placeholders(text)
        if unknown:
            errors[field] = _("Unknown placeholder(s): %(names)s. Use only %(known)s.",
                              names=", ".join("{%s}" % n for n in unknown), known=known)
    if "subject" not in errors and "{link}" in (subject or ""):
        errors["subject"] = _("The link belongs in the text, not in the subject.")
    if "body" not in errors and "{link}" not in (body or ""):
        errors["body"] = _("The text must contain {link}: the expert answers through it.")
    return errors


def save_template(template: InvitationTemplate | None, *, name: str, language: str, subject: str, body: str,
                  actor) -> InvitationTemplate:
    """Create (``template`` None) or update a template after checking its text and its name."""
    name = " ".join(name.split())
    if language not in LANGUAGES:
        raise InvitationError(_("Choose English, French or Dutch."))
    errors = template_text_errors(subject, body)
    if errors:
        raise InvitationError(" ".join(errors.values()))
    clash = db.session.scalar(sa.select(InvitationTemplate.id).where(
        InvitationTemplate.name == name, InvitationTemplate.language == language,
        InvitationTemplate.id != (template.id if template is not None else -1)))
    if clash is not None:
        raise InvitationError(_("There is already a template named %(name)s in this language.", name=name))
    created = template is None
    if created:
        template = InvitationTemplate()
        db.session.add(template)
    template.name, template.language, template.subject, template.body = name, language, subject.strip(), body
    db.session.flush()
    log_action(template, "invitation_template.created" if created else "invitation_template.updated", actor=actor,
               data={"name": name, "language": language})
    return template


def delete_template(template: InvitationTemplate, *, actor) -> None:
    log_action(template, "invitation_template.deleted", actor=actor,
               data={"name": template.name, "language": template.language})
    db.session.delete(template)
    db.session.flush()


def template_names() -> list[str]:
    return list(db.session.scalars(sa.select(InvitationTemplate.name).distinct().order_by(InvitationTemplate.name)))


def template_for(name: str, language: str) -> InvitationTemplate | None:
    """The template ``name`` in ``language``, else in English, else in any language (first by code)."""
    rows = {t.language: t for t in db.session.scalars(
        sa.select(InvitationTemplate).where(InvitationTemplate.name == name).order_by(InvitationTemplate.language))}
    return rows.get(language) or rows.get("en") or next(iter(rows.values()), None)


DEFAULT_TEMPLATE_NAME = "Standard invitation"
#: The standard invitation: subject and paragraphs (a paragraph is one line, for mail programs to wrap).
DEFAULT_TEMPLATES = {
    "en": ("Invitation: {call}", [
        "Dear {name},",
        "The national focal point to IPBES is preparing the national nominations for \"{call}\" ({deliverable}). "
        "Given your expertise, we would like to know whether you wish to be nominated.",
        "Please answer by {national_deadline} through your personal link (no account is needed):\n{link}",
        "If you accept, you can tell us the role you wish to be nominated for, your motivation and availability, "
        "and add your CV. If you decline, you may suggest a colleague.",
        "The secretariat's deadlines: applications by {application_deadline}, nominations by "
        "{nomination_deadline}.",
        "With kind regards,\nThe national focal point to IPBES",
    ]),
    "fr": ("Invitation : {call}", [
        "Bonjour {name},",
        "Le point focal national de l'IPBES prépare les candidatures nationales pour « {call} » ({deliverable}). "
        "Au vu de votre expertise, nous aimerions savoir si vous souhaitez être proposé·e.",
        "Merci de répondre au plus tard le {national_deadline} au moyen de votre lien personnel (aucun compte "
        "n'est nécessaire) :\n{link}",
        "Si vous acceptez, vous pourrez indiquer le rôle souhaité, votre motivation et vos disponibilités, et "
        "joindre votre CV. Si vous déclinez, vous pourrez nous suggérer un·e collègue.",
        "Échéances du secrétariat : candidatures jusqu'au {application_deadline}, nominations jusqu'au "
        "{nomination_deadline}.",
        "Bien cordialement,\nLe point focal national de l'IPBES",
    ]),
    "nl": ("Uitnodiging: {call}", [
        "Beste {name},",
        "Het nationaal focal point voor IPBES bereidt de nationale voordrachten voor \"{call}\" ({deliverable}) "
        "voor. Gezien uw expertise willen we graag weten of u voorgedragen wilt worden.",
        "Gelieve uiterlijk op {national_deadline} te antwoorden via uw persoonlijke link (u hebt geen account "
        "nodig):\n{link}",
        "Als u aanvaardt, kunt u de gewenste rol, uw motivatie en uw beschikbaarheid opgeven en uw cv toevoegen. "
        "Als u weigert, kunt u een collega voorstellen.",
        "Termijnen van het secretariaat: kandidaturen tot {application_deadline}, voordrachten tot "
        "{nomination_deadline}.",
        "Met vriendelijke groeten,\nHet nationaal focal point voor IPBES",
    ]),
}


def seed_default_templates() -> int:
    """The standard invitation in English, French and Dutch, when missing (idempotent); returns how many
    were added. Templates staff edited are left as they are."""
    have = {lang for (lang,) in db.session.execute(
        sa.select(InvitationTemplate.language).where(InvitationTemplate.name == DEFAULT_TEMPLATE_NAME))}
    added = 0
    for language, (subject, paragraphs) in DEFAULT_TEMPLATES.items():
        if language not in have:
            db.session.add(InvitationTemplate(name=DEFAULT_TEMPLATE_NAME, language=language, subject=subject,
                                              body="\n\n".join(paragraphs) + "\n"))
            added += 1
    db.session.flush()
    return added


# --- composing --------------------------------------------------------------------------------------
def _format_day(day: dt.date | None, language: str) -> str:
    return babel_format_date(day, format="long", locale=language) if day else "—"


def placeholder_values(call, expert, *, link: str, language: str) -> dict[str, str]:
    """The values of the placeholders, dates written in ``language`` (that of the text they go into)."""
    return {
        "name": expert.name,
        "first_name": expert.first_name or expert.name,
        "call": call.title,
        "deliverable": call.deliverable.short_name if call.deliverable else "—",
        "national_deadline": _format_day(call.national_deadline, language),
        "application_deadline": _format_day(call.application_deadline, language),
        "nomination_deadline": _format_day(call.nomination_deadline, language),
        "link": link,
    }


def fill(text: str, values: dict[str, str]) -> str:
    """Replace the known {placeholders}; anything else is left as written."""
    return _PLACEHOLDER.sub(lambda m: values[m.group(1)] if m.group(1) in values else m.group(0), text)


@dataclass
class Message:
    """One expert's message: subject and body with every placeholder filled except {link}."""

    expert: object
    subject: str
    body: str
    language: str
    template: InvitationTemplate | None

    def preview_body(self) -> str:
        return fill(self.body, {"link": placeholder_link()})


def compose(call, expert, *, template_name: str | None = None, subject: str = "", body: str = "") -> Message:
    """The message for ``expert``: the template ``template_name`` in the expert's language (else English),
    or the ``subject`` and ``body`` staff wrote (dates then in the language of staff's screen)."""
    template = None
    language = str(get_locale() or "en")
    language = language if language in LANGUAGES else "en"
    if template_name:
        template = template_for(template_name, _language(expert))
        if template is None:
            raise InvitationError(_("There is no template named %(name)s.", name=template_name))
        subject, body, language = template.subject, template.body, template.language
    errors = template_text_errors(subject, body)
    if errors:
        raise InvitationError(" ".join(errors.values()))
    values = placeholder_values(call, expert, link="{link}", language=language)
    return Message(expert=expert, subject=" ".join(fill(subject, values).split()), body=fill(body, values),
                   language=language, template=template)


@dataclass
class Selection:
    invitable: list
    #: (expert, reason) for those listed apart and not invited.
    refused: list


def select_invitees(call, experts) -> Selection:
    """Split the selected experts into those who can be invited and the others, with the reason."""
    from focalpoint.experts.models import ExpertStatus

    invited = set(db.session.scalars(sa.select(Invitation.expert_id).where(
        Invitation.call_id == call.id, Invitation.expert_id.in_([e.id for e in experts]))))
    invitable, refused = [], []
    for expert in experts:
        if expert.status == ExpertStatus.ERASED or expert.merged_into_id is not None or not expert.email:
            refused.append((expert, _("no longer in the registry")))
        elif expert.id in invited:
            refused.append((expert, _("already invited to this call")))
        elif expert.consent_contact_at is None:
            refused.append((expert, _("has not consented to be contacted")))
        else:
            invitable.append(expert)
    return Selection(invitable, refused)


def check_call_accepts_invitations(call, now: dt.datetime | None = None) -> None:
    if call.is_locked:
        raise InvitationError(_("The call is locked: answers are closed."))
    if link_expiry(call) <= (now or utcnow()):
        raise InvitationError(_("The national deadline has passed: move it before inviting."))


# --- e-mail -----------------------------------------------------------------------------------------
def _language(expert) -> str:
    return expert.preferred_language if expert.preferred_language in LANGUAGES else "en"


def text_to_html(text: str) -> Markup:
    """Plain text as HTML paragraphs, with web addresses made into links (everything else escaped)."""
    paragraphs = [p for p in re.split(r"\n\s*\n", text.strip()) if p.strip()]
    out = []
    for paragraph in paragraphs:
        escaped = str(escape(paragraph))
        escaped = re.sub(r"(https?://[^\s<>&\"']+)", r'<a href="\1">\1</a>', escaped)
        out.append("<p>" + escaped.replace("\n", "<br>\n") + "</p>")
    return Markup("\n".join(out))


def _send_count(invitation: Invitation) -> int:
    """How many times the invitation was sent (from its history, which outlives the outbox's rows)."""
    return db.session.scalar(sa.select(sa.func.count()).select_from(AuditEntry).where(
        AuditEntry.object_type == Invitation.__tablename__, AuditEntry.object_id == invitation.id,
        AuditEntry.action.in_(("invitation.sent", "invitation.resent")))) or 0


def _queue_invitation_mail(invitation: Invitation, token: str) -> OutboxMessage:
    link = respond_url(token)
    # Rows made without a message (demo data, older rows) still get a subject and their link.
    body = invitation.body if "{link}" in (invitation.body or "") else f"{(invitation.body or '').rstrip()}\n\n{{link}}"
    body = fill(body.strip("\n"), {"link": link})
    expert = invitation.expert
    with force_locale(_language(expert)):
        text, html = render_email("invitations/emails/invite", invitation=invitation, call=invitation.call,
                                  expert=expert, body=body, body_html=text_to_html(body), link=link,
                                  deadline=_format_day(invitation.call.national_deadline, _language(expert)))
    n = _send_count(invitation) + 1
    message = queue_email(to=expert.email, subject=invitation.subject or invitation.call.title, text=text,
                          html=html, idem_key=f"invitation:{invitation.id}:send:{n}", category="invitation",
                          related=invitation)
    if message is None:  # sent by someone else at the same moment: this new link must not be kept
        raise InvitationError(_("The invitation was sent by someone else in the meantime."))
    return message


def send_invitations(call, experts, *, actor, template_name: str | None = None, subject: str = "",
                     body: str = "") -> list[Invitation]:
    """Create a pending invitation for each expert who can be invited and queue its e-mail.

    Experts who cannot be invited (no consent, already invited, erased) are skipped; see select_invitees.
    """
    check_call_accepts_invitations(call)
    selection = select_invitees(call, experts)
    messages = [compose(call, expert, template_name=template_name, subject=subject, body=body)
                for expert in selection.invitable]
    now, expires_at = utcnow(), link_expiry(call)
    created = []
    for message in messages:
        token = secrets.token_urlsafe(32)
        invitation = Invitation(call=call, expert=message.expert, state=InvitationState.PENDING,
                                token_hash=hash_token(token), expires_at=expires_at, sent_at=now,
                                subject=message.subject[:300], body=message.body)
        db.session.add(invitation)
        db.session.flush()
        _queue_invitation_mail(invitation, token)
        log_action(invitation, "invitation.sent", actor=actor,
                   data={"call_id": call.id, "expert_id": message.expert.id, "language": message.language,
                         "template": message.template.name if message.template else None})
        created.append(invitation)
    db.session.flush()
    return created


def resend_invitation(invitation: Invitation, *, actor) -> OutboxMessage:
    """Send the invitation again with a new link (the old one stops working); an expired one is pending again."""
    if invitation.state not in (InvitationState.PENDING, InvitationState.EXPIRED):
        raise InvitationError(_("Only an invitation without an answer can be sent again."))
    check_call_accepts_invitations(invitation.call)
    invitation.expires_at = link_expiry(invitation.call)
    set_invitation_state(invitation, InvitationState.PENDING, actor=actor, note="sent again")
    token = _new_token(invitation)
    invitation.sent_at = utcnow()
    db.session.flush()
    message = _queue_invitation_mail(invitation, token)
    log_action(invitation, "invitation.resent", actor=actor, data={"call_id": invitation.call_id})
    db.session.flush()
    return message


def _outbox_has(idem_key: str) -> bool:
    return db.session.scalar(sa.select(OutboxMessage.id).where(OutboxMessage.idem_key == idem_key)) is not None


def remind_invitation(invitation: Invitation, *, actor, idem_key: str, mark: str,
                      now: dt.datetime | None = None) -> bool:
    """Queue a reminder with a new link (it replaces the earlier ones); False when ``idem_key`` was sent."""
    now = now or utcnow()
    if invitation.state != InvitationState.PENDING:
        raise InvitationError(_("Only an invitation without an answer gets reminders."))
    if invitation.call.is_locked or link_is_expired(invitation, now):
        raise InvitationError(_("The invitation has expired or the call is locked."))
    if _outbox_has(idem_key):
        return False
    token = _new_token(invitation)
    link = respond_url(token)
    expert, call = invitation.expert, invitation.call
    language = _language(expert)
    with force_locale(language):
        text, html = render_email("invitations/emails/reminder", invitation=invitation, call=call, expert=expert,
                                  link=link, deadline=_format_day(call.national_deadline, language),
                                  sent_on=_format_day(local_date(invitation.sent_at), language)
                                  if invitation.sent_at else "")
        subject = _("Reminder: %(subject)s", subject=invitation.subject or call.title)
    message = queue_email(to=expert.email, subject=subject, text=text, html=html, idem_key=idem_key,
                          category="reminder", related=invitation)
    if message is None:  # queued by someone else in the meantime
        raise InvitationError(_("This reminder was already sent."))
    invitation.reminders_sent = (invitation.reminders_sent or 0) + 1
    invitation.last_reminded_at = now
    log_action(invitation, "invitation.reminded", actor=actor, data={"mark": mark})
    db.session.flush()
    return True


def remind_now(invitation: Invitation, *, actor) -> bool:
    """A reminder staff ask for; at most one a day per invitation (double clicks send one)."""
    today = local_date(utcnow()).isoformat()
    return remind_invitation(invitation, actor=actor, idem_key=f"invitation:{invitation.id}:reminder:manual:{today}",
                             mark="manual")


def _queue_confirmation(invitation: Invitation, *, key_suffix: str) -> None:
    expert, call = invitation.expert, invitation.call
    if not expert.email:
        return
    language = _language(expert)
    roles = {t.code: t.label for t in call.roles_sought}
    with force_locale(language):
        text, html = render_email("invitations/emails/answer-confirmation", invitation=invitation, call=call,
                                  expert=expert, role_label=roles.get(invitation.role_wanted, invitation.role_wanted),
                                  deadline=_format_day(call.national_deadline, language))
        if invitation.state == InvitationState.ACCEPTED:
            subject = _("Your answer: you accept — %(call)s", call=call.title)
        else:
            subject = _("Your answer: you decline — %(call)s", call=call.title)
    queue_email(to=expert.email, subject=subject, text=text, html=html,
                idem_key=f"invitation:{invitation.id}:answer:{key_suffix}", category="answer-confirmation",
                related=invitation)


# --- the state choke point --------------------------------------------------------------------------
def set_invitation_state(invitation: Invitation, new_state: InvitationState, *, actor, note: str = "") -> bool:
    """Move an invitation to ``new_state``: the only writer of ``Invitation.state``.

    Checks INVITATION_TRANSITIONS, stamps ``responded_at``, writes the audit trail; on accepting, puts the
    expert on the call's slate (``add_candidate``), on turning an acceptance into a decline takes them off
    (``withdraw_candidate``); queues the answer confirmation to the expert. A repeat of the current state
    is a no-op (returns False).
    """
    from focalpoint.nominations.services import NominationError, add_candidate, withdraw_candidate

    new_state = InvitationState(new_state)
    previous = invitation.state
    if new_state == previous:
        return False
    if new_state not in INVITATION_TRANSITIONS[previous]:
        raise TransitionError(previous, new_state)
    invitation.state = new_state
    answered = new_state in (InvitationState.ACCEPTED, InvitationState.DECLINED)
    invitation.responded_at = utcnow() if answered else None
    entry = log_action(invitation, "invitation.state", actor=actor,
                       data={"previous": previous, "new": new_state, "note": note})
    try:
        if new_state == InvitationState.ACCEPTED:
            add_candidate(invitation.call, invitation.expert, actor=actor, role=invitation.role_wanted)
        elif previous == InvitationState.ACCEPTED and new_state == InvitationState.DECLINED:
            withdraw_candidate(invitation.call, invitation.expert, actor=actor, note="declined the invitation")
    except NominationError as exc:
        raise InvitationError(str(exc)) from exc
    db.session.flush()
    if answered:
        _queue_confirmation(invitation, key_suffix=str(entry.id))
    db.session.flush()
    return True


# --- answers from the link --------------------------------------------------------------------------
def check_can_answer(invitation: Invitation, now: dt.datetime | None = None) -> None:
    if invitation.call.is_locked or link_is_expired(invitation, now):
        raise InvitationError(_("Answers to this invitation are closed."))


def _actor_for(invitation: Invitation):
    return invitation.expert.user if invitation.expert.user_id else None


def accept_invitation(invitation: Invitation, *, role: str, motivation: str, availability: str,
                      has_conflict: bool, conflict_note: str, cv=None) -> None:
    """The expert accepts (or updates an acceptance): the answer, the CV, the slate, the confirmation."""
    check_can_answer(invitation)
    sought = {t.code for t in invitation.call.roles_sought}
    if sought and role not in sought:
        raise InvitationError(_("Choose one of the roles sought."))
    if cv is not None:
        store_cv(invitation.expert, cv, actor=_actor_for(invitation))
    invitation.role_wanted = role
    invitation.motivation = motivation.strip()
    invitation.availability = availability.strip()[:500]
    invitation.has_conflict = bool(has_conflict)
    invitation.conflict_note = conflict_note.strip() if has_conflict else ""
    invitation.decline_reason = ""
    actor = _actor_for(invitation)
    log_action(invitation, "invitation.answer", actor=actor,
               data={"answer": "accepted", "role": role, "availability": invitation.availability,
                     "has_conflict": invitation.has_conflict, "cv": cv is not None, "via": "link"})
    db.session.flush()
    if not set_invitation_state(invitation, InvitationState.ACCEPTED, actor=actor, note="answered through the link"):
        from focalpoint.nominations.services import add_candidate

        add_candidate(invitation.call, invitation.expert, actor=actor, role=role)  # the role may have changed
        _queue_confirmation(invitation, key_suffix=f"update:{invitation.version}")
    db.session.flush()


def decline_invitation(invitation: Invitation, *, reason: str, colleague_name: str = "",
                       colleague_email: str = ""):
    """The expert declines (or updates a decline); a suggested colleague becomes a lead for staff."""
    from focalpoint.nominations.models import Lead

    check_can_answer(invitation)
    colleague_name, colleague_email = " ".join(colleague_name.split()), colleague_email.strip().lower()
    if colleague_email and not colleague_name:
        raise InvitationError(_("Give the colleague's name with their e-mail address."))
    invitation.decline_reason = reason.strip()
    actor = _actor_for(invitation)
    lead = None
    if colleague_name:
        stmt = sa.select(Lead).where(Lead.call_id == invitation.call_id,
                                     Lead.suggested_by_id == invitation.expert_id)
        stmt = stmt.where(Lead.email == colleague_email) if colleague_email else stmt.where(Lead.name == colleague_name)
        lead = db.session.scalar(stmt)
        if lead is None:
            lead = Lead(call_id=invitation.call_id, suggested_by_id=invitation.expert_id, name=colleague_name[:200],
                        email=colleague_email[:254], status="new",
                        note=_("Suggested by %(name)s when declining the invitation.",
                               name=invitation.expert.name)[:1000])
            db.session.add(lead)
            db.session.flush()
            log_action(lead, "lead.created", actor=actor, data={"call_id": invitation.call_id,
                                                                "suggested_by_id": invitation.expert_id})
    log_action(invitation, "invitation.answer", actor=actor,
               data={"answer": "declined", "reason": invitation.decline_reason,
                     "colleague": colleague_name or None, "via": "link"})
    db.session.flush()
    if not set_invitation_state(invitation, InvitationState.DECLINED, actor=actor, note="answered through the link"):
        _queue_confirmation(invitation, key_suffix=f"update:{invitation.version}")
    db.session.flush()
    return lead


def request_new_link(invitation: Invitation, *, message: str = "") -> bool:
    """The expert asks staff for a new link: an audit entry, and an e-mail to staff (once a day)."""
    log_action(invitation, "invitation.link_requested", actor=_actor_for(invitation),
               data={"message": message.strip()[:1000]})
    to = current_app.config.get("STAFF_EMAIL") or current_app.config.get("MAIL_SENDER")
    if to:
        from focalpoint.security import external_url

        expert, call = invitation.expert, invitation.call
        text, html = render_email("invitations/emails/link-request", invitation=invitation, call=call, expert=expert,
                                  message=message.strip()[:1000],
                                  detail_url=external_url("invitations.detail", invitation_id=invitation.id))
        queue_email(to=to, subject=f"New link asked for: {expert.name} — {call.title}", text=text, html=html,
                    idem_key=f"invitation:{invitation.id}:link-request:{local_date(utcnow()).isoformat()}",
                    category="link-request", related=invitation)
    db.session.flush()
    return bool(to)


# --- the CV sent with an acceptance --------------------------------------------------------------------
def store_cv(expert, upload, *, actor) -> None:
    """Keep a CV uploaded with an acceptance, through the registry's own checks (PDF or DOCX by content,
    size cap, zip safety, a random name in the instance folder, the old file deleted once committed)."""
    from focalpoint.experts.services import ExpertError, cv_max_bytes, read_upload
    from focalpoint.experts.services import store_cv as registry_store_cv

    try:
        data = read_upload(upload.stream, cv_max_bytes())
        registry_store_cv(expert, data, upload.filename, actor=actor)
    except ExpertError as exc:
        raise CVError(str(exc)) from exc


# --- reading ----------------------------------------------------------------------------------------
def invitation_counts(call_ids) -> dict[int, dict[str, int]]:
    """{call_id: {state: number of invitations}} for ``call_ids`` (one query; calls without any give {})."""
    ids = list(call_ids)
    counts: dict[int, dict[str, int]] = {call_id: {} for call_id in ids}
    if not ids:
        return counts
    rows = db.session.execute(
        sa.select(Invitation.call_id, Invitation.state, sa.func.count())
        .where(Invitation.call_id.in_(ids)).group_by(Invitation.call_id, Invitation.state))
    for call_id, state, number in rows:
        counts[call_id][InvitationState(state).value] = number
    return counts


HISTORY_ACTIONS = ("invitation.sent", "invitation.resent", "invitation.reminded", "invitation.state",
                   "invitation.answer", "invitation.link_requested")


def histories(invitation_ids) -> dict[int, list[AuditEntry]]:
    """The history of each invitation, oldest first (one query)."""
    ids = list(invitation_ids)
    result: dict[int, list[AuditEntry]] = {i: [] for i in ids}
    if not ids:
        return result
    rows = db.session.scalars(
        sa.select(AuditEntry).where(AuditEntry.object_type == Invitation.__tablename__,
                                    AuditEntry.object_id.in_(ids), AuditEntry.action.in_(HISTORY_ACTIONS))
        .order_by(AuditEntry.at, AuditEntry.id))
    for entry in rows:
        result[entry.object_id].append(entry)
    return result
