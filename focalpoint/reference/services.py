"""Loading the reference data shipped with the package, idempotently."""
from __future__ import annotations

import datetime as dt
import json
from functools import cache
from importlib import resources

import sqlalchemy as sa

from focalpoint.auth.models import Administration
from focalpoint.extensions import db
from focalpoint.reference.models import Deliverable, PlenarySession, ReferenceTerm


@cache
def reference_data() -> dict:
    with resources.files("focalpoint.reference").joinpath("data.json").open(encoding="utf-8") as fh:
        return json.load(fh)


def load_reference_data(country: str = "BE") -> dict[str, int]:
    """Insert or update every reference row; return how many rows were added per table.

    Rows are matched by their code, so running it again changes nothing; rows staff added are kept.
    """
    data = reference_data()
    added = {"deliverables": 0, "terms": 0, "plenary_sessions": 0, "administrations": 0}

    existing = {d.code: d for d in db.session.scalars(sa.select(Deliverable))}
    for item in data["deliverables"]:
        row = existing.get(item["code"])
        if row is None:
            row = Deliverable(code=item["code"])
            db.session.add(row)
            added["deliverables"] += 1
        row.short_name = item["short_name"]
        row.title = item["title"]
        row.type = item["type"]
        row.year = item["year"]
        row.status = item["status"][:300]
        row.doi = item["doi"]

    terms = {(t.vocabulary, t.code): t for t in db.session.scalars(sa.select(ReferenceTerm))}
    for vocabulary, items in data["vocabularies"].items():
        for position, item in enumerate(items):
            row = terms.get((vocabulary, item["code"]))
            if row is None:
                row = ReferenceTerm(vocabulary=vocabulary, code=item["code"])
                db.session.add(row)
                added["terms"] += 1
            row.label = item["label"]
            row.note = item.get("note", "")[:300]
            row.position = position

    sessions = {s.code: s for s in db.session.scalars(sa.select(PlenarySession))}
    for item in data["plenary_sessions"]:
        row = sessions.get(item["code"])
        if row is None:
            row = PlenarySession(code=item["code"])
            db.session.add(row)
            added["plenary_sessions"] += 1
        # Staff may correct a session's place or dates: reference data only fills what is empty.
        row.place = row.place or item["place"]
        row.start_date = row.start_date or dt.date.fromisoformat(item["start_date"])
        row.end_date = row.end_date or dt.date.fromisoformat(item["end_date"])

    country_data = data["countries"].get(country.upper())
    if country_data:
        admins = {a.code: a for a in db.session.scalars(sa.select(Administration))}
        for item in country_data["administrations"]:
            if item["code"] not in admins:
                db.session.add(Administration(code=item["code"], name=item["name"]))
                added["administrations"] += 1
    db.session.flush()
    return added


def terms(vocabulary: str) -> list[ReferenceTerm]:
    return db.session.scalars(
        sa.select(ReferenceTerm).where(ReferenceTerm.vocabulary == vocabulary).order_by(ReferenceTerm.position)
    ).all()


def country_regions(country: str | None = None) -> dict[str, str]:
    """The regions of the configured country, in their order: {code: label} (Belgium: flanders → Flanders …).

    ``country`` defaults to the app's COUNTRY_CODE; a country without regions gives an empty dict.
    """
    if country is None:
        from flask import current_app

        country = current_app.config.get("COUNTRY_CODE", "BE")
    data = reference_data()["countries"].get((country or "").upper()) or {}
    return {item["code"]: item["label"] for item in data.get("regions", [])}
