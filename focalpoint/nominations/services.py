"""Nomination actions. ``set_nomination_state`` is the one place that writes ``Nomination.state``.

Services flush and never commit; the request, command or job that calls them commits.
"""
from __future__ import annotations

import datetime as dt
import io

import sqlalchemy as sa

from focalpoint.audit import log_action
from focalpoint.db import utcnow
from focalpoint.extensions import db
from focalpoint.nominations.models import NOMINATION_TRANSITIONS, Lead, Nomination, NominationCall, NominationState


class NominationError(ValueError):
    """A user-facing refusal (the message is shown as is)."""


class TransitionError(NominationError):
    def __init__(self, previous, new):
        super().__init__(f"A nomination cannot go from {previous} to {new}.")
        self.previous, self.new = previous, new


def set_nomination_state(nomination: Nomination, new_state: NominationState, *, actor, note: str = "",
                         selected_role: str | None = None, notify: bool = False) -> None:
    """Move a nomination to ``new_state``: checks the transition table, stamps dates, writes the audit
    trail. A repeat of the current state is a no-op (double clicks, two staff at once).

    A selection enters the expert's IPBES history (a PastRole with source "selection"). With
    ``notify``, a decision (endorsed, not endorsed, submitted, selected, not selected) queues an
    e-mail to the expert in their language."""
    new_state = NominationState(new_state)
    previous = nomination.state
    if new_state == previous:
        return
    if new_state not in NOMINATION_TRANSITIONS[previous]:
        raise TransitionError(previous, new_state)
    if new_state == NominationState.SELECTED and not selected_role:
        raise NominationError("Say which role the secretariat selected the expert for.")
    nomination.state = new_state
    nomination.selected_role = selected_role if new_state == NominationState.SELECTED else None
    if new_state == NominationState.SUBMITTED:
        nomination.submitted_at = utcnow()
    if new_state in (NominationState.ENDORSED, NominationState.NOT_ENDORSED, NominationState.SELECTED,
                     NominationState.NOT_SELECTED):
        nomination.decided_at = utcnow()
    entry = log_action(nomination, "nomination.state", actor=actor,
                       data={"previous": previous, "new": new_state, "note": note, "selected_role": selected_role})
    if new_state == NominationState.SELECTED:
        _record_selection(nomination, selected_role, actor)
    db.session.flush()
    if notify and new_state in NOTIFIED_STATES:
        _queue_decision_email(nomination, entry)


def add_candidate(call: NominationCall, expert, *, actor, came_forward: bool = False,
                  role: str | None = None) -> Nomination:
    """The expert as a candidate on the call's slate (idempotent; a withdrawn one comes back)."""
    nomination = db.session.scalar(sa.select(Nomination).where(Nomination.call_id == call.id,
                                                               Nomination.expert_id == expert.id))
    if nomination is None:
        nomination = Nomination(call_id=call.id, expert_id=expert.id, state=NominationState.CANDIDATE,
                                came_forward=came_forward, role=role)
        db.session.add(nomination)
        db.session.flush()
        log_action(nomination, "nomination.created", actor=actor,
                   data={"call_id": call.id, "expert_id": expert.id, "came_forward": came_forward})
    else:
        if role:
            nomination.role = role
        if nomination.state == NominationState.WITHDRAWN:
            set_nomination_state(nomination, NominationState.CANDIDATE, actor=actor, note="answered again")
    db.session.flush()
    return nomination


def withdraw_candidate(call: NominationCall, expert, *, actor, note: str = "") -> Nomination | None:
    """Take the expert off the slate (before the selection); None when they were not on it."""
    nomination = db.session.scalar(sa.select(Nomination).where(Nomination.call_id == call.id,
                                                               Nomination.expert_id == expert.id))
    if nomination is not None and nomination.state != NominationState.WITHDRAWN:
        set_nomination_state(nomination, NominationState.WITHDRAWN, actor=actor, note=note)
    return nomination


# --- decisions on the slate ---------------------------------------------------------------------------
#: States whose decision the expert may be told about by e-mail.
NOTIFIED_STATES = frozenset({NominationState.ENDORSED, NominationState.NOT_ENDORSED, NominationState.SUBMITTED,
                             NominationState.SELECTED, NominationState.NOT_SELECTED})


class StaleFormError(NominationError):
    """The form was made from an older version of the row: someone changed it in the meantime."""


def check_version(nomination: Nomination, version) -> None:
    """Refuse a form built on another version of the nomination (optimistic lock across GET → POST)."""
    try:
        submitted = int(version)
    except (TypeError, ValueError):
        submitted = None
    if submitted != nomination.version:
        raise StaleFormError("Someone changed this candidate since you opened the page; nothing was saved. "
                             "The page now shows the current state: check it and try again.")


def _record_selection(nomination: Nomination, role: str, actor) -> None:
    from focalpoint.experts.models import PastRole

    call = nomination.call
    past = PastRole(expert_id=nomination.expert_id, deliverable_id=call.deliverable_id,
                    deliverable_text="" if call.deliverable_id else call.title[:300], role=role,
                    year_from=utcnow().year, source="selection", nomination_id=nomination.id)
    db.session.add(past)
    db.session.flush()
    log_action(nomination.expert, "expert.past_role_added", actor=actor,
               data={"role": role, "deliverable_id": call.deliverable_id, "nomination_id": nomination.id,
                     "source": "selection"})


def _queue_decision_email(nomination: Nomination, entry) -> None:
    from flask_babel import force_locale

    from focalpoint.mail import queue_email, render_email
    from focalpoint.security import external_url

    expert = nomination.expert
    if not expert or not expert.email:
        return
    language = expert.preferred_language if expert.preferred_language in ("en", "fr", "nl") else "en"
    with force_locale(language):
        from flask_babel import gettext as _

        subjects = {
            NominationState.ENDORSED: _("Your nomination is endorsed: %(call)s", call=nomination.call.title),
            NominationState.NOT_ENDORSED: _("Your nomination is not endorsed: %(call)s", call=nomination.call.title),
            NominationState.SUBMITTED: _("Your nomination was submitted to IPBES: %(call)s",
                                         call=nomination.call.title),
            NominationState.SELECTED: _("You were selected: %(call)s", call=nomination.call.title),
            NominationState.NOT_SELECTED: _("The IPBES selection: %(call)s", call=nomination.call.title),
        }
        text, html = render_email("nominations/emails/decision", nomination=nomination, expert=expert,
                                  call=nomination.call, state=nomination.state.value,
                                  role_label=role_label(nomination.selected_role),
                                  link=external_url("invitations.mine"))
        subject = subjects[nomination.state]
    queue_email(to=expert.email, subject=subject[:300], text=text, html=html,
                idem_key=f"nomination:{nomination.id}:{nomination.state.value}:{entry.id}",
                category="nomination", related=nomination)


def role_label(code: str | None) -> str:
    if not code:
        return ""
    from focalpoint.reference.models import ReferenceTerm

    label = db.session.scalar(sa.select(ReferenceTerm.label).where(ReferenceTerm.vocabulary == "expert_role",
                                                                   ReferenceTerm.code == code))
    return label or code


def decide_endorsement(nomination: Nomination, *, endorsed: bool, rationale: str, actor,
                       notify: bool = False) -> None:
    """Record the national decision on a candidate, with its rationale (required)."""
    rationale = (rationale or "").strip()
    if not rationale:
        raise NominationError("Give the rationale of the decision (it goes to the steering committee).")
    target = NominationState.ENDORSED if endorsed else NominationState.NOT_ENDORSED
    if nomination.state == target and nomination.rationale == rationale:
        return
    if nomination.state == target:
        nomination.rationale = rationale
        log_action(nomination, "nomination.rationale", actor=actor, data={"rationale": rationale})
        db.session.flush()
        return
    set_nomination_state(nomination, target, actor=actor, note=rationale, notify=notify)
    nomination.rationale = rationale
    db.session.flush()


def mark_submitted(nomination: Nomination, *, actor, note: str = "", notify: bool = False) -> None:
    """The endorsed candidate was nominated on the IPBES portal."""
    set_nomination_state(nomination, NominationState.SUBMITTED, actor=actor, note=note, notify=notify)


def record_outcome(nomination: Nomination, *, selected_role: str | None, actor, note: str = "",
                   notify: bool = False) -> None:
    """The secretariat's outcome: selected as ``selected_role``, or not selected (None)."""
    if selected_role:
        set_nomination_state(nomination, NominationState.SELECTED, actor=actor, note=note,
                             selected_role=selected_role, notify=notify)
    else:
        set_nomination_state(nomination, NominationState.NOT_SELECTED, actor=actor, note=note, notify=notify)


def withdraw_nomination(nomination: Nomination, *, actor, note: str = "") -> None:
    set_nomination_state(nomination, NominationState.WITHDRAWN, actor=actor, note=note)


def reopen_nomination(nomination: Nomination, *, actor, note: str = "") -> None:
    """Back to candidate (undo an endorsement decision, or bring a withdrawn candidate back)."""
    set_nomination_state(nomination, NominationState.CANDIDATE, actor=actor, note=note)


# --- ranking -------------------------------------------------------------------------------------------
def ordered_slate(call: NominationCall) -> list[Nomination]:
    """The slate in ranking order: ranked ones by rank, then unranked by arrival; withdrawn last."""
    rows = db.session.scalars(sa.select(Nomination).where(Nomination.call_id == call.id)).unique().all()
    active = sorted((n for n in rows if n.state != NominationState.WITHDRAWN),
                    key=lambda n: (n.rank is None, n.rank or 0, n.id))
    withdrawn = sorted((n for n in rows if n.state == NominationState.WITHDRAWN), key=lambda n: n.id)
    return active + withdrawn


def rank_nomination(nomination: Nomination, *, actor, position: int | None = None, delta: int | None = None) -> int:
    """Move a candidate to ``position`` (1 = first) or by ``delta`` places (-1 = up); every ranked
    candidate is renumbered 1..n. Returns the new position."""
    if nomination.state == NominationState.WITHDRAWN:
        raise NominationError("A withdrawn candidate has no rank.")
    slate = [n for n in ordered_slate(nomination.call) if n.state != NominationState.WITHDRAWN]
    current = slate.index(nomination)
    if position is None:
        position = current + 1 + (delta or 0)
    position = max(1, min(len(slate), position))
    previous = nomination.rank
    slate.pop(current)
    slate.insert(position - 1, nomination)
    for number, row in enumerate(slate, start=1):
        if row.rank != number:
            row.rank = number
    log_action(nomination, "nomination.rank", actor=actor, data={"previous": previous, "new": position})
    db.session.flush()
    return position


# --- calls ------------------------------------------------------------------------------------------------
CALL_KINDS = ("expert_call", "fellow_call", "officials_call")
CALL_STATES = ("open", "upcoming", "closed", "locked")


def call_state(call: NominationCall, today: dt.date) -> str:
    """open, upcoming (opens later), closed (national deadline passed) or locked: from the dates and the lock."""
    if call.locked_at is not None:
        return "locked"
    if call.opens_on is not None and call.opens_on > today:
        return "upcoming"
    if call.national_deadline < today:
        return "closed"
    return "open"


def call_state_clause(state: str, today: dt.date):
    """The SQL condition equivalent to ``call_state(call, today) == state``."""
    unlocked = NominationCall.locked_at.is_(None)
    if state == "locked":
        return NominationCall.locked_at.isnot(None)
    if state == "upcoming":
        return sa.and_(unlocked, NominationCall.opens_on > today)
    if state == "closed":
        return sa.and_(unlocked, sa.or_(NominationCall.opens_on.is_(None), NominationCall.opens_on <= today),
                       NominationCall.national_deadline < today)
    if state == "open":
        return sa.and_(unlocked, sa.or_(NominationCall.opens_on.is_(None), NominationCall.opens_on <= today),
                       NominationCall.national_deadline >= today)
    raise ValueError(state)


def deliverable_refs():
    from focalpoint.nominations.matching import DeliverableRef
    from focalpoint.reference.models import Deliverable

    return [DeliverableRef(id=i, code=c, short_name=s, title=t, year=y) for i, c, s, t, y in db.session.execute(
        sa.select(Deliverable.id, Deliverable.code, Deliverable.short_name, Deliverable.title, Deliverable.year)
        .order_by(Deliverable.id))]


def call_prefill(notification) -> dict:
    """What a call opened from ``notification`` starts with (staff change any of it before saving)."""
    from focalpoint.nominations.matching import guess_deliverable, guess_roles

    kind = str(notification.kind.value if hasattr(notification.kind, "value") else notification.kind)
    call_kind = kind if kind in CALL_KINDS else "expert_call"
    text = f"{notification.title}\n{notification.text or ''}"
    year = notification.published_at.year if notification.published_at else None
    deliverable = guess_deliverable(text, deliverable_refs(), year=year)
    dates = sorted(d.date for d in notification.active_deadlines)
    return {
        "title": notification.title[:500],
        "call_kind": call_kind,
        "deliverable_id": deliverable.id if deliverable else None,
        "roles": guess_roles(call_kind, text),
        "description": (notification.text or "")[:20000],
        "application_deadline": dates[0] if dates else None,
        "nomination_deadline": dates[-1] if dates else None,
        "national_deadline": notification.national_deadline,
        "notification_id": notification.id,
    }


def _role_terms(codes):
    from focalpoint.reference.models import ReferenceTerm

    codes = list(dict.fromkeys(codes or []))
    if not codes:
        return []
    rows = db.session.scalars(sa.select(ReferenceTerm).where(ReferenceTerm.vocabulary == "expert_role",
                                                             ReferenceTerm.code.in_(codes))).all()
    unknown = set(codes) - {t.code for t in rows}
    if unknown:
        raise NominationError(f"Unknown role: {', '.join(sorted(unknown))}.")
    return sorted(rows, key=lambda t: t.position)


CALL_FIELDS = ("title", "call_kind", "deliverable_id", "description", "keywords", "opens_on",
               "application_deadline", "nomination_deadline", "national_deadline", "reminder_days")


def _check_call(values: dict) -> None:
    if not (values.get("title") or "").strip():
        raise NominationError("A call needs a title.")
    if values.get("call_kind") not in CALL_KINDS:
        raise NominationError("Choose the kind of call.")
    national = values.get("national_deadline")
    if national is None:
        raise NominationError("Set the national deadline.")
    application, nomination = values.get("application_deadline"), values.get("nomination_deadline")
    if application and nomination and application > nomination:
        raise NominationError("The application deadline comes after the nomination deadline.")
    if nomination and national > nomination:
        raise NominationError("The national deadline comes after the secretariat's nomination deadline: "
                              "there would be no time left to submit the nominations.")
    opens = values.get("opens_on")
    if opens and opens > national:
        raise NominationError("The call opens after its national deadline.")


def create_call(*, actor, roles=(), notification=None, **values) -> NominationCall:
    """A new nomination call (from a notification, or not); roles are expert_role codes."""
    values = {k: values.get(k) for k in CALL_FIELDS if k in values}
    values.setdefault("call_kind", "expert_call")
    _check_call(values)
    call = NominationCall(**{k: v for k, v in values.items() if v is not None},
                          notification_id=notification.id if notification is not None else None,
                          created_by_id=getattr(actor, "id", None))
    call.title = call.title.strip()
    call.roles_sought = _role_terms(roles)
    db.session.add(call)
    db.session.flush()
    log_action(call, "call.created", actor=actor,
               data={"notification_id": call.notification_id, "roles": [t.code for t in call.roles_sought],
                     **{k: values.get(k) for k in ("title", "call_kind", "deliverable_id", "national_deadline")}})
    return call


def update_call(call: NominationCall, *, actor, roles=None, **values) -> list[str]:
    """Change a call's fields; returns the names of the fields that changed (logged)."""
    merged = {k: getattr(call, k) for k in CALL_FIELDS}
    merged.update({k: v for k, v in values.items() if k in CALL_FIELDS})
    _check_call(merged)
    changed = {}
    for key in CALL_FIELDS:
        if key in values and values[key] != getattr(call, key):
            changed[key] = {"before": getattr(call, key), "after": values[key]}
            setattr(call, key, values[key])
    if roles is not None:
        before = [t.code for t in call.roles_sought]
        terms = _role_terms(roles)
        if [t.code for t in terms] != before:
            call.roles_sought = terms
            changed["roles"] = {"before": before, "after": [t.code for t in terms]}
    if changed:
        log_action(call, "call.updated", actor=actor, data=changed)
        db.session.flush()
    return sorted(changed)


def lock_call(call: NominationCall, *, actor) -> None:
    """Answers can no longer change (invitation links stop accepting answers)."""
    if call.locked_at is None:
        call.locked_at = utcnow()
        log_action(call, "call.locked", actor=actor)
        db.session.flush()


def unlock_call(call: NominationCall, *, actor) -> None:
    if call.locked_at is not None:
        call.locked_at = None
        log_action(call, "call.unlocked", actor=actor)
        db.session.flush()


LEAD_STATUSES = ("new", "invited", "dismissed")


def set_lead_status(lead: Lead, status: str, *, actor) -> None:
    if status not in LEAD_STATUSES:
        raise NominationError("Unknown lead status.")
    if lead.status != status:
        previous, lead.status = lead.status, status
        log_action(lead, "lead.status", actor=actor, data={"previous": previous, "new": status})
        db.session.flush()


# --- counts -------------------------------------------------------------------------------------------
def invitation_counts_by_call(call_ids) -> dict[int, dict[str, int]]:
    """{call id: {pending, accepted, declined, expired: n}} in one query (the invitations service's
    ``invitation_counts`` when it exists)."""
    from focalpoint.invitations.models import Invitation, InvitationState

    call_ids = list(call_ids)
    result = {cid: {s.value: 0 for s in InvitationState} for cid in call_ids}
    if not call_ids:
        return result
    try:
        from focalpoint.invitations.services import invitation_counts
    except ImportError:
        invitation_counts = None
    if invitation_counts is not None:
        for cid, counts in invitation_counts(call_ids).items():
            result.setdefault(cid, {s.value: 0 for s in InvitationState}).update(
                {str(getattr(k, "value", k)): v for k, v in counts.items()})
        return result
    for cid, state, n in db.session.execute(
            sa.select(Invitation.call_id, Invitation.state, sa.func.count())
            .where(Invitation.call_id.in_(call_ids)).group_by(Invitation.call_id, Invitation.state)):
        result[cid][str(getattr(state, "value", state))] = n
    return result


def nomination_counts_by_call(call_ids) -> dict[int, dict[str, int]]:
    """{call id: {nomination state: n}} in one query."""
    call_ids = list(call_ids)
    result = {cid: {s.value: 0 for s in NominationState} for cid in call_ids}
    if not call_ids:
        return result
    for cid, state, n in db.session.execute(
            sa.select(Nomination.call_id, Nomination.state, sa.func.count())
            .where(Nomination.call_id.in_(call_ids)).group_by(Nomination.call_id, Nomination.state)):
        result[cid][str(getattr(state, "value", state))] = n
    return result


def calls_as_dicts(calls, today: dt.date) -> list[dict]:
    """The calls as the command line prints them (two count queries in all)."""
    ids = [c.id for c in calls]
    invitations = invitation_counts_by_call(ids)
    nominations = nomination_counts_by_call(ids)

    def iso(day):
        return day.isoformat() if day else None

    return [{
        "id": c.id, "title": c.title, "notification_id": c.notification_id, "call_kind": c.call_kind,
        "deliverable": c.deliverable.code if c.deliverable else None,
        "roles_sought": [t.code for t in c.roles_sought],
        "opens_on": iso(c.opens_on), "application_deadline": iso(c.application_deadline),
        "nomination_deadline": iso(c.nomination_deadline), "national_deadline": iso(c.national_deadline),
        "state": call_state(c, today), "is_open": c.is_open_on(today), "is_locked": c.is_locked,
        "invitations": invitations[c.id], "nominations": nominations[c.id],
    } for c in calls]


# --- the slate as a spreadsheet -----------------------------------------------------------------------
SLATE_COLUMNS = ("Rank", "Name", "Affiliation", "Region", "Gender", "Career stage", "Disciplines", "Role",
                 "State", "Rationale", "Selected as")
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def _text_cell(cell, value) -> None:
    """Write ``value``; a string that looks like a formula stays text (never evaluated by a spreadsheet)."""
    cell.value = value
    if isinstance(value, str) and value.startswith(_FORMULA_START):
        cell.data_type = "s"


def slate_rows(call: NominationCall, labels: dict[str, dict[str, str]]) -> list[list]:
    """One row per candidate not withdrawn, in ranking order, with readable labels."""
    rows = []
    slate = [n for n in ordered_slate(call) if n.state != NominationState.WITHDRAWN]
    for position, n in enumerate(slate, start=1):
        e = n.expert
        disciplines = [t.label for t in e.terms_of("discipline")]
        rows.append([
            position, e.name, e.affiliation or "", labels["region"].get(e.region or "", e.region or ""),
            labels["gender"].get(e.gender.value if e.gender else "", ""),
            labels["career_stage"].get(e.career_stage.value if e.career_stage else "", ""),
            "; ".join(disciplines), n.role or "", labels["state"].get(n.state.value, n.state.value),
            n.rationale or "", n.selected_role or "",
        ])
    return rows


def slate_xlsx(call: NominationCall, labels: dict[str, dict[str, str]]) -> bytes:
    """The slate as an XLSX workbook for the national steering committee."""
    from openpyxl import Workbook
    from openpyxl.styles import Font

    wb = Workbook()
    ws = wb.active
    ws.title = "Slate"
    ws.append([call.title[:250]])
    ws["A1"].font = Font(bold=True)
    _text_cell(ws["A1"], call.title)
    deadline = call.nomination_deadline.isoformat() if call.nomination_deadline else ""
    ws.append([f"Deliverable: {call.deliverable.short_name if call.deliverable else '-'}",
               f"National deadline: {call.national_deadline.isoformat()}", f"Nomination deadline: {deadline}"])
    ws.append([])
    ws.append(list(SLATE_COLUMNS))
    for cell in ws[4]:
        cell.font = Font(bold=True)
    for row in slate_rows(call, labels):
        ws.append([None] * len(row))
        for cell, value in zip(ws[ws.max_row], row):
            _text_cell(cell, value)
    for letter, width in zip("ABCDEFGHIJK", (6, 28, 30, 12, 12, 12, 30, 10, 14, 50, 12)):
        ws.column_dimensions[letter].width = width
    ws.freeze_panes = "A5"
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()
