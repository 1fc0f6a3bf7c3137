#!/usr/bin/env python
"""Time the consultation work at a realistic size: the review template's import, the exports and the pages.

    python bench/consultations.py                     # a fresh SQLite database in a temporary folder
    python bench/consultations.py --comments 5000 --runs 9
    python bench/consultations.py --database-url postgresql+psycopg://postgres@127.0.0.1/focalpoint_bench_x

One consultation on a second order draft with 3 documents, 60 invited experts and --comments comments (bulk
inserts): reviewers write unevenly (one expert has exactly 50 comments: the workspace timed below), comments
spread over the documents' pages and lines, a third carry a suggested change, about 40 % are decided (adopted,
adopted with edits, rejected, merged into an adopted comment of the same document). A dozen other
consultations fill the list. Then, printed:

(a) the review template: ``template_xlsx`` (prefilled for the expert), filled with openpyxl, then
    ``import_comments`` (what the upload page and ``focalpoint consultations import`` call) for 300 and for
    5,000 rows (the file limit), into a second consultation: time, rows/s, SQL statements and the peak RSS.
    Each import runs in a fresh process of its own (as a worker would), so that its peak RSS (VmHWM, reset
    just before the import through /proc/self/clear_refs) is the import's on top of the application's;
(b) ``export_consolidated`` and ``export_full`` of the consultation: time and file size;
(c) staff's pages through the Flask test client: the comments (page 1, a filtered page, a search, the last
    page), the consultation's page and the list: median time (and this process's CPU time) and SQL queries;
(d) the expert's workspace through the personal link (/review/<secret>) with their 50 comments.

Queries are counted with an SQLAlchemy ``before_cursor_execute`` listener. With --database-url the database
must be empty (it is migrated to the latest revision first; the rows stay); never point it at a database
that holds anything.
"""
from __future__ import annotations

import argparse
import datetime as dt
import gc
import io
import json
import os
import random
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

FIRST = ["Anna", "Bram", "Chloé", "David", "Elise", "Femke", "Gilles", "Hanne", "Inès", "Jan", "Karim",
         "Lotte", "Marie", "Nina", "Olivier", "Pieter", "Quentin", "Ruth", "Sofie", "Thomas", "Ursula",
         "Victor", "Wout"]
LAST = ["Peeters", "Janssens", "Maes", "Dubois", "Lambert", "Claes", "Martin", "Goossens", "Wouters", "Leroy",
        "Mertens", "Willems", "Dupont", "Jacobs", "Simon", "Laurent", "Hermans", "Michiels", "Renard", "Vos"]
AFFILIATIONS = ["KU Leuven", "Ghent University", "UCLouvain", "ULB", "University of Liège", "INBO", "RBINS",
                "University of Antwerp", "VUB", "Meise Botanic Garden", "Hasselt University", "UNamur"]
DOCUMENTS = ["Summary for policymakers", "Chapter 2: Status and trends", "Chapter 4: Options for action"]
CHAPTERS = ["", "", "2.1", "2.3.4", "3.2", "Box 4", "Table SPM.1", "Figure 2.7", "Key message A3", "4.5.1"]
SENTENCES = [
    "The statement is not supported by the literature cited in the underlying chapter.",
    "Consider adding the evidence from European long-term monitoring schemes on pollinator decline.",
    "The confidence language (well established, established but incomplete) is used inconsistently here.",
    "This key message mixes drivers and pressures; separate the direct and the indirect drivers.",
    "Belgian data from the INBO natural capital accounts could strengthen this paragraph.",
    "The figure's legend does not explain the colour scale; readers cannot interpret the trend.",
    "Spatial planning instruments deserve a more prominent place among the options for action.",
    "The time frame of the projections (2050) is not consistent with the one used in chapter 5.",
    "Indigenous and local knowledge is mentioned but none of the sources are referenced.",
    "Please define 'transformative change' at first use; the term is used in two senses.",
    "The paragraph overstates the effect of protected areas on connectivity at landscape scale.",
    "Typo: 'ecosytem' should read 'ecosystem'.",
    "Replace 'nature' by 'nature and its contributions to people' for consistency with the glossary.",
    "The numbers in this sentence do not match table 2.4 (14 % versus 18 %).",
    "Urban green infrastructure is missing from the list of nature-based solutions.",
    "The distinction between restoration and rehabilitation should follow the IPBES glossary.",
]
CHANGES = [
    "Rephrase as: 'There is established but incomplete evidence that …'.",
    "Add a sentence on the role of regional governments in spatial planning.",
    "Cite Smith et al. (2023) and the EU pollinator monitoring report.",
    "Delete the second half of the sentence.",
    "Use 'nature's contributions to people' throughout.",
    "Move this paragraph to section 4.3 where the options are discussed.",
]


def text(rng: random.Random, low: int, high: int) -> str:
    return " ".join(rng.choice(SENTENCES) for _ in range(rng.randint(low, high)))


# --- memory -------------------------------------------------------------------------------------------------
def reset_peak() -> bool:
    """Reset the process's peak RSS (VmHWM) so that the next reading covers what follows (Linux >= 4.0)."""
    try:
        with open("/proc/self/clear_refs", "w") as fh:
            fh.write("5")
        return True
    except OSError:
        return False


def rss_mb(field: str = "VmRSS") -> float:
    """The process's current (VmRSS) or peak (VmHWM) resident memory in MB."""
    try:
        with open("/proc/self/status") as fh:
            for line in fh:
                if line.startswith(field + ":"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KB on Linux


def advance_sequences(db, *tables) -> None:
    """After bulk inserts with explicit ids, move PostgreSQL's id sequences past them (nothing on SQLite)."""
    import sqlalchemy as sa

    if db.engine.dialect.name != "postgresql":
        return
    for table in tables:
        db.session.execute(sa.text(f"SELECT setval(pg_get_serial_sequence('{table.name}', 'id'), "
                                   f"(SELECT max(id) FROM {table.name}))"))


# --- seeding ------------------------------------------------------------------------------------------------
def seed_experts(db, count: int, rng: random.Random, tag: str) -> list[int]:
    """``count`` active experts with consents (bulk insert); returns their ids."""
    import sqlalchemy as sa

    from focalpoint.db import utcnow
    from focalpoint.experts.models import Expert

    now = utcnow()
    start = (db.session.scalar(sa.select(sa.func.max(Expert.id))) or 0) + 1
    rows = [{"id": start + i, "status": "active", "first_name": rng.choice(FIRST),
             "last_name": f"{rng.choice(LAST)}-{tag}{i:03d}", "email": f"reviewer.{tag}{i:03d}@bench.example",
             "affiliation": rng.choice(AFFILIATIONS),
             "region": rng.choice(["flanders", "wallonia", "brussels"]),
             "keywords": "", "languages": "en", "preferred_language": rng.choice(["en", "fr", "nl"]),
             "availability": "available", "availability_note": "", "consent_contact_at": now,
             "consent_processing_at": now, "notes": "", "version": 1, "created_at": now, "updated_at": now}
            for i in range(count)]
    db.session.execute(sa.insert(Expert.__table__), rows)
    advance_sequences(db, Expert.__table__)
    return [r["id"] for r in rows]


def new_consultation(db, title: str, today: dt.date, *, opens: int = -10, closes: int = 10,
                     documents=DOCUMENTS):
    from focalpoint.consultations.models import Consultation, ConsultationDocument, DraftKind

    consultation = Consultation(title=title, draft=DraftKind.SOD, opens_on=today + dt.timedelta(days=opens),
                                closes_on=today + dt.timedelta(days=closes), reminder_days="7;2",
                                confidentiality_note="Drafts are confidential: do not cite or distribute.")
    for position, name in enumerate(documents):
        consultation.documents.append(ConsultationDocument(
            title=name, position=position, url=f"https://files.ipbes.example/draft-{position}.pdf"))
    db.session.add(consultation)
    db.session.flush()
    return consultation


def seed_participants(db, consultation_id: int, expert_ids: list[int], staff_id: int) -> list[int]:
    import sqlalchemy as sa

    from focalpoint.consultations.models import Participant
    from focalpoint.db import utcnow

    now = utcnow()
    start = (db.session.scalar(sa.select(sa.func.max(Participant.id))) or 0) + 1
    rows = [{"id": start + i, "consultation_id": consultation_id, "expert_id": eid, "token_hash": None,
             "invited_by_id": staff_id, "sent_at": now, "reminders_sent": i % 2, "last_reminded_at": None,
             "removed_at": now if i % 29 == 28 else None, "created_at": now, "updated_at": now}
            for i, eid in enumerate(expert_ids)]
    db.session.execute(sa.insert(Participant.__table__), rows)
    advance_sequences(db, Participant.__table__)
    return [r["id"] for r in rows]


def seed_comments(db, consultation, participants: list[tuple[int, object]], count: int, own: int,
                  staff_id: int, rng: random.Random) -> dict:
    """``count`` comments (bulk insert); the first participant writes exactly ``own`` of them, the others
    share the rest unevenly. Returns counts per decision."""
    import sqlalchemy as sa

    from focalpoint.consultations.models import ReviewComment
    from focalpoint.db import utcnow

    now = utcnow()
    documents = list(consultation.documents)
    start = (db.session.scalar(sa.select(sa.func.max(ReviewComment.id))) or 0) + 1
    others = participants[1:]
    weights = [rng.paretovariate(1.2) for _ in others]
    authors = [participants[0]] * own + rng.choices(others, weights=weights, k=max(0, count - own))
    rng.shuffle(authors)
    adopted: dict[int, list[int]] = {d.id: [] for d in documents}
    rows, counts = [], {}
    for i, (participant_id, expert) in enumerate(authors):
        cid = start + i
        document = rng.choice(documents)
        page = rng.randint(1, 420)
        line = rng.randint(1, 60)
        roll = rng.random()
        decision = merged = None
        edited = ""
        if roll < 0.20:
            decision = "adopt"
        elif roll < 0.25:
            decision, edited = "adopt_edited", text(rng, 1, 2)
        elif roll < 0.33:
            decision = "reject"
        elif roll < 0.40 and adopted[document.id]:
            decision, merged = "merge", rng.choice(adopted[document.id])
        if decision in ("adopt", "adopt_edited"):
            adopted[document.id].append(cid)
        counts[decision or "undecided"] = counts.get(decision or "undecided", 0) + 1
        rows.append({
            "id": cid, "consultation_id": consultation.id, "participant_id": participant_id,
            "expert_id": expert["id"], "reviewer_name": expert["name"], "reviewer_email": expert["email"],
            "affiliation": expert["affiliation"], "country": "Belgium", "document_id": document.id,
            "document_title": document.title, "chapter": rng.choice(CHAPTERS), "page_from": page,
            "line_from": line, "page_to": page + rng.choice([0, 0, 0, 1, 2]), "line_to": rng.randint(1, 60),
            "comment": text(rng, 1, 5),
            "suggested_change": rng.choice(CHANGES) if rng.random() < 0.35 else "",
            "comment_type": rng.choice(["specific"] * 6 + ["general"] * 2 + ["editorial"] * 2),
            "source": rng.choice(["browser", "browser", "upload", "command"]), "decision": decision,
            "edited_comment": edited, "edited_suggested_change": "", "merged_into_id": merged,
            "staff_note": "Discussed with the coordinating lead author."
            if decision and rng.random() < 0.1 else "",
            "decided_by_id": staff_id if decision else None, "decided_at": now if decision else None,
            "version": 1, "created_at": now - dt.timedelta(minutes=count - i), "updated_at": now})
    for chunk in range(0, len(rows), 2000):
        db.session.execute(sa.insert(ReviewComment.__table__), rows[chunk:chunk + 2000])
    advance_sequences(db, ReviewComment.__table__)
    return counts


# --- the template -------------------------------------------------------------------------------------------
def fill_template(template: bytes, rows: int, rng: random.Random, documents: list[str]) -> tuple[bytes, int]:
    """The blank template filled with ``rows`` comments as an expert would (about 1 % with a mistake)."""
    from openpyxl import load_workbook

    wb = load_workbook(io.BytesIO(template))
    ws = wb["Comments"]
    bad = 0
    for n in range(rows):
        r = n + 2
        page = rng.randint(1, 400)
        values = [rng.choice(documents) if rng.random() > 0.05 else rng.choice(documents).upper(),
                  rng.choice(CHAPTERS), page, rng.randint(1, 60), page if rng.random() < 0.3 else None,
                  None, text(rng, 1, 4), rng.choice(CHANGES) if rng.random() < 0.35 else None,
                  rng.choice(["Specific", "Specific", "General", "Editorial", None])]
        if n % 100 == 57:  # a page written as text: refused with its row and column
            values[2], bad = f"p. {page}", bad + 1
        for offset, value in enumerate(values):
            # Document … Type (the reviewer columns are prefilled)
            ws.cell(row=r, column=5 + offset, value=value)
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue(), bad


def import_child(argv: list[str]) -> int:
    """Run in a process of its own: import one filled template and print its figures as JSON.

    A fresh process, so that its peak RSS is the import's (plus the application's baseline), not the
    bench's earlier work."""
    import json
    import logging

    url, consultation_id, participant_id, staff_id, path = argv
    from config import LocalConfig
    from focalpoint import create_app
    from focalpoint.auth.models import User
    from focalpoint.consultations.models import CommentSource, Consultation, Participant
    from focalpoint.consultations.sheets import import_comments
    from focalpoint.extensions import db

    app = create_app(LocalConfig, SQLALCHEMY_DATABASE_URI=url, SECRET_KEY="bench-" + "x" * 40)
    logging.getLogger("alembic").setLevel(logging.WARNING)
    data = Path(path).read_bytes()
    with app.app_context():
        consultation = db.session.get(Consultation, int(consultation_id))
        participant = db.session.get(Participant, int(participant_id))
        staff = db.session.get(User, int(staff_id))
        _ = participant.expert.name, list(consultation.documents)
        # Loaded before the baseline, as in a worker that has served an upload before.
        import openpyxl  # noqa: F401

        gc.collect()
        before = rss_mb()
        exact = reset_peak()
        with Counter(db.engine) as counter:
            t, c = time.perf_counter(), time.process_time()
            report = import_comments(consultation, data, actor=staff, participant=participant,
                                     source=CommentSource.UPLOAD)
            db.session.commit()
            total, cpu = time.perf_counter() - t, time.process_time() - c
        print(json.dumps({"seconds": total, "cpu": cpu, "statements": len(counter.statements),
                          "imported": report.imported, "failed": report.failed, "before_mb": before,
                          "peak_mb": rss_mb("VmHWM"), "exact": exact}))
    return 0


# --- timing -------------------------------------------------------------------------------------------------
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
    parser.add_argument("--comments", type=int, default=2000,
                        help="comments of the consultation (default 2,000)")
    parser.add_argument("--participants", type=int, default=60)
    parser.add_argument("--import-rows", default="300,5000",
                        help="template sizes imported (default 300,5000)")
    parser.add_argument("--runs", type=int, default=7, help="runs per page (median; default 7)")
    parser.add_argument("--database-url", help="default: a fresh SQLite file in a temporary folder")
    parser.add_argument("--import-child", nargs=5, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.import_child:
        return import_child(args.import_child)

    tmp = tempfile.TemporaryDirectory(prefix="focalpoint-bench-")
    os.environ["FOCALPOINT_INSTANCE"] = tmp.name
    url = args.database_url or f"sqlite:///{Path(tmp.name) / 'bench.db'}"

    import logging

    import sqlalchemy as sa
    from flask_migrate import upgrade

    from config import LocalConfig
    from focalpoint import create_app
    from focalpoint.auth.services import create_user
    from focalpoint.consultations import links
    from focalpoint.consultations.models import Consultation, Participant, ReviewComment
    from focalpoint.consultations.sheets import export_consolidated, export_full, read_template, template_xlsx
    from focalpoint.experts.models import Expert
    from focalpoint.extensions import db
    from focalpoint.reference.services import load_reference_data

    app = create_app(LocalConfig, SQLALCHEMY_DATABASE_URI=url, SECRET_KEY="bench-" + "x" * 40,
                     WTF_CSRF_ENABLED=False, SESSION_COOKIE_SECURE=False)
    logging.getLogger("alembic").setLevel(logging.WARNING)
    rng = random.Random(2026)
    with app.app_context():
        existing = sa.inspect(db.engine).get_table_names()
        if args.database_url and existing:
            print(f"refused: {db.engine.url.render_as_string(hide_password=True)} already holds tables "
                  f"({len(existing)}); give an empty database")
            return 2
        upgrade(directory=app.extensions["migrate"].directory)
        load_reference_data(app.config["COUNTRY_CODE"])
        staff = create_user("bench-staff@bench.example", roles=["staff"], password="bench password 1234")
        db.session.commit()
        print(f"database: {db.engine.url.render_as_string(hide_password=True)} ({db.engine.dialect.name})")

        t = time.perf_counter()
        today = dt.date.today()
        expert_ids = seed_experts(db, args.participants + 1, rng, "a")
        experts = {e.id: {"id": e.id, "name": e.name, "email": e.email, "affiliation": e.affiliation}
                   for e in db.session.scalars(sa.select(Expert).where(Expert.id.in_(expert_ids)))}
        consultation = new_consultation(db, "Spatial planning assessment, second order draft", today)
        participant_ids = seed_participants(db, consultation.id, expert_ids[:args.participants], staff.id)
        own = min(50, args.comments)
        counts = seed_comments(db, consultation, [(pid, experts[eid]) for pid, eid in
                                                  zip(participant_ids, expert_ids[:args.participants])],
                               args.comments, own, staff.id, rng)
        for n in range(12):  # the rest of the list: closed, open and upcoming consultations
            new_consultation(db, f"Earlier consultation {n + 1}: nexus assessment, first order draft", today,
                             opens=-400 + 30 * n, closes=-380 + 30 * n + (60 if n > 9 else 0))
        # The workspace's expert: their personal link (the first participant, who wrote ``own`` comments).
        workspace = db.session.get(Participant, participant_ids[0])
        secret = links.new_secret(workspace)
        # The import goes into a consultation of its own, so the pages below see --comments comments.
        target = new_consultation(db, "Import target: the same draft", today)
        importer_id = seed_participants(db, target.id, expert_ids[-1:], staff.id)[0]
        db.session.commit()
        consultation_id, target_id, staff_id = consultation.id, target.id, staff.id
        documents = {d.title: d.id for d in consultation.documents}
        print(f"seeded in {time.perf_counter() - t:.1f} s: 1 consultation with {len(documents)} documents, "
              f"{args.participants} participants, {args.comments:,} comments ("
              + ", ".join(f"{k} {v}" for k, v in sorted(counts.items())) + "); 12 other consultations")

        # (a) the review template: blank → filled → imported
        print("\n(a) review template (template_xlsx → filled with openpyxl → import_comments)")
        engine = db.engine
        for size in [int(s) for s in args.import_rows.split(",") if s.strip()]:
            db.session.expire_all()
            target = db.session.get(Consultation, target_id)
            importer = db.session.get(Participant, importer_id)
            t = time.perf_counter()
            blank = template_xlsx(target, importer.expert)
            template_s = time.perf_counter() - t
            filled, bad = fill_template(blank, size, random.Random(size), DOCUMENTS)
            t = time.perf_counter()
            read_template(filled)
            read_s = time.perf_counter() - t
            path = Path(tmp.name) / f"filled-{size}.xlsx"
            path.write_bytes(filled)
            db.session.commit()
            child = subprocess.run([sys.executable, __file__, "--import-child", url, str(target_id),
                                    str(importer_id), str(staff_id), str(path)],
                                   capture_output=True, text=True, env=os.environ.copy())
            if child.returncode != 0:
                print(f"  {size:5,} rows: the import failed\n{child.stderr[-3000:]}")
                return 1
            r = json.loads(child.stdout.strip().splitlines()[-1])
            print(f"  {size:5,} rows ({len(filled) / 1024:,.0f} KB file; blank template "
                  f"{template_s * 1000:.0f} ms; reading the sheet alone {read_s:.2f} s): "
                  f"import {r['seconds']:5.2f} s (CPU {r['cpu']:.2f} s), "
                  f"{size / r['seconds']:5,.0f} rows/s, {r['statements']:,} SQL statements; imported "
                  f"{r['imported']:,}, refused {r['failed']} (expected {bad}); "
                  f"peak RSS {r['peak_mb']:.0f} MB ({r['peak_mb'] - r['before_mb']:+.0f} MB over the "
                  f"{r['before_mb']:.0f} MB of the process before"
                  f"{'' if r['exact'] else '; peak not reset: includes start-up'})")
            if r["failed"] != bad:
                print(f"  UNEXPECTED: {r['failed']} rows refused instead of {bad}")
                return 1
        db.session.expire_all()

        # (b) exports
        print(f"\n(b) exports of the consultation ({args.comments:,} comments)")
        for label, export in (("export_consolidated", export_consolidated), ("export_full", export_full)):
            times, cpu = [], []
            for _run in range(max(3, args.runs // 2)):
                db.session.expire_all()
                consultation = db.session.get(Consultation, consultation_id)
                with Counter(engine) as counter:
                    t, c = time.perf_counter(), time.process_time()
                    data = export(consultation)
                    times.append(time.perf_counter() - t)
                    cpu.append(time.process_time() - c)
                db.session.rollback()
            print(f"  {label:20} median {statistics.median(times) * 1000:6.0f} ms "
                  f"(min {min(times) * 1000:.0f}; "
                  f"CPU {statistics.median(cpu) * 1000:.0f} ms), {len(data) / 1024:,.0f} KB, "
                  f"{len(counter.statements)} SQL queries")
        total_comments = db.session.scalar(sa.select(sa.func.count()).select_from(ReviewComment)
                                           .where(ReviewComment.consultation_id == consultation_id))

    def page(client, label: str, path: str) -> bool:
        client.get(path)  # warm-up: templates compiled, caches filled
        times, cpu, queries = [], [], 0
        for _run in range(args.runs):
            with Counter(engine) as counter:
                t, c = time.perf_counter(), time.process_time()
                response = client.get(path)
                times.append(time.perf_counter() - t)
                cpu.append(time.process_time() - c)
            queries = len(counter.statements)
            if response.status_code != 200:
                print(f"  {label}: HTTP {response.status_code} for {path}")
                return False
        print(f"  {label:44} median {statistics.median(times) * 1000:5.0f} ms (min {min(times) * 1000:4.0f}; "
              f"CPU {statistics.median(cpu) * 1000:4.0f}), {queries:3} SQL queries, "
              f"{len(response.data) / 1024:5.0f} KB  {path}")
        return statistics.median(times) < 0.3

    # (c) staff's pages
    print(f"\n(c) staff's pages (test client, median of {args.runs})")
    client = app.test_client()
    response = client.post("/login", data={"email": "bench-staff@bench.example",
                                           "password": "bench password 1234"})
    if response.status_code != 302:
        print(f"login failed: HTTP {response.status_code}")
        return 1
    last = max(1, -(-total_comments // 50))
    chapter2 = documents[DOCUMENTS[1]]
    ok = True
    ok &= page(client, "comments, page 1", f"/consultations/{consultation_id}/comments")
    ok &= page(client, "comments, filtered (document+type+undecided), p.2",
               f"/consultations/{consultation_id}/comments?document={chapter2}&type=specific"
               "&decision=undecided&page=2")
    ok &= page(client, "comments, search", f"/consultations/{consultation_id}/comments?q=pollinator")
    ok &= page(client, f"comments, last page ({last})",
               f"/consultations/{consultation_id}/comments?page={last}")
    ok &= page(client, "consultation's page", f"/consultations/{consultation_id}")
    ok &= page(client, "list of consultations", "/consultations")

    # (d) the expert's workspace through the personal link
    print(f"\n(d) the expert's workspace (personal link, {own} own comments, not logged in)")
    ok &= page(app.test_client(), "workspace", f"/review/{secret}")
    print(f"\nevery page under 300 ms: {'yes' if ok else 'NO'} "
          f"(load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
