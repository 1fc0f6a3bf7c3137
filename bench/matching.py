#!/usr/bin/env python
"""Rank 10,000 generated experts against a nomination call; print the time (median of 7 runs) and the queries.

    python bench/matching.py                      # a fresh SQLite database in a temporary folder
    python bench/matching.py --experts 20000 --runs 9
    python bench/matching.py --database-url postgresql+psycopg://postgres@127.0.0.1/focalpoint_bench

The registry is realistic in shape: every expert has a region, gender, career stage, availability and
consent, 1-2 disciplines, 1-3 roles wanted, KM-GBF targets and ecosystems, 0-2 deliverables of expertise,
0-2 past IPBES roles and a few free keywords; some are already invited to the call or on its slate. The
ranking timed is ``match_call`` (load the registry in a constant number of queries, then score and sort
in Python), the same function behind /calls/<id>/matches and ``focalpoint calls match``; the queries are
counted with an SQLAlchemy ``before_cursor_execute`` listener. The whole matches page (top 50, balance of
the slate) is timed too, through the test client. With --database-url the database should be empty (the
schema is migrated to the latest revision first).
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

FIRST = ["Anna", "Bram", "Chloé", "David", "Elise", "Femke", "Gilles", "Hanne", "Ines", "Jan", "Karim", "Lotte",
         "Marie", "Nina", "Olivier", "Pieter", "Quentin", "Ruth", "Sofie", "Thomas", "Ursula", "Victor", "Wout"]
LAST = ["Peeters", "Janssens", "Maes", "Dubois", "Lambert", "Claes", "Martin", "Goossens", "Wouters", "Leroy",
        "Mertens", "Willems", "Dupont", "Jacobs", "Simon", "Laurent", "Hermans", "Michiels", "Renard", "Vos"]
KEYWORDS = ["spatial planning", "ecological connectivity", "landscape ecology", "pollination", "wetland restoration",
            "marine protected areas", "urban green space", "invasive species", "forest management", "soil biology",
            "environmental economics", "governance", "indigenous knowledge", "remote sensing", "freshwater ecology",
            "agroecology", "climate adaptation", "conservation planning", "ecosystem accounting", "species monitoring",
            "land use change", "nature-based solutions", "biodiversity law", "sustainable finance", "fisheries"]
AFFILIATIONS = ["KU Leuven", "Ghent University", "UCLouvain", "ULB", "University of Liège", "INBO", "RBINS",
                "University of Antwerp", "VUB", "Meise Botanic Garden", "Hasselt University", "UNamur"]


def seed_registry(db, count: int, rng: random.Random) -> None:
    """``count`` experts with their tags, deliverables and past roles, by bulk inserts."""
    import sqlalchemy as sa

    from focalpoint.db import utcnow
    from focalpoint.experts.models import Expert, PastRole, expert_deliverables, expert_terms
    from focalpoint.reference.models import Deliverable, ReferenceTerm

    terms = {}
    for tid, vocab, code in db.session.execute(sa.select(ReferenceTerm.id, ReferenceTerm.vocabulary,
                                                         ReferenceTerm.code).order_by(ReferenceTerm.id)):
        terms.setdefault(vocab, []).append((tid, code))
    deliverables = [d for d, in db.session.execute(sa.select(Deliverable.id).order_by(Deliverable.id))]
    now = utcnow()
    start = (db.session.scalar(sa.select(sa.func.max(Expert.id))) or 0) + 1
    experts, tags, delivs, past = [], [], [], []
    for i in range(count):
        eid = start + i
        experts.append({
            "id": eid, "status": "active", "first_name": rng.choice(FIRST), "last_name": rng.choice(LAST),
            "email": f"expert{eid}@bench.example", "affiliation": rng.choice(AFFILIATIONS),
            "region": rng.choice(["flanders", "flanders", "wallonia", "brussels", "federal", "abroad"]),
            "gender": rng.choice(["female", "male", "female", "male", "non_binary", "undisclosed"]),
            "career_stage": rng.choice(["early", "mid", "senior"]),
            "keywords": "; ".join(rng.sample(KEYWORDS, rng.randint(1, 4))), "languages": "en",
            "preferred_language": rng.choice(["en", "fr", "nl"]),
            "availability": rng.choice(["available"] * 6 + ["limited", "unavailable"]), "availability_note": "",
            "consent_contact_at": now if rng.random() < 0.9 else None,
            "consent_processing_at": now, "notes": "", "version": 1, "created_at": now, "updated_at": now,
        })
        chosen = set()
        for vocab, low, high in (("discipline", 1, 2), ("expert_role", 1, 3), ("gbf_target", 0, 3),
                                 ("ecosystem", 0, 2)):
            for tid, _code in rng.sample(terms.get(vocab, []), rng.randint(low, high)):
                chosen.add(tid)
        tags.extend({"expert_id": eid, "term_id": tid} for tid in chosen)
        delivs.extend({"expert_id": eid, "deliverable_id": did} for did in rng.sample(deliverables, rng.randint(0, 2)))
        for _ in range(rng.choice([0, 0, 1, 2])):
            year = rng.randint(2012, 2024)
            past.append({"expert_id": eid, "deliverable_id": rng.choice(deliverables), "deliverable_text": "",
                         "role": rng.choice(["CLA", "LA", "RE", "FELLOW", "CA"]), "year_from": year,
                         "year_to": year + rng.randint(1, 4), "source": "declared"})
    for table, rows in ((Expert.__table__, experts), (expert_terms, tags), (expert_deliverables, delivs),
                        (PastRole.__table__, past)):
        for chunk in range(0, len(rows), 5000):
            db.session.execute(sa.insert(table), rows[chunk:chunk + 5000])
    db.session.commit()
    print(f"registry: {count:,} experts, {len(tags):,} tags, {len(delivs):,} deliverables of expertise, "
          f"{len(past):,} past roles")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--experts", type=int, default=10000)
    parser.add_argument("--runs", type=int, default=7)
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
    from focalpoint.invitations.models import Invitation, InvitationState
    from focalpoint.nominations.matching import match_call
    from focalpoint.nominations.models import NominationCall
    from focalpoint.nominations.services import add_candidate, create_call
    from focalpoint.reference.models import Deliverable
    from focalpoint.reference.services import load_reference_data

    app = create_app(LocalConfig, SQLALCHEMY_DATABASE_URI=url, SECRET_KEY="bench-" + "x" * 40,
                     WTF_CSRF_ENABLED=False)
    logging.getLogger("alembic").setLevel(logging.WARNING)
    rng = random.Random(2025)
    with app.app_context():
        upgrade(directory=app.extensions["migrate"].directory)
        load_reference_data(app.config["COUNTRY_CODE"])
        db.session.commit()
        print(f"database: {db.engine.url.render_as_string(hide_password=True)} ({db.engine.dialect.name})")
        t = time.perf_counter()
        seed_registry(db, args.experts, rng)
        print(f"seeded in {time.perf_counter() - t:.1f} s")
        spatial = db.session.scalar(sa.select(Deliverable).where(Deliverable.code == "spatial-planning"))
        today = dt.date.today()
        call = create_call(actor=None, roles=["CLA", "LA", "RE"], title="Bench: call for experts for the spatial "
                           "planning assessment", call_kind="expert_call", deliverable_id=spatial.id,
                           description="Experts in spatial planning, ecological connectivity, landscape ecology, "
                                       "urban green space and wetlands; KM-GBF targets 1, 2, 3 and 12.",
                           keywords="spatial planning; connectivity; land use change",
                           national_deadline=today + dt.timedelta(days=30))
        some = db.session.scalars(sa.select(Expert).order_by(Expert.id).limit(60)).all()
        for i, expert in enumerate(some[:40]):
            db.session.add(Invitation(call_id=call.id, expert_id=expert.id, state=InvitationState.PENDING,
                                      token_hash=f"{i:064d}", expires_at=dt.datetime.now(dt.timezone.utc)))
        for expert in some[40:]:
            add_candidate(call, expert, actor=None)
        db.session.commit()
        call_id = call.id
        create_user("bench-staff@bench.example", roles=["staff"], password="bench password 1234")
        db.session.commit()

        queries: list[str] = []

        def count(conn, cursor, statement, parameters, context, executemany):
            if not statement.lstrip().upper().startswith("BEGIN"):  # SQLite's BEGIN IMMEDIATE is no query
                queries.append(statement)

        durations, cpu = [], []
        for _run in range(args.runs):
            db.session.expire_all()
            call = db.session.get(NominationCall, call_id)
            sa.event.listen(db.engine, "before_cursor_execute", count)
            queries.clear()
            t, c = time.perf_counter(), time.process_time()
            ranked = match_call(db.session, call)
            durations.append(time.perf_counter() - t)
            cpu.append(time.process_time() - c)
            sa.event.remove(db.engine, "before_cursor_execute", count)
            db.session.rollback()
        top = ranked[0]
        print(f"ranking {len(ranked):,} active experts: median {statistics.median(durations) * 1000:.0f} ms "
              f"over {args.runs} runs (min {min(durations) * 1000:.0f}, max {max(durations) * 1000:.0f}; "
              f"this process's CPU: median {statistics.median(cpu) * 1000:.0f} ms); "
              f"{len(queries)} SQL queries per ranking")
        print(f"best match: expert {top.expert.id}, score {top.score}: {'; '.join(top.reasons)}")

    client = app.test_client()
    client.post("/login", data={"email": "bench-staff@bench.example", "password": "bench password 1234"})
    page_times, page_queries = [], []
    with app.app_context():
        engine = db.engine
    for _run in range(args.runs):
        queries.clear()
        sa.event.listen(engine, "before_cursor_execute", count)
        t = time.perf_counter()
        response = client.get(f"/calls/{call_id}/matches")
        page_times.append(time.perf_counter() - t)
        sa.event.remove(engine, "before_cursor_execute", count)
        page_queries.append(len(queries))
        if response.status_code != 200:
            print(f"matches page: HTTP {response.status_code}")
            return 1
    print(f"GET /calls/{call_id}/matches (top 50 + balance of the slate): median "
          f"{statistics.median(page_times) * 1000:.0f} ms, {page_queries[-1]} SQL queries")
    ok = statistics.median(durations) < 0.3
    print(f"target (< 300 ms for 10,000 experts): {'met' if ok else 'NOT met'} "
          f"(load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
