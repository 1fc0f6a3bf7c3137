"""Rows for the plenary tests: sessions, agenda items, documents, notes with versions, requests and decisions.

Built from the models directly, so these tests do not depend on how position notes are edited.
"""
from __future__ import annotations

import datetime as dt

import sqlalchemy as sa

TODAY = dt.date.today()


def session_id(app, code: str) -> int:
    from focalpoint.extensions import db
    from focalpoint.reference.models import PlenarySession

    with app.app_context():
        return db.session.scalar(sa.select(PlenarySession.id).where(PlenarySession.code == code))


def add_session(app, code="IPBES-13", place="Bonn, Germany", start=None, end=None) -> int:
    from focalpoint.extensions import db
    from focalpoint.positions.plenary_services import create_session

    with app.app_context():
        session = create_session(code=code, place=place, start_date=start, end_date=end, actor=None)
        db.session.commit()
        return session.id


def add_item(app, session: int, number: str, title: str = "") -> int:
    from focalpoint.extensions import db
    from focalpoint.positions.plenary_services import add_agenda_item
    from focalpoint.reference.models import PlenarySession

    with app.app_context():
        item = add_agenda_item(db.session.get(PlenarySession, session), number=number,
                               title=title or f"Title of item {number}", actor=None)
        db.session.commit()
        return item.id


def add_document(app, session: int, symbol: str, title: str = "", url: str = "", item: int | None = None) -> int:
    from focalpoint.extensions import db
    from focalpoint.positions.plenary_services import add_document as add
    from focalpoint.reference.models import PlenarySession

    with app.app_context():
        document = add(db.session.get(PlenarySession, session), symbol=symbol, title=title or f"Document {symbol}",
                       url=url, agenda_item_id=item, actor=None)
        db.session.commit()
        return document.id


def add_note(app, item: int, versions: list[dict] | None = None, status: str = "draft",
             requests: dict[str, list] | None = None, approved_at=None) -> int:
    """A note on ``item`` with ``versions`` (dicts of sections) and ``requests``: {admin code: [due date,
    (version, decision, reason), …]} — the decisions in order, the last one counts."""
    from focalpoint.auth.models import Administration
    from focalpoint.extensions import db
    from focalpoint.positions.models import Clearance, NoteVersion, PositionNote, ReviewRequest

    versions = versions or [{"national_position": "Belgium supports the item."}]
    with app.app_context():
        note = PositionNote(agenda_item_id=item, status=status, approved_at=approved_at)
        db.session.add(note)
        db.session.flush()
        for number, values in enumerate(versions, start=1):
            db.session.add(NoteVersion(note_id=note.id, number=number, **values))
            for key in ("background", "national_position", "eu_position", "fallback"):
                setattr(note, key, values.get(key, ""))
            note.current_version = number
        for code, (due, *decisions) in (requests or {}).items():
            admin = db.session.scalar(sa.select(Administration).where(Administration.code == code))
            request = ReviewRequest(note_id=note.id, administration_id=admin.id, due_date=due)
            db.session.add(request)
            db.session.flush()
            for n, (version, decision, reason) in enumerate(decisions):
                db.session.add(Clearance(request_id=request.id, note_version=version, decision=decision,
                                         reason=reason, created_at=dt.datetime(2026, 1, 10 + n, 9,
                                                                               tzinfo=dt.timezone.utc)))
        db.session.commit()
        return note.id


def client_for(app, make_user, email: str, *roles: str, administration: str | None = None):
    from conftest import login

    make_user(email, *roles, administration=administration)
    client = app.test_client()
    assert login(client, email).status_code == 302
    return client
