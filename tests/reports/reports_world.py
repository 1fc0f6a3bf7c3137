"""A small world whose report figures are worked out by hand (see the expectations in each test file).

Experts (e6 waits for review, so it is not in the registry):

    e1 female  flanders early   natural-sciences
    e2 male    wallonia senior  social-sciences, ilk
    e3 female  brussels mid     ilk
    e4 male    flanders senior  natural-sciences
    e5 —       —        —       —
    e6 non_binary federal early humanities (pending review)

Calls: C1 nexus, national deadline 2023-03-01; C2 transformative-change, 2024-05-01; C3 no deliverable,
2024-09-01.

    invitations  C1: e1 accepted, e2 accepted, e3 declined, e4 pending
                 C2: e1 accepted, e3 accepted, e5 expired
                 C3: e2 declined
    slates       C1: e1 selected CLA, e2 not selected, e4 withdrawn, e5 candidate (came forward)
                 C2: e1 selected LA, e3 submitted, e2 endorsed
                 C3: e5 not endorsed, e3 selected FELLOW

Past roles: e1 CLA nexus 2023 (selection), e1 LA transformative-change 2024 (selection), e3 FELLOW 2024
(selection, no deliverable), e2 LA nexus 2019 (declared), e4 RE with no year (declared).

Consultations: K1 FOD closing 2023-06-30 on nexus (participants e1, e2; e3 removed), comments c1 e1 adopt,
c2 e1 adopt_edited, c3 e2 merged into c1, c4 e2 reject, c5 e2 merged into c4, c6 e1 undecided; K2 SPM
closing 2024-02-15 on transformative-change (participant e3), comments c7 e3 undecided, c8 e3 merged
into c7, c9 e3 adopt; K3 FOD closing 2024-11-30, no deliverable, nothing in it.

Positions (times UTC), administrations A1 BE-FED-ENV, A2 BE-VL, A3 BE-WAL:

    R1 N1 A1 2024-03-01 10:00, cleared 2024-03-03 10:00                       → 2 days
    R2 N2 A1 2024-03-01 10:00, objected 03-02, cleared 2024-03-05 22:00      → 4.5 days
    R3 N3 A1 2024-04-01 00:00, cleared 2024-04-11 00:00                       → 10 days
    R4 N1 A2 2024-03-01 10:00, cleared 03-02 10:00, objected 03-04          → objected
    R5 N2 A2 2024-03-01 10:00, cleared 2024-03-04 10:00                       → 3 days
    R6 N1 A3 2024-03-01 10:00, nothing yet                                    → awaiting
    R7 N2 A3 2023-12-01, withdrawn                                            → left out
    R8 N3 A3 2023-05-01 10:00, cleared 2023-05-02 16:00                       → 1.25 days
"""
from __future__ import annotations

import datetime as dt

import sqlalchemy as sa


def utc(*args) -> dt.datetime:
    return dt.datetime(*args, tzinfo=dt.timezone.utc)


EXPERTS = {
    "e1": ("female", "flanders", "early", ["natural-sciences"], "active"),
    "e2": ("male", "wallonia", "senior", ["social-sciences", "ilk"], "active"),
    "e3": ("female", "brussels", "mid", ["ilk"], "active"),
    "e4": ("male", "flanders", "senior", ["natural-sciences"], "active"),
    "e5": (None, None, None, [], "active"),
    "e6": ("non_binary", "federal", "early", ["humanities"], "pending_review"),
}


def seed(app, *, copies: int = 1, start: int = 0) -> dict:
    """The world above; with ``copies`` > 1 the same shapes again (new experts, calls, consultations and
    notes with the same states; ``start`` numbers the first copy when seeding again), for checking that the
    number of queries does not grow with the data."""
    from focalpoint.extensions import db

    with app.app_context():
        ids: dict = {}
        for copy in range(start, start + copies):
            ids = _seed_once(db, copy)
        db.session.commit()
        return ids


def _seed_once(db, copy: int) -> dict:
    from focalpoint.auth.models import Administration
    from focalpoint.consultations.models import Consultation, Participant, ReviewComment
    from focalpoint.experts.models import Expert, PastRole
    from focalpoint.invitations.models import Invitation
    from focalpoint.nominations.models import Nomination, NominationCall
    from focalpoint.positions.models import AgendaItem, Clearance, PositionNote, ReviewRequest
    from focalpoint.reference.models import Deliverable, PlenarySession, ReferenceTerm

    s = db.session
    deliverables = {code: did for did, code in s.execute(sa.select(Deliverable.id, Deliverable.code))}
    nexus, transformative = deliverables["nexus"], deliverables["transformative-change"]
    terms = {code: t for t, code in s.execute(sa.select(ReferenceTerm, ReferenceTerm.code)
                                              .where(ReferenceTerm.vocabulary == "discipline"))}
    suffix = "" if copy == 0 else f"-{copy}"
    experts = {}
    for key, (gender, region, stage, disciplines, status) in EXPERTS.items():
        e = Expert(first_name=key.upper(), last_name=f"Expert{suffix}", email=f"{key}{suffix}@report.example",
                   gender=gender, region=region, career_stage=stage, status=status)
        e.terms = [terms[c] for c in disciplines]
        s.add(e)
        experts[key] = e
    s.flush()
    E = {k: e.id for k, e in experts.items()}

    def call(title, deliverable_id, deadline, kind="expert_call"):
        c = NominationCall(title=f"{title}{suffix}", deliverable_id=deliverable_id, national_deadline=deadline,
                           call_kind=kind)
        s.add(c)
        s.flush()
        return c.id

    c1 = call("Nexus authors", nexus, dt.date(2023, 3, 1))
    c2 = call("Transformative change authors", transformative, dt.date(2024, 5, 1))
    c3 = call("Fellows", None, dt.date(2024, 9, 1), "fellow_call")
    token = iter(range(10_000))

    def invite(call_id, key, state):
        answered = state in ("accepted", "declined")
        s.add(Invitation(call_id=call_id, expert_id=E[key], state=state, token_hash=f"{copy}-{next(token)}".ljust(64, "x"),
                         expires_at=utc(2030, 1, 1), sent_at=utc(2023, 1, 1),
                         responded_at=utc(2023, 1, 2) if answered else None))

    for call_id, answers in ((c1, {"e1": "accepted", "e2": "accepted", "e3": "declined", "e4": "pending"}),
                             (c2, {"e1": "accepted", "e3": "accepted", "e5": "expired"}),
                             (c3, {"e2": "declined"})):
        for key, state in answers.items():
            invite(call_id, key, state)

    nominations = {}

    def nominate(call_id, key, state, role=None, came_forward=False):
        n = Nomination(call_id=call_id, expert_id=E[key], state=state, selected_role=role, came_forward=came_forward)
        s.add(n)
        nominations[(call_id, key)] = n

    nominate(c1, "e1", "selected", "CLA")
    nominate(c1, "e2", "not_selected")
    nominate(c1, "e4", "withdrawn")
    nominate(c1, "e5", "candidate", came_forward=True)
    nominate(c2, "e1", "selected", "LA")
    nominate(c2, "e3", "submitted")
    nominate(c2, "e2", "endorsed")
    nominate(c3, "e5", "not_endorsed")
    nominate(c3, "e3", "selected", "FELLOW")
    s.flush()
    for key, did, role, year, source, nomination in (
            ("e1", nexus, "CLA", 2023, "selection", nominations[(c1, "e1")]),
            ("e1", transformative, "LA", 2024, "selection", nominations[(c2, "e1")]),
            ("e3", None, "FELLOW", 2024, "selection", nominations[(c3, "e3")]),
            ("e2", nexus, "LA", 2019, "declared", None),
            ("e4", None, "RE", None, "declared", None)):
        s.add(PastRole(expert_id=E[key], deliverable_id=did, role=role, year_from=year, year_to=None, source=source,
                       nomination_id=nomination.id if nomination else None))

    def consultation(title, draft, closes_on, deliverable_id):
        k = Consultation(title=f"{title}{suffix}", draft=draft, opens_on=closes_on - dt.timedelta(days=30),
                         closes_on=closes_on, deliverable_id=deliverable_id)
        s.add(k)
        s.flush()
        return k.id

    k1 = consultation("Nexus FOD", "fod", dt.date(2023, 6, 30), nexus)
    k2 = consultation("Transformative change SPM", "spm", dt.date(2024, 2, 15), transformative)
    k3 = consultation("Other FOD", "fod", dt.date(2024, 11, 30), None)
    for k, key, removed in ((k1, "e1", None), (k1, "e2", None), (k1, "e3", utc(2023, 6, 1)), (k2, "e3", None)):
        s.add(Participant(consultation_id=k, expert_id=E[key], removed_at=removed))
    s.flush()

    def comment(k, key, decision=None, into=None):
        c = ReviewComment(consultation_id=k, expert_id=E[key], reviewer_name=key, comment=f"Comment by {key}",
                          decision=decision, merged_into_id=into)
        s.add(c)
        s.flush()
        return c.id

    c_1 = comment(k1, "e1", "adopt")
    comment(k1, "e1", "adopt_edited")
    comment(k1, "e2", "merge", c_1)
    c_4 = comment(k1, "e2", "reject")
    comment(k1, "e2", "merge", c_4)
    comment(k1, "e1")
    c_7 = comment(k2, "e3")
    comment(k2, "e3", "merge", c_7)
    comment(k2, "e3", "adopt")

    admins = {code: aid for aid, code in s.execute(sa.select(Administration.id, Administration.code))}
    a1, a2, a3 = admins["BE-FED-ENV"], admins["BE-VL"], admins["BE-WAL"]
    session = s.scalar(sa.select(PlenarySession).order_by(PlenarySession.id))
    notes = []
    for number in ("1", "2", "3"):
        item = AgendaItem(session_id=session.id, number=f"{90 + copy}.{number}", title=f"Item {number}")
        s.add(item)
        s.flush()
        note = PositionNote(agenda_item_id=item.id, title=f"Note {number}", current_version=1)
        s.add(note)
        notes.append(note)
    s.flush()
    n1, n2, n3 = (n.id for n in notes)

    def request(note, admin, at, decisions=(), withdrawn=None):
        r = ReviewRequest(note_id=note, administration_id=admin, due_date=at.date() + dt.timedelta(days=14),
                          requested_at=at, withdrawn_at=withdrawn)
        s.add(r)
        s.flush()
        for decision, when in decisions:
            s.add(Clearance(request_id=r.id, note_version=1, decision=decision, created_at=when))
        s.flush()

    request(n1, a1, utc(2024, 3, 1, 10), [("cleared", utc(2024, 3, 3, 10))])
    request(n2, a1, utc(2024, 3, 1, 10), [("objected", utc(2024, 3, 2, 10)), ("cleared", utc(2024, 3, 5, 22))])
    request(n3, a1, utc(2024, 4, 1), [("cleared", utc(2024, 4, 11))])
    request(n1, a2, utc(2024, 3, 1, 10), [("cleared", utc(2024, 3, 2, 10)), ("objected", utc(2024, 3, 4, 10))])
    request(n2, a2, utc(2024, 3, 1, 10), [("cleared", utc(2024, 3, 4, 10))])
    request(n1, a3, utc(2024, 3, 1, 10))
    request(n2, a3, utc(2023, 12, 1), [("cleared", utc(2023, 12, 2))], withdrawn=utc(2023, 12, 3))
    request(n3, a3, utc(2023, 5, 1, 10), [("cleared", utc(2023, 5, 2, 16))])
    return {"experts": E, "calls": (c1, c2, c3), "nexus": nexus, "transformative": transformative,
            "consultations": (k1, k2, k3), "administrations": (a1, a2, a3)}


# --- reading pages -------------------------------------------------------------------------------------------
def table(html: str, table_id: str) -> dict:
    """The table with id ``table_id`` as {"head": [...], "rows": [[...]], "foot": [...]} of cell texts."""
    from html.parser import HTMLParser

    class Reader(HTMLParser):
        def __init__(self):
            super().__init__()
            self.depth = 0
            self.part = None
            self.out = {"head": [], "rows": [], "foot": []}
            self.row = None
            self.cell = None

        def handle_starttag(self, tag, attrs):
            attrs = dict(attrs)
            if tag == "table" and attrs.get("id") == table_id:
                self.depth = 1
            elif self.depth and tag == "table":
                self.depth += 1
            if not self.depth:
                return
            if tag in ("thead", "tbody", "tfoot"):
                self.part = tag
            elif tag == "tr":
                self.row = []
            elif tag in ("td", "th"):
                self.cell = []

        def handle_endtag(self, tag):
            if not self.depth:
                return
            if tag in ("td", "th") and self.cell is not None:
                self.row.append(" ".join("".join(self.cell).split()))
                self.cell = None
            elif tag == "tr" and self.row is not None:
                if self.part == "thead":
                    self.out["head"] = self.row
                elif self.part == "tfoot":
                    self.out["foot"] = self.row
                else:
                    self.out["rows"].append(self.row)
                self.row = None
            elif tag == "table":
                self.depth -= 1

        def handle_data(self, data):
            if self.depth and self.cell is not None:
                self.cell.append(data)

    reader = Reader()
    reader.feed(html)
    assert reader.out["head"], f"no table {table_id!r} in the page"
    return reader.out


def svgs(html: str) -> dict:
    """Every inline SVG of the page, parsed as XML (so each must be well-formed): {figure id: root element}."""
    import re
    import xml.etree.ElementTree as ET

    found = {}
    for match in re.finditer(r'<figure class="report-chart[^"]*" id="([^"]+)">.*?(<svg\b.*?</svg>)', html, re.S):
        found[match.group(1)] = ET.fromstring(match.group(2))
    return found


SVG = "{http://www.w3.org/2000/svg}"


def bars(svg) -> list[tuple[str, str, float]]:
    """(series, category, value) of every bar of a chart."""
    return [(r.get("data-series"), r.get("data-category"), float(r.get("data-value")))
            for r in svg.iter(f"{SVG}rect") if r.get("class") == "bar"]
