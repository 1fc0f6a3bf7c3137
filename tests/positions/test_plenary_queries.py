"""Queries per plenary page do not grow with the data: the same pages with few and with many rows."""
from __future__ import annotations

import datetime as dt

import sqlalchemy as sa

from plenary_helpers import TODAY, session_id
from test_queries import counting


def _seed(app, rows: int) -> int:
    from focalpoint.auth.models import Administration
    from focalpoint.extensions import db
    from focalpoint.positions.models import (AgendaItem, Clearance, NoteStatus, NoteVersion, PositionNote,
                                             ReviewRequest, SessionDocument)
    from focalpoint.reference.models import PlenarySession

    with app.app_context():
        admins = db.session.scalars(sa.select(Administration).order_by(Administration.id)).all()
        for n in range(rows):
            db.session.add(PlenarySession(code=f"IPBES-{100 + n}", place=f"Place {n}",
                                          start_date=TODAY + dt.timedelta(days=n), end_date=TODAY + dt.timedelta(days=n)))
        session = db.session.scalar(sa.select(PlenarySession).where(PlenarySession.code == "IPBES-12"))
        for n in range(rows):
            item = AgendaItem(session_id=session.id, number=str(n + 1), title=f"Item {n}", position=n + 1)
            db.session.add(item)
            db.session.flush()
            db.session.add(SessionDocument(session_id=session.id, symbol=f"IPBES/12/{n + 1}", title=f"Doc {n}",
                                           url="https://example.org", agenda_item_id=item.id, position=n + 1))
            note = PositionNote(agenda_item_id=item.id, current_version=1,
                                status=(NoteStatus.DRAFT, NoteStatus.IN_REVIEW, NoteStatus.APPROVED)[n % 3])
            db.session.add(note)
            db.session.flush()
            db.session.add(NoteVersion(note_id=note.id, number=1, national_position="x"))
            for admin in admins[: 1 + n % len(admins)]:
                request = ReviewRequest(note_id=note.id, administration_id=admin.id,
                                        due_date=TODAY + dt.timedelta(days=n))
                db.session.add(request)
                db.session.flush()
                if n % 2:
                    db.session.add(Clearance(request_id=request.id, note_version=1, decision="cleared"))
        db.session.commit()
        return session.id


def _counts(app, make_user, rows: int) -> dict[str, int]:
    from conftest import login

    sid = _seed(app, rows)
    assert sid == session_id(app, "IPBES-12")
    make_user(f"staff{rows}@example.org", "staff")
    client = app.test_client()
    assert login(client, f"staff{rows}@example.org").status_code == 302
    counts = {}
    for path in ("/plenary", "/plenary?sort=notes&dir=desc", f"/plenary/{sid}", f"/plenary/{sid}/clearance",
                 f"/plenary/{sid}/briefing.docx", "/"):
        client.get(path)
        with counting(app) as statements:
            response = client.get(path)
        assert response.status_code == 200, path
        counts[path.replace(str(sid), "<id>")] = len(statements)
    return counts


def test_plenary_pages_queries_do_not_grow(app, make_user):
    from conftest import _empty_all_tables
    from focalpoint.extensions import db
    from focalpoint.reference.services import load_reference_data

    small = _counts(app, make_user, 3)
    with app.app_context():
        _empty_all_tables(db)
        load_reference_data("BE")
        db.session.commit()
    large = _counts(app, make_user, 40)
    assert large == small
    assert max(small.values()) <= 20, small
