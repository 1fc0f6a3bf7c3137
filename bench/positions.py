#!/usr/bin/env python
"""Time the plenary preparation pages and the briefing pack on a session prepared in full.

    python bench/positions.py                      # a fresh SQLite database in a temporary folder
    python bench/positions.py --items 40 --versions 20 --runs 9
    python bench/positions.py --database-url postgresql+psycopg://postgres@127.0.0.1/focalpoint_bench_x

One plenary session with --items agenda items (default 20; numbered like a provisional agenda, "3 (a)",
"3 (b)" …), 2-3 working and information documents per item and a few loose ones. Every item has a position
note with --versions versions (default 10; Markdown sections of a few paragraphs that grow and change from
version to version), linked to 1-3 documents; all 5 administrations of the reference data are asked to
review each note; their decisions are spread over the versions (a quarter of the notes approved, the others
with cleared, stale, objected and pending administrations); 8-16 reviewer comments per note, half of them
answered by staff, some resolved; and the audit trail the services would have written (bulk inserts).

Printed: the median time and SQL queries of staff's pages through the Flask test client — the session's
page, its clearance matrix, the list of position notes, a note's page, the diff between its first and last
version — and a reviewer's list and note page; then the briefing pack (DOCX): time and size. Queries are
counted with an SQLAlchemy ``before_cursor_execute`` listener. With --database-url the database must be
empty (it is migrated to the latest revision first; the rows stay); never point it at one that holds anything.
"""
from __future__ import annotations

import argparse
import datetime as dt
import os
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

TITLES = ["Opening of the session", "Adoption of the agenda and organization of work",
          "Status of the membership of the Platform", "Admission of observers",
          "Credentials of representatives", "Report of the Executive Secretary on the implementation of the "
          "rolling work programme up to 2030", "Financial and budgetary arrangements for the Platform",
          "Assessing knowledge: methodological assessment of the impact and dependence of business on "
          "biodiversity", "Assessing knowledge: spatial planning and ecological connectivity",
          "Assessing knowledge: second global assessment of biodiversity and ecosystem services",
          "Building capacity", "Strengthening the knowledge foundations", "Supporting policy",
          "Communicating and engaging", "Improving the effectiveness of the Platform",
          "Institutional arrangements: United Nations collaborative partnership", "Review of the Platform",
          "Provisional agenda, date and venue of the next session",
          "Adoption of the decisions and the report",
          "Closure of the session", "Nexus assessment: summary for policymakers", "Transformative change",
          "Monitoring assessment scoping report", "Stakeholder engagement strategy"]
PHRASES = [
    "Belgium welcomes the {thing} and thanks the co-chairs, the authors and the technical support unit.",
    "The {thing} builds on the findings of the nexus and transformative change assessments.",
    "Belgium can support the draft decision as proposed, provided the budget remains within the ceiling.",
    "The EU position, agreed at the coordination meeting, supports the **{thing}** with minor amendments.",
    "Belgium asks that the scoping report give more room to *indigenous and local knowledge*.",
    "The regions stress the need for consistency with the Kunming-Montreal Global Biodiversity Framework.",
    "Belgium would rather not reopen the agreed text of the {thing}.",
    "If other members propose to delay the {thing}, Belgium can accept a delay of one year at most.",
    "See the [document on the Platform's website](https://www.ipbes.net/documents) for the budget tables.",
    "The federal administration notes that the cost of the {thing} has risen by 12 % since IPBES-11.",
    "Belgium supports an open call for nominations with a balance of disciplines and regions.",
    "The Flemish and Walloon administrations ask for a national dissemination event after the plenary.",
]
THINGS = ["work programme", "assessment", "budget", "capacity-building plan", "data management policy",
          "review of the Platform", "stakeholder strategy", "scoping report"]
COMMENTS = ["Could we be firmer here? The regions agreed on a stronger wording last month.",
            "This paragraph does not reflect the federal position on the budget ceiling.",
            "Please add the reference to the EU coordination meeting.",
            "We cannot agree with the fallback: a delay of two years is not acceptable for our minister.",
            "Typo in the second sentence.", "Fine for us.",
            "Please check with Foreign Affairs before the plenary: this touches on the host agreement.",
            "Is this consistent with the position taken at IPBES-11 on the same item?"]
ANSWERS = ["Thank you: changed in the next version.", "Kept as it is: it is the agreed EU wording.",
           "We will raise it at the coordination meeting on Monday."]
SECTIONS = ("background", "national_position", "eu_position", "fallback")
ITEM_NUMBERS = ["1", "2 (a)", "2 (b)", "3", "4", "5 (a)", "5 (b)", "5 (c)", "6", "7 (a)", "7 (b)", "7 (c)",
                "8", "9 (a)", "9 (b)", "10", "11", "12", "13", "14", "15", "16", "17", "18", "19", "20"]


def paragraph(rng: random.Random) -> str:
    return " ".join(rng.choice(PHRASES).format(thing=rng.choice(THINGS)) for _ in range(rng.randint(1, 3)))


def evolve(rng: random.Random, versions: int) -> list[dict]:
    """The texts of a note's successive versions: each version edits a paragraph, some add or drop one."""
    texts = {"background": [paragraph(rng) for _ in range(rng.randint(2, 4))],
             "national_position": [paragraph(rng) for _ in range(rng.randint(2, 4))]
             + ["Belgium supports:\n\n- " + "\n- ".join(paragraph(rng) for _ in range(3))],
             "eu_position": [], "fallback": [paragraph(rng)]}
    out = []
    for number in range(1, versions + 1):
        if number > 1:
            section = rng.choice(["background", "national_position", "national_position", "fallback"])
            paras = texts[section]
            if paras and rng.random() < 0.7:
                paras[rng.randrange(len(paras))] = paragraph(rng)
            else:
                paras.append(paragraph(rng))
            if number % 4 == 0 and len(texts["background"]) > 2:
                texts["background"].pop(rng.randrange(len(texts["background"])))
            if number >= versions // 2 and not texts["eu_position"]:
                texts["eu_position"].append(paragraph(rng))
        out.append({s: "\n\n".join(texts[s]) for s in SECTIONS})
    return out


def seed(db, rng: random.Random, *, items: int, versions: int, staff, reviewers: dict[int, list[int]],
         today: dt.date) -> dict:
    """The session and everything in it, by bulk inserts; returns ids and counts."""
    import sqlalchemy as sa

    from focalpoint.audit import AuditEntry
    from focalpoint.auth.models import Administration
    from focalpoint.db import utcnow
    from focalpoint.positions.models import (AgendaItem, Clearance, NoteComment, NoteVersion, PositionNote,
                                             ReviewRequest, SessionDocument, note_documents)
    from focalpoint.positions.plenary_services import document_position, natural_key
    from focalpoint.reference.models import PlenarySession

    def next_id(model) -> int:
        return (db.session.scalar(sa.select(sa.func.max(model.id))) or 0) + 1

    now = utcnow()
    session = PlenarySession(code="IPBES-30", place="Bonn, Germany", start_date=today + dt.timedelta(days=45),
                             end_date=today + dt.timedelta(days=51))
    db.session.add(session)
    db.session.flush()
    administrations = db.session.scalars(sa.select(Administration).order_by(Administration.id)).all()

    numbers = (ITEM_NUMBERS + [str(21 + i) for i in range(max(0, items - len(ITEM_NUMBERS)))])[:items]
    order = {n: i for i, n in enumerate(sorted(numbers, key=natural_key), start=1)}
    item_rows = [{"id": next_id(AgendaItem) + i, "session_id": session.id, "number": n,
                  "title": TITLES[i % len(TITLES)], "position": order[n]} for i, n in enumerate(numbers)]
    db.session.execute(sa.insert(AgendaItem.__table__), item_rows)

    documents, working, information = [], 0, 0
    doc_id = next_id(SessionDocument)
    for item in item_rows + [None] * 3:
        for _ in range(rng.randint(2, 3) if item else 1):
            if rng.random() < 0.6:
                working += 1
                symbol = f"IPBES/30/{working}"
            else:
                information += 1
                symbol = f"IPBES/30/INF/{information}"
            documents.append({"id": doc_id, "session_id": session.id, "symbol": symbol,
                              "title": f"{rng.choice(TITLES)} ({symbol})",
                              "url": f"https://www.ipbes.net/documents/{symbol.replace('/', '-')}",
                              "agenda_item_id": item["id"] if item else None,
                              "position": document_position(symbol)})
            doc_id += 1
    db.session.execute(sa.insert(SessionDocument.__table__), documents)

    note_rows, version_rows, link_rows, request_rows = [], [], [], []
    clearance_rows, comment_rows, audit = [], [], []
    note_id, request_id, comment_id = next_id(PositionNote), next_id(ReviewRequest), next_id(NoteComment)
    approved_notes = set(rng.sample(range(items), max(1, items // 4)))
    counts = {"approved": 0, "in_review": 0, "cleared": 0, "objected": 0, "stale": 0, "pending": 0}

    def log(object_id: int, action: str, actor_id, at: dt.datetime, **data):
        audit.append({"at": at, "actor_id": actor_id, "object_type": "position_notes", "object_id": object_id,
                      "action": action, "data": data})

    for index, item in enumerate(item_rows):
        nid = note_id + index
        texts = evolve(rng, versions)
        started = now - dt.timedelta(days=40)
        log(nid, "position_note.created", staff.id, started, agenda_item_id=item["id"], item=item["number"])
        for number, values in enumerate(texts, start=1):
            at = started + dt.timedelta(days=number * 3, hours=rng.randint(0, 8))
            version_rows.append({"note_id": nid, "number": number, **values, "summary": f"Version {number}",
                                 "author_id": staff.id, "created_at": at})
            log(nid, "position_note.version_saved", staff.id, at, number=number,
                sections=["national_position"])
        own = [d for d in documents if d["agenda_item_id"] == item["id"]] or documents[:1]
        for document in rng.sample(own, min(len(own), rng.randint(1, 2))):
            link_rows.append({"note_id": nid, "document_id": document["id"]})
        approved = index in approved_notes
        for admin in administrations:
            rid = request_id + len(request_rows)
            request_rows.append({"id": rid, "note_id": nid, "administration_id": admin.id,
                                 "due_date": today + dt.timedelta(days=rng.randint(-3, 20)),
                                 "requested_by_id": staff.id, "requested_at": started + dt.timedelta(days=4),
                                 "withdrawn_at": None, "version": 1, "created_at": now, "updated_at": now})
            log(nid, "position_note.review_requested", staff.id, started + dt.timedelta(days=4),
                request_id=rid, administration=admin.code)
            users = reviewers[admin.id]
            decisions = []
            if approved:
                decisions = [(versions - 3, "objected"), (versions, "cleared")]
            else:
                state = rng.choice(["cleared", "objected", "stale", "pending", "pending"])
                counts[state] += 1
                if state == "cleared":
                    decisions = [(versions - 2, "cleared"), (versions, "cleared")]
                elif state == "objected":
                    decisions = [(versions, "objected")]
                elif state == "stale":
                    decisions = [(versions - 1, "cleared")]
            for number, decision in decisions:
                at = started + dt.timedelta(days=number * 3 + 1)
                user_id = rng.choice(users)
                clearance_rows.append({"request_id": rid, "note_version": number, "decision": decision,
                                       "reason": rng.choice(COMMENTS) if decision == "objected" else "",
                                       "user_id": user_id, "created_at": at})
                log(nid, f"position_note.{decision}", user_id, at, request_id=rid, version=number)
        if approved:
            counts["approved"] += 1
        else:
            counts["in_review"] += 1
        # Every administration cleared the current version of an approved note; the others are in review.
        if approved:
            log(nid, "position_note.approved", None, now - dt.timedelta(days=1), version=versions)
        final = texts[-1]
        note_rows.append({"id": nid, "agenda_item_id": item["id"], "title": item["title"][:300],
                          "status": "approved" if approved else "in_review", **final,
                          "current_version": versions,
                          "approved_at": now - dt.timedelta(days=1) if approved else None,
                          "created_by_id": staff.id, "version": versions + 2, "created_at": started,
                          "updated_at": now})
        for _ in range(rng.randint(8, 16)):
            cid = comment_id + len(comment_rows)
            admin = rng.choice(administrations)
            number = rng.randint(1, versions)
            section = rng.choice([None, "background", "national_position", "national_position", "fallback"])
            paras = texts[number - 1][section].split("\n\n") if section else []
            paragraph_number = rng.randint(1, len(paras)) if paras and rng.random() < 0.8 else None
            at = started + dt.timedelta(days=number * 3 + 2)
            comment_rows.append({"id": cid, "note_id": nid, "note_version": number, "section": section,
                                 "paragraph": paragraph_number,
                                 "quote": paras[paragraph_number - 1] if paragraph_number else "",
                                 "body": rng.choice(COMMENTS), "author_id": rng.choice(reviewers[admin.id]),
                                 "administration_id": admin.id, "parent_id": None,
                                 "resolved_at": at + dt.timedelta(days=2) if rng.random() < 0.3 else None,
                                 "created_at": at, "updated_at": at})
            log(nid, "position_note.commented", comment_rows[-1]["author_id"], at, comment_id=cid)
            if rng.random() < 0.5:
                comment_rows.append({"id": cid + 1, "note_id": nid, "note_version": number,
                                     "section": section,
                                     "paragraph": paragraph_number, "quote": "", "body": rng.choice(ANSWERS),
                                     "author_id": staff.id, "administration_id": None, "parent_id": cid,
                                     "resolved_at": None, "created_at": at + dt.timedelta(hours=5),
                                     "updated_at": at + dt.timedelta(hours=5)})
                log(nid, "position_note.comment_answered", staff.id, at + dt.timedelta(hours=5),
                    comment_id=cid)
    for table, rows in ((PositionNote.__table__, note_rows), (NoteVersion.__table__, version_rows),
                        (note_documents, link_rows), (ReviewRequest.__table__, request_rows),
                        (Clearance.__table__, clearance_rows), (NoteComment.__table__, comment_rows),
                        (AuditEntry.__table__, audit)):
        for chunk in range(0, len(rows), 2000):
            db.session.execute(sa.insert(table), rows[chunk:chunk + 2000])
    advance_sequences(db, AgendaItem.__table__, SessionDocument.__table__, PositionNote.__table__,
                      ReviewRequest.__table__, NoteComment.__table__)
    db.session.commit()
    # The note timed: in review, with the most comments.
    busiest = max((n for n in note_rows if n["status"] == "in_review"),
                  key=lambda n: sum(1 for c in comment_rows if c["note_id"] == n["id"]))
    return {"session": session.id, "note": busiest["id"], "documents": len(documents),
            "versions": len(version_rows),
            "requests": len(request_rows), "clearances": len(clearance_rows), "comments": len(comment_rows),
            "audit": len(audit), "states": counts,
            "note_comments": sum(1 for c in comment_rows if c["note_id"] == busiest["id"])}


def advance_sequences(db, *tables) -> None:
    """After bulk inserts with explicit ids, move PostgreSQL's id sequences past them (nothing on SQLite)."""
    import sqlalchemy as sa

    if db.engine.dialect.name != "postgresql":
        return
    for table in tables:
        db.session.execute(sa.text(f"SELECT setval(pg_get_serial_sequence('{table.name}', 'id'), "
                                   f"(SELECT max(id) FROM {table.name}))"))


class Counter:
    def __init__(self, engine):
        import sqlalchemy as sa

        self.sa, self.engine, self.statements = sa, engine, []

    def _count(self, conn, cursor, statement, parameters, context, executemany):
        if not statement.lstrip().upper().startswith("BEGIN"):  # SQLite's BEGIN IMMEDIATE is no query
            self.statements.append(statement)

    def __enter__(self):
        self.statements = []
        self.sa.event.listen(self.engine, "before_cursor_execute", self._count)
        return self

    def __exit__(self, *exc):
        self.sa.event.remove(self.engine, "before_cursor_execute", self._count)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--items", type=int, default=20, help="agenda items, each with a note (default 20)")
    parser.add_argument("--versions", type=int, default=10, help="versions per note (default 10)")
    parser.add_argument("--runs", type=int, default=7, help="runs per page (median; default 7)")
    parser.add_argument("--database-url", help="default: a fresh SQLite file in a temporary folder")
    args = parser.parse_args()
    if args.versions < 4:
        parser.error("--versions must be at least 4")

    tmp = tempfile.TemporaryDirectory(prefix="focalpoint-bench-")
    os.environ["FOCALPOINT_INSTANCE"] = tmp.name
    url = args.database_url or f"sqlite:///{Path(tmp.name) / 'bench.db'}"

    import logging

    import sqlalchemy as sa
    from flask_migrate import upgrade

    from config import LocalConfig
    from focalpoint import create_app
    from focalpoint.auth.models import Administration
    from focalpoint.auth.services import create_user
    from focalpoint.extensions import db
    from focalpoint.reference.services import load_reference_data

    app = create_app(LocalConfig, SQLALCHEMY_DATABASE_URI=url, SECRET_KEY="bench-" + "x" * 40,
                     WTF_CSRF_ENABLED=False, SESSION_COOKIE_SECURE=False)
    logging.getLogger("alembic").setLevel(logging.WARNING)
    rng = random.Random(2026)
    password = "bench password 1234"
    with app.app_context():
        existing = sa.inspect(db.engine).get_table_names()
        if args.database_url and existing:
            print(f"refused: {db.engine.url.render_as_string(hide_password=True)} already holds tables "
                  f"({len(existing)}); give an empty database")
            return 2
        upgrade(directory=app.extensions["migrate"].directory)
        load_reference_data(app.config["COUNTRY_CODE"])
        db.session.commit()
        print(f"database: {db.engine.url.render_as_string(hide_password=True)} ({db.engine.dialect.name})")
        staff = create_user("bench-staff@bench.example", roles=["staff"], password=password,
                            name="Bench Staff")
        reviewers: dict[int, list[int]] = {}
        for admin in db.session.scalars(sa.select(Administration).order_by(Administration.id)):
            for n in range(2):
                user = create_user(f"reviewer{n}.{admin.code.lower()}@bench.example", roles=["reviewer"],
                                   password=password, name=f"Reviewer {n + 1} of {admin.code}",
                                   administration=admin)
                db.session.flush()
                reviewers.setdefault(admin.id, []).append(user.id)
        db.session.commit()
        first = db.session.get(Administration, min(reviewers))
        reviewer_email = f"reviewer0.{first.code.lower()}@bench.example"
        t = time.perf_counter()
        seeded = seed(db, rng, items=args.items, versions=args.versions, staff=staff, reviewers=reviewers,
                      today=dt.date.today())
        print(f"seeded in {time.perf_counter() - t:.1f} s: 1 session, {args.items} agenda items and notes, "
              f"{seeded['documents']} documents, {seeded['versions']} versions, {seeded['requests']} review "
              f"requests ({len(reviewers)} administrations per note), {seeded['clearances']} decisions, "
              f"{seeded['comments']} comments and answers, {seeded['audit']} audit entries; notes: "
              + ", ".join(f"{k} {v}" for k, v in seeded["states"].items())
              + " (administrations' states in the notes in review)")
        engine = db.engine
    session_id, note_id = seeded["session"], seeded["note"]

    def page(client, label: str, path: str, *, runs: int | None = None) -> tuple[float, bytes]:
        client.get(path)  # warm-up: templates compiled, caches filled
        times, cpu, queries = [], [], 0
        for _run in range(runs or args.runs):
            with Counter(engine) as counter:
                t, c = time.perf_counter(), time.process_time()
                response = client.get(path)
                times.append(time.perf_counter() - t)
                cpu.append(time.process_time() - c)
            queries = len(counter.statements)
            if response.status_code != 200:
                print(f"  {label}: HTTP {response.status_code} for {path}")
                return float("inf"), b""
        print(f"  {label:34} median {statistics.median(times) * 1000:5.0f} ms (min {min(times) * 1000:4.0f}; "
              f"CPU {statistics.median(cpu) * 1000:4.0f}), {queries:3} SQL queries, "
              f"{len(response.data) / 1024:5.0f} KB  {path}")
        return statistics.median(times), response.data

    def logged_in(email: str):
        client = app.test_client()
        response = client.post("/login", data={"email": email, "password": password})
        if response.status_code != 302:
            raise SystemExit(f"login failed for {email}: HTTP {response.status_code}")
        return client

    print(f"\nstaff's pages (test client, median of {args.runs})")
    client = logged_in("bench-staff@bench.example")
    slow = []
    for label, path in (
            ("session's page", f"/plenary/{session_id}"),
            ("clearance matrix", f"/plenary/{session_id}/clearance"),
            ("position notes", "/positions"),
            (f"a note ({seeded['note_comments']} comments)", f"/positions/{note_id}"),
            (f"diff, version 1 → {args.versions}", f"/positions/{note_id}/diff?from=1&to={args.versions}")):
        median, _data = page(client, label, path)
        if median > 0.3:
            slow.append(label)
    print("\na reviewer's pages")
    reviewer = logged_in(reviewer_email)
    for label, path in (("position notes (reviewer)", "/positions"),
                        ("a note (reviewer)", f"/positions/{note_id}")):
        median, _data = page(reviewer, label, path)
        if median > 0.3:
            slow.append(label)

    print("\nbriefing pack")
    median, data = page(client, "briefing.docx", f"/plenary/{session_id}/briefing.docx",
                        runs=max(3, args.runs // 2))
    if data:
        from io import BytesIO

        from docx import Document

        document = Document(BytesIO(data))
        print(f"  {len(data) / 1024:,.0f} KB, {len(document.paragraphs):,} paragraphs, "
              f"{len(document.tables)} tables")
    print(f"\npages over 300 ms: {', '.join(slow) if slow else 'none'} "
          f"(load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
