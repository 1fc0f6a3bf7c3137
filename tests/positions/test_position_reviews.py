"""Review requests to administrations: e-mails through the outbox (one per reviewer, idempotent), due dates,
withdrawal, reminders before the due date, and the dashboard's list of due reviews."""
from __future__ import annotations

import datetime as dt

import pytest
import sqlalchemy as sa

from position_helpers import (TODAY, administration_id, ask_review, client_for, make_note, make_session, note_row,
                              outbox)


@pytest.fixture
def world(app, make_user):
    make_user("stella@example.org", "staff", name="Stella Staff")
    reviewers = {
        "vera": make_user("vera@vl.example", "reviewer", administration="BE-VL", name="Vera Vlaams"),
        "vic": make_user("vic@vl.example", "reviewer", administration="BE-VL", name="Vic Vlaams"),
        "walter": make_user("walter@wal.example", "reviewer", administration="BE-WAL", name="Walter Wallon"),
        "gone": make_user("gone@vl.example", "reviewer", administration="BE-VL", name="Gone"),
        "staffer": make_user("staffer@vl.example", "staff", administration="BE-VL", name="Not a reviewer"),
    }
    from focalpoint.auth.models import User
    from focalpoint.extensions import db

    with app.app_context():
        db.session.get(User, reviewers["gone"]).is_enabled = False
        db.session.commit()
    session = make_session(app)
    note_id = make_note(app, session["items"]["7 (b)"])
    return {"note": note_id, "session": session, "reviewers": reviewers,
            "vl": administration_id(app, "BE-VL"), "wal": administration_id(app, "BE-WAL"),
            "bxl": administration_id(app, "BE-BXL")}


def ask(client, note_id, administrations, due):
    return client.post(f"/positions/{note_id}/reviews",
                       data={"administrations": [str(a) for a in administrations], "due_date": due.isoformat()})


def requests_of(app, note_id):
    from focalpoint.extensions import db
    from focalpoint.positions.models import ReviewRequest

    with app.app_context():
        return {r.administration.code: (r.due_date, r.withdrawn_at is not None) for r in db.session.scalars(
            sa.select(ReviewRequest).where(ReviewRequest.note_id == note_id))}


def test_asking_for_review_mails_every_active_reviewer_once(app, world):
    client = client_for(app, "stella@example.org")
    due = TODAY + dt.timedelta(days=12)
    response = ask(client, world["note"], [world["vl"], world["wal"]], due)
    assert response.status_code == 302 and response.headers["Location"] == f"/positions/{world['note']}#reviews"
    assert "3 e-mail(s) queued" in client.get(f"/positions/{world['note']}").get_data(as_text=True)
    assert requests_of(app, world["note"]) == {"BE-VL": (due, False), "BE-WAL": (due, False)}
    assert note_row(app, world["note"])["status"] == "in_review"
    mails = outbox(app, "position-request")
    assert sorted(m.to_addr for m in mails) == ["vera@vl.example", "vic@vl.example", "walter@wal.example"]
    vera = next(m for m in mails if m.to_addr == "vera@vl.example")
    assert vera.subject == "Position note to review: Item 7 (b): Agenda item 7 (b) of IPBES-40 (IPBES-40)"
    assert vera.text_body.startswith("Dear Vera Vlaams,\n\nThe national focal point asks Flemish administration "
                                     "(Department of Environment) to review the position note on Item 7 (b): "
                                     "Agenda item 7 (b) of IPBES-40 for IPBES-40 (version 1).")
    assert f"by {due.strftime('%B')} {due.day}, {due.year}." in vera.text_body
    assert f"http://focalpoint.test/positions/{world['note']}\n" in vera.text_body
    assert "Asked by Stella Staff." in vera.text_body
    assert f'<a href="http://focalpoint.test/positions/{world["note"]}">Open the position note</a>' in vera.html_body
    assert vera.related_type == "position_review_requests"
    user_id = world["reviewers"]["vera"]
    assert vera.idem_key == f"position-review:{vera.related_id}:v1:{user_id}"


def test_asking_again_changes_the_due_date_and_mails_nobody_twice(app, world):
    client = client_for(app, "stella@example.org")
    ask(client, world["note"], [world["vl"]], TODAY + dt.timedelta(days=12))
    later = TODAY + dt.timedelta(days=20)
    assert ask(client, world["note"], [world["vl"]], later).status_code == 302
    assert requests_of(app, world["note"]) == {"BE-VL": (later, False)}
    assert len(outbox(app, "position-request")) == 2  # Vera and Vic, once each
    from focalpoint.audit import AuditEntry
    from focalpoint.extensions import db

    with app.app_context():
        entries = db.session.scalars(sa.select(AuditEntry).where(
            AuditEntry.action == "position_note.review_requested").order_by(AuditEntry.id)).all()
        assert [e.data.get("due_date") for e in entries] == [(TODAY + dt.timedelta(days=12)).isoformat(),
                                                            later.isoformat()]
        assert entries[1].data["previous_due_date"] == (TODAY + dt.timedelta(days=12)).isoformat()


def test_a_due_date_in_the_past_or_no_administration_is_refused(app, world):
    client = client_for(app, "stella@example.org")
    response = ask(client, world["note"], [world["vl"]], TODAY - dt.timedelta(days=1))
    assert response.status_code == 302
    assert "The due date cannot be in the past." in client.get(response.headers["Location"]).get_data(as_text=True)
    response = ask(client, world["note"], [], TODAY + dt.timedelta(days=3))
    assert "Choose at least one administration." in client.get(response.headers["Location"]).get_data(as_text=True)
    response = client.post(f"/positions/{world['note']}/reviews", data={"administrations": [str(world["vl"])],
                                                                        "due_date": "31/02/2026"})
    assert response.status_code == 302
    assert requests_of(app, world["note"]) == {}
    assert outbox(app) == []
    assert ask(client, world["note"], [world["vl"]], TODAY).status_code == 302  # today is fine
    assert requests_of(app, world["note"]) == {"BE-VL": (TODAY, False)}


def test_a_note_without_text_cannot_be_sent_for_review(app, world):
    note_id = make_note(app, world["session"]["items"]["8"], texts={})
    client = client_for(app, "stella@example.org")
    response = ask(client, note_id, [world["vl"]], TODAY + dt.timedelta(days=3))
    assert "Save a first version of the note before asking for its review." in client.get(
        response.headers["Location"]).get_data(as_text=True)
    assert requests_of(app, note_id) == {}


def test_an_administration_without_reviewers_is_reported(app, world):
    client = client_for(app, "stella@example.org")
    response = ask(client, world["note"], [world["bxl"]], TODAY + dt.timedelta(days=3))
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "No active reviewer account in: Brussels administration (Brussels Environment). Nobody there was told." \
        in page
    assert requests_of(app, world["note"]) == {"BE-BXL": (TODAY + dt.timedelta(days=3), False)}


def test_withdrawing_a_request_and_asking_again(app, world):
    requests = ask_review(app, world["note"], codes=("BE-VL",))
    client = client_for(app, "stella@example.org")
    response = client.post(f"/positions/{world['note']}/reviews/{requests['BE-VL']}/withdraw")
    assert response.status_code == 302
    assert requests_of(app, world["note"])["BE-VL"][1] is True
    assert note_row(app, world["note"])["status"] == "draft"  # nobody asked any more
    page = client.get(f"/positions/{world['note']}").get_data(as_text=True)
    assert "The review request to Flemish administration (Department of Environment) is withdrawn." in page
    # Asking again brings the same request back (no second e-mail for the same version).
    due = TODAY + dt.timedelta(days=5)
    ask(client, world["note"], [world["vl"]], due)
    assert requests_of(app, world["note"]) == {"BE-VL": (due, False)}
    assert note_row(app, world["note"])["status"] == "in_review"
    assert len(outbox(app, "position-request")) == 2
    # A request of another note is not found through this note.
    other = make_note(app, world["session"]["items"]["8"])
    other_requests = ask_review(app, other, codes=("BE-WAL",))
    assert client.post(f"/positions/{world['note']}/reviews/{other_requests['BE-WAL']}/withdraw").status_code == 404


def test_reminders_before_the_due_date_are_sent_once(app, world):
    from focalpoint.extensions import db
    from focalpoint.positions import jobs
    from focalpoint.positions.models import ReviewRequest

    requests = ask_review(app, world["note"], codes=("BE-VL", "BE-WAL"), due=TODAY + dt.timedelta(days=2))
    with app.app_context():
        for r in db.session.scalars(sa.select(ReviewRequest)):
            r.requested_at = r.requested_at - dt.timedelta(days=6)  # asked last week
        db.session.commit()
    # Walloon reviewers decided on the current version already: no reminder for them.
    from focalpoint.auth.models import User
    from focalpoint.positions import services as svc
    from focalpoint.positions.models import PositionNote

    with app.app_context():
        note = db.session.get(PositionNote, world["note"])
        svc.decide_clearance(note, actor=db.session.get(User, world["reviewers"]["walter"]), decision="cleared",
                             note_version=1)
        db.session.commit()
    with app.app_context():
        assert jobs.remind_due_reviews() == 2
    with app.app_context():
        assert jobs.remind_due_reviews() == 0  # idempotent
    mails = outbox(app, "position-reminder")
    assert sorted(m.to_addr for m in mails) == ["vera@vl.example", "vic@vl.example"]
    assert mails[0].idem_key.startswith(f"position-review:{requests['BE-VL']}:due:{(TODAY + dt.timedelta(days=2))}:3:")
    assert "is due in 2 days, on" in mails[0].text_body
    assert mails[0].subject == "Reminder: review due for Item 7 (b): Agenda item 7 (b) of IPBES-40 (IPBES-40)"
    # On the due day, one more.
    tomorrow = dt.datetime.now(dt.timezone.utc) + dt.timedelta(days=2)
    with app.app_context():
        assert jobs.remind_due_reviews(tomorrow) == 2
    assert "is due today." in outbox(app, "position-reminder")[-1].text_body


def test_no_reminder_for_a_request_made_within_the_reminder_window(app, world):
    from focalpoint.positions import jobs

    ask_review(app, world["note"], codes=("BE-VL",), due=TODAY + dt.timedelta(days=2))
    with app.app_context():
        assert jobs.remind_due_reviews() == 0
    assert jobs.current_mark(TODAY + dt.timedelta(days=9), TODAY) is None
    assert jobs.current_mark(TODAY + dt.timedelta(days=3), TODAY) == 3
    assert jobs.current_mark(TODAY, TODAY) == 0
    assert jobs.current_mark(TODAY - dt.timedelta(days=1), TODAY) is None


def test_due_reviews_lists_the_open_requests_by_due_date(app, world):
    from focalpoint.auth.models import User
    from focalpoint.extensions import db
    from focalpoint.positions import services as svc
    from focalpoint.positions.models import PositionNote

    ask_review(app, world["note"], codes=("BE-VL",), due=TODAY + dt.timedelta(days=9))
    ask_review(app, world["note"], codes=("BE-WAL",), due=TODAY + dt.timedelta(days=4))
    other = make_note(app, world["session"]["items"]["8"])
    ask_review(app, other, codes=("BE-VL",), due=TODAY + dt.timedelta(days=1))
    with app.app_context():
        rows = svc.due_reviews(TODAY)
        assert [(r.note_id, r.administration.code, r.due_date) for r in rows] == [
            (other, "BE-VL", TODAY + dt.timedelta(days=1)), (world["note"], "BE-WAL", TODAY + dt.timedelta(days=4)),
            (world["note"], "BE-VL", TODAY + dt.timedelta(days=9))]
        assert rows[0].note.agenda_item.session.code == "IPBES-40"
        svc.decide_clearance(db.session.get(PositionNote, other), actor=db.session.get(User, world["reviewers"]["vic"]),
                             decision="objected", reason="Too vague.", note_version=1)
        db.session.commit()
        assert [(r.note_id, r.administration.code) for r in svc.due_reviews(TODAY)] == [
            (world["note"], "BE-WAL"), (world["note"], "BE-VL")]
        # After the session, nothing is due any more.
        assert svc.due_reviews(TODAY + dt.timedelta(days=100)) == []
