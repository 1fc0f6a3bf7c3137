"""The demo's IPBES-12: agenda, documents and position notes in every state (idempotent)."""
from __future__ import annotations

import json

import sqlalchemy as sa


def _load(app):
    from focalpoint.auth.models import User
    from focalpoint.extensions import db
    from focalpoint.positions.demo import load_demo_plenary

    with app.app_context():
        staff = db.session.scalar(sa.select(User).where(User.email == "staff@focalpoint.example"))
        line = load_demo_plenary(staff)
        db.session.commit()
        return line


def test_demo_plenary_has_notes_in_every_state_and_loads_once(app, make_user):
    from focalpoint.extensions import db
    from focalpoint.positions.models import NoteComment, NoteVersion
    from focalpoint.positions.plenary_services import clearance_matrix
    from focalpoint.reference.models import PlenarySession

    make_user("staff@focalpoint.example", "staff")
    make_user("reviewer@focalpoint.example", "reviewer", administration="BE-VL")
    make_user("reviewer.wal@focalpoint.example", "reviewer", administration="BE-WAL")
    make_user("reviewer.fed@focalpoint.example", "reviewer", administration="BE-FED-ENV")
    assert _load(app) == ("Demo plenary: IPBES-12 with 5 agenda items, 9 documents and 3 position notes (approved, "
                          "in review, draft)")
    assert _load(app) == "Demo plenary: already there"

    with app.app_context():
        session = db.session.scalar(sa.select(PlenarySession).where(PlenarySession.code == "IPBES-12"))
        matrix = clearance_matrix(session)
        codes = {a.id: a.code for a in matrix.administrations}
        got = [(r.item.number, str(r.note.status) if r.note else None, r.note.current_version if r.note else None,
                {codes[k]: c.state for k, c in r.cells.items() if c.state != "not_requested"}) for r in matrix.rows]
        assert got == [("2 (a)", None, None, {}),
                       ("5 (a)", "approved", 2, {"BE-FED-ENV": "cleared", "BE-VL": "cleared"}),
                       ("6", "in_review", 3, {"BE-FED-ENV": "pending", "BE-VL": "cleared", "BE-WAL": "objected"}),
                       ("7 (b)", "draft", 1, {}),
                       ("9", None, None, {})]
        notes = {r.item.number: r.note for r in matrix.rows if r.note}
        assert [d.symbol for d in notes["6"].documents] == ["IPBES/12/4", "IPBES/12/INF/10"]
        assert db.session.scalar(sa.select(sa.func.count(NoteVersion.id))) == 6
        comments = db.session.scalars(sa.select(NoteComment).order_by(NoteComment.id)).all()
        answers = [c for c in comments if c.parent_id]
        assert len(comments) == 5 and len(answers) == 2
        assert all(a.author.email == "staff@focalpoint.example" for a in answers)
        reasons = [c.clearance.reason for r in matrix.rows for c in r.cells.values() if c.state == "objected"]
        assert reasons and "federated entities" in reasons[0]

    result = app.test_cli_runner().invoke(args=["positions", "list", "--json"])
    assert [(r["agenda_item"], r["status"]) for r in json.loads(result.output)] == [
        ("5 (a)", "approved"), ("6", "in_review"), ("7 (b)", "draft")]


def test_demo_plenary_pages_render(app, make_user, staff_client):
    make_user("staff@focalpoint.example", "staff")
    make_user("reviewer.wal@focalpoint.example", "reviewer", administration="BE-WAL")
    _load(app)
    from plenary_helpers import session_id

    sid = session_id(app, "IPBES-12")
    for path in (f"/plenary/{sid}", f"/plenary/{sid}/clearance", f"/plenary/{sid}/briefing.docx", "/plenary"):
        assert staff_client.get(path).status_code == 200, path


def test_demo_starts_ipbes13_from_the_save_the_date_notification(app, make_user):
    import datetime as dt

    from focalpoint.extensions import db
    from focalpoint.notifications.services import create_manual
    from focalpoint.positions.plenary_services import reviews_due
    from focalpoint.reference.models import PlenarySession

    make_user("staff@focalpoint.example", "staff")
    make_user("reviewer@focalpoint.example", "reviewer", administration="BE-VL")
    start = dt.date.today() + dt.timedelta(days=120)
    end = start + dt.timedelta(days=6)
    with app.app_context():
        n = create_manual(title="Save the date: Thirteenth session of the Plenary of IPBES (IPBES 13)",
                          text=f"The thirteenth session will be held from {start.day} {start:%B %Y} to "
                               f"{end.day} {end:%B %Y}.", link=None, published=dt.date.today(), actor=None)
        db.session.commit()
        nid = n.id
    assert _load(app).endswith("; IPBES-13 started from its save-the-date notification, with a note in review")
    with app.app_context():
        s = db.session.scalar(sa.select(PlenarySession).where(PlenarySession.code == "IPBES-13"))
        assert (s.start_date, s.end_date, s.notification_id) == (start, end, nid)
        due = reviews_due(dt.date.today())
        assert [(r.note.agenda_item.session.code, r.administration.code) for r in due] == [
            ("IPBES-13", "BE-VL"), ("IPBES-13", "BE-FED-ENV")]
