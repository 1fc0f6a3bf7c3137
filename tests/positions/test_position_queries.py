"""Queries per page must not grow with the data: the position-note pages with 4 and with 30 of everything."""
from __future__ import annotations

import datetime as dt

import sqlalchemy as sa

from position_helpers import TEXTS, TODAY, client_for, counting, make_session

SMALL, LARGE = 4, 30


def seed(app, make_user, rows: int) -> int:
    """``rows`` notes (each asked of two administrations, with decisions, comments and answers) in one session;
    returns the id of a note with ``rows`` versions, documents, comment threads and decisions."""
    from focalpoint.auth.models import Administration, User
    from focalpoint.extensions import db
    from focalpoint.positions.models import (AgendaItem, Clearance, ClearanceDecision, NoteComment, NoteStatus,
                                             NoteVersion, PositionNote, ReviewRequest, SessionDocument)

    make_user("stella@example.org", "staff", name="Stella Staff")
    make_user("vera@vl.example", "reviewer", administration="BE-VL", name="Vera Vlaams")
    session = make_session(app, items=(), documents=())
    with app.app_context():
        staff = db.session.scalar(sa.select(User).where(User.email == "stella@example.org"))
        vera = db.session.scalar(sa.select(User).where(User.email == "vera@vl.example"))
        administrations = db.session.scalars(sa.select(Administration).order_by(Administration.code)).all()
        vl = next(a for a in administrations if a.code == "BE-VL")
        others = [a for a in administrations if a.code != "BE-VL"]
        documents = [SessionDocument(session_id=session["session"], symbol=f"IPBES/40/{i + 1}", title=f"Doc {i}",
                                     url=f"https://www.ipbes.net/d{i}", position=i) for i in range(rows)]
        db.session.add_all(documents)
        notes = []
        for i in range(rows):
            item = AgendaItem(session_id=session["session"], number=str(i + 1), title=f"Item title {i}", position=i)
            note = PositionNote(agenda_item=item, title=item.title, status=NoteStatus.IN_REVIEW, current_version=1,
                                **TEXTS, created_by_id=staff.id)
            note.documents = [documents[i]]
            db.session.add(note)
            notes.append(note)
        db.session.flush()
        for i, note in enumerate(notes):
            db.session.add(NoteVersion(note_id=note.id, number=1, author_id=staff.id, **TEXTS))
            for administration in (vl, others[i % len(others)]):
                request = ReviewRequest(note_id=note.id, administration_id=administration.id,
                                        due_date=TODAY + dt.timedelta(days=i - 2), requested_by_id=staff.id)
                db.session.add(request)
                db.session.flush()
                db.session.add(Clearance(request_id=request.id, note_version=1, user_id=vera.id,
                                         decision=(ClearanceDecision.CLEARED, ClearanceDecision.OBJECTED)[i % 2],
                                         reason="r"))
        target = notes[0]
        target.documents = documents
        target.current_version = rows
        for number in range(2, rows + 1):
            db.session.add(NoteVersion(note_id=target.id, number=number, author_id=(staff.id, vera.id)[number % 2],
                                       summary=f"v{number}", **(TEXTS | {"fallback": f"Fallback {number}"})))
        target_request = db.session.scalar(sa.select(ReviewRequest).where(ReviewRequest.note_id == target.id,
                                                                          ReviewRequest.administration_id == vl.id))
        for k in range(rows):
            db.session.add(Clearance(request_id=target_request.id, note_version=k % rows + 1, user_id=vera.id,
                                     decision=ClearanceDecision.OBJECTED, reason=f"reason {k}"))
            root = NoteComment(note_id=target.id, note_version=1, section="national_position", paragraph=k % 2 + 1,
                               quote="q", body=f"comment {k}", author_id=vera.id, administration_id=vl.id,
                               resolved_at=dt.datetime.now(dt.timezone.utc) if k % 3 == 0 else None)
            db.session.add(root)
            db.session.flush()
            db.session.add(NoteComment(note_id=target.id, note_version=1, section=root.section,
                                       paragraph=root.paragraph, body=f"answer {k}", author_id=staff.id,
                                       parent_id=root.id))
        db.session.commit()
        return target.id


STAFF_PAGES = ["/positions", "/positions?sort=due&dir=desc", "/positions?overdue=1&status=in_review&administration=2",
               "/positions?q=Item&sort=item", "/positions/{target}", "/positions/{target}/versions",
               "/positions/{target}/diff?from=1&to=2", "/positions/{target}/edit"]
REVIEWER_PAGES = ["/positions", "/positions?sort=session", "/positions/{target}", "/positions/{target}/versions"]


def queries_per_page(app, make_user, rows: int) -> dict[str, int]:
    target = seed(app, make_user, rows)
    counts = {}
    for email, pages in (("stella@example.org", STAFF_PAGES), ("vera@vl.example", REVIEWER_PAGES)):
        client = client_for(app, email)
        for page in pages:
            path = page.format(target=target)
            client.get(path)  # warm caches first
            with counting(app) as statements:
                response = client.get(path)
            assert response.status_code == 200, (email, path)
            counts[f"{email} {page}"] = len(statements)
    return counts


def test_position_pages_run_a_constant_number_of_queries(app, make_user):
    from conftest import _empty_all_tables
    from focalpoint.extensions import db
    from focalpoint.reference.services import load_reference_data

    small = queries_per_page(app, make_user, SMALL)
    with app.app_context():
        _empty_all_tables(db)
        load_reference_data("BE")
        db.session.commit()
    large = queries_per_page(app, make_user, LARGE)
    assert large == small
    assert max(small.values()) <= 20, small


def test_the_matrix_and_due_reviews_run_a_constant_number_of_queries(app, make_user):
    from focalpoint.extensions import db
    from focalpoint.positions import services as svc
    from focalpoint.reference.models import PlenarySession

    counts = []
    for rows in (SMALL, LARGE):
        seed(app, make_user, rows)
        with app.app_context():
            session = db.session.scalar(sa.select(PlenarySession).where(PlenarySession.code == "IPBES-40"))
            with counting(app) as statements:
                matrix = svc.note_status_rows(session)
                due = svc.due_reviews(TODAY)
                _ = [(r.note.agenda_item.session.code, r.administration.code) for r in due]
                _ = [(row.item.number, row.note.current_version, sorted(row.states.values())) for row in matrix]
            counts.append(len(statements))
            assert len(matrix) == rows
        from conftest import _empty_all_tables
        from focalpoint.reference.services import load_reference_data

        with app.app_context():
            _empty_all_tables(db)
            load_reference_data("BE")
            db.session.commit()
    assert counts[0] == counts[1] and counts[0] <= 7, counts
