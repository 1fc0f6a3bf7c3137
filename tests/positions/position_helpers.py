"""Rows for the position-note tests: a plenary session with agenda items and documents, notes saved through
the services, reviewers of two administrations, clients logged in as each."""
from __future__ import annotations

import datetime as dt
import re
from contextlib import contextmanager
from zoneinfo import ZoneInfo

import sqlalchemy as sa

from conftest import login

BRUSSELS = ZoneInfo("Europe/Brussels")  # DISPLAY_TIMEZONE of TestConfig
TODAY = dt.datetime.now(BRUSSELS).date()
TEXTS = {
    "background": "The plenary will consider the **nexus assessment**.\n\nIt was approved at IPBES-11.",
    "national_position": "Belgium welcomes the assessment.\n\nBelgium supports the budget.",
    "eu_position": "",
    "fallback": "Accept a smaller budget.",
}


def make_session(app, code="IPBES-40", items=("7 (b)", "8"), documents=(("IPBES/40/3", "7 (b)"),
                                                                          ("IPBES/40/INF/4", "7 (b)"),
                                                                          ("IPBES/40/5", "8"))) -> dict:
    """A session with its agenda items and documents; returns {"session": id, "items": {number: id},
    "documents": {symbol: id}}."""
    from focalpoint.extensions import db
    from focalpoint.positions.models import AgendaItem, SessionDocument
    from focalpoint.reference.models import PlenarySession

    with app.app_context():
        session = db.session.scalar(sa.select(PlenarySession).where(PlenarySession.code == code))
        if session is None:
            session = PlenarySession(code=code, place="Windhoek", start_date=TODAY + dt.timedelta(days=60),
                                     end_date=TODAY + dt.timedelta(days=66))
            db.session.add(session)
            db.session.flush()
        out = {"session": session.id, "items": {}, "documents": {}}
        for position, number in enumerate(items):
            item = AgendaItem(session_id=session.id, number=number, title=f"Agenda item {number} of {code}",
                              position=position)
            db.session.add(item)
            db.session.flush()
            out["items"][number] = item.id
        for position, (symbol, number) in enumerate(documents):
            document = SessionDocument(session_id=session.id, symbol=symbol, title=f"Document {symbol}",
                                       url=f"https://www.ipbes.net/documents/{symbol.replace('/', '-')}",
                                       agenda_item_id=out["items"].get(number), position=position)
            db.session.add(document)
            db.session.flush()
            out["documents"][symbol] = document.id
        db.session.commit()
        return out


def make_note(app, item_id: int, texts: dict | None = None, *, actor_email: str | None = None,
              documents=()) -> int:
    """A note on the agenda item, with a first version (unless ``texts`` is empty)."""
    from focalpoint.auth.models import User
    from focalpoint.extensions import db
    from focalpoint.positions import services as svc
    from focalpoint.positions.models import AgendaItem, PositionNote, SessionDocument

    with app.app_context():
        actor = db.session.scalar(sa.select(User).where(User.email == actor_email)) if actor_email else None
        note = svc.create_note(db.session.get(AgendaItem, item_id), actor=actor)
        if texts is None:
            texts = TEXTS
        if texts:
            svc.save_version(note, texts=texts, actor=actor, expected_version=note.version,
                             documents=[db.session.get(SessionDocument, d) for d in documents])
        db.session.commit()
        return db.session.get(PositionNote, note.id).id


def administration_id(app, code: str) -> int:
    from focalpoint.auth.models import Administration
    from focalpoint.extensions import db

    with app.app_context():
        return db.session.scalar(sa.select(Administration.id).where(Administration.code == code))


def ask_review(app, note_id: int, codes=("BE-VL", "BE-WAL"), due: dt.date | None = None) -> dict[str, int]:
    """Ask the administrations (by code) to review the note; returns {code: request id}."""
    from focalpoint.auth.models import Administration
    from focalpoint.extensions import db
    from focalpoint.positions import services as svc
    from focalpoint.positions.models import PositionNote

    with app.app_context():
        note = db.session.get(PositionNote, note_id)
        administrations = db.session.scalars(sa.select(Administration).where(Administration.code.in_(codes))).all()
        outcome = svc.request_review(note, administrations, due or TODAY + dt.timedelta(days=10), actor=None)
        db.session.commit()
        return {r.administration.code: r.id for r in outcome.requests}


def note_row(app, note_id: int) -> dict:
    from focalpoint.extensions import db
    from focalpoint.positions.models import NoteVersion, PositionNote

    with app.app_context():
        note = db.session.get(PositionNote, note_id)
        return {"status": note.status.value, "current_version": note.current_version, "version": note.version,
                "versions": db.session.scalar(sa.select(sa.func.count()).select_from(NoteVersion)
                                              .where(NoteVersion.note_id == note_id)),
                **{s: getattr(note, s) for s in TEXTS}, "approved_at": note.approved_at,
                "documents": sorted(d.symbol for d in note.documents)}


def client_for(app, email: str):
    client = app.test_client()
    response = login(client, email)
    assert response.status_code == 302, f"{email} could not log in"
    return client


def edit_data(client, note_id: int) -> dict:
    """The edit form's fields as the page gives them (texts, hidden version and base, checked documents)."""
    html = client.get(f"/positions/{note_id}/edit").get_data(as_text=True)
    data = {}
    for name in ("version", "base", "csrf_token"):
        match = re.search(rf'name="{name}"[^>]*value="([^"]*)"', html) or \
            re.search(rf'value="([^"]*)"[^>]*name="{name}"', html)
        if match:
            data[name] = match.group(1)
    import html as html_lib

    for section in TEXTS:
        match = re.search(rf'<textarea[^>]*name="{section}"[^>]*>\r?\n?(.*?)</textarea>', html, re.S)
        data[section] = html_lib.unescape(match.group(1)) if match else ""
    data["documents"] = re.findall(r'<input checked[^>]*name="documents"[^>]*value="(\d+)"', html) + \
        re.findall(r'<input[^>]*name="documents"[^>]*value="(\d+)"[^>]*checked', html)
    return data


@contextmanager
def counting(app):
    """The SQL statements run while the block runs."""
    from focalpoint.extensions import db

    statements: list[str] = []

    def count(conn, cursor, statement, parameters, context, executemany):
        statements.append(statement)

    with app.app_context():
        engine = db.engine
    sa.event.listen(engine, "before_cursor_execute", count)
    try:
        yield statements
    finally:
        sa.event.remove(engine, "before_cursor_execute", count)


def outbox(app, category: str | None = None) -> list:
    from focalpoint.extensions import db
    from focalpoint.mail import OutboxMessage

    with app.app_context():
        stmt = sa.select(OutboxMessage).order_by(OutboxMessage.id)
        if category:
            stmt = stmt.where(OutboxMessage.category == category)
        rows = db.session.scalars(stmt).all()
        db.session.expunge_all()
        return rows
