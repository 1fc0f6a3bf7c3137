"""Demo data for plenary preparation: IPBES-12's agenda and documents, and position notes in every state.

``load_demo_plenary(staff)`` is idempotent (skipped when IPBES-12 already has an agenda). It uses the demo
reviewers of focalpoint/demo.py (BE-VL, BE-WAL, BE-FED-ENV) and asks the administrations that exist.
"""
from __future__ import annotations

import datetime as dt

import sqlalchemy as sa

from focalpoint.audit import log_action
from focalpoint.auth.models import Administration, User
from focalpoint.db import utcnow
from focalpoint.extensions import db
from focalpoint.positions import plenary_services as svc
from focalpoint.positions.models import (AgendaItem, Clearance, ClearanceDecision, NoteComment, NoteStatus,
                                         NoteVersion, PositionNote, ReviewRequest)
from focalpoint.reference.models import PlenarySession

SESSION = "IPBES-12"
LINK = "https://www.ipbes.net/events/ipbes-12"

AGENDA = [
    ("2 (a)", "Adoption of the agenda and organization of work"),
    ("5 (a)", "Implementation of the rolling work programme up to 2030: report of the Executive Secretary"),
    ("6", "Financial and budgetary arrangements for the Platform"),
    ("7 (b)", "Methodological assessment of the impact and dependence of business on biodiversity and nature's "
              "contributions to people"),
    ("9", "Provisional agenda, date and venue of the thirteenth session of the Plenary"),
]

DOCUMENTS = [
    ("IPBES/12/1", "Provisional agenda", "2 (a)"),
    ("IPBES/12/2", "Report of the Executive Secretary on the implementation of the rolling work programme up to 2030",
     "5 (a)"),
    ("IPBES/12/3", "Summary for policymakers of the methodological assessment of the impact and dependence of "
                   "business on biodiversity and nature's contributions to people", "7 (b)"),
    ("IPBES/12/4", "Financial and budgetary arrangements for the Platform", "6"),
    ("IPBES/12/5", "Provisional agenda of the thirteenth session of the Plenary", "9"),
    ("IPBES/12/INF/1", "Chapters of the business and biodiversity assessment", "7 (b)"),
    ("IPBES/12/INF/4", "Information on work on capacity-building, knowledge and data", "5 (a)"),
    ("IPBES/12/INF/10", "Status of contributions and expenditures", "6"),
    ("IPBES/12/INF/12", "List of participants", None),
]

# Each version of a note: (background, national position, EU position, fallback, summary).
APPROVED_VERSIONS = [
    ("The Executive Secretary reports on progress with the rolling work programme up to 2030 (IPBES/12/2).",
     "Belgium **welcomes** the report.\n\nBelgium supports the work on capacity-building.",
     "", "", "First draft"),
    ("The Executive Secretary reports on progress with the rolling work programme up to 2030 (IPBES/12/2), "
     "including the second global assessment and the task forces.",
     "Belgium **welcomes** the report and the progress made since IPBES-11.\n\n"
     "Belgium supports:\n\n- the continued work of the task force on capacity-building;\n"
     "- *early* scoping of the second global assessment;\n- open access to the data behind the assessments.",
     "The EU welcomes the report (EU coordination meeting of 20 January).",
     "If the budget is tight, Belgium accepts delaying the data work, not the capacity-building.",
     "Answers the Flemish and federal comments"),
]

REVIEW_VERSIONS = [
    ("The Plenary considers the budget for the biennium (IPBES/12/4) and the status of contributions "
     "(IPBES/12/INF/10).", "Belgium supports the proposed budget.", "", "", "First draft"),
    ("The Plenary considers the budget for the biennium (IPBES/12/4) and the status of contributions "
     "(IPBES/12/INF/10). The trust fund's reserve is below its target.",
     "Belgium supports the proposed budget.\n\nBelgium will announce its contribution for 2026 at the session.",
     "", "A budget without the second global assessment's full funding only if its timeline holds.",
     "Contribution announced"),
    ("The Plenary considers the budget for the biennium (IPBES/12/4) and the status of contributions "
     "(IPBES/12/INF/10). The trust fund's reserve is below its target.",
     "Belgium supports the proposed budget.\n\n"
     "Belgium will announce a contribution of **EUR 250,000** for 2026 at the session, subject to the federal "
     "budget's approval.\n\nBelgium asks the secretariat to report on in-kind contributions separately.",
     "Member States have not yet agreed a common line on contributions.",
     "A budget without the second global assessment's full funding only if its timeline holds.",
     "Amount of the contribution"),
]

DRAFT_VERSION = (
    "The Plenary is invited to approve the summary for policymakers of the business and biodiversity assessment "
    "(IPBES/12/3) and accept its chapters (IPBES/12/INF/1).",
    "## Main points\n\nBelgium supports the approval of the summary for policymakers.\n\n"
    "1. Key messages on *dependencies* must stay policy-relevant, not prescriptive.\n"
    "2. The options for business action should name financial institutions.\n\n"
    "> To check with the federal administration: the wording on disclosure.",
    "", "", "First draft")


def _version(note: PositionNote, number: int, values, author, when: dt.datetime) -> NoteVersion:
    background, national, eu, fallback, summary = values
    version = NoteVersion(note_id=note.id, number=number, background=background, national_position=national,
                          eu_position=eu, fallback=fallback, summary=summary, author_id=author.id if author else None,
                          created_at=when)
    db.session.add(version)
    note.background, note.national_position, note.eu_position, note.fallback = background, national, eu, fallback
    note.current_version = number
    return version


def _note(item: AgendaItem, versions, staff, start: dt.datetime) -> PositionNote:
    note = PositionNote(agenda_item_id=item.id, title=item.title[:300], created_by_id=staff.id if staff else None,
                        status=NoteStatus.DRAFT)
    db.session.add(note)
    db.session.flush()
    for number, values in enumerate(versions, start=1):
        _version(note, number, values, staff, start + dt.timedelta(days=2 * (number - 1)))
    log_action(note, "position_note.created", actor=staff, data={"demo": True})
    return note


def _request(note, admin, staff, due: dt.date, when: dt.datetime) -> ReviewRequest:
    request = ReviewRequest(note_id=note.id, administration_id=admin.id, due_date=due,
                            requested_by_id=staff.id if staff else None, requested_at=when)
    db.session.add(request)
    db.session.flush()
    return request


def _decide(request, version: int, decision: ClearanceDecision, user, reason: str, when: dt.datetime):
    db.session.add(Clearance(request_id=request.id, note_version=version, decision=decision, reason=reason,
                             user_id=user.id if user else None, created_at=when))


def _comment(note, version, author, admin, body, *, section=None, paragraph=None, parent=None, resolved=None,
             when=None) -> NoteComment:
    quote = ""
    if section and paragraph:
        blocks = [b.strip() for b in (getattr(note, section) or "").split("\n\n") if b.strip()]
        quote = blocks[paragraph - 1] if paragraph <= len(blocks) else ""
    comment = NoteComment(note_id=note.id, note_version=version, section=section, paragraph=paragraph, quote=quote,
                          body=body, author_id=author.id if author else None,
                          administration_id=admin.id if admin else None, parent_id=parent.id if parent else None,
                          resolved_at=resolved, created_at=when or utcnow(), updated_at=when or utcnow())
    db.session.add(comment)
    db.session.flush()
    return comment


def load_demo_plenary(staff) -> str:
    session = db.session.scalar(sa.select(PlenarySession).where(PlenarySession.code == SESSION))
    if session is None:
        return f"Demo plenary: {SESSION} is not in the reference data"
    if db.session.scalar(sa.select(AgendaItem.id).where(AgendaItem.session_id == session.id).limit(1)):
        return "Demo plenary: already there"
    items = {number: svc.add_agenda_item(session, number=number, title=title, actor=staff)
             for number, title in AGENDA}
    for symbol, title, number in DOCUMENTS:
        svc.add_document(session, symbol=symbol, title=title, url=LINK,
                         agenda_item_id=items[number].id if number else None, actor=staff)
    db.session.flush()

    admins = {a.code: a for a in db.session.scalars(sa.select(Administration))}
    reviewers = {}
    for user in db.session.scalars(sa.select(User).where(User.email.like("reviewer%@focalpoint.example"))):
        if user.administration_id:
            reviewers[user.administration_id] = user
    # The demo's three reviewers' administrations; any others of the country stand in when they are missing.
    wanted = [admins.get(code) for code in ("BE-VL", "BE-WAL", "BE-FED-ENV")]
    spare = [a for code, a in sorted(admins.items()) if a not in wanted]
    chosen = [a if a is not None else (spare.pop(0) if spare else None) for a in wanted]
    flemish, walloon, federal = chosen
    now = utcnow()
    today = now.date()
    start = now - dt.timedelta(days=20)

    # Approved: two versions; the Flemish and federal administrations cleared the second.
    approved = _note(items["5 (a)"], APPROVED_VERSIONS, staff, start)
    documents = {d.symbol: d for d in svc.documents(session)}
    approved.documents = [documents["IPBES/12/2"], documents["IPBES/12/INF/4"]]
    asked = [a for a in (flemish, federal) if a is not None]
    for admin in asked:
        request = _request(approved, admin, staff, today - dt.timedelta(days=5), start + dt.timedelta(days=1))
        if admin is flemish:
            _decide(request, 1, ClearanceDecision.OBJECTED, reviewers.get(admin.id),
                    "Name the capacity-building work we support.", start + dt.timedelta(days=1, hours=5))
        _decide(request, 2, ClearanceDecision.CLEARED, reviewers.get(admin.id), "", start + dt.timedelta(days=3))
    if asked:
        approved.status = NoteStatus.APPROVED
        approved.approved_at = start + dt.timedelta(days=3, hours=1)
        question = _comment(approved, 1, reviewers.get(flemish.id) if flemish else None, flemish,
                            "Which capacity-building work do we support? Please be specific.",
                            section="national_position", paragraph=2, when=start + dt.timedelta(days=1, hours=4))
        _comment(approved, 1, staff, None, "The task force's work: now listed in version 2.", parent=question,
                 resolved=start + dt.timedelta(days=2), when=start + dt.timedelta(days=2))

    # In review: three versions; one administration cleared, one objected, one has not decided.
    review = _note(items["6"], REVIEW_VERSIONS, staff, start + dt.timedelta(days=4))
    review.documents = [documents["IPBES/12/4"], documents["IPBES/12/INF/10"]]
    review.status = NoteStatus.IN_REVIEW
    due = today + dt.timedelta(days=6)
    for admin, decision, reason in ((flemish, ClearanceDecision.CLEARED, ""),
                                    (walloon, ClearanceDecision.OBJECTED,
                                     "The amount of the contribution needs the Walloon Government's agreement "
                                     "first: say \"subject to the agreement of the federated entities\"."),
                                    (federal, None, "")):
        if admin is None:
            continue
        request = _request(review, admin, staff, due, start + dt.timedelta(days=9))
        if decision is not None:
            _decide(request, 3, decision, reviewers.get(admin.id), reason, now - dt.timedelta(days=2))
    if walloon is not None:
        objection = _comment(review, 3, reviewers.get(walloon.id), walloon,
                             "This amount has not been agreed between the federal and federated entities.",
                             section="national_position", paragraph=2, when=now - dt.timedelta(days=2, hours=1))
        _comment(review, 3, staff, None, "We will add the condition in the next version; the amount itself comes "
                 "from the federal budget.", parent=objection, when=now - dt.timedelta(days=1))
    if flemish is not None:
        _comment(review, 2, reviewers.get(flemish.id), flemish, "Please also mention in-kind contributions.",
                 section="national_position", when=now - dt.timedelta(days=6), resolved=now - dt.timedelta(days=5))

    # Draft: one version, nobody asked yet.
    draft = _note(items["7 (b)"], [DRAFT_VERSION], staff, now - dt.timedelta(days=1))
    draft.documents = [documents["IPBES/12/3"], documents["IPBES/12/INF/1"]]
    db.session.flush()
    line = (f"Demo plenary: {SESSION} with {len(AGENDA)} agenda items, {len(DOCUMENTS)} documents and 3 position "
            "notes (approved, in review, draft)")
    upcoming = _next_session(staff, [a for a in (flemish, federal) if a is not None], now)
    return line + (f"; {upcoming}" if upcoming else "")


def _next_session(staff, administrations, now: dt.datetime) -> str:
    """IPBES-13 started from the demo's save-the-date notification, with a note whose review is due soon: IPBES-12
    is over, so this is what the dashboard shows as coming (skipped without that notification)."""
    from focalpoint.notifications.models import Notification

    notification = db.session.scalar(sa.select(Notification).where(
        Notification.title.like("Save the date: Thirteenth session%")).order_by(Notification.id).limit(1))
    if notification is None:
        return ""
    values = svc.session_prefill(notification)
    if not values["code"] or db.session.scalar(sa.select(PlenarySession.id)
                                               .where(PlenarySession.code == values["code"])):
        return ""
    session = svc.create_session(code=values["code"], place=values["place"], start_date=values["start_date"],
                                 end_date=values["end_date"], notification=notification, actor=staff)
    svc.add_document(session, symbol=f"IPBES/{svc.session_number(session.code)}/1", title="Provisional agenda",
                     actor=staff)
    svc.add_agenda_item(session, number="2 (a)", title="Adoption of the agenda and organization of work", actor=staff)
    item = svc.add_agenda_item(session, number="5", title="Implementation of the rolling work programme up to 2030",
                               actor=staff)
    note = _note(item, [("The rolling work programme up to 2030 enters its second half.",
                         "Belgium supports a **mid-term review** of the work programme.", "", "", "First draft")],
                 staff, now - dt.timedelta(days=2))
    for days, admin in zip((5, 12), administrations):
        _request(note, admin, staff, now.date() + dt.timedelta(days=days), now - dt.timedelta(days=1))
    if administrations:
        note.status = NoteStatus.IN_REVIEW
    db.session.flush()
    return f"{session.code} started from its save-the-date notification, with a note in review"
