"""Comments, clearance and approval: reviewers comment on paragraphs and clear or object on the current version;
staff answer and revise; approval only when every administration asked cleared the latest version; an approved
note is locked until staff reopen it; the clearance matrix."""
from __future__ import annotations

import pytest
import sqlalchemy as sa

from position_helpers import TEXTS, ask_review, client_for, edit_data, make_note, make_session, note_row, outbox


@pytest.fixture
def world(app, make_user):
    make_user("stella@example.org", "staff", name="Stella Staff")
    make_user("vera@vl.example", "reviewer", administration="BE-VL", name="Vera Vlaams")
    make_user("walter@wal.example", "reviewer", administration="BE-WAL", name="Walter Wallon")
    session = make_session(app)
    note_id = make_note(app, session["items"]["7 (b)"])
    requests = ask_review(app, note_id, codes=("BE-VL", "BE-WAL"))
    return {"note": note_id, "session": session, "requests": requests,
            "staff": client_for(app, "stella@example.org"), "vera": client_for(app, "vera@vl.example"),
            "walter": client_for(app, "walter@wal.example")}


def decide(client, note_id, decision, reason="", version=1):
    return client.post(f"/positions/{note_id}/clearance",
                       data={"decision": decision, "reason": reason, "note_version": str(version)})


def save(client, note_id, **changes):
    data = edit_data(client, note_id) | changes | {"save": "Save"}
    return client.post(f"/positions/{note_id}/edit", data=data)


def clearances(app, note_id):
    from focalpoint.extensions import db
    from focalpoint.positions.models import Clearance, ReviewRequest

    with app.app_context():
        return [(c.request.administration.code, c.note_version, c.decision.value, c.reason, c.user.email)
                for c in db.session.scalars(sa.select(Clearance).join(ReviewRequest).where(
                    ReviewRequest.note_id == note_id).order_by(Clearance.id))]


def audit_actions(app, note_id):
    from focalpoint.audit import AuditEntry
    from focalpoint.extensions import db

    with app.app_context():
        return [e.action for e in db.session.scalars(sa.select(AuditEntry).where(
            AuditEntry.object_type == "position_notes", AuditEntry.object_id == note_id).order_by(AuditEntry.id))]


def test_the_whole_review_one_clears_one_objects_staff_revise_both_clear(app, world):
    note = world["note"]
    response = decide(world["vera"], note, "cleared")
    assert response.status_code == 302
    assert "Your administration cleared version 1." in world["vera"].get(response.headers["Location"]).get_data(
        as_text=True)
    assert note_row(app, note)["status"] == "in_review"
    # An objection needs a reason: refused without, the page says so.
    refused = decide(world["walter"], note, "objected")
    assert refused.status_code == 422
    assert "Say why your administration objects." in refused.get_data(as_text=True)
    assert decide(world["walter"], note, "objected", "The budget line is too high.").status_code == 302
    assert note_row(app, note)["status"] == "in_review"
    staff_page = world["staff"].get(f"/positions/{note}").get_data(as_text=True)
    assert "The budget line is too high." in staff_page
    # Staff revise: a new version; both must clear it again.
    assert save(world["staff"], note, national_position="Belgium welcomes the assessment.\n\n"
                                                        "Belgium supports a smaller budget.").status_code == 302
    with app.app_context():
        from focalpoint.extensions import db
        from focalpoint.positions import services as svc
        from focalpoint.positions.models import PositionNote

        reviews = svc.note_reviews([note])[note]
        assert {r.request.administration.code: r.state.value for r in reviews} == {"BE-VL": "stale",
                                                                                 "BE-WAL": "pending"}
        assert db.session.get(PositionNote, note).status.value == "in_review"
    # A decision sent from the page of version 1 is refused: a new version was saved.
    stale = decide(world["vera"], note, "cleared", version=1)
    assert stale.status_code == 409
    assert "A new version (2) of the note was saved since you opened the page" in stale.get_data(as_text=True)
    assert decide(world["vera"], note, "cleared", version=2).status_code == 302
    assert note_row(app, note)["status"] == "in_review"
    assert decide(world["walter"], note, "cleared", "Thanks for the change.", version=2).status_code == 302
    row = note_row(app, note)
    assert row["status"] == "approved" and row["approved_at"] is not None
    assert clearances(app, note) == [
        ("BE-VL", 1, "cleared", "", "vera@vl.example"),
        ("BE-WAL", 1, "objected", "The budget line is too high.", "walter@wal.example"),
        ("BE-VL", 2, "cleared", "", "vera@vl.example"),
        ("BE-WAL", 2, "cleared", "Thanks for the change.", "walter@wal.example")]
    actions = audit_actions(app, note)
    assert actions[-3:] == ["position_note.cleared", "position_note.status", "position_note.approved"]
    assert "position_note.objected" in actions
    page = world["staff"].get(f"/positions/{note}").get_data(as_text=True)
    assert "every administration asked cleared version 2. The note is locked." in page
    # Each reviewer was told of version 2.
    assert sorted(m.to_addr for m in outbox(app, "position-new-version")) == ["vera@vl.example", "walter@wal.example"]


def test_approval_needs_every_administration_on_the_latest_version(app, world):
    note = world["note"]
    decide(world["vera"], note, "cleared")
    save(world["staff"], note, fallback="Accept any budget.")
    decide(world["walter"], note, "cleared", version=2)
    assert note_row(app, note)["status"] == "in_review"  # Vera cleared version 1 only
    decide(world["vera"], note, "objected", "Not any budget.", version=2)
    assert note_row(app, note)["status"] == "in_review"
    decide(world["vera"], note, "cleared", "Agreed after the call.", version=2)  # the latest decision counts
    assert note_row(app, note)["status"] == "approved"


def test_withdrawing_the_last_objection_approves_when_the_others_cleared(app, world):
    note = world["note"]
    decide(world["vera"], note, "cleared")
    decide(world["walter"], note, "objected", "No.")
    assert note_row(app, note)["status"] == "in_review"
    world["staff"].post(f"/positions/{note}/reviews/{world['requests']['BE-WAL']}/withdraw")
    assert note_row(app, note)["status"] == "approved"


def test_an_approved_note_is_locked(app, world):
    note = world["note"]
    form = edit_data(world["staff"], note)
    decide(world["vera"], note, "cleared")
    decide(world["walter"], note, "cleared")
    assert note_row(app, note)["status"] == "approved"
    before = note_row(app, note)
    # Edit: refused.
    assert world["staff"].get(f"/positions/{note}/edit").status_code == 302
    response = world["staff"].post(f"/positions/{note}/edit", data=form | {"fallback": "x", "save": "Save"})
    assert response.status_code in (302, 409)
    # Comment and decision: refused with a message.
    comment = world["vera"].post(f"/positions/{note}/comments", data={"target": "", "body": "Late remark",
                                                                     "note_version": "1"})
    assert comment.status_code == 422
    assert "The note is approved and locked" in comment.get_data(as_text=True)
    objection = decide(world["walter"], note, "objected", "Changed our mind")
    assert objection.status_code == 422
    assert "The note is approved and locked" in objection.get_data(as_text=True)
    # Withdrawing a request: refused too.
    world["staff"].post(f"/positions/{note}/reviews/{world['requests']['BE-VL']}/withdraw")
    assert note_row(app, note) == before
    assert len(clearances(app, note)) == 2
    # The page offers no edit, comment or decision.
    vera_page = world["vera"].get(f"/positions/{note}").get_data(as_text=True)
    assert 'id="comment-form"' not in vera_page and 'id="clearance-form"' not in vera_page
    assert f'href="/positions/{note}/edit"' not in world["staff"].get(f"/positions/{note}").get_data(as_text=True)


def test_the_services_refuse_changes_to_a_locked_note(app, world):
    from focalpoint.auth.models import Administration, User
    from focalpoint.extensions import db
    from focalpoint.positions import services as svc
    from focalpoint.positions.models import NoteComment, PositionNote

    decide(world["vera"], world["note"], "cleared")
    decide(world["walter"], world["note"], "cleared")
    with app.app_context():
        note = db.session.get(PositionNote, world["note"])
        staff = db.session.scalar(sa.select(User).where(User.email == "stella@example.org"))
        vera = db.session.scalar(sa.select(User).where(User.email == "vera@vl.example"))
        with pytest.raises(svc.NoteLocked):
            svc.save_version(note, texts=TEXTS | {"fallback": "y"}, actor=staff, expected_version=note.version)
        with pytest.raises(svc.NoteLocked):
            svc.add_comment(note, actor=vera, section=None, paragraph=None, body="x", note_version=1)
        with pytest.raises(svc.NoteLocked):
            svc.decide_clearance(note, actor=vera, decision="objected", reason="x", note_version=1)
        with pytest.raises(svc.NoteLocked):
            svc.request_review(note, db.session.scalars(sa.select(Administration)).all()[:1],
                               svc.local_today(), actor=staff)
        db.session.rollback()
        assert db.session.scalar(sa.select(sa.func.count()).select_from(NoteComment)) == 0


def test_reopening_an_approved_note_needs_clearance_again(app, world):
    note = world["note"]
    decide(world["vera"], note, "cleared")
    decide(world["walter"], note, "cleared")
    mails_before = len(outbox(app, "position-new-version"))
    # Only an approved note can be reopened; a reviewer cannot.
    assert world["vera"].post(f"/positions/{note}/reopen").status_code == 403
    response = world["staff"].post(f"/positions/{note}/reopen", data={"reason": "EU position changed"})
    assert response.status_code == 302
    assert "The note is reopened as version 2" in world["staff"].get(f"/positions/{note}").get_data(as_text=True)
    row = note_row(app, note)
    assert (row["status"], row["current_version"], row["versions"], row["approved_at"]) == ("in_review", 2, 2, None)
    assert row["national_position"] == TEXTS["national_position"]
    assert audit_actions(app, note)[-2:] == ["position_note.reopened", "position_note.status"]
    assert len(outbox(app, "position-new-version")) == mails_before + 2
    with app.app_context():
        from focalpoint.positions import services as svc

        assert {r.state.value for r in svc.note_reviews([note])[note]} == {"stale"}
    # It can be edited again, and approved again after both clear.
    assert save(world["staff"], note, fallback="New fallback.").status_code == 302
    decide(world["vera"], note, "cleared", version=3)
    decide(world["walter"], note, "cleared", version=3)
    assert note_row(app, note)["status"] == "approved"
    again = world["staff"].post(f"/positions/{note}/reopen", data={})
    assert again.status_code == 302
    not_approved = world["staff"].post(f"/positions/{note}/reopen", data={})
    assert "Only an approved note can be reopened." in world["staff"].get(
        not_approved.headers["Location"]).get_data(as_text=True)


def test_a_reviewer_comments_on_a_paragraph_and_the_quote_is_kept(app, world):
    note = world["note"]
    page = world["vera"].get(f"/positions/{note}?on=national_position:2").get_data(as_text=True)
    assert '<option selected value="national_position:2">' in page
    assert "National position, paragraph 2: Belgium supports the budget." in page
    response = world["vera"].post(f"/positions/{note}/comments", data={
        "target": "national_position:2", "body": "Which budget <exactly>?", "note_version": "1"})
    assert response.status_code == 302 and response.headers["Location"] == f"/positions/{note}#comments"
    from focalpoint.extensions import db
    from focalpoint.positions.models import NoteComment

    with app.app_context():
        comment = db.session.scalar(sa.select(NoteComment))
        assert (comment.section, comment.paragraph, comment.quote, comment.body, comment.note_version,
                comment.administration.code, comment.parent_id) == (
            "national_position", 2, "Belgium supports the budget.", "Which budget <exactly>?", 1, "BE-VL", None)
        comment_id = comment.id
    # The paragraph changes later: the quote stays as it was.
    save(world["staff"], note, national_position="Belgium welcomes the assessment.\n\nBelgium supports 2 M EUR.")
    staff_page = world["staff"].get(f"/positions/{note}").get_data(as_text=True)
    assert "Belgium supports the budget.</blockquote>" in staff_page
    assert "Which budget &lt;exactly&gt;?" in staff_page
    # Staff answer, then resolve.
    answer = world["staff"].post(f"/positions/{note}/comments/{comment_id}/answer", data={"body": "2 M EUR."})
    assert answer.status_code == 302 and answer.headers["Location"] == f"/positions/{note}#comment-{comment_id}"
    with app.app_context():
        reply = db.session.scalar(sa.select(NoteComment).where(NoteComment.parent_id == comment_id))
        assert (reply.body, reply.author.email, reply.administration_id, reply.section, reply.paragraph,
                reply.note_version) == ("2 M EUR.", "stella@example.org", None, "national_position", 2, 2)
    vera_page = world["vera"].get(f"/positions/{note}").get_data(as_text=True)
    assert "Answer from Stella Staff" in vera_page and "2 M EUR." in vera_page
    assert world["staff"].post(f"/positions/{note}/comments/{comment_id}/resolve").status_code == 302
    resolved = world["staff"].get(f"/positions/{note}").get_data(as_text=True)
    assert '<details><summary class="small">Resolved · National position, paragraph 2 · BE-VL' in resolved
    assert audit_actions(app, note).count("position_note.comment_resolved") == 1
    # A reviewer cannot answer or resolve.
    assert world["vera"].post(f"/positions/{note}/comments/{comment_id}/answer", data={"body": "x"}).status_code == 403


def test_comments_on_a_section_or_the_whole_note_and_bad_targets(app, world):
    note = world["note"]
    vera = world["vera"]
    assert vera.post(f"/positions/{note}/comments", data={"target": "fallback", "body": "About the fallback",
                                                           "note_version": "1"}).status_code == 302
    assert vera.post(f"/positions/{note}/comments", data={"target": "", "body": "Overall fine",
                                                           "note_version": "1"}).status_code == 302
    bad = vera.post(f"/positions/{note}/comments", data={"target": "national_position:9", "body": "?",
                                                          "note_version": "1"})
    assert bad.status_code == 422 and "This section has no paragraph 9." in bad.get_data(as_text=True)
    assert "?" == bad.get_data(as_text=True).split('name="body"')[1].split(">", 1)[1].split("</textarea>")[0].strip()
    assert vera.post(f"/positions/{note}/comments", data={"target": "secret:1", "body": "x",
                                                           "note_version": "1"}).status_code == 422
    assert vera.post(f"/positions/{note}/comments", data={"target": "", "body": "   ",
                                                           "note_version": "1"}).status_code == 422
    outdated = vera.post(f"/positions/{note}/comments", data={"target": "", "body": "Kept text",
                                                               "note_version": "0"})
    assert outdated.status_code == 409 and "Kept text" in outdated.get_data(as_text=True)
    from focalpoint.extensions import db
    from focalpoint.positions.models import NoteComment

    with app.app_context():
        assert [(c.section, c.paragraph, c.quote) for c in db.session.scalars(
            sa.select(NoteComment).order_by(NoteComment.id))] == [("fallback", None, ""), (None, None, "")]


def test_the_clearance_matrix_rows(app, world):
    from focalpoint.auth.models import Administration
    from focalpoint.extensions import db
    from focalpoint.positions import services as svc
    from focalpoint.reference.models import PlenarySession

    note = world["note"]
    other = make_note(app, world["session"]["items"]["8"])
    ask_review(app, other, codes=("BE-VL", "BE-WAL", "BE-BXL"))
    decide(world["vera"], other, "cleared")
    decide(world["walter"], other, "objected", "No")
    save(world["staff"], other, fallback="Another fallback.")
    decide(world["walter"], other, "cleared", version=2)
    decide(world["vera"], note, "objected", "Hmm")
    third = make_session(app, code="IPBES-40", items=("9",), documents=())["items"]["9"]  # an item without note
    with app.app_context():
        from focalpoint.positions.models import AgendaItem

        db.session.get(AgendaItem, third).position = 5
        db.session.commit()
        codes = {a.id: a.code for a in db.session.scalars(sa.select(Administration))}
        rows = svc.note_status_rows(db.session.get(PlenarySession, world["session"]["session"]))
        table = [(r.item.number, r.note.id if r.note else None,
                  {codes[a]: s for a, s in r.states.items() if s != "not_requested"}) for r in rows]
        assert table == [
            ("7 (b)", note, {"BE-VL": "objected", "BE-WAL": "pending"}),
            ("8", other, {"BE-VL": "stale", "BE-WAL": "cleared", "BE-BXL": "pending"}),
            ("9", None, {}),
        ]
        assert set(rows[0].states) == set(codes)  # every administration has a state
        assert rows[2].state(next(iter(codes))) == "not_requested"
        assert rows[0].latest[next(a for a, c in codes.items() if c == "BE-VL")].reason == "Hmm"
        assert third == rows[2].item.id


def test_two_administrations_clearing_at_the_same_moment_approve_the_note(app, world):
    """Each decision sees the other (the note's row is locked while one is recorded): none is left out."""
    import threading

    barrier = threading.Barrier(2)
    codes = {}

    def run(name):
        barrier.wait()
        codes[name] = decide(world[name], world["note"], "cleared").status_code

    threads = [threading.Thread(target=run, args=(name,)) for name in ("vera", "walter")]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert codes == {"vera": 302, "walter": 302}
    assert note_row(app, world["note"])["status"] == "approved"
