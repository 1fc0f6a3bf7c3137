#!/usr/bin/env python
"""Import 10,000 generated experts from a CSV file and from an XLSX file; print the time and rows/s of each.

    python bench/import.py                      # a fresh SQLite database in a temporary folder
    python bench/import.py --rows 20000
    python bench/import.py --database-url postgresql+psycopg://postgres@127.0.0.1/focalpoint_bench

Rows look like a focal point's spreadsheet: Belgian and international names (accents included), e-mail
addresses, affiliations, regions, genders and career stages given by code or by label in any case,
disciplines, roles and deliverables as ";"-separated lists, keywords mixed with GBF targets and
ecosystems, languages, valid ORCID iDs on a third of the rows. Each file goes through ``import_experts``
(what ``focalpoint experts import`` and the upload page call): read, checked, matched against the
registry, written with bulk inserts. The CSV is imported twice (the second time every row is known: the
matching path); the XLSX file holds other people, imported into the registry the CSV filled. With
--database-url the database should be empty (the schema is migrated first); the imported rows stay.
"""
from __future__ import annotations

import argparse
import csv
import io
import os
import random
import sys
import tempfile
import time
import unicodedata
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

FIRST = ["Jan", "Marie", "Sofia", "Karel", "Lotte", "Hélène", "Pieter", "Emma", "Lucas", "Anaïs", "Ahmed", "Fatima",
         "Noah", "Louise", "Bram", "Céline", "Jef", "Inès", "Wout", "Zoë", "Thomas", "Sarah", "Maxime", "Elif"]
LAST = ["Peeters", "Janssens", "Maes", "Jacobs", "Mertens", "Willems", "Claes", "Goossens", "Wouters", "De Smet",
        "Dubois", "Lambert", "Dupont", "Martin", "Simon", "Laurent", "Van Damme", "Vermeulen", "Benali", "Yılmaz",
        "Dupré", "Leclercq", "Van den Bossche", "Hermans"]
AFFILIATIONS = ["Ghent University", "KU Leuven", "Université de Liège", "UCLouvain", "VUB", "ULB", "INBO",
                "Royal Belgian Institute of Natural Sciences", "Meise Botanic Garden", "FPS Health, Environment",
                "Université de Namur", "University of Antwerp", "Hasselt University", "Gembloux Agro-Bio Tech"]
REGIONS = ["flanders", "Wallonia", "BRUSSELS", "federal", "Abroad"]
GENDERS = ["female", "male", "Female", "Male", "non-binary", "undisclosed", ""]
STAGES = ["early", "mid", "senior", "Early career", "Senior", ""]
DISCIPLINES = ["natural-sciences", "social-sciences", "humanities", "ilk", "policy-expert", "practitioner",
               "Interdisciplinary"]
ROLES = ["CLA", "LA", "RE", "FELLOW", "CA", "EXPERT_REVIEWER", "Lead author", "TF_MEMBER"]
DELIVERABLES = ["nexus", "transformative-change", "business-biodiversity", "spatial-planning", "monitoring",
                "global-2", "values", "invasive-alien-species", "Land degradation and restoration"]
KEYWORDS = ["pollination", "soil ecology", "urban green", "fisheries", "valuation", "governance", "remote sensing",
            "wetlands", "T3", "T8", "T21", "forests", "marine", "agricultural", "indigenous knowledge", "modelling"]
LANGUAGES = ["en", "fr", "nl", "de", "English", "French", "Dutch", "es"]


def orcid(rng: random.Random) -> str:
    from focalpoint.experts.services import orcid_checksum

    base = f"0000000{rng.randrange(10**8):08d}"
    digits = base + orcid_checksum(base)
    return "-".join(digits[i:i + 4] for i in range(0, 16, 4))


def ascii_name(name: str) -> str:
    return unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode().lower()


#: ORCID iDs handed out so far (batches never share one).
ORCIDS_USED: set[str] = set()


def generate_rows(count: int, seed: int = 2026, batch: str = "a") -> list[dict]:
    """``count`` rows of the import format, unique by e-mail, ORCID and name (and across batches)."""
    rng = random.Random(seed)
    rows, orcids = [], set()
    for i in range(count):
        first, last = rng.choice(FIRST), f"{rng.choice(LAST)}-{batch}{i:05d}"
        value = ""
        if i % 3 == 0:
            value = orcid(rng)
            while value in orcids or value in ORCIDS_USED:
                value = orcid(rng)
            orcids.add(value)
            ORCIDS_USED.add(value)
        rows.append({
            "email": f"{ascii_name(first)}.{batch}{i:05d}@{rng.choice(['ugent.be', 'uliege.be', 'inbo.be', 'example.org'])}",
            "first_name": first, "last_name": last, "gender": rng.choice(GENDERS),
            "affiliation": rng.choice(AFFILIATIONS), "region": rng.choice(REGIONS),
            "disciplines": "; ".join(rng.sample(DISCIPLINES, rng.randint(1, 2))),
            "expertise": "; ".join(rng.sample(KEYWORDS, rng.randint(1, 4))),
            "deliverables": "; ".join(rng.sample(DELIVERABLES, rng.randint(0, 2))),
            "roles_wanted": "; ".join(rng.sample(ROLES, rng.randint(1, 3))),
            "languages": ";".join(rng.sample(LANGUAGES[:3], rng.randint(1, 3))),
            "orcid": value, "career_stage": rng.choice(STAGES)})
    return rows


def to_csv(rows: list[dict]) -> bytes:
    from focalpoint.experts.services import IMPORT_COLUMNS

    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=IMPORT_COLUMNS, lineterminator="\r\n")
    writer.writeheader()
    writer.writerows(rows)
    return out.getvalue().encode("utf-8-sig")


def to_xlsx(rows: list[dict]) -> bytes:
    from openpyxl import Workbook

    from focalpoint.experts.services import IMPORT_COLUMNS

    wb = Workbook(write_only=True)
    ws = wb.create_sheet("Experts")
    ws.append(list(IMPORT_COLUMNS))
    for row in rows:
        ws.append([row[c] for c in IMPORT_COLUMNS])
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=10_000)
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
    from focalpoint.experts.models import Expert
    from focalpoint.experts.services import import_experts, read_import_file
    from focalpoint.extensions import db
    from focalpoint.reference.services import load_reference_data

    app = create_app(LocalConfig, SQLALCHEMY_DATABASE_URI=url, SECRET_KEY="bench-" + "x" * 40)
    logging.getLogger("alembic").setLevel(logging.WARNING)

    t0 = time.perf_counter()
    files = {"CSV": to_csv(generate_rows(args.rows, 2026, "a")), "XLSX": to_xlsx(generate_rows(args.rows, 2027, "b"))}
    print(f"generated 2 × {args.rows} rows in {time.perf_counter() - t0:.2f} s: "
          + ", ".join(f"{kind} {len(data) / 2**20:.2f} MB" for kind, data in files.items()))

    def run(label: str, data: bytes, name: str) -> bool:
        t = time.perf_counter()
        parsed, _warnings = read_import_file(data, name)
        read = time.perf_counter() - t
        report = import_experts(parsed, dry_run=False)
        db.session.commit()
        total = time.perf_counter() - t
        counts = report.counts
        print(f"{label:34} {total:6.2f} s ({read:5.2f} s reading) {len(parsed) / total:8.0f} rows/s   "
              f"created {counts['created']}, updated {counts['updated']}, skipped {counts['skipped']}")
        return total < 30

    with app.app_context():
        upgrade(directory=app.extensions["migrate"].directory)
        load_reference_data(app.config["COUNTRY_CODE"])
        db.session.commit()
        print(f"database: {db.engine.url.render_as_string(hide_password=True)} ({db.engine.dialect.name})")
        ok = True
        before = db.session.scalar(sa.select(sa.func.count()).select_from(Expert))
        ok &= run(f"CSV, {args.rows} new rows", files["CSV"], "experts.csv")
        ok &= run("CSV again (every row known)", files["CSV"], "experts.csv")
        ok &= run(f"XLSX, {args.rows} other new rows", files["XLSX"], "experts.xlsx")
        stored = db.session.scalar(sa.select(sa.func.count()).select_from(Expert))
        print(f"experts stored: {stored} ({before} before)")
    print("every import under 30 s" if ok else "SLOWER THAN 30 s")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
