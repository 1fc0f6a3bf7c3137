#!/usr/bin/env python
"""Time the national reports on a large national history; print each report's median time and SQL queries.

    python bench/reports.py                      # a fresh SQLite database in a temporary folder
    python bench/reports.py --experts 10000 --invitations 100000 --runs 9
    python bench/reports.py --database-url postgresql+psycopg://postgres@127.0.0.1/focalpoint_bench_reports

Seeded by bulk inserts: the registry of bench/matching.py (--experts, default 10,000: regions, genders,
career stages, disciplines, past IPBES roles); --calls nomination calls (default 200) over the years
2014-2025, on the reference deliverables (one in ten with none), with --invitations invitations in all
(default 100,000: accepted, declined, pending, expired) and a slate per call made of the experts who
accepted, in every state, the selected ones with a role and their PastRole ("selection"); 60 consultations
of every kind of draft with 40 participants and 300 comments each, decided (adopt, adopt edited, merged into
another, reject) or not; 10 plenary sessions of 20 position notes, each asked of every administration, with
their clearances and objections.

Printed: per report page (through the Flask test client, logged in as staff) and per download (CSV, XLSX),
the median time over --runs runs (and the median CPU time of this process: SQLite's work is in it, a
PostgreSQL server's is not), the SQL queries of one request (an SQLAlchemy ``before_cursor_execute``
listener); then the annual DOCX of the last full year (median of 3). With
--database-url the database must be empty (it is migrated first; the rows stay): never point it at one that
holds anything.
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
sys.path.insert(0, str(Path(__file__).resolve().parent))

ROLES_BY_KIND = {"expert_call": ["CLA", "LA", "RE"], "fellow_call": ["FELLOW"],
                 "officials_call": ["MEP_MEMBER", "BUREAU_MEMBER"]}
#: Invitation answers and slate states, with their weights.
ANSWERS = [("accepted", 35), ("declined", 30), ("pending", 10), ("expired", 25)]
SLATE = [("candidate", 15), ("endorsed", 10), ("not_endorsed", 20), ("submitted", 10), ("selected", 15),
         ("not_selected", 25), ("withdrawn", 5)]
DECISIONS = [(None, 15), ("adopt", 35), ("adopt_edited", 15), ("merge", 15), ("reject", 20)]


def weighted(rng: random.Random, choices: list[tuple]) -> str | None:
    values, weights = zip(*choices)
    return rng.choices(values, weights)[0]


def chunked_insert(db, table, rows: list[dict], size: int = 5000) -> None:
    import sqlalchemy as sa

    for start in range(0, len(rows), size):
        db.session.execute(sa.insert(table), rows[start:start + size])


def seed_nominations(db, rng: random.Random, *, calls: int, invitations: int) -> dict:
    """Calls, invitations, slates and selections (PastRoles), by bulk inserts with explicit ids."""
    import sqlalchemy as sa

    from focalpoint.db import utcnow
    from focalpoint.experts.models import Expert, ExpertStatus, PastRole
    from focalpoint.invitations.models import Invitation
    from focalpoint.nominations.models import Nomination, NominationCall
    from focalpoint.reference.models import Deliverable

    deliverables = [d for d, in db.session.execute(sa.select(Deliverable.id).order_by(Deliverable.id))]
    experts = [e for e, in db.session.execute(sa.select(Expert.id).where(Expert.status == ExpertStatus.ACTIVE)
                                              .order_by(Expert.id))]
    now = utcnow()
    per_call = max(1, invitations // calls)
    call_rows, invitation_rows, nomination_rows, past_rows = [], [], [], []
    call_id = (db.session.scalar(sa.select(sa.func.max(NominationCall.id))) or 0) + 1
    invitation_id = (db.session.scalar(sa.select(sa.func.max(Invitation.id))) or 0) + 1
    nomination_id = (db.session.scalar(sa.select(sa.func.max(Nomination.id))) or 0) + 1
    for c in range(calls):
        year = 2014 + c * 12 // calls
        kind = rng.choice(["expert_call"] * 6 + ["fellow_call", "officials_call"])
        deadline = dt.date(year, rng.randint(1, 12), rng.randint(1, 28))
        deliverable = rng.choice(deliverables) if rng.random() > 0.1 else None
        call_rows.append({"id": call_id, "title": f"Bench call {c + 1} ({kind}, {year})", "call_kind": kind,
                          "deliverable_id": deliverable, "description": "", "keywords": "",
                          "national_deadline": deadline, "reminder_days": "7;2",
                          "created_at": now, "updated_at": now})
        sent = dt.datetime(year, deadline.month, 1, 9, tzinfo=dt.timezone.utc) - dt.timedelta(days=30)
        invited = rng.sample(experts, min(per_call, len(experts)))
        for expert in invited:
            state = weighted(rng, ANSWERS)
            answered = state in ("accepted", "declined")
            invitation_rows.append({
                "id": invitation_id, "call_id": call_id, "expert_id": expert, "state": state,
                "token_hash": f"{invitation_id:064x}", "expires_at": sent + dt.timedelta(days=40), "sent_at": sent,
                "responded_at": sent + dt.timedelta(days=rng.randint(1, 20)) if answered else None,
                "reminders_sent": 0, "motivation": "", "availability": "", "has_conflict": False,
                "conflict_note": "", "decline_reason": "", "subject": "", "body": "", "version": 1,
                "created_at": sent, "updated_at": sent})
            invitation_id += 1
            if state != "accepted":
                continue
            slate = weighted(rng, SLATE)
            role = rng.choice(ROLES_BY_KIND[kind]) if slate == "selected" else None
            nomination_rows.append({
                "id": nomination_id, "call_id": call_id, "expert_id": expert, "state": slate, "role": None,
                "rationale": "", "selected_role": role, "came_forward": False, "version": 1,
                "submitted_at": sent + dt.timedelta(days=45) if slate in ("submitted", "selected", "not_selected")
                else None,
                "decided_at": sent + dt.timedelta(days=90) if slate != "candidate" else None,
                "created_at": sent, "updated_at": sent})
            if role:
                past_rows.append({"expert_id": expert, "deliverable_id": deliverable, "deliverable_text": "",
                                  "role": role, "year_from": year, "year_to": None, "source": "selection",
                                  "nomination_id": nomination_id})
            nomination_id += 1
        call_id += 1
    chunked_insert(db, NominationCall.__table__, call_rows)
    chunked_insert(db, Invitation.__table__, invitation_rows)
    chunked_insert(db, Nomination.__table__, nomination_rows)
    chunked_insert(db, PastRole.__table__, past_rows)
    advance_sequences(db, NominationCall.__table__, Invitation.__table__, Nomination.__table__)
    db.session.commit()
    return {"calls": len(call_rows), "invitations": len(invitation_rows), "nominations": len(nomination_rows),
            "selections": len(past_rows)}


def seed_consultations(db, rng: random.Random, *, count: int = 60, participants: int = 40,
                       comments: int = 300) -> dict:
    import sqlalchemy as sa

    from focalpoint.consultations.models import Consultation, Participant, ReviewComment
    from focalpoint.experts.models import Expert
    from focalpoint.reference.models import Deliverable

    deliverables = [d for d, in db.session.execute(sa.select(Deliverable.id).order_by(Deliverable.id))]
    experts = [e for e, in db.session.execute(sa.select(Expert.id).order_by(Expert.id))]
    consultation_id = (db.session.scalar(sa.select(sa.func.max(Consultation.id))) or 0) + 1
    participant_id = (db.session.scalar(sa.select(sa.func.max(Participant.id))) or 0) + 1
    comment_id = (db.session.scalar(sa.select(sa.func.max(ReviewComment.id))) or 0) + 1
    consultation_rows, participant_rows, comment_rows = [], [], []
    for k in range(count):
        year = 2014 + k * 12 // count
        closes = dt.date(year, rng.randint(1, 12), rng.randint(1, 28))
        at = dt.datetime(year, closes.month, 1, tzinfo=dt.timezone.utc)
        consultation_rows.append({"id": consultation_id, "title": f"Bench consultation {k + 1}",
                                  "deliverable_id": rng.choice(deliverables) if rng.random() > 0.1 else None,
                                  "draft": rng.choice(["scoping", "fod", "sod", "spm", "other"]), "description": "",
                                  "confidentiality_note": "", "opens_on": closes - dt.timedelta(days=42),
                                  "closes_on": closes, "reminder_days": "7;2", "version": 1, "created_at": at,
                                  "updated_at": at})
        people = rng.sample(experts, participants)
        ids = []
        for expert in people:
            participant_rows.append({"id": participant_id, "consultation_id": consultation_id, "expert_id": expert,
                                     "reminders_sent": 0, "removed_at": None, "created_at": at, "updated_at": at})
            ids.append((participant_id, expert))
            participant_id += 1
        first = comment_id
        targets: list[int] = []
        for n in range(comments):
            participant, expert = rng.choice(ids)
            decision = weighted(rng, DECISIONS)
            into = None
            if decision == "merge":
                if targets:
                    into = rng.choice(targets)
                else:
                    decision = "adopt"
            if decision in ("adopt", "adopt_edited", "reject", None) and n < comments // 2:
                targets.append(comment_id)
            comment_rows.append({
                "id": comment_id, "consultation_id": consultation_id, "participant_id": participant,
                "expert_id": expert, "reviewer_name": f"Expert {expert}", "reviewer_email": "", "affiliation": "",
                "country": "Belgium", "document_title": "Chapter 1", "chapter": "1", "page_from": n // 10 + 1,
                "line_from": n % 40 + 1, "comment": "A comment.", "suggested_change": "", "comment_type": "specific",
                "source": "browser", "decision": decision, "edited_comment": "", "edited_suggested_change": "",
                "merged_into_id": into, "staff_note": "", "version": 1, "created_at": at, "updated_at": at})
            comment_id += 1
        assert comment_id - first == comments
        consultation_id += 1
    chunked_insert(db, Consultation.__table__, consultation_rows)
    chunked_insert(db, Participant.__table__, participant_rows)
    chunked_insert(db, ReviewComment.__table__, comment_rows)
    advance_sequences(db, Consultation.__table__, Participant.__table__, ReviewComment.__table__)
    db.session.commit()
    return {"consultations": len(consultation_rows), "participants": len(participant_rows),
            "comments": len(comment_rows)}


def seed_positions(db, rng: random.Random, *, sessions: int = 10, notes: int = 20) -> dict:
    import sqlalchemy as sa

    from focalpoint.auth.models import Administration
    from focalpoint.positions.models import AgendaItem, Clearance, PositionNote, ReviewRequest
    from focalpoint.reference.models import PlenarySession

    admins = [a for a, in db.session.execute(sa.select(Administration.id).order_by(Administration.id))]
    item_id = (db.session.scalar(sa.select(sa.func.max(AgendaItem.id))) or 0) + 1
    note_id = (db.session.scalar(sa.select(sa.func.max(PositionNote.id))) or 0) + 1
    request_id = (db.session.scalar(sa.select(sa.func.max(ReviewRequest.id))) or 0) + 1
    session_rows, items, note_rows, requests, clearances = [], [], [], [], []
    for s in range(sessions):
        year = 2015 + s
        start = dt.date(year, 6, 1)
        session_rows.append({"code": f"BENCH-{s + 1}", "place": "Bonn", "start_date": start,
                             "end_date": start + dt.timedelta(days=6)})
    db.session.execute(sa.insert(PlenarySession.__table__), session_rows)
    session_ids = [i for i, in db.session.execute(sa.select(PlenarySession.id)
                                                  .where(PlenarySession.code.like("BENCH-%"))
                                                  .order_by(PlenarySession.start_date))]
    for s, session_id in enumerate(session_ids):
        year = 2015 + s
        for n in range(notes):
            items.append({"id": item_id, "session_id": session_id, "number": str(n + 1), "title": f"Item {n + 1}",
                          "position": n + 1})
            at = dt.datetime(year, 4, 1, 9, tzinfo=dt.timezone.utc)
            note_rows.append({"id": note_id, "agenda_item_id": item_id, "title": f"Note {n + 1}", "status": "in_review",
                              "background": "", "national_position": "", "eu_position": "", "fallback": "",
                              "current_version": 2, "version": 1, "created_at": at, "updated_at": at})
            for admin in admins:
                requested = at + dt.timedelta(hours=rng.randint(0, 72))
                requests.append({"id": request_id, "note_id": note_id, "administration_id": admin,
                                 "due_date": (requested + dt.timedelta(days=14)).date(), "requested_at": requested,
                                 "withdrawn_at": None, "version": 1, "created_at": requested,
                                 "updated_at": requested})
                when = requested
                for version in range(1, rng.choice([0, 1, 1, 2, 3]) + 1):
                    when += dt.timedelta(hours=rng.randint(6, 24 * 12))
                    clearances.append({"request_id": request_id, "note_version": min(version, 2),
                                       "decision": rng.choice(["cleared", "cleared", "objected"]), "reason": "",
                                       "created_at": when})
                request_id += 1
            item_id += 1
            note_id += 1
    chunked_insert(db, AgendaItem.__table__, items)
    chunked_insert(db, PositionNote.__table__, note_rows)
    chunked_insert(db, ReviewRequest.__table__, requests)
    chunked_insert(db, Clearance.__table__, clearances)
    advance_sequences(db, AgendaItem.__table__, PositionNote.__table__, ReviewRequest.__table__)
    db.session.commit()
    return {"notes": len(note_rows), "requests": len(requests), "clearances": len(clearances)}


def advance_sequences(db, *tables) -> None:
    """After bulk inserts with explicit ids, move PostgreSQL's id sequences past them (nothing on SQLite)."""
    import sqlalchemy as sa

    if db.engine.dialect.name != "postgresql":
        return
    for table in tables:
        db.session.execute(sa.text(f"SELECT setval(pg_get_serial_sequence('{table.name}', 'id'), "
                                   f"(SELECT max(id) FROM {table.name}))"))


class Counter:
    """Counts the SQL statements run while it is active."""

    def __init__(self, engine):
        self.engine, self.statements = engine, []

    def _count(self, conn, cursor, statement, parameters, context, executemany):
        if not statement.lstrip().upper().startswith("BEGIN"):  # SQLite's BEGIN IMMEDIATE is no query
            self.statements.append(statement)

    def __enter__(self):
        import sqlalchemy as sa

        sa.event.listen(self.engine, "before_cursor_execute", self._count)
        return self

    def __exit__(self, *exc):
        import sqlalchemy as sa

        sa.event.remove(self.engine, "before_cursor_execute", self._count)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--experts", type=int, default=10000)
    parser.add_argument("--invitations", type=int, default=100000)
    parser.add_argument("--calls", type=int, default=200)
    parser.add_argument("--runs", type=int, default=7, help="runs per page (median; default 7)")
    parser.add_argument("--database-url", help="default: a fresh SQLite file in a temporary folder")
    args = parser.parse_args()

    tmp = tempfile.TemporaryDirectory(prefix="focalpoint-bench-")
    os.environ["FOCALPOINT_INSTANCE"] = tmp.name
    url = args.database_url or f"sqlite:///{Path(tmp.name) / 'bench.db'}"

    import logging

    import sqlalchemy as sa
    from flask_migrate import upgrade

    from config import LocalConfig
    from focalpoint import create_app
    from focalpoint.auth.services import create_user
    from focalpoint.experts.models import Expert
    from focalpoint.extensions import db
    from focalpoint.reference.services import load_reference_data
    from matching import seed_registry

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
        t = time.perf_counter()
        seed_registry(db, args.experts, rng)
        advance_sequences(db, Expert.__table__)
        db.session.commit()
        nominations = seed_nominations(db, rng, calls=args.calls, invitations=args.invitations)
        consultations = seed_consultations(db, rng)
        positions = seed_positions(db, rng)
        create_user("bench-staff@bench.example", roles=["staff"], password=password, name="Bench Staff")
        db.session.commit()
        if db.engine.dialect.name == "postgresql":
            # What autovacuum does on a live database after bulk loads: statistics, and the visibility map
            # that lets index-only scans skip the table.
            # (SQLite gets no ANALYZE: the application never runs one.)
            with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
                conn.execute(sa.text("VACUUM ANALYZE"))
        print(f"seeded in {time.perf_counter() - t:.1f} s: {args.experts:,} experts, {nominations['calls']} calls, "
              f"{nominations['invitations']:,} invitations, {nominations['nominations']:,} nominations "
              f"({nominations['selections']:,} selected), {consultations['consultations']} consultations "
              f"({consultations['participants']:,} participants, {consultations['comments']:,} comments), "
              f"{positions['notes']} position notes ({positions['requests']:,} review requests, "
              f"{positions['clearances']:,} decisions)")
        engine = db.engine

    client = app.test_client()
    response = client.post("/login", data={"email": "bench-staff@bench.example", "password": password})
    if response.status_code != 302:
        print(f"login failed: HTTP {response.status_code}")
        return 1

    def page(label: str, path: str, runs: int) -> float:
        client.get(path)  # warm-up: templates compiled, caches filled
        times, cpu, queries, size = [], [], 0, 0
        for _run in range(runs):
            with Counter(engine) as counter:
                t, c = time.perf_counter(), time.process_time()
                response = client.get(path)
                times.append(time.perf_counter() - t)
                cpu.append(time.process_time() - c)
            queries, size = len(counter.statements), len(response.data)
            if response.status_code != 200:
                print(f"  {label}: HTTP {response.status_code} for {path}")
                return float("inf")
        median = statistics.median(times)
        print(f"  {label:30} median {median * 1000:6.0f} ms (min {min(times) * 1000:5.0f}; this process's CPU "
              f"{statistics.median(cpu) * 1000:5.0f}), {queries:3} SQL queries, {size / 1024:5.0f} KB  {path}")
        return median

    print(f"\nreport pages (test client, median of {args.runs})")
    slow = []
    for report in ("involvement", "balance", "consultations", "positions"):
        if page(report, f"/reports/{report}", args.runs) > 0.2:
            slow.append(report)
    page("involvement, 2020-2023, 3 deliv.", "/reports/involvement?from=2020&to=2023&deliverable=1&deliverable=2"
         "&deliverable=3", args.runs)
    print(f"\ndownloads (median of {args.runs})")
    for report in ("involvement", "balance", "consultations", "positions"):
        page(f"{report}.csv", f"/reports/{report}.csv", args.runs)
        page(f"{report}.xlsx", f"/reports/{report}.xlsx", args.runs)
    print("\nannual report")
    year = min(2025, dt.date.today().year - 1)
    page(f"annual.docx ({year})", f"/reports/annual.docx?year={year}", 3)
    print(f"\nreport pages over 200 ms: {', '.join(slow) if slow else 'none'} "
          f"(load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
