"""Demo data for a newcomer: one user per role and a realistic inbox whose deadlines lie ahead.

Idempotent: users are matched by e-mail; demo notifications by their GUID. Demo passwords are
generated once and kept in the instance folder, so they are the same at every start.
"""
from __future__ import annotations

import datetime as dt
import json
import os
import secrets
from pathlib import Path

import sqlalchemy as sa
from flask import current_app

from focalpoint.auth.models import Administration, Role, User
from focalpoint.auth.services import create_user, hash_password
from focalpoint.db import utcnow
from focalpoint.experts.models import Expert
from focalpoint.extensions import db
from focalpoint.notifications.feeds import FeedEntry, sanitize_html
from focalpoint.notifications.models import FeedSource, Notification, NotificationStatus
from focalpoint.notifications.services import ingest_entries, set_status

DEMO_USERS = [
    ("admin@focalpoint.example", "Ada Admin", [Role.ADMIN, Role.STAFF], None),
    ("staff@focalpoint.example", "Sam Staff", [Role.STAFF], None),
    ("expert@focalpoint.example", "Eva Expert", [Role.EXPERT], None),
    ("reviewer@focalpoint.example", "Rik Reviewer", [Role.REVIEWER], "BE-VL"),
    ("reviewer.wal@focalpoint.example", "Wendy Wallonia", [Role.REVIEWER], "BE-WAL"),
    ("reviewer.fed@focalpoint.example", "Frank Federal", [Role.REVIEWER], "BE-FED-ENV"),
]

DEMO_SOURCE = "IPBES secretariat (demo)"


def _passwords() -> dict[str, str]:
    path = Path(current_app.instance_path) / "demo_passwords.json"
    passwords = json.loads(path.read_text()) if path.exists() else {}
    if all(email in passwords for email, *_ in DEMO_USERS):
        return passwords
    # Users added to the demo since the file was written get a password too; the others keep theirs.
    passwords.update({email: f"demo-{secrets.token_urlsafe(9)}" for email, *_ in DEMO_USERS if email not in passwords})
    os.makedirs(path.parent, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fh:
        json.dump(passwords, fh)
    return passwords


def _fmt(day: dt.date) -> str:
    return f"{day.day} {day:%B %Y}"


def demo_entries(today: dt.date) -> list[FeedEntry]:
    year = today.year
    d = lambda n: today + dt.timedelta(days=n)  # noqa: E731
    items = [
        (f"EM/{year}/41: Call for nominations of experts for the second global assessment of biodiversity and ecosystem services",
         f"Governments and relevant organizations are invited to nominate experts as coordinating lead authors, lead authors "
         f"and review editors. Candidates are requested to complete the application form by {_fmt(d(24))}. Nominators should "
         f"approve the applications and submit their nominations by {_fmt(d(38))}.", -3),
        (f"EM/{year}/42: Call for nominations for fellows for the second global assessment",
         f"Further to the call for nominations of experts (EM/{year}/41), Governments are invited to nominate early-career "
         f"fellows. Nominations must be submitted no later than {_fmt(d(38))}, 23:59 (CET).", -3),
        (f"EM/{year}/39: External review of the second order draft of the monitoring assessment",
         f"The second order draft of the methodological assessment on monitoring biodiversity is open for external review "
         f"from {_fmt(d(-20))} to {_fmt(d(6))}. Please submit your comments using the review template by {_fmt(d(6))}.", -20),
        (f"REMINDER: EM/{year}/39: External review of the second order draft of the monitoring assessment closes soon",
         f"With reference to notification EM/{year}/39, we remind you that the review period closes on {_fmt(d(6))}.", -1),
        (f"EM/{year}/37: Call for inputs on the draft work plan of the task force on knowledge and data",
         f"Governments and stakeholders are invited to submit their inputs using the online form by {_fmt(d(-2))}.", -30),
        ("Save the date: Thirteenth session of the Plenary of IPBES (IPBES 13)",
         f"I am pleased to inform you that the thirteenth session of the IPBES Plenary will be held from {_fmt(d(120))} "
         f"to {_fmt(d(126))}.", -10),
        (f"Call for offers to host the technical support unit for the business and biodiversity follow-up - deadline is {_fmt(d(45))}",
         f"Interested Governments or relevant organizations are invited to submit their offers by {_fmt(d(45))}, 6 p.m. "
         f"(Central European Time) to the secretariat.", -5),
        ("Online dialogue workshop on Indigenous and local knowledge for the spatial planning assessment",
         f"The secretariat invites Indigenous peoples and local communities to an online dialogue workshop. "
         f"Please register by {_fmt(d(15))}.", -2),
    ]
    entries = []
    for n, (title, text, published_offset) in enumerate(items, 1):
        published = dt.datetime.combine(d(published_offset), dt.time(9), tzinfo=dt.timezone.utc)
        entries.append(FeedEntry(guid=f"urn:focalpoint:demo:{n}", link=f"https://www.ipbes.net/notifications#demo-{n}",
                                 title=title, summary_html=sanitize_html(f"<p>{text}</p>"), text=text,
                                 published=published))
    return entries


def load_demo() -> list[str]:
    lines = []
    passwords = _passwords()
    for email, name, roles, admin_code in DEMO_USERS:
        user = db.session.scalar(sa.select(User).where(User.email == email))
        if user is None:
            admin = db.session.scalar(sa.select(Administration).where(Administration.code == admin_code)) \
                if admin_code else None
            if admin_code and admin is None:  # a country without that administration
                admin = db.session.scalar(sa.select(Administration).order_by(Administration.id))
            user = create_user(email, roles=roles, password=passwords[email], name=name, administration=admin)
        else:
            user.password_hash = hash_password(passwords[email])
        lines.append(f"  demo {'/'.join(sorted(str(r) for r in user.roles)):13} {email:30} password: {passwords[email]}")

    source = db.session.scalar(sa.select(FeedSource).where(FeedSource.name == DEMO_SOURCE))
    if source is None:
        # Inactive: the demo items are loaded from the package, nothing is fetched.
        source = FeedSource(name=DEMO_SOURCE, url="https://www.ipbes.net/notifications/feed", is_active=False,
                            interval_minutes=60)
        db.session.add(source)
        db.session.flush()
    today = dt.datetime.now(dt.timezone.utc).date()
    counts = ingest_entries(source, demo_entries(today))
    staff = db.session.scalar(sa.select(User).where(User.email == "staff@focalpoint.example"))
    if counts.new:
        first = db.session.scalar(sa.select(Notification).where(Notification.guid == "urn:focalpoint:demo:1"))
        if first is not None and first.status == NotificationStatus.NEW:
            set_status(first, NotificationStatus.IN_PROGRESS, actor=staff)
            first.assignee = staff
    source.last_polled_at = source.last_success_at = utcnow()
    lines.insert(0, f"Demo data: {counts.new} demo notifications added ({counts.seen} in the demo set)")
    lines.append(load_demo_registry(staff))
    eva = db.session.scalar(sa.select(Expert).where(Expert.email == "expert@focalpoint.example"))
    if eva is not None:
        lines.append(load_demo_consultation(staff, eva))
    from focalpoint.positions.demo import load_demo_plenary

    lines.append(load_demo_plenary(staff))
    link = demo_invitation_link()
    if link:
        lines.append(f"  the demo expert's invitation can be answered at {link}")
    review = demo_review_link()
    if review:
        lines.append(f"  the demo expert's review of the consultation opens at {review}")
    return lines


def demo_invitation_link() -> str | None:
    """A fresh link for the demo expert's pending invitation (a new one at each start: only hashes are kept)."""
    import secrets

    from focalpoint.experts.models import Expert
    from focalpoint.invitations.models import Invitation, InvitationState
    from focalpoint.invitations.services import hash_token
    from focalpoint.security import external_url

    invitation = db.session.scalar(
        sa.select(Invitation).join(Expert, Invitation.expert_id == Expert.id)
        .where(Expert.email == "expert@focalpoint.example", Invitation.state == InvitationState.PENDING))
    if invitation is None:
        return None
    token = secrets.token_urlsafe(32)
    invitation.token_hash = hash_token(token)
    db.session.flush()
    return external_url("invitations.respond", token=token)


# --- the expert registry and a nomination call ------------------------------------------------------
FIRST = ["An", "Bart", "Charlotte", "Dirk", "Els", "Filip", "Greet", "Hugo", "Ines", "Jan", "Katrien", "Luc", "Marie",
         "Nathalie", "Olivier", "Pieter", "Quentin", "Roos", "Sophie", "Thomas", "Ursula", "Vincent", "Wim", "Xavier",
         "Yasmine", "Zoë", "Amina", "Benoît", "Céline", "Didier", "Elif", "François", "Hélène", "Karim", "Lotte"]
LAST = ["Peeters", "Janssens", "Maes", "Jacobs", "Mertens", "Willems", "Claes", "Goossens", "Wouters", "De Smet",
        "Dubois", "Lambert", "Dupont", "Martin", "Simon", "Laurent", "Leclercq", "Renard", "Vandenberghe", "Lemaire",
        "Hermans", "Michiels", "Desmet", "Aerts", "Smets", "Bogaert", "Van Damme", "Mahieu", "Collard", "Gilson"]
AFFILIATIONS = ["Ghent University", "KU Leuven", "Université catholique de Louvain", "Université libre de Bruxelles",
                "University of Antwerp", "Université de Liège", "Vrije Universiteit Brussel", "Hasselt University",
                "Research Institute for Nature and Forest (INBO)", "Royal Belgian Institute of Natural Sciences",
                "Meise Botanic Garden", "Walloon Agricultural Research Centre", "Natuurpunt", "Natagora",
                "Flemish Institute for Technological Research (VITO)", "Royal Museum for Central Africa"]
KEYWORDS = ["pollination", "invasive species", "land use", "restoration", "ecosystem services", "valuation",
            "climate change", "freshwater ecology", "marine biodiversity", "soil biodiversity", "agroecology",
            "governance", "environmental economics", "indigenous knowledge", "scenarios", "remote sensing",
            "urban ecology", "forest ecology", "spatial planning", "connectivity", "monitoring", "citizen science"]


def load_demo_registry(staff) -> str:
    """About 200 experts spread over regions and disciplines, and a nomination call with invitations
    in every state (idempotent: skipped when the demo experts exist)."""
    import hashlib
    import random

    from focalpoint.experts.models import Availability, CareerStage, Expert, Gender, PastRole
    from focalpoint.invitations.models import Invitation, InvitationState
    from focalpoint.nominations.models import NominationCall, NominationState
    from focalpoint.nominations.services import add_candidate, set_nomination_state
    from focalpoint.reference.models import Deliverable, ReferenceTerm

    if db.session.scalar(sa.select(Expert.id).where(Expert.email.like("%@experts.focalpoint.example"))):
        return "Demo registry: already there"
    rng = random.Random(2026)
    terms = db.session.scalars(sa.select(ReferenceTerm)).all()
    by_vocab: dict[str, list] = {}
    for term in terms:
        by_vocab.setdefault(term.vocabulary, []).append(term)
    deliverables = db.session.scalars(sa.select(Deliverable).order_by(Deliverable.id)).all()
    regions = [r["code"] for r in
               __import__("focalpoint.reference.services", fromlist=["reference_data"]).reference_data()
               ["countries"].get(current_app.config["COUNTRY_CODE"], {}).get("regions", [])] or [None]
    now = utcnow()
    experts = []
    for n in range(200):
        first, last = FIRST[n % len(FIRST)], LAST[(n * 7) % len(LAST)]
        expert = Expert(
            first_name=first, last_name=last, email=f"{first.lower()}.{last.lower().replace(' ', '')}.{n}@experts.focalpoint.example",
            affiliation=rng.choice(AFFILIATIONS), region=rng.choice(regions),
            gender=rng.choice([Gender.FEMALE, Gender.MALE, Gender.FEMALE, Gender.MALE, Gender.NON_BINARY, Gender.UNDISCLOSED][: 4 + (n % 3 == 0) * 2]),
            career_stage=rng.choice(list(CareerStage)),
            keywords="; ".join(rng.sample(KEYWORDS, 3)), languages=";".join(rng.sample(["en", "fr", "nl", "de"], 2)),
            preferred_language=rng.choice(["en", "fr", "nl"]),
            availability=rng.choice([Availability.AVAILABLE] * 4 + [Availability.LIMITED, Availability.UNAVAILABLE]),
            consent_contact_at=now if n % 10 else None, consent_processing_at=now if n % 10 else None,
            consent_text_version="2026-1" if n % 10 else None,
        )
        expert.terms = (rng.sample(by_vocab.get("discipline", []), 1 + (n % 2))
                        + rng.sample(by_vocab.get("expert_role", []), 2)
                        + rng.sample(by_vocab.get("gbf_target", []), 2)
                        + rng.sample(by_vocab.get("ecosystem", []), 1))
        expert.deliverables = rng.sample(deliverables, 2)
        if n % 6 == 0:
            past = rng.choice(deliverables)
            expert.roles_held.append(PastRole(deliverable=past, role=rng.choice(["LA", "CLA", "RE", "FELLOW"]),
                                              year_from=2016 + n % 6, year_to=2019 + n % 6, source="declared"))
        experts.append(expert)
    db.session.add_all(experts)
    db.session.flush()

    notification = db.session.scalar(sa.select(Notification).where(Notification.guid == "urn:focalpoint:demo:1"))
    global_2 = db.session.scalar(sa.select(Deliverable).where(Deliverable.code == "global-2"))
    today = now.date()
    call = NominationCall(
        notification=notification, title=notification.title if notification else "Call for nominations of experts",
        call_kind="expert_call", deliverable=global_2, opens_on=today - dt.timedelta(days=3),
        application_deadline=today + dt.timedelta(days=24), nomination_deadline=today + dt.timedelta(days=38),
        national_deadline=today + dt.timedelta(days=14), reminder_days="7;2", created_by_id=staff.id if staff else None,
        description="Coordinating lead authors, lead authors and review editors for the second global assessment.")
    call.roles_sought = [t for t in by_vocab.get("expert_role", []) if t.code in ("CLA", "LA", "RE")]
    db.session.add(call)
    db.session.flush()
    states = [InvitationState.PENDING] * 5 + [InvitationState.ACCEPTED] * 6 + [InvitationState.DECLINED] * 3 \
        + [InvitationState.EXPIRED] * 2
    # The demo expert account has its own registry entry, with a pending invitation to answer.
    account = db.session.scalar(sa.select(User).where(User.email == "expert@focalpoint.example"))
    eva = Expert(first_name="Eva", last_name="Expert", email="expert@focalpoint.example", user_id=account.id if account else None,
                 affiliation="Ghent University", region=regions[0], gender=Gender.FEMALE, career_stage=CareerStage.MID,
                 keywords="ecosystem services; valuation; scenarios", languages="en;nl", preferred_language="en",
                 consent_contact_at=now, consent_processing_at=now, consent_text_version="2026-1")
    eva.terms = [t for t in terms if (t.vocabulary, t.code) in {("discipline", "social-sciences"), ("expert_role", "LA"),
                                                                 ("gbf_target", "T14"), ("ecosystem", "agricultural")}]
    eva.deliverables = [global_2] if global_2 else []
    db.session.add(eva)
    db.session.flush()
    invited = [eva] + [e for e in experts if e.consent_contact_at][: len(states) - 1]
    expires = dt.datetime.combine(call.national_deadline, dt.time(23, 59), tzinfo=dt.timezone.utc)
    for number, (expert, state) in enumerate(zip(invited, states)):
        secret = f"demo-{number}-{rng.random()}"
        invitation = Invitation(call_id=call.id, expert_id=expert.id, state=state,
                                token_hash=hashlib.sha256(secret.encode()).hexdigest(), expires_at=expires,
                                sent_at=now - dt.timedelta(days=3),
                                responded_at=now - dt.timedelta(days=1) if state in (InvitationState.ACCEPTED,
                                                                                      InvitationState.DECLINED) else None,
                                subject=f"Invitation: {call.title}"[:300],
                                role_wanted=rng.choice(["CLA", "LA", "RE"]) if state == InvitationState.ACCEPTED else None,
                                motivation="I have worked on this topic for ten years." if state == InvitationState.ACCEPTED else "",
                                decline_reason="Not available in 2027." if state == InvitationState.DECLINED else "")
        db.session.add(invitation)
        db.session.flush()
        if state == InvitationState.ACCEPTED:
            nomination = add_candidate(call, expert, actor=staff, role=invitation.role_wanted)
            moves = [[], [NominationState.ENDORSED], [NominationState.NOT_ENDORSED],
                     [NominationState.ENDORSED, NominationState.SUBMITTED], [NominationState.ENDORSED],
                     [NominationState.WITHDRAWN]][number % 6]
            for move in moves:
                set_nomination_state(nomination, move, actor=staff, note="demo")
            nomination.rank = number + 1
    return f"Demo registry: {len(experts)} experts, 1 nomination call with {len(invited)} invitations"


# --- a consultation on a second order draft, and events ----------------------------------------------
DEMO_CONSULTATION = "National review of the second order draft of the monitoring assessment"

DEMO_COMMENTS = [
    # (expert index, document, chapter, page, line_from, line_to, type, comment, suggested change, decision)
    (0, "Summary for policymakers", "Key messages", 3, 12, 18, "specific",
     "Key message A3 does not say which indicators the trend estimates rest on.",
     "Name the indicators behind A3 (e.g. the Living Planet Index and the Red List Index).", "adopt"),
    (1, "Summary for policymakers", "Key messages", 3, 14, 16, "specific",
     "A3: the indicator basis is unclear to a policy reader.", "", "merge"),
    (2, "Summary for policymakers", "Background", 7, 40, 44, "editorial",
     "\"In-situ\" is spelled three different ways on this page.", "Use \"in situ\" throughout.", "adopt_edited"),
    (3, "Summary for policymakers", "", 9, 2, 5, "general",
     "The SPM should mention the national monitoring networks run by regions, not only EU-level schemes.",
     "Add a sentence on subnational monitoring networks.", None),
    (0, "Chapter 3", "3.2 Citizen science", 41, 120, 131, "specific",
     "Citizen science data quality is discussed without the validation protocols used in Europe.",
     "Cite the validation protocols of the large European recording schemes.", "reject"),
    (4, "Chapter 3", "3.4 Remote sensing", 58, 7, 9, "specific",
     "Section 3.4 could cite the Copernicus land monitoring products.", "", None),
    (1, "Chapter 3", "3.4 Remote sensing", 60, 33, 33, "editorial", "Figure 3.7: the legend is unreadable in print.",
     "Increase the legend's font size.", None),
]


def load_demo_consultation(staff, eva) -> str:
    """A consultation on a second order draft with comments from several experts, some decided; an upcoming
    information session linked to it and a past uptake event with attendance (idempotent)."""
    import uuid

    from focalpoint.consultations.comments import author_values, clean_comment
    from focalpoint.consultations.models import (CommentSource, Consultation, ConsultationDocument, Decision,
                                                 DraftKind, Participant, ReviewComment)
    from focalpoint.events.models import Event, EventKind, Registration, RegistrationStatus
    from focalpoint.experts.models import Expert
    from focalpoint.reference.models import Deliverable

    if db.session.scalar(sa.select(Consultation.id).where(Consultation.title == DEMO_CONSULTATION)):
        return "Demo consultation: already there"
    now = utcnow()
    today = now.date()
    monitoring = db.session.scalar(sa.select(Deliverable).where(Deliverable.code == "monitoring"))
    consultation = Consultation(
        title=DEMO_CONSULTATION, deliverable=monitoring, draft=DraftKind.SOD,
        description="The secretariat invites governments to review the second order draft of the methodological "
                    "assessment on monitoring biodiversity and nature's contributions to people. National comments "
                    "are consolidated by the focal point.",
        confidentiality_note="The drafts are confidential: do not cite, quote or distribute them.",
        opens_on=today - dt.timedelta(days=10), closes_on=today + dt.timedelta(days=12),
        secretariat_deadline=today + dt.timedelta(days=20), reminder_days="7;2",
        created_by_id=staff.id if staff else None)
    consultation.documents = [
        ConsultationDocument(title="Summary for policymakers", position=1,
                             url="https://www.ipbes.net/monitoring-assessment"),
        ConsultationDocument(title="Chapter 3", position=2, url="https://www.ipbes.net/monitoring-assessment"),
    ]
    db.session.add(consultation)
    db.session.flush()
    experts = [eva] + list(db.session.scalars(
        sa.select(Expert).where(Expert.email.like("%@experts.focalpoint.example"), Expert.consent_contact_at.is_not(None))
        .order_by(Expert.id).limit(5)))
    participants = []
    for expert in experts:
        participant = Participant(consultation_id=consultation.id, expert_id=expert.id,
                                  invited_by_id=staff.id if staff else None, sent_at=now - dt.timedelta(days=10))
        participants.append(participant)
    db.session.add_all(participants)
    db.session.flush()
    comments: list[ReviewComment] = []
    for index, document, chapter, page, line_from, line_to, kind, text, suggestion, _decision in DEMO_COMMENTS:
        participant = participants[index + 1]  # the demo expert (index 0 of participants) writes her own
        values = clean_comment(consultation, {"document": document, "chapter": chapter, "page_from": page,
                                              "line_from": line_from, "page_to": page, "line_to": line_to,
                                              "comment": text, "suggested_change": suggestion, "comment_type": kind})
        comment = ReviewComment(consultation_id=consultation.id, participant_id=participant.id,
                                source=CommentSource.BROWSER, **values, **author_values(participant.expert))
        comments.append(comment)
    db.session.add_all(comments)
    db.session.flush()
    for comment, row in zip(comments, DEMO_COMMENTS):
        decision = row[-1]
        if decision is None:
            continue
        comment.decision = Decision(decision)
        comment.decided_at, comment.decided_by_id = now - dt.timedelta(days=1), staff.id if staff else None
        if decision == "merge":
            comment.merged_into_id = comments[0].id
            comment.staff_note = "Same point as the first comment on A3."
        elif decision == "adopt_edited":
            comment.edited_comment = "The spelling of \"in situ\" varies on page 7."
            comment.edited_suggested_change = "Use \"in situ\" (no hyphen, not italicised) throughout."
        elif decision == "reject":
            comment.staff_note = "Out of scope for the SPM review; passed to the chapter's authors informally."
    host = (current_app.config.get("BASE_URL") or "http://focalpoint.example").split("//")[-1].split("/")[0]
    session = Event(kind=EventKind.INFORMATION_SESSION, title="Information session: reviewing the monitoring assessment",
                    description="How the IPBES review works, what the national consultation needs, and questions.",
                    consultation_id=consultation.id, deliverable=monitoring,
                    starts_at=dt.datetime.combine(today + dt.timedelta(days=5), dt.time(13), tzinfo=dt.timezone.utc),
                    ends_at=dt.datetime.combine(today + dt.timedelta(days=5), dt.time(14, 30), tzinfo=dt.timezone.utc),
                    online_url="https://meet.example.org/focalpoint-monitoring", capacity=40,
                    uid=f"{uuid.uuid4()}@{host}", created_by_id=staff.id if staff else None)
    uptake = Event(kind=EventKind.UPTAKE_EVENT, title="Uptake event: the nexus assessment for Belgian policy",
                   description="Authors present the nexus assessment's findings to administrations.",
                   starts_at=dt.datetime.combine(today - dt.timedelta(days=30), dt.time(9), tzinfo=dt.timezone.utc),
                   ends_at=dt.datetime.combine(today - dt.timedelta(days=30), dt.time(12), tzinfo=dt.timezone.utc),
                   place="Royal Belgian Institute of Natural Sciences, Brussels", capacity=60,
                   uid=f"{uuid.uuid4()}@{host}", created_by_id=staff.id if staff else None)
    db.session.add_all([session, uptake])
    db.session.flush()
    for number, expert in enumerate(experts[1:4]):
        db.session.add(Registration(event_id=session.id, expert_id=expert.id, name=expert.name,
                                    email=expert.email, affiliation=expert.affiliation))
    db.session.add(Registration(event_id=session.id, name="Sam Policy", email="sam.policy@administration.example",
                                affiliation="Federal Public Service Health, Food Chain Safety and Environment"))
    for number, expert in enumerate(experts[1:6]):
        db.session.add(Registration(event_id=uptake.id, expert_id=expert.id, name=expert.name, email=expert.email,
                                    affiliation=expert.affiliation, attended=number != 2,
                                    status=RegistrationStatus.REGISTERED))
    decided = sum(1 for row in DEMO_COMMENTS if row[-1])
    return (f"Demo consultation: {len(participants)} invited experts, {len(comments)} comments ({decided} decided); "
            "2 events")


def demo_review_link() -> str | None:
    """A fresh personal review link for the demo expert (a new one at each start: only hashes are kept)."""
    from focalpoint.consultations.links import new_secret, review_url
    from focalpoint.consultations.models import Consultation, Participant
    from focalpoint.experts.models import Expert

    participant = db.session.scalar(
        sa.select(Participant).join(Expert, Participant.expert_id == Expert.id)
        .join(Consultation, Participant.consultation_id == Consultation.id)
        .where(Expert.email == "expert@focalpoint.example", Consultation.title == DEMO_CONSULTATION))
    if participant is None:
        return None
    secret = new_secret(participant)
    db.session.flush()
    return review_url(secret)
